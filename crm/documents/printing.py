"""Printed documents: minutes (frozen at approval) and a partner's commitments report."""

from __future__ import annotations

import hashlib
import io
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import filetype
import segno
from babel.dates import get_timezone_gmt
from flask import render_template
from flask_babel import force_locale
from sqlalchemy import Select, and_, bindparam, func, select
from sqlalchemy.orm import joinedload, selectinload

from crm.audit import services as audit
from crm.audit.models import AuditEvent
from crm.auth.models import User
from crm.auth.permissions import reader_key
from crm.commitments import services as commitments
from crm.core import confidentiality
from crm.core.urls import absolute_url
from crm.db import DbSession, check_version, utcnow
from crm.documents.models import FrozenDocument, StoredFile
from crm.documents.pdf import LOGO_URL, QR_URL
from crm.documents.renderserver import RemoteRenderer
from crm.documents.services import file_bytes, forget_file, store_bytes
from crm.errors import DomainError
from crm.extensions import real_app
from crm.i18n import gettext as _
from crm.meetings import services as meetings
from crm.meetings.models import Meeting, MinutesRevision, MinutesStatus, ParticipantRole, Side
from crm.partners import institutions
from crm.partners.models import Contact, Institution, Organisation, Position
from crm.partners.services import current_positions, title_on
from crm.visits.models import MemberRole

if TYPE_CHECKING:
    from crm.documents.weasy import PdfRenderer

LANGUAGES = ("fr", "en")
TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "pdf"


def renderer() -> PdfRenderer | RemoteRenderer:
    """The render server when there is one (under gunicorn: crm/documents/renderserver.py), else this process's."""
    app = real_app()
    path = app.config.get("CRM_PDF_SOCKET")
    if path:
        return RemoteRenderer(path, app.config["CRM_PDF_TIMEOUT"], local_renderer)
    return local_renderer()


def local_renderer() -> PdfRenderer:
    """This process's renderer: WeasyPrint imported, fonts and stylesheet parsed on first use, then kept."""
    app = real_app()
    if "crm_pdf" not in app.extensions:
        from crm.documents.weasy import PdfRenderer

        app.extensions["crm_pdf"] = PdfRenderer(
            Path(app.static_folder or "static"),
            (TEMPLATES / "print.css").read_text(encoding="utf-8"),
            timeout=app.config["CRM_PDF_TIMEOUT"],
        )
    return app.extensions["crm_pdf"]


def letterhead(session: DbSession, institution_id: int) -> Institution:
    """The letterhead a document prints with: its institution's (the host's, for a joint meeting)."""
    return institutions.get(session, institution_id)


LOGO_MAX_BYTES = 1024 * 1024
LETTERHEAD_FIELDS = ("country", "motto", "authority", "unit", "city")


def save_letterhead(
    session: DbSession,
    head: Institution,
    data: dict[str, Any],
    version: int | None,
    *,
    logo: bytes | None,
    remove_logo: bool,
) -> Institution:
    """Change an institution's letterhead; a new logo is a PNG or JPEG of at most 1 MB, read from its content."""
    check_version(head, version)
    for name in LETTERHEAD_FIELDS:
        setattr(head, name, data[name])
    if logo:
        if len(logo) > LOGO_MAX_BYTES:
            raise DomainError(_("The logo is too large (1 MB at most)."), field="logo")
        kind = filetype.guess(logo)
        if kind is None or kind.extension not in ("png", "jpg"):
            raise DomainError(_("The logo must be a PNG or JPEG image."), field="logo")
        old = head.logo_file_id
        head.logo_file_id = store_bytes(session, logo, kind.mime).id
        session.add(head)
        session.flush()
        forget_file(session, old)
    elif remove_logo and head.logo_file_id is not None:
        old, head.logo_file_id = head.logo_file_id, None
        session.flush()
        forget_file(session, old)
    session.add(head)
    session.flush()
    return head


def logo_bytes(session: DbSession, head: Institution) -> bytes | None:
    return file_bytes(session, head.logo_file_id)


