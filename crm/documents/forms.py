from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from crm.forms import VersionField, strip_filter
from crm.i18n import lazy_gettext as _l


class LetterheadForm(FlaskForm):
    country = StringField(_l("State"), filters=[strip_filter], validators=[DataRequired(), Length(max=200)])
    motto = StringField(_l("State motto"), filters=[strip_filter], validators=[Length(max=200)])
    authority = StringField(_l("Ministry"), filters=[strip_filter], validators=[DataRequired(), Length(max=300)])
    unit = StringField(_l("Service (second line)"), filters=[strip_filter], validators=[Length(max=300)])
    city = StringField(_l("City"), filters=[strip_filter], validators=[Length(max=120)])
    version = VersionField()


class VerifyForm(FlaskForm):
    sha256 = StringField(
        _l("SHA-256 fingerprint"),
        filters=[lambda v: v.strip().lower() if isinstance(v, str) else v],
        validators=[Optional(), Regexp(r"^[0-9a-f]{64}$", message=_l("A fingerprint is 64 hexadecimal characters."))],
    )
