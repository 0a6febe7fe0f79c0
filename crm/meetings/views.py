from __future__ import annotations

import calendar
import io
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, flash, request, send_file, url_for
from flask_babel import get_timezone
from flask_login import current_user

from crm.audit import services as audit
from crm.auth.models import Role
from crm.auth.permissions import role_required
from crm.commitments import services as commitments
from crm.core.confidentiality import Confidentiality
from crm.core.ids import parse_id
from crm.documents import printing
from crm.documents import services as documents
from crm.documents.models import Attachment
from crm.errors import DomainError
from crm.extensions import db, htmx
from crm.forms import DeleteForm, form_data
from crm.i18n import gettext as _
from crm.meetings import services
from crm.meetings.forms import (
    AmendForm,
    AttachmentForm,
    MeetingForm,
    OrganisationPickForm,
    ParticipantEditForm,
    ParticipantForm,
    VersionForm,
    meeting_filters,
    parse_person,
)
from crm.meetings.models import (
    Attendance,
    Meeting,
    MeetingKind,
    MeetingStatus,
    MinutesRevision,
    MinutesStatus,
    Participant,
    ParticipantRole,
)
from crm.partners import institutions
from crm.partners import services as partners
from crm.partners.models import Organisation
from crm.views import attempt, back_to, form_cycle, int_arg, redirect_to, render, saved
from crm.visits import services as visits

bp = Blueprint("meetings", __name__)


def _visible(meeting_id: int) -> Meeting:
    """The meeting, or the same 404 whether it does not exist or the user may not see it."""
    return services.visible_meeting(db.session, meeting_id, current_user) or abort(404)


def _holds(meeting_id: int) -> bool:
    """Does the user's institution hold the meeting (and so may change it), or only read it (shared)?"""
    return current_user.institution_id in services.co_owners(db.session, meeting_id)


def _editable(meeting_id: int) -> Meeting:
    """The meeting, if the user's institution holds it (a meeting shared for reading is a 403 with the reason)."""
    meeting = _visible(meeting_id)
    services.check_editable(db.session, meeting, current_user)
    return meeting


# --- lists and calendar ----------------------------------------------------------------------


@bp.get("/meetings")
@role_required(Role.VIEWER)
def meetings():
    args = request.args
    filters = meeting_filters(args)
    page = services.list_meetings(
        db.session,
        current_user,
        filters,
        cursor=args.get("after"),
        size=current_app.config["CRM_PAGE_SIZE"],
        list_rows=True,
    )
    organisation = db.session.get(Organisation, filters.organisation_id) if filters.organisation_id else None
    return render(
        "meetings/meetings.html",
        page=page,
        partners=services.partner_names(db.session, [m.id for m in page.rows]),
        filters=filters,
        organisation=organisation,
        kinds=MeetingKind,
        statuses=MeetingStatus,
        minutes_statuses=MinutesStatus,
        minutes_choices=minutes_choices(),
    )


def minutes_choices() -> list[tuple[str, str]]:
    return [
        ("none", _("No minutes yet")),
        (MinutesStatus.DRAFT, _("Minutes in draft")),
        (MinutesStatus.SUBMITTED, _("Minutes awaiting approval")),
        (MinutesStatus.APPROVED, _("Minutes approved")),
    ]


@bp.get("/meetings/month")
@role_required(Role.VIEWER)
def month():
    value = request.args.get("m", "")
    try:
        first = date.fromisoformat(value + "-01") if value else date.today().replace(day=1)
    except ValueError:
        abort(400)
    if not 1900 < first.year < 2200:
        abort(400)
    tz_name = str(get_timezone())
    # The grid's whole weeks: the days it shows of the previous and next months get their meetings too.
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    start, end = weeks[0][0], weeks[-1][-1] + timedelta(days=1)
    by_day: dict[date, list[Meeting]] = {}
    for meeting in services.meetings_between(db.session, current_user, start, end, tz_name):
        by_day.setdefault(services.to_local(meeting.starts_at, tz_name).date(), []).append(meeting)
    trips: dict[date, list] = {}
    for visit in visits.visits_between(db.session, current_user, start, end):
        for day in visit.days:
            trips.setdefault(day, []).append(visit)
    due: dict[date, list] = {}
    for commitment in commitments.due_between(db.session, current_user, start, end):
        due.setdefault(commitment.due_date, []).append(commitment)
    previous = (first - timedelta(days=1)).replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return render(
        "meetings/month.html",
        first=first,
        weeks=weeks,
        by_day=by_day,
        due=due,
        trips=trips,
        previous=previous,
        following=following,
    )


