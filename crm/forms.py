"""Form pieces shared by every domain."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField
from wtforms.validators import AnyOf, Optional
from wtforms.widgets import HiddenInput


def VersionField() -> IntegerField:  # noqa: N802 - reads like the other field classes
    """The record version the form was loaded from; a stale or missing one is refused on update."""
    return IntegerField(widget=HiddenInput(), validators=[Optional()])


def strip_filter(value):
    return value.strip() if isinstance(value, str) else value


def form_data(form) -> dict:
    """The submitted values a service needs: every field but the CSRF token and the version."""
    return {name: field.data for name, field in form._fields.items() if name not in {"csrf_token", "version"}}


def optional_int(value):
    """Coerce a select's value: an id, or None for the empty choice."""
    return int(value) if value not in (None, "", "None") else None


class DeleteForm(FlaskForm):
    """Removals say so explicitly: an empty or forged POST removes nothing."""

    confirm = HiddenField(validators=[AnyOf(["yes"])])
