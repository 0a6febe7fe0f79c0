from __future__ import annotations

import hashlib
import secrets
from datetime import date
from pathlib import Path

import filetype
from flask import Blueprint, abort, current_app, flash, make_response, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.auth.models import Role
from crm.auth.permissions import role_required
from crm.db import check_version
from crm.documents import printing
from crm.documents.forms import LetterheadForm, VerifyForm
from crm.documents.pdf import RenderTimeout
from crm.documents.services import write_private
from crm.errors import DomainError
from crm.extensions import db
from crm.meetings import services as meetings
from crm.meetings.models import MinutesStatus
from crm.partners.models import Organisation
from crm.views import form_refusal, redirect_to, render
from crm.visits import services as visits

bp = Blueprint("documents", __name__)

LOGO_MAX_BYTES = 1024 * 1024


def _lang() -> str:
    lang = request.args.get("lang", "fr")
    if lang not in printing.LANGUAGES:
        abort(400)
    return lang


def _pdf(data: bytes, filename: str):
    response = make_response(data)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def verify_url(reference: str, number: int) -> str:
    return url_for("documents.verify_revision", reference=reference, number=number, _external=True)


@bp.get("/meetings/<int:meeting_id>/minutes.pdf")
@role_required(Role.VIEWER)
def minutes_pdf(meeting_id: int):
    """Approved: the file frozen at approval, byte for byte. Otherwise: a fresh draft marked as such."""
    lang = _lang()
    meeting = meetings.meeting_detail(db.session, meeting_id, current_user) or abort(404)
    number = request.args.get("rev", "")
    if number and not number.isdigit():
        abort(400)
    revision = meetings.revision_with_items(db.session, meeting.id, int(number) if number else None) or abort(404)
    filename = f"{meeting.reference}-r{revision.number}-{lang}.pdf"
    try:
        if revision.status == MinutesStatus.APPROVED:
            document = printing.frozen(db.session, revision.id, lang)
            if document is None:  # approved before PDFs existed (or outside a request): frozen now, once
                document = printing.freeze(
                    db.session, meeting, revision, current_user, lang, verify_url(meeting.reference, revision.number)
                )
                db.session.commit()
            response = send_file(
                printing.frozen_path(document),
                mimetype="application/pdf",
                download_name=filename,
                max_age=0,
                etag=False,
                conditional=False,
            )
            response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
            return response
        return _pdf(printing.minutes_pdf(db.session, meeting, revision, current_user, lang), filename)
    except RenderTimeout:
        abort(503)


@bp.get("/visits/<int:visit_id>/programme.pdf")
@role_required(Role.VIEWER)
def visit_pdf(visit_id: int):
    visit = visits.visit_detail(db.session, visit_id, current_user) or abort(404)
    try:
        data = printing.visit_pdf(db.session, visit, _lang())
    except RenderTimeout:
        abort(503)
    return _pdf(data, f"{visit.reference}-programme.pdf")


@bp.get("/organisations/<int:org_id>/commitments.pdf")
@role_required(Role.VIEWER)
def commitments_pdf(org_id: int):
    org = db.get_or_404(Organisation, org_id)
    try:
        data = printing.commitments_report(db.session, org, current_user, _lang(), date.today())
    except RenderTimeout:
        abort(503)
    return _pdf(data, f"engagements-{org.id}-{date.today().isoformat()}.pdf")


@bp.route("/verify/<reference>/<int:number>", methods=["GET", "POST"])
@role_required(Role.VIEWER)
def verify_revision(reference: str, number: int):
    """Where the QR code leads: the recorded fingerprints of an approved revision, and a check of any copy."""
    revision = db.session.scalars(
        db.select(meetings.MinutesRevision)
        .join(meetings.Meeting, meetings.Meeting.id == meetings.MinutesRevision.meeting_id)
        .where(meetings.Meeting.reference == reference[:20], meetings.MinutesRevision.number == number)
    ).first()
    if revision is None or revision.status != MinutesStatus.APPROVED:
        abort(404)
    meeting = meetings.visible_meeting(db.session, revision.meeting_id, current_user)
    documents = db.session.scalars(
        db.select(printing.FrozenDocument).where(printing.FrozenDocument.revision_id == revision.id)
    ).all()
    form = VerifyForm()
    result = _check(form) if request.method == "POST" else None
    status = 422 if request.method == "POST" and result is None else 200
    return render(
        "documents/verify.html",
        reference=reference,
        number=number,
        revision=revision,
        meeting=meeting,
        documents=documents,
        form=form,
        result=result,
        status=status,
    )


def _check(form: VerifyForm) -> dict | None:
    """The fingerprint of the uploaded copy (or the one typed), and the approved documents it matches."""
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        sha = hashlib.sha256(upload.stream.read(current_app.config["MAX_CONTENT_LENGTH"])).hexdigest()
    elif form.validate_on_submit() and form.sha256.data:
        sha = form.sha256.data
    else:
        if not form.errors:
            form.sha256.errors = [_("Choose the PDF to check, or paste its fingerprint.")]
        return None
    matches = []
    for document, revision, meeting in printing.find_by_hash(db.session, sha):
        visible = meetings.can_see(db.session, meeting, current_user)
        matches.append({"document": document, "revision": revision, "meeting": meeting if visible else None})
    return {"sha256": sha, "matches": matches}


@bp.route("/admin/letterhead", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def letterhead():
    head = printing.letterhead(db.session)
    form = LetterheadForm(obj=head)
    if request.form and form.validate_on_submit():  # an empty POST saves nothing
        try:
            if head.id is not None:
                check_version(head, form.version.data)
            for name in ("country", "motto", "authority", "unit", "city"):
                setattr(head, name, getattr(form, name).data)
            upload = request.files.get("logo")
            if upload is not None and upload.filename:
                head.logo_name = _store_logo(upload.stream.read(LOGO_MAX_BYTES + 1))
            elif request.form.get("remove_logo") == "1":
                head.logo_name = ""
            db.session.add(head)
            db.session.flush()
        except DomainError as exc:
            db.session.rollback()
            return render(
                "documents/letterhead.html",
                form=form,
                head=head,
                error=form_refusal(form, exc, head),
                status=exc.status,
            )
        db.session.commit()
        flash(_("Letterhead saved. It applies to documents printed from now on."), "success")
        return redirect_to(url_for("documents.letterhead"))
    status = 422 if request.method == "POST" else 200
    return render("documents/letterhead.html", form=form, head=head, status=status)


def _store_logo(data: bytes) -> str:
    if len(data) > LOGO_MAX_BYTES:
        raise DomainError(_("The logo is too large (1 MB at most)."), field="country")
    kind = filetype.guess(data)
    if kind is None or kind.extension not in ("png", "jpg"):
        raise DomainError(_("The logo must be a PNG or JPEG image."), field="country")
    name = f"logo-{secrets.token_hex(8)}.{kind.extension}"
    write_private(Path(current_app.config["CRM_DOCUMENTS_DIR"]), name, data)
    return name