def _html(
    template: str,
    lang: str,
    logo: bytes | None,
    qr_png: bytes | None = None,
    *,
    created: datetime | None = None,
    **context,
) -> tuple[str, str]:
    """The document's HTML and the creation date stamped in it (its metadata)."""
    stamp = (created or utcnow()).replace(microsecond=0).isoformat()
    with force_locale(lang):
        html = render_template(
            template,
            lang=lang,
            logo=LOGO_URL if logo else None,
            qr=QR_URL if qr_png else None,
            created=stamp,
            with_article=lambda name: with_article(name, lang),
            names_organisation=names_organisation,
            **context,
        )
    return html, stamp


def _render(
    template: str,
    lang: str,
    logo: bytes | None,
    qr_png: bytes | None = None,
    *,
    created: datetime | None = None,
    archival: bool = False,
    **context,
) -> bytes:
    """``created`` is the document's creation date (its metadata); ``archival`` makes it PDF/A-3b."""
    html, _stamp = _html(template, lang, logo, qr_png, created=created, **context)
    return renderer().render(html, logo, qr_png, archival=archival)


# Words an institution's or agency's name may start with, and the article French puts before each
# ("Pour le Ministère…", "Pour la Direction…", "Pour l’Agence…"); any other name is a proper name ("Pour Orange Mali").
COMMON_NOUNS = {
    "ministère": "le",
    "secrétariat": "le",
    "cabinet": "le",
    "conseil": "le",
    "centre": "le",
    "bureau": "le",
    "département": "le",
    "gouvernement": "le",
    "haut": "le",
    "direction": "la",
    "commission": "la",
    "cellule": "la",
    "délégation": "la",
    "présidence": "la",
    "primature": "la",
    "banque": "la",
    "agence": "l’",
    "autorité": "l’",
    "office": "l’",
    "institut": "l’",
    "ambassade": "l’",
    "union": "l’",
    "organisation": "l’",
    "ministry": "the",
    "agency": "the",
    "authority": "the",
    "office of": "the",
}


def with_article(name: str, lang: str) -> str:
    """An organisation's name as it follows "For": with its article when it starts with a common noun."""
    words = name.split(maxsplit=1)
    if not words:
        return name
    article = COMMON_NOUNS.get(words[0].casefold())
    if article is None:
        return name
    if lang != "fr":
        return f"the {name}"
    return f"{article}{name}" if article.endswith("’") else f"{article} {name}"


def _folded(text: str) -> list[str]:
    """The words of a name without accents, case or punctuation, for comparing a title with an organisation."""
    plain = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch if ch.isalnum() else " " for ch in plain if not unicodedata.combining(ch))
    return plain.split()


def names_organisation(title: str, organisation: str) -> bool:
    """Whether a title already says the organisation: "Directeur général d’Orange Mali" (Orange Mali), or
    "Ministre de la Communication, de l’Économie numérique…" (Ministère de la Communication, de l’Économie…):
    the minister of a ministry is titled after it, the first word changed."""
    title_words, org_words = _folded(title), _folded(organisation)
    if not title_words or not org_words:
        return False
    joined, org = " ".join(title_words), " ".join(org_words)
    if f" {org} " in f" {joined} ":
        return True
    if title_words[0][:5] != org_words[0][:5]:
        return False  # "Ministre"/"Ministère", "Directeur"/"Direction": the head of what the rest names
    title_rest, org_rest = title_words[1:], org_words[1:]
    if len(title_rest) < 2 or len(org_rest) < 2:
        return False
    shorter = min(len(title_rest), len(org_rest))
    return title_rest[:shorter] == org_rest[:shorter]


# Draft minutes PDFs kept per worker, by revision, its version and the language. The HTML's digest is kept with
# each: what the revision's version does not count (a participant added, a commitment closed, a new letterhead)
# changes the HTML, hence a fresh render; an unchanged draft is served without rendering (~1–2 s saved).
DRAFTS_KEPT = 32


