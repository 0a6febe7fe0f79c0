from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, flash, request, url_for
from flask_babel import get_timezone
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.auth.models import Role, User
from crm.auth.permissions import role_required
from crm.commitments import services
from crm.commitments.forms import CommitmentForm, ReassignForm, StatusForm
from crm.commitments.models import OWED_BY_LABELS, STATUS_LABELS, Commitment
from crm.errors import DomainError
from crm.extensions import db, htmx
from crm.forms import form_data
from crm.meetings import services as meetings
from crm.meetings.models import AgendaItem, MeetingOrganisation, Participant
from crm.partners import services as partners
from crm.partners.models import Contact, Organisation, Position
from crm.views import form_refusal, int_arg, redirect_to, render
from crm.visits import services as visits

bp = Blueprint("commitments", __name__)


def _user_choices() -> list[tuple[int | None, str]]:
    rows = db.session.execute(select(User.id, User.name).where(User.active.is_(True)).order_by(User.name))
    return [(None, "—"), *((row.id, row.name) for row in rows)]


@bp.get("/commitments")
@role_required(Role.VIEWER)
def commitments():
    args = request.args
    status = args.get("status", "active")
    filters = services.CommitmentFilters(
        q=args.get("q", "")[:200],
        status=status if status in {"active", "closed", "all", *STATUS_LABELS} else "active",
        owed_by=args.get("owed_by", "") if args.get("owed_by", "") in OWED_BY_LABELS else "",
        organisation_id=int_arg("organisation"),
        responsible_id=int_arg("responsible"),
        overdue=args.get("overdue") == "1",
        mine=args.get("mine") == "1",
    )
    page = services.list_commitments(
        db.session,
        current_user,
        filters,
        cursor=args.get("after"),
        size=current_app.config["CRM_PAGE_SIZE"],
        today=date.today(),
    )
    organisation = db.session.get(Organisation, filters.organisation_id) if filters.organisation_id else None
    return render(
        "commitments/commitments.html",
        page=page,
        filters=filters,
        organisation=organisation,
        statuses=STATUS_LABELS,
        owed_by=OWED_BY_LABELS,
        status_form=StatusForm(),
    )


def _contact_choices(organisation_ids: list[int], meeting_id: int | None) -> list[tuple[int | None, str]]:
    """The partner's people: participants of the origin meeting, then current holders of a post there."""
    ids: dict[int, str] = {}
    if meeting_id:
        for contact in db.session.scalars(
            select(Contact)
            .join(Participant, Participant.contact_id == Contact.id)
            .where(Participant.meeting_id == meeting_id)
        ):
            ids[contact.id] = contact.display_name
    if organisation_ids:
        today = date.today()
        for contact in db.session.scalars(
            select(Contact)
            .join(Position, Position.contact_id == Contact.id)
            .where(
                Position.organisation_id.in_(organisation_ids),
                (Position.end_date.is_(None)) | (Position.end_date >= today),
            )
            .order_by(Contact.sort_key)
            .limit(200)
        ):
            ids.setdefault(contact.id, contact.display_name)
    return [(None, "—"), *ids.items()]


def _form_choices(form: CommitmentForm, meeting_id: int | None, extra_contact: Contact | None = None) -> CommitmentForm:
    form.responsible_id.choices = _user_choices()
    form.organisation_id.choices = [(None, "—"), *partners.organisation_choices(db.session)]
    org_ids = [form.organisation_id.data] if form.organisation_id.data else []
    if meeting_id:
        org_ids += meetings.organisation_ids(db.session, meeting_id)
    form.contact_id.choices = _contact_choices(org_ids, meeting_id)
    if extra_contact is not None and extra_contact.id not in {c for c, _label in form.contact_id.choices}:
        form.contact_id.choices.append((extra_contact.id, extra_contact.display_name))
    return form


@bp.route("/commitments/new", methods=["GET", "POST"])
@role_required(Role.STAFF)
def commitment_new():
    form = CommitmentForm()
    origin = None
    if request.method == "GET":
        meeting_id = int_arg("meeting")
        if meeting_id:
            origin = meetings.visible_meeting(db.session, meeting_id, current_user) or abort(404)
            form.origin_meeting_id.data = origin.id
            item_id = int_arg("item")
            item = db.session.get(AgendaItem, item_id) if item_id else None
            form.origin_item_id.data = item.id if item else None
            form.title.data = request.args.get("text", "")[:500]
            first_org = db.session.scalar(
                select(MeetingOrganisation.organisation_id)
                .where(MeetingOrganisation.meeting_id == origin.id)
                .order_by(MeetingOrganisation.id)
            )
            form.organisation_id.data = first_org
        else:
            form.organisation_id.data = int_arg("organisation")
            visit_id = int_arg("visit")
            if visit_id:
                origin_visit = visits.visible_visit(db.session, visit_id, current_user) or abort(404)
                form.origin_visit_id.data = origin_visit.id
                form.title.data = request.args.get("text", "")[:500]
        form.responsible_id.data = current_user.id if current_user.can(Role.STAFF) else None
    else:
        meeting_id = form.origin_meeting_id.data if isinstance(form.origin_meeting_id.data, int) else None
        origin = meetings.visible_meeting(db.session, meeting_id, current_user) if meeting_id else None
    _form_choices(form, origin.id if origin else None)
    if form.validate_on_submit():
        try:
            commitment = services.create_commitment(db.session, form_data(form), current_user)
        except DomainError as exc:
            db.session.rollback()
            return render(
                "commitments/commitment_form.html",
                form=form,
                origin=origin,
                error=form_refusal(form, exc),
                status=exc.status,
            )
        db.session.commit()
        flash(_("Commitment %(ref)s recorded.", ref=commitment.reference), "success")
        if commitment.origin_visit_id and request.form.get("back") == "visit":
            return redirect_to(url_for("visits.visit", visit_id=commitment.origin_visit_id) + "#report")
        if commitment.origin_meeting_id and request.form.get("back") == "minutes":
            return redirect_to(url_for("meetings.minutes", meeting_id=commitment.origin_meeting_id))
        return redirect_to(url_for("commitments.commitment", commitment_id=commitment.id))
    status = 422 if request.method == "POST" else 200
    return render("commitments/commitment_form.html", form=form, origin=origin, status=status)


