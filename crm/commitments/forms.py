from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from crm.commitments.models import CommitmentStatus, OwedBy, Priority
from crm.commitments.services import CommitmentFilters
from crm.core.confidentiality import Sharing
from crm.forms import OnceForm, VersionField, enum_choices, optional_int, query_id, strip_filter
from crm.i18n import lazy_gettext as _l


class CommitmentForm(OnceForm):
    title = TextAreaField(_l("What was promised"), filters=[strip_filter], validators=[DataRequired(), Length(max=500)])
    details = TextAreaField(_l("Details"), filters=[strip_filter], validators=[Length(max=10_000)])
    # Asked, never assumed: a decision may bind us or the partner.
    owed_by = SelectField(
        _l("Owed by"),
        choices=[SelectChoice("", _l("— who owes it? —")), *enum_choices(OwedBy)],
        validators=[DataRequired(message=_l("Say who owes it: us, or the partner."))],
    )
    institution_id = SelectField(
        _l("Which institution owes it"), choices=[], coerce=optional_int, validate_choice=False
    )
    sharing = SelectField(_l("Sharing"), choices=enum_choices(Sharing), default=Sharing.INSTITUTION.value)
    responsible_id = SelectField(_l("Responsible officer"), choices=[], coerce=optional_int, validate_choice=False)
    organisation_id = SelectField(_l("Partner organisation"), choices=[], coerce=optional_int, validate_choice=False)
    contact_id = SelectField(_l("Partner contact"), choices=[], coerce=optional_int, validate_choice=False)
    due_date = DateField(_l("Due date"), validators=[Optional()])
    priority = SelectField(_l("Priority"), choices=enum_choices(Priority), default=Priority.NORMAL.value)
    origin_meeting_id = HiddenField(filters=[optional_int])
    origin_item_id = HiddenField(filters=[optional_int])
    origin_decision = HiddenField(filters=[strip_filter], validators=[Length(max=1000)])  # the decision's words
    origin_visit_id = HiddenField(filters=[optional_int])
    version = VersionField()


class StatusForm(FlaskForm):
    status = SelectField(_l("Status"), choices=enum_choices(CommitmentStatus))
    note = StringField(
        _l("Note"),
        filters=[strip_filter],
        validators=[DataRequired(_l("Say in a few words what changed.")), Length(max=5000)],
    )
    version = VersionField()


class ReassignForm(FlaskForm):
    from_user = SelectField(_l("From"), choices=[], coerce=optional_int, validators=[DataRequired()])
    to_user = SelectField(_l("To"), choices=[], coerce=optional_int, validators=[DataRequired()])


# --- the list's filters, read from the query string by the list and by its exports alike ---------------


def commitment_filters(args) -> CommitmentFilters:
    status = args.get("status", "active")
    return CommitmentFilters(
        q=args.get("q", "")[:200],
        status=status if status in {"active", "closed", "all", *CommitmentStatus} else "active",
        owed_by=OwedBy.parse(args.get("owed_by")) or "",
        organisation_id=query_id(args, "organisation"),
        responsible_id=query_id(args, "responsible"),
        overdue=args.get("overdue") == "1",
        mine=args.get("mine") == "1",
    )
