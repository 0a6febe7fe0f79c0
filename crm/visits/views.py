from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, request, url_for
from flask_babel import get_locale
from flask_login import current_user

from crm.auth.models import Role
from crm.auth.permissions import role_required
from crm.commitments import services as commitments
from crm.documents import services as documents
from crm.errors import DomainError
from crm.extensions import db, htmx
from crm.forms import DeleteForm, choices, form_data
from crm.i18n import gettext as _
from crm.meetings.forms import AttachmentForm, parse_person
from crm.partners import services as partners
from crm.views import attempt, first_error, form_cycle, form_refusal, int_arg, redirect_to, render, saved
from crm.visits import services
from crm.visits.forms import EventForm, ItemForm, MemberEditForm, MemberForm, ReportForm, VisitForm, visit_filters
from crm.visits.models import Direction, Event, MemberRole, Visit, VisitMember, VisitStatus

bp = Blueprint("visits", __name__)


def _countries():
    return choices(partners.country_choices(db.session, str(get_locale() or "fr")))


# --- events ------------------------------------------------------------------------------------


@bp.get("/events")
@role_required(Role.VIEWER)
def events():
    return render("visits/events.html", events=services.list_events(db.session))


def _event_form(form: EventForm) -> EventForm:
    form.country_code.choices = _countries()
    form.organiser_id.choices = choices(partners.organisation_choices(db.session), empty="—")
    return form


@bp.route("/events/new", methods=["GET", "POST"])
@bp.route("/events/<int:event_id>/edit", methods=["GET", "POST"])
@role_required(Role.STAFF)
def event_form(event_id: int | None = None):
    event = db.get_or_404(Event, event_id) if event_id else None
    form = _event_form(EventForm(obj=event))
    if event is not None:
        del form.submission  # an edit is guarded by the version, not by a one-time token
    elif request.method == "GET":
        form.country_code.data = "ML"
    return form_cycle(
        form,
        lambda: services.save_event(db.session, form_data(form), event, form.version.data),
        done=lambda saved_event: saved(url_for("visits.event", event_id=saved_event.id), _("Event saved.")),
        page=lambda **kw: render("visits/event_form.html", form=form, event=event, **kw),
        record=event,
    )


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
    filters = visit_filters(args)
    page = services.list_visits(
        db.session,
        current_user,
        filters,
        cursor=args.get("after"),
        size=current_app.config["CRM_PAGE_SIZE"],
        today=date.today(),
        list_rows=True,
    )
    return render("visits/visits.html", page=page, filters=filters, directions=Direction, statuses=VisitStatus)


def _visit_form(form: VisitForm) -> VisitForm:
    form.country_code.choices = _countries()
    form.event_id.choices = choices(services.event_choices(db.session), empty="—")
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
    return form_cycle(
        form,
        lambda: services.save_visit(db.session, form_data(form), current_user),
        done=lambda visit: saved(
            url_for("visits.visit", visit_id=visit.id), _("Visit %(ref)s created.", ref=visit.reference)
        ),
        page=lambda **kw: render("visits/visit_form.html", form=form, **kw),
    )


@bp.route("/visits/<int:visit_id>/edit", methods=["GET", "POST"])
@role_required(Role.STAFF)
def visit_edit(visit_id: int):
    record = services.visible_visit(db.session, visit_id, current_user) or abort(404)
    services.check_editable(db.session, record, current_user)
    form = _visit_form(VisitForm(obj=record))
    del form.submission
    return form_cycle(
        form,
        lambda: services.save_visit(db.session, form_data(form), current_user, record, form.version.data),
        done=lambda _v: saved(url_for("visits.visit", visit_id=visit_id), _("Visit saved.")),
        page=lambda **kw: render("visits/visit_form.html", form=form, visit=record, **kw),
        record=record,
    )


def _visit_page(visit_id: int, *, fragment: str | None = None, status: int = 200, **extra):
    record = services.visit_detail(db.session, visit_id, current_user) or abort(404)
    context = {
        "visit": record,
        "conflicts": services.member_conflicts(db.session, record),
        "roles": MemberRole,
        # Fresh forms are never bound to the request just handled (a new token, an empty line).
        "item_form": extra.pop("item_form", None) or ItemForm(formdata=None),
        "report_form": extra.pop("report_form", None) or ReportForm(formdata=None, obj=record),
        "arising": commitments.for_visit(db.session, record.id, current_user),
        "attachments": documents.for_visit(db.session, record.id),
        "attachment_form": AttachmentForm(formdata=None),
        "delete_form": DeleteForm(formdata=None),
        "today": date.today(),
        "editable": current_user.institution_id in {h.institution_id for h in record.institutions},
    }
    context.update(extra)
    return render("visits/visit.html", fragment=fragment, status=status, **context)


@bp.get("/visits/<int:visit_id>")
@role_required(Role.VIEWER)
def visit(visit_id: int):
    return _visit_page(visit_id)


def _visible(visit_id: int) -> Visit:
    return services.visit_detail(db.session, visit_id, current_user) or abort(404)


def _editable(visit_id: int) -> Visit:
    """The visit, if the user's institution holds it (a visit shared for reading is a 403 with the reason)."""
    visit = _visible(visit_id)
    services.check_editable(db.session, visit, current_user)
    return visit


def _change(visit_id: int, form, change, *, fragment: str, anchor: str, error_key: str, invalid: str):
    """An inline change of the visit's page: the section comes back, with the refusal if there is one."""

    def page(refusal: DomainError | None = None, status: int = 200, **_kw):
        message = refusal.message if refusal is not None else first_error(form) or invalid
        return _visit_page(visit_id, fragment=fragment, status=status, **{error_key: message})

    def done(_result):
        if htmx:
            return _visit_page(visit_id, fragment=fragment)
        return redirect_to(url_for("visits.visit", visit_id=visit_id) + anchor)

    return form_cycle(form, change, done=done, page=page)