@bp.get("/commitments/<int:commitment_id>")
@role_required(Role.VIEWER)
def commitment(commitment_id: int):
    record = services.visible_commitment(db.session, commitment_id, current_user, detail=True) or abort(404)
    form = StatusForm(obj=record)
    form.note.data = ""
    return render("commitments/commitment.html", commitment=record, status_form=form, today=date.today())


@bp.route("/commitments/<int:commitment_id>/edit", methods=["GET", "POST"])
@role_required(Role.STAFF)
def commitment_edit(commitment_id: int):
    record = services.visible_commitment(db.session, commitment_id, current_user, detail=True) or abort(404)
    form = CommitmentForm(obj=record)
    del form.origin_meeting_id, form.origin_item_id, form.origin_visit_id
    _form_choices(form, record.origin_meeting_id, record.contact)
    if form.validate_on_submit():
        try:
            services.update_commitment(db.session, record, form_data(form), current_user, form.version.data)
        except DomainError as exc:
            db.session.rollback()
            return render(
                "commitments/commitment_form.html",
                form=form,
                commitment=record,
                origin=record.origin_meeting,
                error=form_refusal(form, exc, record),
                status=exc.status,
            )
        db.session.commit()
        flash(_("Commitment saved."), "success")
        return redirect_to(url_for("commitments.commitment", commitment_id=record.id))
    status = 422 if request.method == "POST" else 200
    return render(
        "commitments/commitment_form.html", form=form, commitment=record, origin=record.origin_meeting, status=status
    )


@bp.post("/commitments/<int:commitment_id>/status")
@role_required(Role.STAFF)
def commitment_status(commitment_id: int):
    """Inline from a list (htmx: the row comes back) or from the commitment's page."""
    record = services.visible_commitment(db.session, commitment_id, current_user, detail=True) or abort(404)
    form = StatusForm()
    error = None
    status = 200
    if form.validate_on_submit():
        try:
            services.change_status(
                db.session, record, form.status.data, form.note.data, current_user, form.version.data
            )
        except DomainError as exc:
            db.session.rollback()
            error, status = exc.message, exc.status
        else:
            db.session.commit()
            if not htmx:
                flash(_("Status saved."), "success")
                return redirect_to(url_for("commitments.commitment", commitment_id=record.id))
    else:
        error = next(iter(form.errors.values()))[0] if form.errors else _("Say in a few words what changed.")
        status = 422
    if htmx:
        record = services.visible_commitment(db.session, commitment_id, current_user, detail=True)
        return render(
            "commitments/_row.html",
            fragment="commitments/_row.html",
            c=record,
            today=date.today(),
            status_form=StatusForm(),
            row_error=error,
            saved=error is None,
            status=status,
        )
    flash(error, "error")
    return redirect_to(url_for("commitments.commitment", commitment_id=record.id))


@bp.route("/commitments/reassign", methods=["GET", "POST"])
@role_required(Role.OFFICER)
def reassign():
    form = ReassignForm()
    form.from_user.choices = _user_choices_all()
    form.to_user.choices = _user_choices()
    if request.method == "GET" and request.args.get("from"):
        form.from_user.data = int_arg("from")
    kept: list[Commitment] = []
    if form.validate_on_submit():
        try:
            moved, kept = services.reassign(db.session, form.from_user.data, form.to_user.data, current_user)
        except DomainError as exc:
            db.session.rollback()
            return render(
                "commitments/reassign.html", form=form, error=form_refusal(form, exc), kept=[], status=exc.status
            )
        db.session.commit()
        flash(_("%(n)s open commitments reassigned.", n=moved), "success")
        if not kept:
            return redirect_to(url_for("commitments.commitments", responsible=form.to_user.data))
    status = 422 if request.method == "POST" and form.errors else 200
    return render("commitments/reassign.html", form=form, kept=kept, status=status)


def _user_choices_all() -> list[tuple[int | None, str]]:
    """Inactive accounts too: their commitments are the ones to hand over."""
    rows = db.session.execute(select(User.id, User.name, User.active).order_by(User.name))
    return [(None, "—"), *((row.id, row.name if row.active else f"{row.name} ✕") for row in rows)]


@bp.get("/organisations/<int:org_id>/record")
@role_required(Role.VIEWER)
def partner_record(org_id: int):
    """The partner's meetings and commitments, and how well promises were kept (loaded into its page)."""
    org = db.get_or_404(Organisation, org_id)
    return render(
        "commitments/partner_record.html",
        org=org,
        timeline=services.partner_timeline(db.session, org_id, current_user, str(get_timezone())),
        promises=services.promise_figures(db.session, org_id, current_user, date.today()),
    )


@bp.app_template_filter("commitment_status")
def status_label(code: str) -> str:
    return str(STATUS_LABELS.get(code, code))
