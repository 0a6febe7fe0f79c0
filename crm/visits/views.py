from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, flash, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from crm.auth.models import Role
from crm.auth.permissions import role_required
from crm.commitments import services as commitments
from crm.documents import services as documents
from crm.errors import DomainError
from crm.extensions import db, htmx
from crm.forms import DeleteForm, form_data
from crm.meetings.forms import AttachmentForm, parse_person
from crm.partners import services as partners
from crm.views import form_refusal, int_arg, redirect_to, render
from crm.visits import services
from crm.visits.forms import EventForm, ItemForm, MemberEditForm, MemberForm, ReportForm, VisitForm
from crm.visits.models import DIRECTION_LABELS, MEMBER_ROLE_LABELS, VISIT_STATUS_LABELS, Event, VisitMember

bp = Blueprint("visits", __name__)


def _countries() -> list[tuple[str, str]]:
    return partners.country_choices(db.session, str(get_locale() or "fr"))


# --- events ------------------------------------------------------------------------------------


@bp.get("/events")
@role_required(Role.VIEWER)
def events():
    return render("visits/events.html", events=services.list_events(db.session))


def _event_form(form: EventForm) -> EventForm:
    form.country_code.choices = _countries()
    form.organiser_id.choices = [(None, "—"), *partners.organisation_choices(db.session)]
    return form


@bp.route("/events/new", methods=["GET", "POST"])
@bp.route("/events/<int:event_id>/edit", methods=["GET", "POST"])
@role_required(Role.STAFF)
def event_form(event_id: int | None = None):
    event = db.get_or_404(Event, event_id) if event_id else None
    form = _event_form(EventForm(obj=event))
    if request.method == "GET" and event is None:
        form.country_code.data = "ML"
    if form.validate_on_submit():
        try:
            event = services.save_event(db.session, form_data(form), event, form.version.data)
        except DomainError as exc:
            db.session.rollback()
            return render(
                "visits/event_form.html",
                form=form,
                event=event,
                error=form_refusal(form, exc, event),
                status=exc.status,
            )
        db.session.commit()
        flash(_("Event saved."), "success")
        return redirect_to(url_for("visits.event", event_id=event.id))
    return render("visits/event_form.html", form=form, event=event, status=422 if request.method == "POST" else 200)


@bp.get("/events/<int:event_id>")
@role_required(Role.VIEWER)
def event(event_id: int):
    found = services.event_detail(db.session, event_id, current_user) or abort(404)
    record, visits, held = found
    return render("visits/event.html", event=record, visits=visits, meetings=held)


# --- visits ------------------------------------------------------------------------------------


@bp.get("/visits")
@role_required(Role.VIEWER)
def visits():
    args = request.args
    filters = services.VisitFilters(
        when="past" if args.get("when") == "past" else "upcoming",
        q=args.get("q", "")[:200],
        direction=args.get("direction", "") if args.get("direction", "") in DIRECTION_LABELS else "",
        status=args.get("status", "") if args.get("status", "") in VISIT_STATUS_LABELS else "",
        event_id=int_arg("event"),
        mine=args.get("mine") == "1",
    )
    page = services.list_visits(
        db.session,
        current_user,
        filters,
        cursor=args.get("after"),
        size=current_app.config["CRM_PAGE_SIZE"],
        today=date.today(),
    )
    return render(
        "visits/visits.html", page=page, filters=filters, directions=DIRECTION_LABELS, statuses=VISIT_STATUS_LABELS
    )


def _visit_form(form: VisitForm) -> VisitForm:
    form.country_code.choices = _countries()
    form.event_id.choices = [(None, "—"), *services.event_choices(db.session)]
    return form


@bp.route("/visits/new", methods=["GET", "POST"])
@role_required(Role.STAFF)
def visit_new():
    form = _visit_form(VisitForm())
    if request.method == "GET":
        form.country_code.data = "ML"
        event_id = int_arg("event")
        if event_id:
            ev = db.get_or_404(Event, event_id)
            form.event_id.data, form.city.data, form.country_code.data = ev.id, ev.city, ev.country_code
            form.starts_on.data, form.ends_on.data = ev.starts_on, ev.ends_on
    if form.validate_on_submit():
        try:
            visit = services.save_visit(db.session, form_data(form), current_user)
        except DomainError as exc:
            db.session.rollback()
            return render("visits/visit_form.html", form=form, error=form_refusal(form, exc), status=exc.status)
        db.session.commit()
        flash(_("Visit %(ref)s created.", ref=visit.reference), "success")
        return redirect_to(url_for("visits.visit", visit_id=visit.id))
    return render("visits/visit_form.html", form=form, status=422 if request.method == "POST" else 200)


