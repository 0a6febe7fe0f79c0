"""Printed documents: minutes (frozen at approval) and a partner's commitments report."""

from __future__ import annotations

import hashlib
import io
import secrets
from datetime import date
from pathlib import Path

import segno
from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.auth.models import User
from crm.commitments import services as commitments
from crm.documents.models import FrozenDocument, Letterhead
from crm.documents.pdf import LOGO_URL, QR_URL, PdfRenderer
from crm.documents.services import write_private
from crm.meetings.models import CONFIDENTIALITY_LABELS, Confidentiality, Meeting, MinutesRevision, MinutesStatus, Side
from crm.partners.models import Organisation
from crm.partners.services import title_on

LANGUAGES = ("fr", "en")
TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "pdf"


def renderer() -> PdfRenderer:
    """The worker's renderer: fonts and stylesheet parsed on first use, then kept."""
    app = current_app._get_current_object()
    if "crm_pdf" not in app.extensions:
        app.extensions["crm_pdf"] = PdfRenderer(
            Path(app.static_folder),
            (TEMPLATES / "print.css").read_text(encoding="utf-8"),
            timeout=app.config["CRM_PDF_TIMEOUT"],
        )
    return app.extensions["crm_pdf"]


def letterhead(session: Session) -> Letterhead:
    """The installation's letterhead, or Mali's ministry by default until an admin sets it."""
    return session.scalars(select(Letterhead).order_by(Letterhead.id).limit(1)).first() or Letterhead(
        country=Letterhead.country.default.arg,
        motto=Letterhead.motto.default.arg,
        authority=Letterhead.authority.default.arg,
        unit=Letterhead.unit.default.arg,
        city=Letterhead.city.default.arg,
        logo_name="",
    )


def logo_path(head: Letterhead) -> Path | None:
    if not head.logo_name:
        return None
    return Path(current_app.config["CRM_DOCUMENTS_DIR"]) / head.logo_name


def _render(template: str, lang: str, logo: Path | None, qr_png: bytes | None = None, **context) -> bytes:
    with force_locale(lang):
        html = render_template(
            template, lang=lang, logo=LOGO_URL if logo else None, qr=QR_URL if qr_png else None, **context
        )
    return renderer().render(html, logo, qr_png)


