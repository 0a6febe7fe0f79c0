"""Helpers every domain's views use: full page or htmx fragment, the form cycle, redirects, arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, flash, redirect, render_template, request, url_for
from flask_htmx import make_response as htmx_response
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from crm.core import submissions
from crm.errors import REFUSALS, DomainError, Duplicate, Forbidden, StaleEdit, as_refusal
from crm.extensions import db, htmx
from crm.forms import query_id
from crm.i18n import gettext as _

T = TypeVar("T")


def render(template: str, /, *, fragment: str | None = None, status: int = 200, **context: Any) -> tuple[str, int]:
    """The full page, or for an htmx request only its partial (``dir/_name.html`` by default).

    The page includes the same partial, so both always show the same thing.
    """
    if htmx and not htmx.boosted:
        folder, _sep, name = template.rpartition("/")
        template = fragment or (template if name.startswith("_") else f"{folder}/_{name}")
    return render_template(template, **context), status


def redirect_to(url: str) -> Response:
    """After a successful save: a normal redirect, or HX-Redirect for an htmx form."""
    if htmx:
        return htmx_response(redirect=url)
    return redirect(url)


def saved(url: str, message: str | None = None) -> Response:
    """The usual end of a successful form: say so, and go to the record."""
    if message:
        flash(message, "success")
    return redirect_to(url)


def back_to(url: str) -> Callable[..., Any]:
    """The ``page`` of a button that has no page of its own: a refusal is said on the page it came from."""

    def page(refusal: DomainError | None = None, **_context: Any) -> Response:
        if refusal is not None:
            flash(refusal.message, "error")
        return redirect_to(url)

    return page


def form_refusal(form: FlaskForm, exc: DomainError, record: Any = None) -> str | None:
    """Show a service refusal: next to its field, or returned for the top of the form.

    After a stale edit the form takes the record's current version, so that the user, now warned,
    can save their kept input deliberately.
    """
    if isinstance(exc, StaleEdit) and record is not None and hasattr(form, "version"):
        form.version.data = record.version
        form.version.raw_data = [str(record.version)]
    field = getattr(form, exc.field, None) if exc.field and not isinstance(exc, Duplicate) else None
    if field is None or _hidden(field):  # a hidden field shows no error: the message goes to the top
        return exc.message
    field.errors = [*field.errors, exc.message]
    return None


def _hidden(field: Any) -> bool:
    return getattr(field.widget, "input_type", None) == "hidden"


def form_cycle(
    form: FlaskForm,
    save: Callable[[], T],
    *,
    done: Callable[[T], Any],
    page: Callable[..., Any],
    record: Any = None,
    invalid_status: int = 422,
    replay: Callable[[], Any] | None = None,
) -> Any:
    """The one form cycle: a GET shows ``page()``; a POST validates, calls ``save`` and answers ``done``.

    Invalid input: the page again with the field errors (``invalid_status``, 422). A refusal by a service,
    or a conflict the database found (someone saved first): the page again with the message and its
    status, everything typed kept. A form carrying a submission token is handled once: sent again, it
    leads to what the first sending saved (``replay()`` for inline forms, which have no page to go to).

    ``page`` receives ``error``, ``duplicate``, ``refusal`` and ``status``; after a refusal the session was rolled
    back, so it must load what it shows rather than reuse relations loaded before.
    """
    if request.method != "POST":
        return page()
    if not form.validate_on_submit():
        if invalid_status == 400:
            abort(400)
        hidden = [error for field in form if _hidden(field) for error in field.errors]
        return page(status=invalid_status, **({"error": hidden[0]} if hidden else {}))
    once = getattr(form, "submission", None)
    token = once.data if once is not None else None
    if token:
        first = submissions.claim(db.session, token, current_user.id if current_user.is_authenticated else None)
        if first is not None:
            if replay is not None:
                return replay()
            flash(_("This form was already sent: here is what it saved."), "info")
            return redirect_to(first or _same_site_referrer() or url_for("partners.organisations"))

    def refused(refusal: DomainError) -> Any:
        return page(
            error=form_refusal(form, refusal, record),
            duplicate=getattr(refusal, "existing", None),
            refusal=refusal,
            status=refusal.status,
        )

    def succeeded(result: T) -> Any:
        response = done(result)
        if token and isinstance(response, Response):
            location = response.headers.get("HX-Redirect") or response.headers.get("Location") or ""
            submissions.record_location(db.session, token, location)
        return response

    return attempt(save, done=succeeded, refused=refused)


def _same_site_referrer() -> str | None:
    referrer = request.referrer or ""
    return referrer if referrer.startswith(request.host_url) else None


def attempt(save: Callable[[], T], *, done: Callable[[T], Any], refused: Callable[[DomainError], Any]) -> Any:
    """Call a service and flush; on a refusal or a conflict, roll back and answer ``refused(refusal)``.

    The form cycle is built on this; views without a form (autosave, inline buttons) use it directly.
    """
    try:
        result = save()
        db.session.flush()
    except REFUSALS as exc:
        db.session.rollback()  # first: the message is translated for a user who may need loading again
        refusal = as_refusal(exc)
        if isinstance(refusal, Forbidden):
            raise refusal from exc  # not a matter of what was typed: the app's 403 page, with the reason
        return refused(refusal)
    return done(result)


def first_error(form: FlaskForm) -> str | None:
    """The first message of an invalid form, for inline forms that show one line."""
    for messages in form.errors.values():
        if messages:
            return str(messages[0])
    return None


def int_arg(name: str) -> int | None:
    """An optional id in the query string; anything but a positive id in range is a 400."""
    return query_id(request.args, name)