def _drafts() -> OrderedDict[tuple[int, int, str], tuple[str, bytes]]:
    return real_app().extensions.setdefault("crm_pdf_drafts", OrderedDict())


def _cached_draft(key: tuple[int, int, str], html: str, stamp: str, logo: bytes | None) -> bytes:
    """The draft's PDF, rendered again only if its HTML changed (its creation date aside: a kept draft keeps the
    date it was first printed)."""
    digest = hashlib.sha256(html.replace(stamp, "").encode() + hashlib.sha256(logo or b"").digest()).hexdigest()
    drafts = _drafts()
    kept = drafts.get(key)
    if kept is not None and kept[0] == digest:
        drafts.move_to_end(key)
        return kept[1]
    data = renderer().render(html, logo, None)
    drafts[key] = (digest, data)
    drafts.move_to_end(key)
    while len(drafts) > DRAFTS_KEPT:
        drafts.popitem(last=False)
    return data


def _qr_png(url: str) -> bytes:
    """The verification link as a small PNG (WeasyPrint draws an image far faster than an SVG of modules)."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=4, border=0)
    return out.getvalue()


@dataclass
class Signature:
    """A signature block: who signs (name and title, or empty) for whom, and when that side approved."""

    signatory: str
    title: str
    on_behalf: str
    approved_at: datetime | None = None


@dataclass
class Table:
    """One side of the table as printed: an institution holding the meeting, or the partner's side."""

    label: str
    people: list[Any]
    organisation_id: int | None = None  # the institution's own organisation: not repeated under its people


def tables(meeting: Meeting) -> list[Table]:
    """Who sat where, as the minutes print it: each institution holding the meeting (host first), then the
    partner's side. Institutions are named, so a joint meeting's minutes say who came for whom."""
    seated = sorted(meeting.participants, key=lambda p: p.role != ParticipantRole.CHAIR)  # the chair first
    groups = [
        Table(
            holder.institution.short_name,
            [p for p in seated if p.side == Side.OURS and p.institution_id == holder.institution_id],
            holder.institution.organisation_id,
        )
        for holder in meeting.institutions
    ]
    groups.append(Table(_("Partner side"), [p for p in seated if p.side == Side.PARTNER]))
    return [g for g in groups if g.people] or groups[:1]


def signatures(meeting: Meeting, revision: MinutesRevision) -> list[Signature]:
    """One block per institution holding the meeting (the host first), then the partner's if there is one.

    Each is signed by that side's chair (or its first participant), with the title held on the meeting day;
    a title that already names the institution is not followed by its name again.
    """

    def chair_of(people: list) -> tuple[str, str]:
        chair = next((p for p in people if p.role == ParticipantRole.CHAIR), people[0] if people else None)
        if chair is None:
            return "", ""
        if chair.user is not None:
            return chair.user.name, chair.user.unit
        if chair.contact is None:  # pragma: no cover - a participant is a user or a contact
            return "", ""
        return chair.contact.display_name, title_on(chair.contact, chair.organisation_id, meeting.local_date)

    approvals = {a.institution_id: a.approved_at for a in revision.approvals}
    blocks = []
    for holder in meeting.institutions:
        name, title = chair_of([p for p in meeting.participants if p.institution_id == holder.institution_id])
        blocks.append(Signature(name, title, holder.institution.authority, approvals.get(holder.institution_id)))
    partners = [p for p in meeting.participants if p.side == Side.PARTNER]
    if partners or meeting.organisations:  # a meeting of the AES institutions alone has no partner to sign
        name, title = chair_of(partners)
        partner = ", ".join(link.organisation.name for link in meeting.organisations) or _("the partner")
        blocks.append(Signature(name, title, partner))
    return blocks