# --- a meeting ---------------------------------------------------------------------------------


def _picked(form: MeetingForm) -> list[Organisation]:
    return partners.organisations_by_id(db.session, form.organisation_ids.data or [])


@bp.route("/meetings/new", methods=["GET", "POST"])
@role_required(Role.STAFF)
def meeting_new():
    form = MeetingForm()
    if request.method == "GET":
        form.timezone.data = current_user.timezone or "Africa/Bamako"
        form.status.data = MeetingStatus.PLANNED.value
        organisation_id = int_arg("organisation")
        form.organisation_ids.data = [organisation_id] if organisation_id else []
    return form_cycle(
        form,
        lambda: services.save_meeting(db.session, form_data(form), current_user),
        done=lambda meeting: saved(
            url_for("meetings.meeting", meeting_id=meeting.id), _("Meeting %(ref)s created.", ref=meeting.reference)
        ),
        page=lambda **kw: render("meetings/meeting_form.html", form=form, picked=_picked(form), **kw),
    )


@bp.get("/meetings/<int:meeting_id>")
@role_required(Role.VIEWER)
def meeting(meeting_id: int):
    return _meeting_page(meeting_id)


def _meeting_page(meeting_id: int, *, attachment_error: str | None = None, status: int = 200):
    shown = services.meeting_page(db.session, meeting_id, current_user) or abort(404)
    record = shown.meeting
    carried, arising = commitments.review(db.session, record, current_user)
    editable = current_user.institution_id in {h.institution_id for h in record.institutions}
    page = render(
        "meetings/meeting.html",
        meeting=record,
        revision=shown.revision,
        previous=shown.previous,
        participants=services.participant_rows(db.session, record),
        carried=carried,
        arising=arising,
        attachments=documents.for_meeting(db.session, record.id),
        history=audit.history(db.session, "meeting", record.id),
        roles=ParticipantRole,
        attendances=Attendance,
        # The attachments' forms, for those who are shown them (documents/_attachments.html)
        attachment_form=AttachmentForm(formdata=None) if editable and current_user.can(Role.STAFF) else None,
        attachment_error=attachment_error,
        delete_form=DeleteForm(formdata=None) if editable and current_user.can(Role.OFFICER) else None,
        editable=editable,
        status=status,
    )
    if record.confidentiality == Confidentiality.CONFIDENTIAL and request.method == "GET":
        audit.record(
            db.session, "read_confidential", entity_type="meeting", entity_id=meeting_id, label=record.reference
        )
    return page


@bp.route("/meetings/<int:meeting_id>/edit", methods=["GET", "POST"])
@role_required(Role.STAFF)
def meeting_edit(meeting_id: int):
    record = _editable(meeting_id)
    form = MeetingForm(obj=record)
    if request.method == "GET":
        form.starts_at.data = services.to_local(record.starts_at, record.timezone)
        form.ends_at.data = services.to_local(record.ends_at, record.timezone)
    del form.organisation_ids  # organisations are managed on the meeting's page
    del form.submission  # an edit is guarded by the version, not by a one-time token
    return form_cycle(
        form,
        lambda: services.save_meeting(db.session, form_data(form), current_user, record, form.version.data),
        done=lambda _m: saved(url_for("meetings.meeting", meeting_id=meeting_id), _("Meeting saved.")),
        page=lambda **kw: render("meetings/meeting_form.html", form=form, meeting=_editable(meeting_id), **kw),
        record=record,
    )


# --- organisations and participants ------------------------------------------------------------


@bp.get("/meetings/organisation-search")
@role_required(Role.STAFF)
def organisation_search():
    """Autocomplete for the meeting form: a few matching organisations, each a button that picks it."""
    exclude = [i for i in map(parse_id, request.args.getlist("organisation_ids")) if i]
    found = services.organisation_search(db.session, request.args.get("q", "")[:100], exclude)
    return render("meetings/_organisation_options.html", found=found, meeting=None)


