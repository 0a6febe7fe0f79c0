from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, flash, request, url_for
from flask_babel import get_timezone
from flask_login import current_user

from crm.auth import services as auth
from crm.auth.models import Role
from crm.auth.permissions import role_required
from crm.commitments import services
from crm.commitments.forms import CommitmentForm, ReassignForm, StatusForm, commitment_filters
from crm.commitments.models import Commitment, CommitmentStatus, OwedBy
from crm.errors import DomainError
from crm.extensions import db, htmx
from crm.forms import choices, form_data
from crm.i18n import gettext as _
from crm.meetings import services as meetings
from crm.meetings.models import Meeting
from crm.partners import institutions
from crm.partners import services as partners
from crm.partners.models import Contact, Organisation
from crm.readmodels import partner as partner_view
from crm.views import form_cycle, int_arg, redirect_to, render, saved
from crm.visits import services as visits

bp = Blueprint("commitments", __name__)


@bp.get("/commitments")
@role_required(Role.VIEWER)
def commitments():
    args = request.args
    filters = commitment_filters(args)
    page = services.list_commitments(
        db.session,
        current_user,
        filters,
        cursor=args.get("after"),
        size=current_app.config["CRM_PAGE_SIZE"],
        today=date.today(),
        names_only=True,
    )
    organisation = db.session.get(Organisation, filters.organisation_id) if filters.organisation_id else None
    return render(
        "commitments/commitments.html",
        page=page,
        filters=filters,
        organisation=organisation,
        statuses=CommitmentStatus,
        owed_by=OwedBy,
    )


def _form_choices(
    form: CommitmentForm,
    meeting_id: int | None,
    extra_contact: Contact | None = None,
    owing: list[int] | None = None,
) -> CommitmentForm:
    owing = owing or [current_user.institution_id]
    form.institution_id.choices = choices((i, institutions.get(db.session, i).short_name) for i in owing)
    form.responsible_id.choices = choices(auth.user_choices(db.session, institution_ids=owing), empty="—")
    form.organisation_id.choices = choices(partners.organisation_choices(db.session), empty="—")
    org_ids = [form.organisation_id.data] if form.organisation_id.data else []
    if meeting_id:
        org_ids += meetings.organisation_ids(db.session, meeting_id)
    people = services.contact_choices(db.session, org_ids, meeting_id)
    if extra_contact is not None and extra_contact.id not in {contact_id for contact_id, _label in people}:
        people.append((extra_contact.id, extra_contact.display_name))
    form.contact_id.choices = choices(people, empty="—")
    return form


def _origin_meeting(form: CommitmentForm) -> Meeting | None:
    """The meeting the form says it comes from, if the user may see it (a hidden field, so: checked)."""
    meeting_id = form.origin_meeting_id.data if isinstance(form.origin_meeting_id.data, int) else None
    return meetings.visible_meeting(db.session, meeting_id, current_user) if meeting_id else None


@bp.route("/commitments/new", methods=["GET", "POST"])
@role_required(Role.STAFF)
def commitment_new():
    form = CommitmentForm()
    if request.method == "GET":
        meeting_id, visit_id = int_arg("meeting"), int_arg("visit")
        if meeting_id:
            origin = meetings.visible_meeting(db.session, meeting_id, current_user) or abort(404)
            form.origin_meeting_id.data = origin.id
            form.origin_item_id.data = int_arg("item")
            form.organisation_id.data = services.first_partner(db.session, origin.id)
            form.title.data = request.args.get("text", "")[:500]
            form.origin_decision.data = request.args.get("text", "")[:1000] if form.origin_item_id.data else ""
        elif visit_id:
            origin_visit = visits.visible_visit(db.session, visit_id, current_user) or abort(404)
            form.origin_visit_id.data = origin_visit.id
            form.title.data = request.args.get("text", "")[:500]
        else:
            form.organisation_id.data = int_arg("organisation")
        form.responsible_id.data = current_user.id
    origin = _origin_meeting(form)
    visit = (
        visits.visible_visit(db.session, form.origin_visit_id.data, current_user)
        if isinstance(form.origin_visit_id.data, int)
        else None
    )
    _form_choices(
        form, origin.id if origin else None, owing=services.owing_choices(db.session, current_user, origin, visit)
    )
    if request.method == "GET":
        form.institution_id.data = current_user.institution_id

    def done(commitment: Commitment):
        message = _("Commitment %(ref)s recorded.", ref=commitment.reference)
        if commitment.origin_visit_id and request.form.get("back") == "visit":
            return saved(url_for("visits.visit", visit_id=commitment.origin_visit_id) + "#report", message)
        if commitment.origin_meeting_id and request.form.get("back") == "minutes":
            return saved(url_for("meetings.minutes", meeting_id=commitment.origin_meeting_id), message)
        return saved(url_for("commitments.commitment", commitment_id=commitment.id), message)

    return form_cycle(
        form,
        lambda: services.create_commitment(db.session, form_data(form), current_user),
        done=done,
        page=lambda **kw: render("commitments/commitment_form.html", form=form, origin=_origin_meeting(form), **kw),
    )


