from __future__ import annotations

import hashlib
from datetime import date

from flask import Blueprint, abort, current_app, make_response, request
from flask_login import current_user
from werkzeug.http import http_date, quote_etag

from crm.audit import services as audit
from crm.auth.models import Role
from crm.auth.permissions import public, role_required
from crm.documents import printing
from crm.documents.forms import LetterheadForm, VerifyForm
from crm.documents.pdf import RenderTimeout
from crm.extensions import db
from crm.forms import form_data
from crm.i18n import gettext as _
from crm.meetings import services as meetings
from crm.meetings.models import MinutesStatus
from crm.partners.models import Organisation
from crm.views import form_cycle, int_arg, render, saved
from crm.visits import services as visits

bp = Blueprint("documents", __name__)


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


@bp.get("/meetings/<int:meeting_id>/minutes.pdf")
@role_required(Role.VIEWER)
def minutes_pdf(meeting_id: int):
    """Approved: the file frozen at approval, byte for byte (read alone: the meeting itself is not loaded; a copy
    the browser already holds is a 304). Otherwise: a fresh draft marked as such."""
    lang = _lang()
    number = int_arg("rev")
    # A request that cannot end in a 304 reads the bytes with the revision: one statement, not two.
    unconditional = not (request.if_none_match or request.if_modified_since)
    wanted = printing.download(db.session, meeting_id, number, current_user, lang, with_bytes=unconditional)
    wanted = wanted or abort(404)
    filename = f"{wanted.reference}-r{wanted.number}-{lang}.pdf"
    if wanted.frozen is not None:  # approved, and printed at approval
        return _frozen(wanted.frozen, filename, wanted.data)
    meeting = meetings.meeting_for_print(db.session, meeting_id, current_user) or abort(404)
    revision = meetings.revision_with_items(db.session, meeting.id, wanted.number) or abort(404)
    try:
        if revision.status == MinutesStatus.APPROVED:  # approved outside a request (the demo loader): frozen now
            document = printing.freeze(
                db.session,
                meeting,
                revision,
                current_user,
                lang,
                printing.verify_url(meeting.reference, revision.number),
            )
            return _pdf(printing.frozen_bytes(db.session, document), filename)
        return _pdf(printing.minutes_pdf(db.session, meeting, revision, current_user, lang), filename)
    except RenderTimeout:
        abort(503)


def _frozen(document: printing.Frozen, filename: str, data: bytes | None = None):
    """An approved PDF never changes: its SHA-256 is its ETag, its freezing time its Last-Modified, and a
    conditional request is answered 304 without reading the bytes. (Like every page, it stays `no-store`:
    minutes may be restricted, and a shared office computer must not keep them.)

    ``data`` comes with a request that held no validator: it cannot end in a 304, so it is answered at once
    (a request with one goes through ``make_conditional``)."""
    headers = {
        "ETag": quote_etag(document.sha256),
        "Last-Modified": http_date(document.created_at),
        "Content-Disposition": f'inline; filename="{filename}"',
    }
    if data is not None:
        return current_app.response_class(data, content_type="application/pdf", headers=headers)
    response = current_app.response_class(content_type="application/pdf", headers=headers)
    response.make_conditional(request)
    if response.status_code != 304:
        response.set_data(printing.frozen_bytes(db.session, document))
    return response


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


@bp.route("/verify", methods=["GET", "POST"])
@bp.route("/verify/<reference>/<int:number>", methods=["GET", "POST"])
@public
def verify_revision(reference: str | None = None, number: int | None = None):
    """Where the QR code leads, open to anyone holding a printed copy (partners have no account).

    It reveals nothing to someone who does not hold the document: no fingerprints are listed, and an
    unknown reference, a draft and an altered copy all get the same answer. Checks are throttled per address.
    """
    form = VerifyForm()

    def page(**kw):
        return render("documents/verify.html", form=form, reference=(reference or "")[:20], number=number, **kw)

    if request.method != "POST":
        return page()
    if printing.verification_throttled(db.session, audit.client_ip()):
        return page(status=429, checked=False, throttled=True)
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        sha = hashlib.sha256(upload.stream.read(current_app.config["MAX_CONTENT_LENGTH"])).hexdigest()
    elif form.validate_on_submit() and form.sha256.data:
        sha = form.sha256.data
    else:
        if not form.errors:
            form.sha256.errors = [_("Choose the PDF to check, or paste its fingerprint.")]
        return page(status=422)
    authentic = printing.authenticate(db.session, sha)
    printing.record_check(db.session, authentic, audit.client_ip())
    return page(checked=True, authentic=authentic)


@bp.route("/admin/letterhead", methods=["GET", "POST"])
@bp.route("/admin/institutions/<int:institution_id>/letterhead", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def letterhead(institution_id: int | None = None):
    """An institution's letterhead: its admins set their own; an installation admin sets anyone's."""
    others = institution_id is not None and institution_id != current_user.institution_id
    if others and not current_user.can(Role.INSTALLATION_ADMIN):
        abort(404)
    head = printing.letterhead(db.session, institution_id or current_user.institution_id)
    form = LetterheadForm(obj=head)
    if request.method == "POST" and not request.form:
        abort(400)  # an empty POST saves nothing

    def save():
        upload = request.files.get("logo")
        logo = upload.stream.read(printing.LOGO_MAX_BYTES + 1) if upload is not None and upload.filename else None
        return printing.save_letterhead(
            db.session,
            head,
            form_data(form),
            form.version.data,
            logo=logo,
            remove_logo=request.form.get("remove_logo") == "1",
        )

    return form_cycle(
        form,
        save,
        done=lambda _h: saved(request.path, _("Letterhead saved. It applies to documents printed from now on.")),
        page=lambda **kw: render(
            "documents/letterhead.html", form=form, head=printing.letterhead(db.session, head.id), **kw
        ),
        record=head,
    )