def _qr_png(url: str) -> bytes:
    """The verification link as a small PNG (WeasyPrint draws an image far faster than an SVG of modules)."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=4, border=0)
    return out.getvalue()


def _heads(meeting: Meeting, head: Letterhead) -> list[tuple[str, str]]:
    """Who signs: the chair of each side (or its first member), with the institution they sign for."""

    def person(side: str) -> str:
        people = [p for p in meeting.participants if p.side == side]
        chair = next((p for p in people if p.role == "chair"), people[0] if people else None)
        if chair is None:
            return ""
        if chair.user is not None:
            return chair.user.name
        title = title_on(chair.contact, chair.organisation_id, meeting.local_date)
        return f"{chair.contact.display_name}, {title}" if title else chair.contact.display_name

    partner = ", ".join(link.organisation.name for link in meeting.organisations) or _("the partner")
    return [(person(Side.OURS), head.authority), (person(Side.PARTNER), partner)]


def minutes_pdf(
    session: Session, meeting: Meeting, revision: MinutesRevision, user: User, lang: str, verify_url: str | None = None
) -> bytes:
    """The minutes of one revision; anything not approved carries the DRAFT watermark."""
    head = letterhead(session)
    draft = revision.status != MinutesStatus.APPROVED
    with force_locale(lang):
        running_head = f"{meeting.reference} · {_('rev.')} {revision.number}"
        marking = meeting.confidentiality_label.upper()
        title = f"{_('Minutes')} — {meeting.title}"
        subject = f"{meeting.reference} — {meeting.kind_label}"
    return _render(
        "pdf/minutes.html",
        lang,
        logo_path(head),
        meeting=meeting,
        revision=revision,
        letterhead=head,
        draft=draft,
        marking=marking,
        running_head=running_head,
        footer=f"{running_head} · {verify_url}" if verify_url else running_head,
        doc_title=title,
        doc_subject=subject,
        heads=_heads(meeting, head),
        commitments=commitments.for_meeting(session, meeting.id, user),
        verify_url=verify_url,
        qr_png=_qr_png(verify_url) if verify_url else None,
    )


def frozen(session: Session, revision_id: int, lang: str) -> FrozenDocument | None:
    return session.scalars(
        select(FrozenDocument).where(FrozenDocument.revision_id == revision_id, FrozenDocument.lang == lang)
    ).first()


def freeze(
    session: Session, meeting: Meeting, revision: MinutesRevision, user: User, lang: str, verify_url: str
) -> FrozenDocument:
    """Render an approved revision once, store it, record its SHA-256. Later downloads serve these bytes."""
    existing = frozen(session, revision.id, lang)
    if existing is not None:
        return existing
    data = minutes_pdf(session, meeting, revision, user, lang, verify_url)
    name = f"{meeting.reference}-r{revision.number}-{lang}-{secrets.token_hex(6)}.pdf"
    write_private(Path(current_app.config["CRM_DOCUMENTS_DIR"]), name, data)
    document = FrozenDocument(
        revision_id=revision.id, lang=lang, stored_name=name, sha256=hashlib.sha256(data).hexdigest(), size=len(data)
    )
    session.add(document)
    session.flush()
    return document


def frozen_path(document: FrozenDocument) -> Path:
    return Path(current_app.config["CRM_DOCUMENTS_DIR"]) / document.stored_name


def find_by_hash(session: Session, sha256: str) -> list[tuple[FrozenDocument, MinutesRevision, Meeting]]:
    rows = session.execute(
        select(FrozenDocument, MinutesRevision, Meeting)
        .join(MinutesRevision, MinutesRevision.id == FrozenDocument.revision_id)
        .join(Meeting, Meeting.id == MinutesRevision.meeting_id)
        .where(FrozenDocument.sha256 == sha256.lower())
    ).all()
    return [tuple(row) for row in rows]


def commitments_report(session: Session, org: Organisation, user: User, lang: str, today: date) -> bytes:
    """One page per partner: where each promise stands, both sides."""
    head = letterhead(session)
    page = commitments.list_commitments(
        session,
        user,
        commitments.CommitmentFilters(status="all", organisation_id=org.id),
        cursor=None,
        size=60,
        today=today,
    )
    with force_locale(lang):
        title = _("Commitments with %(org)s", org=org.name)
        marking = _("Internal").upper()
    return _render(
        "pdf/commitments.html",
        lang,
        logo_path(head),
        org=org,
        rows=page.rows,
        more=page.next_cursor is not None,
        figures=commitments.promise_figures(session, org.id, user, today),
        today=today,
        letterhead=head,
        marking=marking,
        running_head=org.name,
        footer=f"{org.name} · {today.isoformat()}",
        doc_title=title,
        doc_subject=title,
    )


def visit_pdf(session: Session, visit, lang: str) -> bytes:
    """The visit's programme (and mission order when we travel), from the same letterhead and stylesheet."""
    head = letterhead(session)
    with force_locale(lang):
        title = f"{_('Programme')} — {visit.title}"
        marking = visit_marking(visit)
    return _render(
        "pdf/visit.html",
        lang,
        logo_path(head),
        visit=visit,
        letterhead=head,
        marking=marking,
        running_head=visit.reference,
        footer=f"{visit.reference} · {visit.city}",
        doc_title=title,
        doc_subject=f"{visit.reference} — {visit.city}",
    )


def visit_marking(visit) -> str:
    return str(CONFIDENTIALITY_LABELS.get(Confidentiality(visit.confidentiality), visit.confidentiality)).upper()
