from __future__ import annotations

from babel import Locale
from flask_babel import get_locale
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import URL, AnyOf, DataRequired, Email, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from crm.forms import (
    OnceForm,
    VersionField,
    choices,
    enum_choices,
    optional_int,
    query_id,
    strip_filter,
    timezone_choices,
)
from crm.i18n import lazy_gettext as _l
from crm.partners.models import HONORIFICS, LANGUAGE_CODES, OrgKind, Sector
from crm.partners.services import ContactFilters, OrgFilters

PHONE = Regexp(r"^[0-9+() .\-/]*$", message=_l("Digits, spaces and + ( ) - / only."))
NOTES_MAX = 10_000


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def language_choices():
    locale = Locale.parse(str(get_locale() or "fr"))
    return choices((code, (locale.languages.get(code) or code).capitalize()) for code in LANGUAGE_CODES)


class OrganisationForm(OnceForm):
    name = StringField(_l("Name"), filters=[strip_filter], validators=[DataRequired(), Length(max=300)])
    acronym = StringField(_l("Acronym"), filters=[strip_filter], validators=[Length(max=40)])
    kind = SelectField(_l("Kind"), choices=enum_choices(OrgKind), default=OrgKind.OTHER.value)
    country_code = SelectField(_l("Country"), choices=[], validators=[DataRequired()])
    parent_id = SelectField(_l("Belongs to"), choices=[], coerce=optional_int, validate_choice=False)
    sectors = MultiCheckboxField(_l("Sectors"), choices=enum_choices(Sector))
    email = EmailField(_l("Email"), filters=[strip_filter], validators=[Optional(), Email(), Length(max=254)])
    phone = StringField(_l("Phone"), filters=[strip_filter], validators=[Optional(), Length(max=60), PHONE])
    website = StringField(
        _l("Website"),
        filters=[strip_filter],
        validators=[Optional(), URL(message=_l("Enter a full address, e.g. https://example.org.")), Length(max=300)],
    )
    address = TextAreaField(_l("Address"), filters=[strip_filter], validators=[Length(max=1000)])
    city = StringField(_l("City"), filters=[strip_filter], validators=[Length(max=120)])
    notes = TextAreaField(_l("Notes"), filters=[strip_filter], validators=[Length(max=NOTES_MAX)])
    version = VersionField()


class ContactForm(OnceForm):
    honorific = SelectField(_l("Honorific"), choices=choices((h, h or "—") for h in HONORIFICS))
    given_name = StringField(_l("Given names"), filters=[strip_filter], validators=[Length(max=150)])
    family_name = StringField(_l("Family name"), filters=[strip_filter], validators=[DataRequired(), Length(max=150)])
    native_name = StringField(_l("Name in its own script"), filters=[strip_filter], validators=[Length(max=300)])
    email = EmailField(_l("Email"), filters=[strip_filter], validators=[Optional(), Email(), Length(max=254)])
    phone = StringField(_l("Phone"), filters=[strip_filter], validators=[Optional(), Length(max=60), PHONE])
    languages = MultiCheckboxField(_l("Languages"), choices=[])
    notes = TextAreaField(_l("Notes"), filters=[strip_filter], validators=[Length(max=NOTES_MAX)])
    version = VersionField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.languages.choices = language_choices()


class PositionForm(OnceForm):
    organisation_id = SelectField(_l("Organisation"), choices=[], coerce=optional_int, validators=[DataRequired()])
    title = StringField(_l("Title"), filters=[strip_filter], validators=[DataRequired(), Length(max=300)])
    start_date = DateField(_l("Start"), validators=[Optional()])
    end_date = DateField(_l("End"), validators=[Optional()])
    notes = TextAreaField(_l("Notes"), filters=[strip_filter], validators=[Length(max=2000)])
    succeeds_holder = BooleanField(_l("Succeeds the current holder of this title (their position ends the day before)"))
    version = VersionField()


class ArchiveForm(FlaskForm):
    version = VersionField()


class FollowForm(FlaskForm):
    """Follow ("1") or stop following ("0") a partner."""

    follow = HiddenField(validators=[AnyOf(["0", "1"])])


class InstitutionForm(FlaskForm):
    organisation_id = SelectField(
        _l("Organisation of the directory"), choices=[], coerce=optional_int, validators=[DataRequired()]
    )
    code = StringField(
        _l("Code"),
        filters=[strip_filter],
        validators=[DataRequired(), Length(min=2, max=4)],
        description=_l("Two to four letters that start its references: ML-AUD-2026-0007."),
    )
    short_name = StringField(_l("Short name"), filters=[strip_filter], validators=[DataRequired(), Length(max=40)])
    timezone = SelectField(_l("Time zone"), choices=[], default="Africa/Bamako")
    country = StringField(_l("State"), filters=[strip_filter], validators=[DataRequired(), Length(max=200)])
    motto = StringField(_l("State motto"), filters=[strip_filter], validators=[Length(max=200)])
    authority = StringField(_l("Ministry"), filters=[strip_filter], validators=[DataRequired(), Length(max=300)])
    unit = StringField(_l("Service (second line)"), filters=[strip_filter], validators=[Length(max=300)])
    city = StringField(_l("City"), filters=[strip_filter], validators=[Length(max=120)])
    version = VersionField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = timezone_choices()


# --- the lists' filters, read from the query string by the list and by its exports alike ---------------


def organisation_filters(args) -> OrgFilters:
    return OrgFilters(
        q=args.get("q", "")[:200],
        kind=OrgKind.parse(args.get("kind")) or "",
        country=args.get("country", "")[:3],
        sector=Sector.parse(args.get("sector")) or "",
        archived=args.get("archived") == "1",
        sort=args.get("sort", "name"),
    )


def contact_filters(args) -> ContactFilters:
    return ContactFilters(
        q=args.get("q", "")[:200],
        country=args.get("country", "")[:3],
        organisation_id=query_id(args, "organisation"),
        archived=args.get("archived") == "1",
        sort=args.get("sort", "name"),
    )
