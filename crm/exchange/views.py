from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, flash, request, url_for
from flask_babel import force_locale, get_locale
from flask_login import current_user

from crm.audit import services as audit
from crm.auth.models import Role, User
from crm.auth.permissions import role_required
from crm.commitments.forms import commitment_filters
from crm.db import utcnow
from crm.errors import DomainError
from crm.exchange import imports, services
from crm.exchange.forms import ImportForm, UploadForm
from crm.exchange.models import ImportUpload
from crm.extensions import db, real_app
from crm.i18n import gettext as _
from crm.meetings.forms import meeting_filters
from crm.partners.forms import contact_filters, organisation_filters
from crm.views import redirect_to, render, saved
from crm.visits.forms import visit_filters

bp = Blueprint("exchange", __name__)

# Each list's filters, read from the query string exactly as the list itself reads them.
FILTERS: dict[str, Any] = {
    "organisations": organisation_filters,
    "contacts": contact_filters,
    "meetings": meeting_filters,
    "commitments": commitment_filters,
    "visits": visit_filters,
}
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _opener(app: Flask, user_id: int, locale: str, today: date):
    """Each page of an export is read in a short context of its own, in the reader's language."""

    @contextmanager
    def opened() -> Iterator[tuple[Any, services.ExportContext]]:
        with app.app_context(), force_locale(locale):
            user = db.session.get(User, user_id)
            if user is None:  # the account was removed while the file was being written
                raise LookupError(user_id)
            yield db.session, services.ExportContext(user=user, today=today)

    return opened


def _in_request(ctx: services.ExportContext):
    """While the view runs (the XLSX file is written before it is sent): the request's own session."""

    @contextmanager
    def opened() -> Iterator[tuple[Any, services.ExportContext]]:
        yield db.session, ctx

    return opened


@bp.get("/export/<kind>.<fmt>")
@role_required(Role.VIEWER)
def export(kind: str, fmt: str):
    """The list's current filtered view as a file; recorded in the audit trail."""
    if kind not in services.EXPORTS or fmt not in FORMATS:
        abort(404)
    export_kind = services.EXPORTS[kind]
    filters = FILTERS[kind](request.args)
    today = date.today()
    ctx = services.ExportContext(user=current_user._get_current_object(), today=today)
    audit.record(
        db.session,
        "export",
        entity_type=export_kind.entity,
        label=services.file_name(export_kind, today, fmt),
        changes={"format": fmt, "filters": {k: v[:200] for k, v in request.args.items() if k != "after"}},
    )
    header = services.headers(export_kind, ctx)
    disposition = f'attachment; filename="{services.file_name(export_kind, today, fmt)}"'
    if fmt == "csv":
        # Streamed after the view has returned (and its audit entry was committed), a page at a time.
        opener = _opener(
            real_app(),
            current_user.id,
            str(get_locale() or "fr"),
            today,
        )
        body = services.csv_chunks(header, services.batches(export_kind, filters, opener))
        response = Response(body, mimetype=FORMATS[fmt])
    else:
        path = services.write_xlsx(
            str(export_kind.title), header, services.rows(export_kind, filters, _in_request(ctx))
        )
        response = Response(services.file_chunks(path), mimetype=FORMATS[fmt])
    response.headers["Content-Disposition"] = disposition
    response.headers["Cache-Control"] = "no-store"
    return response


# --- imports ----------------------------------------------------------------------------------------


def _max_bytes() -> int:
    return int(current_app.config["CRM_IMPORT_MAX_BYTES"])