def _people_panel(meeting_id: int, error: str | None = None, status: int = 200):
    record = services.meeting_with_holders(db.session, meeting_id, current_user) or abort(404)
    return render(
        "meetings/_people.html",
        meeting=record,
        participants=services.participant_rows(db.session, record),
        roles=ParticipantRole,
        attendances=Attendance,
        people_error=error,
        editable=current_user.institution_id in {h.institution_id for h in record.institutions},
        status=status,
    )


def _people_change(meeting_id: int, form, change, invalid: str):
    """Add or change who is at the table: the panel comes back, with the refusal if there is one."""

    def page(error: str | None = None, refusal: DomainError | None = None, status: int = 200, **_kw):
        message = refusal.message if refusal is not None else error or (invalid if status == 422 else None)
        return _people_panel(meeting_id, message, status)

    def done(_result):
        if htmx:
            return _people_panel(meeting_id)
        return redirect_to(url_for("meetings.meeting", meeting_id=meeting_id) + "#people")

    return form_cycle(form, change, done=done, page=page)


@bp.get("/meetings/<int:meeting_id>/organisation-search")
@role_required(Role.STAFF)
def meeting_organisation_search(meeting_id: int):
    record = _editable(meeting_id)
    found = services.organisation_search(
        db.session, request.args.get("q", "")[:100], services.organisation_ids(db.session, record.id)
    )
    return render("meetings/_organisation_options.html", found=found, meeting=record)


@bp.post("/meetings/<int:meeting_id>/organisations")
@role_required(Role.STAFF)
def organisation_add(meeting_id: int):
    record = _editable(meeting_id)
    form = OrganisationPickForm()
    return _people_change(
        meeting_id,
        form,
        lambda: services.add_organisation(db.session, record, parse_id(form.organisation_id.data) or 0),
        _("Choose an organisation from the list."),
    )


@bp.post("/meetings/<int:meeting_id>/organisations/<int:organisation_id>/remove")
@role_required(Role.STAFF)
def organisation_remove(meeting_id: int, organisation_id: int):
    record = _editable(meeting_id)
    form = DeleteForm()
    if request.method == "POST" and not form.validate_on_submit():
        abort(400)
    return _people_change(
        meeting_id, form, lambda: services.remove_organisation(db.session, record, organisation_id), ""
    )


@bp.get("/meetings/<int:meeting_id>/people-search")
@role_required(Role.STAFF)
def people_search(meeting_id: int):
    _editable(meeting_id)
    record = services.meeting_detail(db.session, meeting_id, current_user) or abort(404)
    users, contacts = services.people_search(db.session, record, request.args.get("q", "")[:100])
    return render(
        "meetings/_people_options.html",
        meeting=record,
        users=users,
        contacts=contacts,
        org_ids={link.organisation_id for link in record.organisations},
        sides=institutions.institution_sides(db.session),
        institution_names={i.id: i.short_name for i in institutions.all_institutions(db.session)},
    )


@bp.post("/meetings/<int:meeting_id>/participants")
@role_required(Role.STAFF)
def participant_add(meeting_id: int):
    record = _editable(meeting_id)
    form = ParticipantForm()

    def add():
        user_id, contact_id, organisation_id, _side = parse_person(form.person.data)
        return services.add_participant(
            db.session,
            record,
            user_id=user_id,
            contact_id=contact_id,
            organisation_id=organisation_id,
            role=form.role.data,
            attendance=form.attendance.data,
        )

    return _people_change(meeting_id, form, add, _("Choose a person from the list."))


def _participant(record: Meeting, participant_id: int) -> Participant:
    participant = db.session.get(Participant, participant_id)
    if participant is None or participant.meeting_id != record.id:
        abort(404)
    return participant


@bp.post("/meetings/<int:meeting_id>/participants/<int:participant_id>")
@role_required(Role.STAFF)
def participant_edit(meeting_id: int, participant_id: int):
    participant = _participant(_editable(meeting_id), participant_id)
    form = ParticipantEditForm()
    return _people_change(
        meeting_id,
        form,
        lambda: services.update_participant(db.session, participant, form.role.data, form.attendance.data),
        _("Choose a role and an attendance from the list."),
    )


