"""Form pieces shared by every domain."""

from __future__ import annotations

from wtforms import IntegerField
from wtforms.validators import Optional
from wtforms.widgets import HiddenInput


def VersionField() -> IntegerField:  # noqa: N802 - reads like the other field classes
    """The record version the form was loaded from; a stale or missing one is refused on update."""
    return IntegerField(widget=HiddenInput(), validators=[Optional()])


def strip_filter(value):
    return value.strip() if isinstance(value, str) else value


def form_data(form) -> dict:
    """The submitted values a service needs: every field but the CSRF token and the version."""
    return {name: field.data for name, field in form._fields.items() if name not in {"csrf_token", "version"}}