def minutes_pdf(
    session: DbSession,
    meeting: Meeting,
    revision: MinutesRevision,
    user: User,
    lang: str,
    verify_url: str | None = None,
) -> bytes:
    """The minutes of one revision; anything not approved carries the DRAFT watermark. An approved revision is
    printed as PDF/A-3b, created on its approval date (it is printed once, then frozen)."""
    head = letterhead(session, meeting.owner_institution_id)
    draft = revision.status != MinutesStatus.APPROVED
    with force_locale(lang):
        running_head = f"{meeting.reference} · {_('rev.')} {revision.number}"
        marking = meeting.confidentiality.label.upper()
        title = f"{_('Minutes')} — {meeting.title}"
        subject = f"{meeting.reference} — {meeting.kind.label}"
        sides, signed = tables(meeting), signatures(meeting, revision)  # "Partner side" in the document's language
    logo = logo_bytes(session, head)
    qr_png = _qr_png(verify_url) if verify_url else None
    html, stamp = _html(
        "pdf/minutes.html",
        lang,
        logo,
        qr_png,
        created=None if draft else revision.approved_at,
        meeting=meeting,
        revision=revision,
        letterhead=head,
        draft=draft,
        marking=marking,
        running_head=running_head,
        footer=f"{running_head} · {verify_url}" if verify_url else running_head,
        doc_title=title,
        doc_subject=subject,
        signatures=signed,
        tables=sides,
        commitments=commitments.for_meeting(session, meeting.id, user),
        verify_url=verify_url,
    )
    if draft:
        return _cached_draft((revision.id, revision.version, lang), html, stamp, logo)
    return renderer().render(html, logo, qr_png, archival=True)  # approved minutes are archived: PDF/A-3b


def frozen(session: DbSession, revision_id: int, lang: str) -> FrozenDocument | None:
    return session.scalars(
        select(FrozenDocument).where(FrozenDocument.revision_id == revision_id, FrozenDocument.lang == lang)
    ).first()


def freeze(
    session: DbSession, meeting: Meeting, revision: MinutesRevision, user: User, lang: str, verify_url: str
) -> FrozenDocument:
    """Render an approved revision once, store it, record its SHA-256. Later downloads serve these bytes."""
    existing = frozen(session, revision.id, lang)
    if existing is not None:
        return existing
    data = minutes_pdf(session, meeting, revision, user, lang, verify_url)
    # The bytes and their row are written in the approval's own transaction: both, or neither.
    stored = store_bytes(session, data, "application/pdf")
    document = FrozenDocument(
        revision_id=revision.id, lang=lang, file_id=stored.id, sha256=stored.sha256, size=stored.size
    )
    session.add(document)
    session.flush()
    return document


def verify_url(reference: str, number: int) -> str:
    """Printed in the footer and the QR code of an approved PDF: where any holder can check their copy."""
    return absolute_url("documents.verify_revision", reference=reference, number=number)


def approve_and_freeze(session: DbSession, revision: MinutesRevision, actor: User, version: int | None) -> bool:
    """Approve; once approved by every institution holding it, print the revision once in each language
    (and return True; False while other institutions have yet to approve their side).

    Both PDFs are stored in the approval's own transaction, so approval and documents stand or fall together.
    """
    if not meetings.approve_minutes(session, revision, actor, version):
        return False  # joint minutes: the other institutions have yet to approve their side
    meeting = meetings.meeting_detail(session, revision.meeting_id, actor)
    printed = meetings.revision_with_items(session, revision.meeting_id, revision.number)
    if meeting is None or printed is None:  # pragma: no cover - the caller just loaded them
        raise DomainError(_("This meeting no longer exists."))
    for lang in LANGUAGES:
        freeze(session, meeting, printed, actor, lang, verify_url(meeting.reference, printed.number))
    return True


@dataclass
class Frozen:
    """What serving a frozen document needs of its row: its fingerprint (the ETag), when it was frozen (its
    Last-Modified) and where its bytes are."""

    sha256: str
    created_at: datetime
    file_id: int


@dataclass
class Download:
    """What the download of a revision's PDF needs, read in one statement: no meeting, no participants; and the
    document frozen at approval in the language asked for, if there is one."""

    meeting_id: int
    reference: str
    revision_id: int
    number: int
    approved: bool
    frozen: Frozen | None = None
    data: bytes | None = None  # the frozen document's bytes, when asked for


