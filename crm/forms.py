"""Form pieces shared by every domain."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any
from zoneinfo import available_timezones

from flask import abort
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, Optional
from wtforms.widgets import HiddenInput

from crm.core.enums import LabelledEnum
from crm.core.ids import parse_id
from crm.core.submissions import new_token


def VersionField() -> IntegerField:  # noqa: N802 - reads like the other field classes
    """The record version the form was loaded from; a stale or missing one is refused on update."""
    return IntegerField(widget=HiddenInput(), validators=[Optional()])


def strip_filter(value):
    return value.strip() if isinstance(value, str) else value


NOT_DATA = frozenset({"csrf_token", "version", "submission"})


def form_data(form) -> dict:
    """The submitted values a service needs: every field but the CSRF token, the version and the token."""
    return {name: field.data for name, field in form._fields.items() if name not in NOT_DATA}


def optional_int(value):
    """Coerce a select's value: an id, or None for the empty choice. Anything else is not a valid choice."""
    if value in (None, "", "None"):
        return None
    number = parse_id(value)
    if number is None:
        raise ValueError("not an id")
    return number


class OnceForm(FlaskForm):
    """A form that creates something: it carries a one-time token, so two clicks make one record."""

    submission = HiddenField(default=new_token)


class DeleteForm(FlaskForm):
    """Removals say so explicitly: an empty or forged POST removes nothing."""

    confirm = HiddenField(validators=[AnyOf(["yes"])])


def enum_choices(enum_class: type[LabelledEnum], exclude: Iterable[LabelledEnum] = ()) -> list[SelectChoice]:
    """The options of a select: each member's value, with its label translated when the form is shown."""
    skipped = set(exclude)
    return [SelectChoice(m.value, m._label) for m in enum_class if m not in skipped]


def choices(pairs: Iterable[tuple[Any, Any]], empty: str | None = None) -> list[SelectChoice]:
    """Options from (value, label) pairs, with an empty first option when ``empty`` is given."""
    options = [SelectChoice("", empty)] if empty is not None else []
    return options + [SelectChoice(value, label) for value, label in pairs]


# The zones our users live in first, then the rest of the world.
MAIN_ZONES = ["Africa/Bamako", "Africa/Ouagadougou", "Africa/Niamey", "Africa/Abidjan", "Africa/Dakar", "Europe/Paris"]


def timezone_choices() -> list[SelectChoice]:
    others = sorted(z for z in available_timezones() if "/" in z and z not in MAIN_ZONES and not z.startswith("Etc"))
    return choices((z, z.replace("_", " ")) for z in MAIN_ZONES + others)


# --- a list's filters, read from its query string (the list and its exports read them the same way) ----


def query_id(args: Any, name: str) -> int | None:
    """An optional id in a query string; anything but a positive id in range is a 400."""
    value = args.get(name, "")
    if not value:
        return None
    number = parse_id(value)
    if number is None:
        abort(400)
    return number


def query_date(args: Any, name: str) -> date | None:
    """An optional ISO date in a query string; a malformed one is a 400."""
    value = args.get(name, "")
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        abort(400)
