from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from crm.core.confidentiality import Confidentiality, Sharing
from crm.forms import OnceForm, VersionField, enum_choices, query_date, query_id, strip_filter, timezone_choices
from crm.i18n import lazy_gettext as _l
from crm.meetings.models import Attendance, MeetingKind, MeetingStatus, MinutesStatus, ParticipantRole
from crm.meetings.services import MeetingFilters

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


class MeetingForm(OnceForm):
    title = StringField(_l("Title"), filters=[strip_filter], validators=[DataRequired(), Length(max=300)])
    kind = SelectField(_l("Kind"), choices=enum_choices(MeetingKind), default=MeetingKind.AUDIENCE.value)
    starts_at = DateTimeLocalField(_l("Starts"), format=DATETIME_FORMATS, validators=[DataRequired()])
    ends_at = DateTimeLocalField(_l("Ends"), format=DATETIME_FORMATS, validators=[DataRequired()])
    timezone = SelectField(_l("Time zone of the meeting"), choices=[], default="Africa/Bamako")
    place = StringField(_l("Place"), filters=[strip_filter], validators=[Length(max=300)])
    confidentiality = SelectField(
        _l("Confidentiality"), choices=enum_choices(Confidentiality), default=Confidentiality.INTERNAL.value
    )
    sharing = SelectField(_l("Sharing"), choices=enum_choices(Sharing), default=Sharing.INSTITUTION.value)
    status = SelectField(_l("Status"), choices=enum_choices(MeetingStatus))
    organisation_ids = SelectMultipleField(_l("Organisations"), coerce=int, validate_choice=False)
    notes = TextAreaField(_l("Preparation notes"), filters=[strip_filter], validators=[Length(max=10_000)])
    # Participants who are users always receive an invitation by e-mail; partner contacts only when ticked.
    invite_contacts = BooleanField(_l("Also send the invitation to the partner contacts' e-mail addresses"))
    version = VersionField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = timezone_choices()


class ParticipantForm(FlaskForm):
    """Adds one person picked in the autocomplete (``person``: see ``parse_person``)."""

    person = StringField(validators=[DataRequired(message=_l("Choose a person from the list."))])
    role = SelectField(_l("Role"), choices=enum_choices(ParticipantRole))
    attendance = SelectField(_l("Attendance"), choices=enum_choices(Attendance))


class ParticipantEditForm(FlaskForm):
    role = SelectField(_l("Role"), choices=enum_choices(ParticipantRole))
    attendance = SelectField(_l("Attendance"), choices=enum_choices(Attendance))


class OrganisationPickForm(FlaskForm):
    organisation_id = StringField(validators=[DataRequired(message=_l("Choose an organisation from the list."))])


class VersionForm(FlaskForm):
    """Lifecycle buttons (submit, approve, withdraw): only the version the user was looking at."""

    version = VersionField()


class AmendForm(FlaskForm):
    reason = TextAreaField(
        _l("Why are the minutes amended?"), filters=[strip_filter], validators=[DataRequired(), Length(max=2000)]
    )


class AttachmentForm(OnceForm):
    description = StringField(_l("Description"), filters=[strip_filter], validators=[Length(max=300)])


def parse_person(value: str) -> tuple[int | None, int | None, int | None, str]:
    """The person picked in the autocomplete, as (user, contact, organisation, side).

    "user:12" is one of our users; "contact:34:5" a contact for organisation 5 on the partner's side;
    "contact:34:5:ours" the same on our side. Anything else is nobody.
    """
    parts = (value or "").split(":")
    try:
        if parts[0] == "user" and len(parts) == 2:
            return int(parts[1]), None, None, "ours"
        if parts[0] == "contact" and len(parts) in (3, 4):
            side = "ours" if len(parts) == 4 and parts[3] == "ours" else "partner"
            return None, int(parts[1]), int(parts[2]), side
    except ValueError:
        pass
    return None, None, None, "partner"


# --- the list's filters, read from the query string by the list and by its exports alike ---------------

MINUTES_FILTERS = ("none", *MinutesStatus)


def meeting_filters(args) -> MeetingFilters:
    return MeetingFilters(
        when="past" if args.get("when") == "past" else "upcoming",
        q=args.get("q", "")[:200],
        organisation_id=query_id(args, "organisation"),
        country=args.get("country", "")[:3],
        kind=MeetingKind.parse(args.get("kind")) or "",
        status=MeetingStatus.parse(args.get("status")) or "",
        date_from=query_date(args, "from"),
        date_to=query_date(args, "to"),
        mine=args.get("mine") == "1",
        institution_id=query_id(args, "institution"),
        minutes=args.get("minutes", "") if args.get("minutes") in MINUTES_FILTERS else "",
    )