def download(
    session: DbSession, meeting_id: int, number: int | None, user: User, lang: str = "fr", *, with_bytes: bool = False
) -> Download | None:
    """The revision (the latest, or `number`) of a meeting the user may see; None for a missing or hidden one.
    With it, the document frozen at approval in ``lang`` and (``with_bytes``: a download that will send them
    whatever happens, not a conditional one that may end in a 304) its bytes.

    Columns only, run on the session's connection: no ORM object is built (on the approved download, the ORM's
    part of the statement cost more than the database's)."""
    params: dict[str, Any] = {"meeting_id": meeting_id, "lang": lang}
    if number is not None:
        params["number"] = number
    stmt = _download_statement(*reader_key(user), number is not None, with_bytes)
    row = session.connection().execute(stmt, params).first()
    if row is None:
        return None
    approved = row[4] == MinutesStatus.APPROVED
    frozen = Frozen(row[5], row[6], row[7]) if approved and row[5] is not None else None
    return Download(row[0], row[1], row[2], row[3], approved, frozen, row[8] if frozen and with_bytes else None)


@confidentiality.per_reader
def _download_statement(
    user_id: int, institution_id: int, admin: bool, numbered: bool, with_bytes: bool
) -> Select[Any]:
    """Built once per reader (the meeting, the number and the language are parameters), not on every download."""
    stmt = (
        select(
            Meeting.id,
            Meeting.reference,
            MinutesRevision.id,
            MinutesRevision.number,
            MinutesRevision.status,
            FrozenDocument.sha256,
            FrozenDocument.created_at,
            FrozenDocument.file_id,
        )
        .join(MinutesRevision, MinutesRevision.meeting_id == Meeting.id)
        .outerjoin(
            FrozenDocument,
            and_(FrozenDocument.revision_id == MinutesRevision.id, FrozenDocument.lang == bindparam("lang")),
        )
        .where(Meeting.id == bindparam("meeting_id"), meetings.visible_to(user_id, institution_id, admin))
    )
    if with_bytes:
        stmt = stmt.add_columns(StoredFile.data).outerjoin(StoredFile, StoredFile.id == FrozenDocument.file_id)
    if numbered:
        stmt = stmt.where(MinutesRevision.number == bindparam("number"))
    return stmt.order_by(MinutesRevision.number.desc()).limit(1)


def frozen_bytes(session: DbSession, document: FrozenDocument | Frozen) -> bytes:
    return file_bytes(session, document.file_id) or b""


@dataclass
class Authentic:
    """What a holder of an approved document learns by checking it: no more than the document itself says."""

    reference: str
    revision: int
    approved_at: datetime | None
    lang: str


VERIFY_WINDOW = timedelta(minutes=10)
VERIFY_MAX_CHECKS = 30


def verification_throttled(session: DbSession, ip: str) -> bool:
    """Checks are counted per address (in the database, so that every app server sees them)."""
    since = utcnow() - VERIFY_WINDOW
    count = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "document_checked", AuditEvent.ip == ip, AuditEvent.created_at >= since)
    )
    return (count or 0) >= VERIFY_MAX_CHECKS


def record_check(session: DbSession, authentic: Authentic | None, ip: str) -> None:
    label = f"{authentic.reference} rev. {authentic.revision}" if authentic else "no match"
    audit.record(session, "document_checked", label=label, ip=ip)


def authenticate(session: DbSession, sha256: str) -> Authentic | None:
    """The approved document with this fingerprint, if there is one; the same None for anything else."""
    row = session.execute(
        select(Meeting.reference, MinutesRevision.number, MinutesRevision.approved_at, FrozenDocument.lang)
        .join(MinutesRevision, MinutesRevision.id == FrozenDocument.revision_id)
        .join(Meeting, Meeting.id == MinutesRevision.meeting_id)
        .where(FrozenDocument.sha256 == sha256.lower(), MinutesRevision.status == MinutesStatus.APPROVED)
        .limit(1)
    ).first()
    return Authentic(row.reference, row.number, row.approved_at, row.lang) if row else None