def _upload_page(form: UploadForm, status: int = 200, error: str | None = None):
    return render("exchange/upload.html", form=form, error=error, max_mb=_max_bytes() // (1024 * 1024), status=status)


@bp.route("/import", methods=["GET", "POST"])
@role_required(Role.STAFF)
def upload():
    """Step 1: choose the file. It is checked at once (empty, damaged, wrong encoding, too large) and kept."""
    form = UploadForm()
    if request.method == "GET":
        form.kind.data = request.args.get("kind") if request.args.get("kind") in imports.KINDS else "organisations"
        return _upload_page(form)
    if not form.validate_on_submit():
        return _upload_page(form, 422)
    sent = request.files.get("file")
    if sent is None or not sent.filename:
        return _upload_page(form, 422, _("Choose the file to import."))
    data = sent.stream.read(_max_bytes() + 1)
    try:
        imports.read_table(data, sent.filename, _max_bytes())
    except imports.FileRefused as refused:
        return _upload_page(form, refused.status, refused.message)
    stored = imports.store_upload(db.session, current_user.id, form.kind.data, sent.filename, data)
    return redirect_to(url_for("exchange.mapping", token=stored.token))


def _stored(token: str) -> ImportUpload | None:
    return imports.find_upload(db.session, token, current_user.id)


def _gone():
    """An expired upload, or someone else's token: the same answer, and the way to start again."""
    flash(_("This file is no longer available (files wait one day) or was not sent by you: upload it again."), "error")
    return redirect_to(url_for("exchange.upload"))


def _preview(stored: ImportUpload, values: Any) -> tuple[imports.Table, imports.Preview]:
    table = imports.read_table(stored.data, stored.filename, max(_max_bytes(), stored.size))
    chosen = [values.get(f"col-{i}", "") for i in range(len(table.headers))]
    if any(f"col-{i}" in values for i in range(len(table.headers))):
        mapping = imports.clean_mapping(stored.kind, chosen, len(table.headers))
    else:
        mapping = imports.guess_mapping(stored.kind, table.headers)
    return table, imports.preview(db.session, stored.kind, table, mapping)


def _mapping_page(
    stored: ImportUpload,
    table: imports.Table,
    result: imports.Preview,
    status: int = 200,
    error: str | None = None,
):
    return render(
        "exchange/mapping.html",
        stored=stored,
        result=result,
        first_row=table.rows[0],
        targets=imports.TARGETS[stored.kind],
        form=ImportForm(formdata=None),
        error=error,
        shown=PREVIEW_ROWS,
        status=status,
    )


PREVIEW_ROWS = 200


@bp.get("/import/<token>")
@role_required(Role.STAFF)
def mapping(token: str):
    """Steps 2 and 3: which column holds what (guessed from French or English headings), and the preview."""
    stored = _stored(token)
    if stored is None:
        return _gone()
    table, result = _preview(stored, request.args)
    return _mapping_page(stored, table, result)


@bp.post("/import/<token>")
@role_required(Role.STAFF)
def run(token: str):
    """Step 4: import every new row, or nothing."""
    stored = _stored(token)
    if stored is None:
        return _gone()
    form = ImportForm()
    if not form.validate_on_submit():
        abort(400)
    table, result = _preview(stored, request.form)
    try:
        outcome = imports.run_import(db.session, result)
    except DomainError as refused:  # refused before anything was written
        return _mapping_page(stored, table, result, refused.status, refused.message)
    stored.imported_at = utcnow()
    stored.created_count = outcome.created
    audit.record(
        db.session,
        "import",
        entity_type="organisation" if stored.kind == "organisations" else "contact",
        label=stored.filename,
        changes={"created": outcome.created, "positions": outcome.posts, "already_there": outcome.skipped},
    )
    if stored.kind == "organisations":
        message = _(
            "%(created)s organisations imported; %(skipped)s were already in the directory.",
            created=outcome.created,
            skipped=outcome.skipped,
        )
        return saved(url_for("partners.organisations", sort="recent"), message)
    message = _(
        "%(created)s contacts and %(posts)s positions imported; %(skipped)s were already in the directory.",
        created=outcome.created,
        posts=outcome.posts,
        skipped=outcome.skipped,
    )
    return saved(url_for("partners.contacts", sort="recent"), message)