@bp.post("/meetings/<int:meeting_id>/participants/<int:participant_id>/remove")
@role_required(Role.STAFF)
def participant_remove(meeting_id: int, participant_id: int):
    record = _editable(meeting_id)
    participant = _participant(record, participant_id)
    form = DeleteForm()
    if not form.validate_on_submit():
        abort(400)
    return _people_change(
        meeting_id, form, lambda: services.remove_participant(db.session, record, participant, current_user), ""
    )


# --- minutes -----------------------------------------------------------------------------------


def _minutes_page(meeting_id: int, revision_number: int | None = None, *, status: int = 200, **extra):
    """The minutes page, loaded afresh (after a refusal the session was rolled back)."""
    record = _visible(meeting_id)
    revision = services.revision_with_items(db.session, record.id, revision_number)
    if revision_number is not None and revision is None:
        abort(404)
    revisions = services.revisions(db.session, record.id)
    return render(
        "meetings/minutes.html",
        meeting=record,
        revision=revision,
        revisions=revisions,
        latest=revisions[-1] if revisions else None,
        version_form=VersionForm(formdata=None),
        amend_form=extra.pop("amend_form", None) or AmendForm(formdata=None),
        holders=institutions_by_id(services.co_owners(db.session, meeting_id)),
        decided=commitments.decided_in(db.session, record.id, current_user, revision.items if revision else []),
        status=status,
        **extra,
    )


@bp.get("/meetings/<int:meeting_id>/minutes")
@role_required(Role.VIEWER)
def minutes(meeting_id: int):
    return _minutes_page(meeting_id)


@bp.get("/meetings/<int:meeting_id>/minutes/<int:number>")
@role_required(Role.VIEWER)
def minutes_revision(meeting_id: int, number: int):
    return _minutes_page(meeting_id, number, read_only=True)


@bp.get("/meetings/<int:meeting_id>/minutes/diff")
@role_required(Role.VIEWER)
def minutes_diff(meeting_id: int):
    record = _visible(meeting_id)
    old_n, new_n = int_arg("from"), int_arg("to")
    if old_n is None or new_n is None:  # by default, what the latest revision changed
        latest = services.revision_with_items(db.session, record.id) or abort(404)
        new_n, old_n = latest.number, max(1, latest.number - 1)
    old = services.revision_with_items(db.session, record.id, old_n) or abort(404)
    new = services.revision_with_items(db.session, record.id, new_n) or abort(404)
    return render(
        "meetings/minutes_diff.html", meeting=record, old=old, new=new, lines=services.revision_diff(old, new)
    )


@bp.post("/meetings/<int:meeting_id>/minutes/start")
@role_required(Role.STAFF)
def minutes_start(meeting_id: int):
    record = _editable(meeting_id)
    form = VersionForm()
    return form_cycle(
        form,
        lambda: services.start_minutes(db.session, record),
        done=lambda _r: redirect_to(url_for("meetings.minutes", meeting_id=meeting_id)),
        page=back_to(url_for("meetings.minutes", meeting_id=meeting_id)),
        invalid_status=400,
    )


def institutions_by_id(ids: list[int]):
    """The institutions holding a meeting, in order (a handful: each answered from the identity map)."""
    return [institutions.get(db.session, i) for i in ids]


def _typed_minutes() -> tuple[str, dict[int, dict[str, str]], int | None]:
    """The editor's fields: summary, item-<id>-<field>, version. Unknown names are ignored."""
    items: dict[int, dict[str, str]] = {}
    for name, value in request.form.items():
        parts = name.split("-")
        if len(parts) == 3 and parts[0] == "item" and parts[2] in ("title", "discussion", "decisions"):
            item_id = parse_id(parts[1])
            if item_id is not None:
                items.setdefault(item_id, {})[parts[2]] = value
    return request.form.get("summary", ""), items, parse_id(request.form.get("version", ""))


def _draft(meeting_id: int) -> MinutesRevision:
    return services.revision_with_items(db.session, meeting_id) or abort(404)


def _save_refused(refusal: DomainError, version: int | None):
    """The save status line says what went wrong; the text stays in the editor (and the tab's storage)."""
    return render(
        "meetings/_save_status.html",
        fragment="meetings/_save_status.html",
        version=version,
        error=refusal.message,
        status=refusal.status,
    )