@bp.route("/visits/<int:visit_id>/edit", methods=["GET", "POST"])
@role_required(Role.STAFF)
def visit_edit(visit_id: int):
    record = services.visible_visit(db.session, visit_id, current_user) or abort(404)
    form = _visit_form(VisitForm(obj=record))
    if form.validate_on_submit():
        try:
            services.save_visit(db.session, form_data(form), current_user, record, form.version.data)
        except DomainError as exc:
            db.session.rollback()
            return render(
                "visits/visit_form.html",
                form=form,
                visit=record,
                error=form_refusal(form, exc, record),
                status=exc.status,
            )
        db.session.commit()
        flash(_("Visit saved."), "success")
        return redirect_to(url_for("visits.visit", visit_id=record.id))
    return render("visits/visit_form.html", form=form, visit=record, status=422 if request.method == "POST" else 200)


def _visit_page(visit_id: int, *, fragment: str | None = None, status: int = 200, **extra):
    record = services.visit_detail(db.session, visit_id, current_user) or abort(404)
    context = {
        "visit": record,
        "conflicts": services.member_conflicts(db.session, record),
        "roles": MEMBER_ROLE_LABELS,
        "item_form": extra.pop("item_form", None) or ItemForm(),
        "report_form": extra.pop("report_form", None) or ReportForm(obj=record),
        "arising": commitments.for_visit(db.session, record.id, current_user),
        "attachments": documents.for_visit(db.session, record.id),
        "attachment_form": AttachmentForm(),
        "delete_form": DeleteForm(),
        "today": date.today(),
    }
    context.update(extra)
    return render("visits/visit.html", fragment=fragment, status=status, **context)


@bp.get("/visits/<int:visit_id>")
@role_required(Role.VIEWER)
def visit(visit_id: int):
    return _visit_page(visit_id)


def _visible(visit_id: int):
    return services.visit_detail(db.session, visit_id, current_user) or abort(404)


def _after_change(visit_id: int, fragment: str, anchor: str, **extra):
    if htmx:
        return _visit_page(visit_id, fragment=fragment, **extra)
    return redirect_to(url_for("visits.visit", visit_id=visit_id) + anchor)


# --- members -----------------------------------------------------------------------------------


@bp.get("/visits/<int:visit_id>/people-search")
@role_required(Role.STAFF)
def people_search(visit_id: int):
    record = _visible(visit_id)
    users, contacts = services.people_search(db.session, record, request.args.get("q", "")[:100])
    return render("visits/_people_options.html", users=users, contacts=contacts)


@bp.post("/visits/<int:visit_id>/members")
@role_required(Role.STAFF)
def member_add(visit_id: int):
    record = _visible(visit_id)
    form = MemberForm()
    if not form.validate_on_submit():
        return _visit_page(
            visit_id, fragment="visits/_members.html", members_error=_("Choose a person from the list."), status=422
        )
    user_id, contact_id, _org, _side = parse_person(form.person.data)
    try:
        services.add_member(db.session, record, user_id=user_id, contact_id=contact_id, role=form.role.data)
    except DomainError as exc:
        db.session.rollback()
        return _visit_page(visit_id, fragment="visits/_members.html", members_error=exc.message, status=exc.status)
    db.session.commit()
    return _after_change(visit_id, "visits/_members.html", "#members")


def _member(record, member_id: int) -> VisitMember:
    member = next((m for m in record.members if m.id == member_id), None)
    return member or abort(404)


@bp.post("/visits/<int:visit_id>/members/<int:member_id>")
@role_required(Role.STAFF)
def member_edit(visit_id: int, member_id: int):
    record = _visible(visit_id)
    member = _member(record, member_id)
    form = MemberEditForm()
    if not form.validate_on_submit():
        error = next(iter(form.errors.values()))[0] if form.errors else _("Check the dates.")
        return _visit_page(visit_id, fragment="visits/_members.html", members_error=error, status=422)
    try:
        services.update_member(db.session, record, member, form_data(form), form.version.data)
    except DomainError as exc:
        db.session.rollback()
        return _visit_page(visit_id, fragment="visits/_members.html", members_error=exc.message, status=exc.status)
    db.session.commit()
    return _after_change(visit_id, "visits/_members.html", "#members")


