from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from flask import Blueprint, Flask, Response, abort, request
from flask_babel import force_locale, get_locale
from flask_login import current_user

from crm.audit import services as audit
from crm.auth.models import Role, User
from crm.auth.permissions import role_required
from crm.commitments.forms import commitment_filters
from crm.exchange import services
from crm.extensions import db, real_app
from crm.meetings.forms import meeting_filters
from crm.partners.forms import contact_filters, organisation_filters
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