@bp.post("/meetings/<int:meeting_id>/minutes/autosave")
@role_required(Role.STAFF)
def minutes_autosave(meeting_id: int):
    record = _editable(meeting_id)
    revision = _draft(meeting_id)
    summary, items, version = _typed_minutes()

    def done(_changed):
        if not htmx:
            return redirect_to(url_for("meetings.minutes", meeting_id=meeting_id))
        return render(
            "meetings/_save_status.html",
            fragment="meetings/_save_autosaved.html",
            meeting=record,
            revision=revision,
            version=revision.version,
            decided=commitments.decided_in(db.session, meeting_id, current_user, revision.items),
        )

    return attempt(
        lambda: services.save_minutes(db.session, revision, summary, items, version),
        done=done,
        refused=lambda refusal: _save_refused(refusal, version),
    )


def _structural(meeting_id: int, change):
    """Add, move or remove an item: first save what was typed, then change the structure, in one go."""
    _editable(meeting_id)
    revision = _draft(meeting_id)
    summary, items, version = _typed_minutes()

    def save_then_change():
        services.save_minutes(db.session, revision, summary, items, version)
        change(revision, revision.version)

    def done(_none):
        if not htmx:
            return redirect_to(url_for("meetings.minutes", meeting_id=meeting_id))
        return render(
            "meetings/_minutes_editor.html",
            fragment="meetings/_minutes_editor.html",
            meeting=_editable(meeting_id),
            revision=_draft(meeting_id),
        )

    def refused(refusal: DomainError):
        if htmx:
            return _save_refused(refusal, version)
        flash(refusal.message, "error")
        return redirect_to(url_for("meetings.minutes", meeting_id=meeting_id))

    return attempt(save_then_change, done=done, refused=refused)


@bp.post("/meetings/<int:meeting_id>/minutes/items")
@role_required(Role.STAFF)
def minutes_item_add(meeting_id: int):
    return _structural(meeting_id, lambda revision, version: services.add_item(db.session, revision, version))


@bp.post("/meetings/<int:meeting_id>/minutes/items/<int:item_id>/move")
@role_required(Role.STAFF)
def minutes_item_move(meeting_id: int, item_id: int):
    offset = -1 if request.args.get("direction") == "up" else 1
    return _structural(
        meeting_id, lambda revision, version: services.move_item(db.session, revision, item_id, offset, version)
    )


@bp.post("/meetings/<int:meeting_id>/minutes/items/<int:item_id>/remove")
@role_required(Role.STAFF)
def minutes_item_remove(meeting_id: int, item_id: int):
    return _structural(
        meeting_id, lambda revision, version: services.remove_item(db.session, revision, item_id, version)
    )


def _lifecycle(meeting_id: int, action, done_message: str | Callable[[Any], str], done_url: str | None = None):
    _editable(meeting_id)
    revision = _draft(meeting_id)
    form = VersionForm()
    return form_cycle(
        form,
        lambda: action(revision, form.version.data),
        done=lambda result: saved(
            done_url or url_for("meetings.minutes", meeting_id=meeting_id),
            done_message(result) if callable(done_message) else done_message,
        ),
        page=lambda refusal=None, status=200, **_kw: _minutes_page(
            meeting_id, error=refusal.message if refusal else None, status=status
        ),
        invalid_status=400,
    )


@bp.post("/meetings/<int:meeting_id>/minutes/submit")
@role_required(Role.STAFF)
def minutes_submit(meeting_id: int):
    """Submit, after saving whatever was typed since the last autosave (the editor's fields come along)."""
    _editable(meeting_id)
    revision = _draft(meeting_id)
    form = VersionForm()
    if not form.validate_on_submit():
        abort(400)
    summary, items, version = _typed_minutes()
    typed = (summary, items) if "summary" in request.form else None

    def done(refusal: DomainError | None):
        if refusal is not None:  # the text was saved; only the submission was refused
            return _minutes_page(meeting_id, error=refusal.message, status=refusal.status)
        return saved(url_for("meetings.minutes", meeting_id=meeting_id), _("Minutes submitted for approval."))

    return attempt(
        lambda: services.save_and_submit(db.session, revision, current_user, version, typed),
        done=done,
        refused=lambda refusal: _minutes_page(meeting_id, error=refusal.message, status=refusal.status),
    )