def _visible(commitment_id: int) -> Commitment:
    return services.visible_commitment(db.session, commitment_id, current_user, detail=True) or abort(404)


def _visible_row(commitment_id: int) -> services.CommitmentRow:
    return services.commitment_row(db.session, commitment_id, current_user) or abort(404)


@bp.get("/commitments/<int:commitment_id>")
@role_required(Role.VIEWER)
def commitment(commitment_id: int):
    record = _visible(commitment_id)
    form = StatusForm(obj=record)
    form.note.data = ""
    return render(
        "commitments/commitment.html",
        commitment=record,
        status_form=form,
        today=date.today(),
        editable=current_user.institution_id in services.holding_institutions(db.session, record),
    )


@bp.route("/commitments/<int:commitment_id>/edit", methods=["GET", "POST"])
@role_required(Role.STAFF)
def commitment_edit(commitment_id: int):
    record = _visible(commitment_id)
    form = CommitmentForm(obj=record)
    del form.origin_meeting_id, form.origin_item_id, form.origin_decision, form.origin_visit_id, form.submission
    services.check_editable(db.session, record, current_user)
    _form_choices(
        form, record.origin_meeting_id, record.contact, owing=services.holding_institutions(db.session, record)
    )

    def page(**kw):
        fresh = _visible(commitment_id)  # after a refusal the session was rolled back: load again
        return render(
            "commitments/commitment_form.html", form=form, commitment=fresh, origin=fresh.origin_meeting, **kw
        )

    return form_cycle(
        form,
        lambda: services.update_commitment(db.session, record, form_data(form), current_user, form.version.data),
        done=lambda _none: saved(
            url_for("commitments.commitment", commitment_id=commitment_id), _("Commitment saved.")
        ),
        page=page,
        record=record,
    )


@bp.post("/commitments/<int:commitment_id>/status")
@role_required(Role.STAFF)
def commitment_status(commitment_id: int):
    """Inline from a list (htmx: the row comes back) or from the commitment's page."""
    record = _visible(commitment_id)
    form = StatusForm()

    def row(error: str | None = None, status: int = 200):
        return render(
            "commitments/_row.html",
            fragment="commitments/_row.html",
            rows=[_visible_row(commitment_id)],
            today=date.today(),
            statuses=CommitmentStatus,
            row_error=error,
            saved=error is None,
            status=status,
        )

    def page(refusal: DomainError | None = None, status: int = 200, **_kw):
        error = refusal.message if refusal else next(iter(form.errors.values()))[0] if form.errors else None
        error = error or _("Say in a few words what changed.")
        if htmx:
            return row(error, status)
        flash(error, "error")
        return redirect_to(url_for("commitments.commitment", commitment_id=commitment_id))

    def done(_update):
        if htmx:
            return row()
        return saved(url_for("commitments.commitment", commitment_id=commitment_id), _("Status saved."))

    return form_cycle(
        form,
        lambda: services.change_status(
            db.session, record, form.status.data, form.note.data, current_user, form.version.data
        ),
        done=done,
        page=page,
        record=record,
    )


@bp.route("/commitments/reassign", methods=["GET", "POST"])
@role_required(Role.OFFICER)
def reassign():
    form = ReassignForm()
    form.from_user.choices = choices(
        auth.user_choices(db.session, inactive=True, institution_ids=[current_user.institution_id]), empty="—"
    )
    form.to_user.choices = choices(
        auth.user_choices(db.session, institution_ids=[current_user.institution_id]), empty="—"
    )
    if request.method == "GET":
        form.from_user.data = int_arg("from")

    def done(result: tuple[int, list[Commitment]]):
        moved, kept = result
        message = _("%(n)s open commitments reassigned.", n=moved)
        if not kept:
            return saved(url_for("commitments.commitments", responsible=form.to_user.data), message)
        flash(message, "success")
        return render("commitments/reassign.html", form=form, kept=kept)

    return form_cycle(
        form,
        lambda: services.reassign(db.session, form.from_user.data, form.to_user.data, current_user),
        done=done,
        page=lambda **kw: render("commitments/reassign.html", form=form, kept=[], **kw),
    )


@bp.get("/organisations/<int:org_id>/record")
@role_required(Role.VIEWER)
def partner_record(org_id: int):
    """The partner's meetings and commitments, and how well promises were kept (loaded into its page)."""
    org = db.get_or_404(Organisation, org_id)
    return render(
        "commitments/partner_record.html",
        org=org,
        timeline=partner_view.partner_timeline(db.session, org_id, current_user, str(get_timezone())),
        promises=services.promise_figures_by_institution(db.session, org_id, current_user, date.today()),
        institutions=institutions.all_institutions(db.session),
    )
