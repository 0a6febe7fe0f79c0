from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField

from crm.forms import choices
from crm.i18n import lazy_gettext as _l

KIND_CHOICES = [("organisations", _l("Organisations")), ("contacts", _l("Contacts (with their positions)"))]


class UploadForm(FlaskForm):
    """The first step: what the file holds. The file itself is read from request.files by the view."""

    kind = SelectField(_l("The file lists"), choices=choices(KIND_CHOICES), default="organisations")


class ImportForm(FlaskForm):
    """The last step: import (the mapping comes with it as col-N fields, the file stays on the server)."""
