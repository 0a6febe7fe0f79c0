"""Helpers every domain's views use: full page or htmx fragment, redirects."""

from __future__ import annotations

from flask import abort, redirect, render_template, request
from flask_htmx import make_response as htmx_response

from crm.errors import DomainError, Duplicate, StaleEdit
from crm.extensions import htmx


def render(template: str, /, *, fragment: str | None = None, status: int = 200, **context):
    """The full page, or for an htmx request only its partial (``dir/_name.html`` by default).

    The page includes the same partial, so both always show the same thing.
    """
    if htmx and not htmx.boosted:
        folder, _, name = template.rpartition("/")
        template = fragment or (template if name.startswith("_") else f"{folder}/_{name}")
    return render_template(template, **context), status


def redirect_to(url: str):
    """After a successful save: a normal redirect, or HX-Redirect for an htmx form."""
    if htmx:
        return htmx_response(redirect=url)
    return redirect(url)


def form_refusal(form, exc: DomainError, record=None) -> str | None:
    """Show a service refusal: next to its field, or returned for the top of the form.

    After a stale edit the form takes the record's current version, so that the user, now warned,
    can save their kept input deliberately.
    """
    if isinstance(exc, StaleEdit) and record is not None and hasattr(form, "version"):
        form.version.data = record.version
        form.version.raw_data = [str(record.version)]
    field = getattr(form, exc.field, None) if exc.field and not isinstance(exc, Duplicate) else None
    if field is None:
        return exc.message
    field.errors = [*field.errors, exc.message]
    return None


def int_arg(name: str) -> int | None:
    """An optional integer query argument; anything else is a 400."""
    value = request.args.get(name, "")
    if not value:
        return None
    if not value.isdigit():
        abort(400)
    return int(value)
