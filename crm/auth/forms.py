from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length

from crm.auth.models import Role
from crm.forms import OnceForm, VersionField, choices, enum_choices, optional_int, timezone_choices
from crm.i18n import lazy_gettext as _l

LANGUAGES = [("fr", "Français"), ("en", "English")]


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
    institution_id = SelectField(_l("Institution"), choices=[], coerce=optional_int, validate_choice=False)
    password = PasswordField(_l("Initial password"), validators=[DataRequired(), Length(max=1024)])


class UserEditForm(FlaskForm):
    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    unit = StringField(_l("Unit"), validators=[Length(max=200)])
    role = SelectField(_l("Role"), choices=enum_choices(Role))
    institution_id = SelectField(_l("Institution"), choices=[], coerce=optional_int, validate_choice=False)
    active = BooleanField(_l("Active account"))
    version = VersionField()
