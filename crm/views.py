"""Helpers every domain's views use: full page or htmx fragment, redirects."""

from __future__ import annotations

from flask import redirect, render_template
from flask_htmx import make_response as htmx_response

from crm.extensions import htmx


def render(template: str, /, *, fragment: str | None = None, status: int = 200, **context):
    """The full page, or for an htmx request only its partial (``dir/_name.html`` by default).

    The page includes the same partial, so both always show the same thing.
    """
    if htmx and not htmx.boosted:
        folder, _, name = template.rpartition("/")
        template = fragment or f"{folder}/_{name}"
    return render_template(template, **context), status


def redirect_to(url: str):
    """After a successful save: a normal redirect, or HX-Redirect for an htmx form."""
    if htmx:
        return htmx_response(redirect=url)
    return redirect(url)
