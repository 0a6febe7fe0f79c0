from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, DateTimeLocalField, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, Length, Optional

from crm.core.confidentiality import Confidentiality, Sharing
from crm.forms import OnceForm, VersionField, enum_choices, optional_int, query_id, strip_filter
from crm.i18n import lazy_gettext as _l
from crm.visits.models import Direction, MemberRole, VisitStatus
from crm.visits.services import VisitFilters

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


class EventForm(OnceForm):
    name = StringField(_l("Name"), filters=[strip_filter], validators=[DataRequired(), Length(max=300)])
    edition = StringField(_l("Edition"), filters=[strip_filter], validators=[Length(max=60)])
    theme = TextAreaField(_l("Theme"), filters=[strip_filter], validators=[Length(max=2000)])
    venue = StringField(_l("Venue"), filters=[strip_filter], validators=[Length(max=300)])
    city = StringField(_l("City"), filters=[strip_filter], validators=[Length(max=120)])
    country_code = SelectField(_l("Country"), choices=[], validators=[DataRequired()])
    starts_on = DateField(_l("From"), validators=[DataRequired()])
    ends_on = DateField(_l("To"), validators=[DataRequired()])
    organiser_id = SelectField(_l("Organiser"), choices=[], coerce=optional_int, validate_choice=False)
    notes = TextAreaField(_l("Notes"), filters=[strip_filter], validators=[Length(max=10_000)])
    version = VersionField()


class VisitForm(OnceForm):
    title = StringField(_l("Title"), filters=[strip_filter], validators=[DataRequired(), Length(max=300)])
    direction = SelectField(_l("Direction"), choices=enum_choices(Direction))
    purpose = TextAreaField(_l("Purpose"), filters=[strip_filter], validators=[Length(max=5000)])
    event_id = SelectField(_l("Event"), choices=[], coerce=optional_int, validate_choice=False)
    city = StringField(_l("Host city"), filters=[strip_filter], validators=[DataRequired(), Length(max=120)])
    country_code = SelectField(_l("Host country"), choices=[], validators=[DataRequired()])
    starts_on = DateField(_l("From"), validators=[DataRequired()])
    ends_on = DateField(_l("To"), validators=[DataRequired()])
    status = SelectField(_l("Status"), choices=enum_choices(VisitStatus))
    confidentiality = SelectField(
        _l("Confidentiality"), choices=enum_choices(Confidentiality), default=Confidentiality.INTERNAL.value
    )
    sharing = SelectField(_l("Sharing"), choices=enum_choices(Sharing), default=Sharing.INSTITUTION.value)
    version = VersionField()


class MemberForm(FlaskForm):
    person = StringField(validators=[DataRequired(message=_l("Choose a person from the list."))])
    role = SelectField(_l("Role"), choices=enum_choices(MemberRole))


class MemberEditForm(FlaskForm):
    role = SelectField(_l("Role"), choices=enum_choices(MemberRole))
    arrival_at = DateTimeLocalField(_l("Arrival"), format=DATETIME_FORMATS, validators=[Optional()])
    departure_at = DateTimeLocalField(_l("Departure"), format=DATETIME_FORMATS, validators=[Optional()])
    accommodation = StringField(_l("Accommodation"), filters=[strip_filter], validators=[Length(max=300)])
    version = VersionField()


class ItemForm(OnceForm):
    day = DateField(_l("Day"), validators=[Optional()])
    starts_at = TimeField(_l("From"), validators=[Optional()])
    ends_at = TimeField(_l("To"), validators=[Optional()])
    place = StringField(_l("Place"), filters=[strip_filter], validators=[Length(max=300)])
    activity = StringField(_l("Activity"), filters=[strip_filter], validators=[Length(max=500)])


class ReportForm(FlaskForm):
    report = TextAreaField(_l("Report"), validators=[Length(max=50_000)])
    version = VersionField()


# --- the list's filters, read from the query string by the list and by its exports alike ---------------


def visit_filters(args) -> VisitFilters:
    return VisitFilters(
        when="past" if args.get("when") == "past" else "upcoming",
        q=args.get("q", "")[:200],
        direction=Direction.parse(args.get("direction")) or "",
        status=VisitStatus.parse(args.get("status")) or "",
        event_id=query_id(args, "event"),
        mine=args.get("mine") == "1",
    )