@bp.post("/visits/<int:visit_id>/members/<int:member_id>/remove")
@role_required(Role.STAFF)
def member_remove(visit_id: int, member_id: int):
    record = _visible(visit_id)
    member = _member(record, member_id)
    if not DeleteForm().validate_on_submit():
        abort(400)
    try:
        services.remove_member(db.session, record, member, current_user)
    except DomainError as exc:
        db.session.rollback()
        return _visit_page(visit_id, fragment="visits/_members.html", members_error=exc.message, status=exc.status)
    db.session.commit()
    return _after_change(visit_id, "visits/_members.html", "#members")


# --- programme ---------------------------------------------------------------------------------


@bp.post("/visits/<int:visit_id>/programme/check")
@role_required(Role.STAFF)
def programme_check(visit_id: int):
    """As the user types a programme line: what would be refused, and what deserves a second look."""
    record = _visible(visit_id)
    form = ItemForm()
    form.validate()
    check = services.check_item(record, form_data(form))
    for name, message in check.errors.items():
        getattr(form, name).errors = [*getattr(form, name).errors, message]
    return render("visits/_item_check.html", check=check, form=form)


@bp.post("/visits/<int:visit_id>/programme")
@role_required(Role.STAFF)
def item_add(visit_id: int):
    record = _visible(visit_id)
    form = ItemForm()
    form.validate()
    try:
        if form.errors:
            field, messages = next(iter(form.errors.items()))
            raise DomainError(messages[0], field=field)
        services.add_item(db.session, record, form_data(form))
    except DomainError as exc:
        db.session.rollback()
        form_refusal(form, exc)
        return _visit_page(visit_id, fragment="visits/_programme.html", item_form=form, status=exc.status)
    db.session.commit()
    return _after_change(visit_id, "visits/_programme.html", "#programme")


def _programme_change(visit_id: int, change):
    record = _visible(visit_id)
    if not DeleteForm().validate_on_submit():
        abort(400)
    try:
        change(record)
    except DomainError as exc:
        db.session.rollback()
        return _visit_page(visit_id, fragment="visits/_programme.html", programme_error=exc.message, status=exc.status)
    db.session.commit()
    return _after_change(visit_id, "visits/_programme.html", "#programme")


@bp.post("/visits/<int:visit_id>/programme/<int:item_id>/move")
@role_required(Role.STAFF)
def item_move(visit_id: int, item_id: int):
    offset = -1 if request.args.get("direction") == "up" else 1
    return _programme_change(visit_id, lambda record: services.move_item(db.session, record, item_id, offset))


@bp.post("/visits/<int:visit_id>/programme/<int:item_id>/remove")
@role_required(Role.STAFF)
def item_remove(visit_id: int, item_id: int):
    return _programme_change(visit_id, lambda record: services.remove_item(db.session, record, item_id))


@bp.post("/visits/<int:visit_id>/programme/<int:item_id>/meeting")
@role_required(Role.STAFF)
def item_meeting(visit_id: int, item_id: int):
    def create(record):
        item = next((i for i in record.items if i.id == item_id), None)
        if item is None:
            raise DomainError(_("This programme item no longer exists."))
        services.meeting_from_item(db.session, record, item, current_user)

    return _programme_change(visit_id, create)


# --- report ------------------------------------------------------------------------------------


@bp.post("/visits/<int:visit_id>/report")
@role_required(Role.STAFF)
def report(visit_id: int):
    record = _visible(visit_id)
    form = ReportForm()
    if not form.validate_on_submit():
        return _visit_page(visit_id, report_form=form, status=422)
    try:
        services.save_report(db.session, record, form.report.data or "", form.version.data)
    except DomainError as exc:
        db.session.rollback()
        form_refusal(form, exc, record)
        return _visit_page(visit_id, report_form=form, report_error=exc.message, status=exc.status)
    db.session.commit()
    flash(_("Report saved."), "success")
    return redirect_to(url_for("visits.visit", visit_id=visit_id) + "#report")


@bp.post("/visits/<int:visit_id>/attachments")
@role_required(Role.STAFF)
def attachment_add(visit_id: int):
    """The invitation, the note verbale: checked from their content like every file."""
    record = _visible(visit_id)
    form = AttachmentForm()
    try:
        if not form.validate_on_submit():
            raise DomainError(_("Choose a file to attach."), field="file")
        documents.attach_upload(db.session, record, request.files.get("file"), form.description.data, current_user)
    except DomainError as exc:
        db.session.rollback()
        return _visit_page(visit_id, attachment_error=exc.message, status=exc.status)
    db.session.commit()
    flash(_("File attached."), "success")
    return redirect_to(url_for("visits.visit", visit_id=visit_id) + "#attachments")