def commitments_report(session: DbSession, org: Organisation, user: User, lang: str, today: date) -> bytes:
    """One page per partner: where each promise stands, both sides, on the reader's institution's letterhead."""
    head = letterhead(session, user.institution_id)
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
        logo_bytes(session, head),
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


@dataclass
class MemberRow:
    """A member of the delegation as the programme prints them: who, their title, for whom they travel."""

    member: Any
    title: str
    side: str


def _load_positions(session: DbSession, contacts: list[Contact]) -> None:
    """Fill the posts of these contacts (with their organisations), so titles can be read on the visit's days."""
    if contacts:
        session.scalars(
            select(Contact)
            .options(selectinload(Contact.positions).joinedload(Position.organisation))
            .where(Contact.id.in_([c.id for c in contacts]))
        ).all()


def member_rows(session: DbSession, visit) -> list[MemberRow]:
    """Each member with the title held on the visit's first day and the side they travel for: their
    institution (colleagues, and contacts of the AES ministries), or the organisation of their post."""
    members = sorted(visit.members, key=lambda m: (m.role != MemberRole.HEAD, m.institution_id or 0, m.id))
    _load_positions(session, [m.contact for m in members if m.contact is not None])
    rows = []
    for m in members:
        side = m.institution.short_name if m.institution is not None else ""
        if m.user is not None:
            title = m.user.unit
        else:
            organisation_id = m.institution.organisation_id if m.institution is not None else None
            title = title_on(m.contact, organisation_id, visit.starts_on) or title_on(m.contact, None, visit.starts_on)
            if not side:
                post = next(iter(current_positions(m.contact, visit.starts_on)), None)
                side = post.organisation.name if post is not None else ""
        rows.append(MemberRow(m, title, side))
    return rows


# The first word of the title of whoever signs for a ministry: its minister.
MINISTER_TITLES = ("ministre", "minister")


def visit_signatory(session: DbSession, visit, head: Institution) -> Signature:
    """Who signs the programme for the institution that issues it: its minister in post on the visit's first
    day (from the directory), or else whoever drew the programme up."""
    posts = session.scalars(
        select(Position)
        .options(joinedload(Position.contact))
        .where(Position.organisation_id == head.organisation_id)
        .order_by(Position.start_date.desc().nulls_last(), Position.id)
    ).all()
    for post in posts:
        if post.held_on(visit.starts_on) and post.title.casefold().startswith(MINISTER_TITLES):
            return Signature(post.contact.display_name, post.title, head.authority)
    author = session.get(User, visit.created_by_id) if visit.created_by_id else None
    if author is not None:
        return Signature(author.name, author.unit, head.authority)
    return Signature("", "", head.authority)


def zone_offset(zone: str, day: date, lang: str) -> str:
    """A time zone's offset from UTC on a day, as the reader's language writes it ("UTC+01:00", "GMT+01:00")."""
    return get_timezone_gmt(datetime.combine(day, time(12), ZoneInfo(zone)), locale=lang)


def visit_pdf(session: DbSession, visit, lang: str) -> bytes:
    """The visit's programme (and mission order when we travel), from the same letterhead and stylesheet."""
    head = letterhead(session, visit.owner_institution_id)
    with force_locale(lang):
        title = f"{_('Programme')} — {visit.title}"
        marking = visit_marking(visit)
    return _render(
        "pdf/visit.html",
        lang,
        logo_bytes(session, head),
        visit=visit,
        members=member_rows(session, visit),
        offset=zone_offset(visit.timezone, visit.starts_on, lang),
        signature=visit_signatory(session, visit, head),
        letterhead=head,
        marking=marking,
        running_head=visit.reference,
        footer=f"{visit.reference} · {visit.city}",
        doc_title=title,
        doc_subject=f"{visit.reference} — {visit.city}",
    )


def visit_marking(visit) -> str:
    return visit.confidentiality.label.upper()