@bp.post("/meetings/<int:meeting_id>/minutes/withdraw")
@role_required(Role.STAFF)
def minutes_withdraw(meeting_id: int):
    return _lifecycle(
        meeting_id,
        lambda revision, version: services.withdraw_minutes(db.session, revision, current_user, version),
        _("The minutes are a draft again."),
    )


@bp.post("/meetings/<int:meeting_id>/minutes/approve")
@role_required(Role.OFFICER)
def minutes_approve(meeting_id: int):
    return _lifecycle(
        meeting_id,
        lambda revision, version: printing.approve_and_freeze(db.session, revision, current_user, version),
        lambda approved: (
            _("Minutes approved. This revision is now locked.")
            if approved
            else _(
                "Approved for %(institution)s. The minutes are approved once every institution holding the meeting "
                "has approved its side.",
                institution=current_user.institution.short_name,
            )
        ),
        # approved from the home page: back there, to the next minutes waiting
        done_url=url_for("home.home") if request.form.get("from") == "home" else None,
    )


@bp.post("/meetings/<int:meeting_id>/minutes/amend")
@role_required(Role.STAFF)
def minutes_amend(meeting_id: int):
    record = _editable(meeting_id)
    form = AmendForm()
    return form_cycle(
        form,
        lambda: services.amend_minutes(db.session, record, current_user, form.reason.data),
        done=lambda revision: saved(
            url_for("meetings.minutes", meeting_id=meeting_id),
            _("Revision %(n)s opened. The approved revision stays as it was.", n=revision.number),
        ),
        page=lambda error=None, status=200, **_kw: _minutes_page(
            meeting_id, error=error, amend_form=form, status=status
        ),
    )


# --- attachments -------------------------------------------------------------------------------


@bp.post("/meetings/<int:meeting_id>/attachments")
@role_required(Role.STAFF)
def attachment_add(meeting_id: int):
    record = _editable(meeting_id)
    form = AttachmentForm()
    return form_cycle(
        form,
        lambda: documents.attach_upload(
            db.session, record, request.files.get("file"), form.description.data, current_user
        ),
        done=lambda _a: saved(url_for("meetings.meeting", meeting_id=meeting_id) + "#attachments", _("File attached.")),
        page=lambda refusal=None, status=200, **_kw: _meeting_page(
            meeting_id,
            attachment_error=refusal.message if refusal else _("Choose a file to attach."),
            status=status,
        ),
    )


def _attachment(attachment_id: int) -> Attachment:
    """The file, if the user may see the meeting or visit it belongs to; the same 404 otherwise."""
    attachment = db.session.get(Attachment, attachment_id) or abort(404)
    if attachment.meeting_id:
        _visible(attachment.meeting_id)
    elif attachment.visit_id is None or visits.visible_visit(db.session, attachment.visit_id, current_user) is None:
        abort(404)
    return attachment


@bp.get("/attachments/<int:attachment_id>")
@role_required(Role.VIEWER)
def attachment(attachment_id: int):
    item = _attachment(attachment_id)
    data = documents.file_bytes(db.session, item.file_id)
    if data is None or len(data) != item.size:
        abort(404)
    response = send_file(
        io.BytesIO(data),
        mimetype=item.content_type,
        as_attachment=True,
        download_name=item.original_name,
        max_age=0,
        etag=False,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/attachments/<int:attachment_id>/delete")
@role_required(Role.OFFICER)
def attachment_delete(attachment_id: int):
    item = _attachment(attachment_id)
    if item.meeting_id:
        _editable(item.meeting_id)
    elif item.visit_id:
        visit = visits.visible_visit(db.session, item.visit_id, current_user) or abort(404)
        visits.check_editable(db.session, visit, current_user)
    back = (
        url_for("meetings.meeting", meeting_id=item.meeting_id)
        if item.meeting_id
        else url_for("visits.visit", visit_id=item.visit_id)
    ) + "#attachments"
    return form_cycle(
        DeleteForm(),
        lambda: documents.delete_attachment(db.session, item),
        done=lambda _none: saved(back, _("Attachment deleted.")),
        page=back_to(back),
        invalid_status=400,
    )
