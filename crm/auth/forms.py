from __future__ import annotations

from zoneinfo import available_timezones

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length

from crm.auth.models import Role
from crm.forms import OnceForm, VersionField, choices, enum_choices

LANGUAGES = [("fr", "Français"), ("en", "English")]
# The zones our users live in first, then the rest of the world.
MAIN_ZONES = ["Africa/Bamako", "Africa/Ouagadougou", "Africa/Niamey", "Africa/Abidjan", "Africa/Dakar", "Europe/Paris"]


def timezone_choices():
    others = sorted(z for z in available_timezones() if "/" in z and z not in MAIN_ZONES and not z.startswith("Etc"))
    return choices((z, z.replace("_", " ")) for z in MAIN_ZONES + others)


class LoginForm(FlaskForm):
    email = EmailField(_l("Email address"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class PasswordChangeForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=1024)])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=1024)])


class PreferencesForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=choices(LANGUAGES, empty=_l("Automatic (the browser's language)")))
    timezone = SelectField(_l("Time zone"), choices=[])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = timezone_choices()


class UserCreateForm(OnceForm):
    email = EmailField(_l("Email address"), validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    unit = StringField(_l("Unit"), validators=[Length(max=200)])
    role = SelectField(_l("Role"), choices=enum_choices(Role), default=Role.STAFF.value)
    locale = SelectField(_l("Language"), choices=choices(LANGUAGES, empty=_l("Automatic (the browser's language)")))
    password = PasswordField(_l("Initial password"), validators=[DataRequired(), Length(max=1024)])


class UserEditForm(FlaskForm):
    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    unit = StringField(_l("Unit"), validators=[Length(max=200)])
    role = SelectField(_l("Role"), choices=enum_choices(Role))
    active = BooleanField(_l("Active account"))
    version = VersionField()
