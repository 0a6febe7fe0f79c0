from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField

from crm.core.enums import LabelledEnum
from crm.forms import SelectChoice, enum_choices
from crm.i18n import lazy_gettext as _l
from crm.notifications.models import DigestFrequency, Kind
from crm.partners.forms import MultiCheckboxField


class Weekday(LabelledEnum):
    MONDAY = "0", _l("Monday")
    TUESDAY = "1", _l("Tuesday")
    WEDNESDAY = "2", _l("Wednesday")
    THURSDAY = "3", _l("Thursday")
    FRIDAY = "4", _l("Friday")
    SATURDAY = "5", _l("Saturday")
    SUNDAY = "6", _l("Sunday")


class PreferencesForm(FlaskForm):
    kinds = MultiCheckboxField(_l("E-mails I receive"), choices=enum_choices(Kind, exclude=(Kind.DIGEST,)))
    digest = SelectField(_l("Digest of my follow-ups"), choices=enum_choices(DigestFrequency))
    digest_hour = SelectField(
        _l("At (my time zone)"), choices=[SelectChoice(str(h), f"{h:02d}:00") for h in range(24)], default="7"
    )
    digest_weekday = SelectField(_l("On (weekly digest)"), choices=enum_choices(Weekday), default="0")