# --- members -----------------------------------------------------------------------------------


@bp.get("/visits/<int:visit_id>/people-search")
@role_required(Role.STAFF)
def people_search(visit_id: int):
    record = _editable(visit_id)
    users, contacts = services.people_search(db.session, record, request.args.get("q", "")[:100])
    return render("visits/_people_options.html", users=users, contacts=contacts)


def _members_change(visit_id: int, form, change, invalid: str):
    return _change(
        visit_id,
        form,
        change,
        fragment="visits/_members.html",
        anchor="#members",
        error_key="members_error",
        invalid=invalid,
    )


@bp.post("/visits/<int:visit_id>/members")
@role_required(Role.STAFF)
def member_add(visit_id: int):
    record = _editable(visit_id)
    form = MemberForm()

    def add():
        user_id, contact_id, _org, _side = parse_person(form.person.data)
        return services.add_member(db.session, record, user_id=user_id, contact_id=contact_id, role=form.role.data)

    return _members_change(visit_id, form, add, _("Choose a person from the list."))


def _member(record: Visit, member_id: int) -> VisitMember:
    member = next((m for m in record.members if m.id == member_id), None)
    return member or abort(404)


@bp.post("/visits/<int:visit_id>/members/<int:member_id>")
@role_required(Role.STAFF)
def member_edit(visit_id: int, member_id: int):
    record = _editable(visit_id)
    member = _member(record, member_id)
    form = MemberEditForm()
    return _members_change(
        visit_id,
        form,
        lambda: services.update_member(db.session, record, member, form_data(form), form.version.data),
        _("Check the dates."),
    )


@bp.post("/visits/<int:visit_id>/members/<int:member_id>/remove")
@role_required(Role.STAFF)
def member_remove(visit_id: int, member_id: int):
    record = _editable(visit_id)
    member = _member(record, member_id)
    form = DeleteForm()
    if not form.validate_on_submit():
        abort(400)
    return _members_change(visit_id, form, lambda: services.remove_member(db.session, record, member, current_user), "")


# --- programme ---------------------------------------------------------------------------------


@bp.post("/visits/<int:visit_id>/programme/check")
@role_required(Role.STAFF)
def programme_check(visit_id: int):
    """As the user types a programme line: what would be refused, and what deserves a second look."""
    record = _editable(visit_id)
    form = ItemForm()
    form.validate()
    check = services.check_item(record, form_data(form))
    for name, message in check.errors.items():
        getattr(form, name).errors = [*getattr(form, name).errors, message]
    return render("visits/_item_check.html", check=check, form=form)


@bp.post("/visits/<int:visit_id>/programme")
@role_required(Role.STAFF)
def item_add(visit_id: int):
    record = _editable(visit_id)
    form = ItemForm()

    def page(refusal: DomainError | None = None, status: int = 200, **_kw):
        if refusal is not None:
            form_refusal(form, refusal)
        return _visit_page(visit_id, fragment="visits/_programme.html", item_form=form, status=status)

    def done(_item):
        if htmx:
            return _visit_page(visit_id, fragment="visits/_programme.html")
        return redirect_to(url_for("visits.visit", visit_id=visit_id) + "#programme")

    return form_cycle(
        form,
        lambda: services.add_item(db.session, record, form_data(form)),
        done=done,
        page=page,
        replay=lambda: _visit_page(visit_id, fragment="visits/_programme.html"),
    )


def _programme_change(visit_id: int, change):
    record = _editable(visit_id)
    form = DeleteForm()
    if not form.validate_on_submit():
        abort(400)

    def done(_result):
        if htmx:
            return _visit_page(visit_id, fragment="visits/_programme.html")
        return redirect_to(url_for("visits.visit", visit_id=visit_id) + "#programme")

    return attempt(
        lambda: change(record),
        done=done,
        refused=lambda refusal: _visit_page(
            visit_id, fragment="visits/_programme.html", programme_error=refusal.message, status=refusal.status
        ),
    )


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
    return _programme_change(
        visit_id, lambda record: services.meeting_from_item_id(db.session, record, item_id, current_user)
    )


# --- report ------------------------------------------------------------------------------------


@bp.post("/visits/<int:visit_id>/report")
@role_required(Role.STAFF)
def report(visit_id: int):
    record = _editable(visit_id)
    form = ReportForm()
    return form_cycle(
        form,
        lambda: services.save_report(db.session, record, form.report.data or "", form.version.data),
        done=lambda _none: saved(url_for("visits.visit", visit_id=visit_id) + "#report", _("Report saved.")),
        page=lambda error=None, refusal=None, status=200, **_kw: _visit_page(
            visit_id, report_form=form, report_error=refusal.message if refusal else error, status=status
        ),
        record=record,
    )


@bp.post("/visits/<int:visit_id>/attachments")
@role_required(Role.STAFF)
def attachment_add(visit_id: int):
    """The invitation, the note verbale: checked from their content like every file."""
    record = _editable(visit_id)
    form = AttachmentForm()
    return form_cycle(
        form,
        lambda: documents.attach_upload(
            db.session, record, request.files.get("file"), form.description.data, current_user
        ),
        done=lambda _a: saved(url_for("visits.visit", visit_id=visit_id) + "#attachments", _("File attached.")),
        page=lambda refusal=None, status=200, **_kw: _visit_page(
            visit_id,
            attachment_error=refusal.message if refusal else _("Choose a file to attach."),
            status=status,
        ),
    )
