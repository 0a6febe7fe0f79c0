from __future__ import annotations

import calendar
from datetime import date, timedelta

from flask import Blueprint, abort, current_app, flash, request, send_file, url_for
from flask_babel import get_timezone
from flask_babel import gettext as _
from flask_login import current_user

from crm.audit import services as audit
from crm.auth.models import Role
from crm.auth.permissions import role_required
from crm.commitments import services as commitments
from crm.documents import printing
from crm.documents import services as documents
from crm.documents.models import Attachment
from crm.errors import DomainError
from crm.extensions import db, htmx
from crm.forms import DeleteForm, form_data
from crm.meetings import services
from crm.meetings.forms import (
    AmendForm,
    AttachmentForm,
    MeetingForm,
    OrganisationPickForm,
    ParticipantEditForm,
    ParticipantForm,
    VersionForm,
    parse_person,
)
from crm.meetings.models import (
    ATTENDANCE_LABELS,
    KIND_LABELS,
    ROLE_LABELS,
    STATUS_LABELS,
    Confidentiality,
    Meeting,
    MeetingStatus,
    MinutesRevision,
    Participant,
)
from crm.partners.models import Organisation
from crm.views import form_refusal, int_arg, redirect_to, render
from crm.visits import services as visits

bp = Blueprint("meetings", __name__)


def _date_arg(name: str) -> date | None:
    value = request.args.get(name, "")
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        abort(400)


def _visible(meeting_id: int) -> Meeting:
    """The meeting, or the same 404 whether it does not exist or the user may not see it."""
    return services.visible_meeting(db.session, meeting_id, current_user) or abort(404)


# --- lists and calendar ----------------------------------------------------------------------


@bp.get("/meetings")
@role_required(Role.VIEWER)
def meetings():
    args = request.args
    filters = services.MeetingFilters(
        when="past" if args.get("when") == "past" else "upcoming",
        q=args.get("q", "")[:200],
        organisation_id=int_arg("organisation"),
        country=args.get("country", "")[:3],
        kind=args.get("kind", "") if args.get("kind", "") in {k.value for k in KIND_LABELS} else "",
        status=args.get("status", "") if args.get("status", "") in {s.value for s in STATUS_LABELS} else "",
        date_from=_date_arg("from"),
        date_to=_date_arg("to"),
        mine=args.get("mine") == "1",
    )
    page = services.list_meetings(
        db.session, current_user, filters, cursor=args.get("after"), size=current_app.config["CRM_PAGE_SIZE"]
    )
    organisation = db.session.get(Organisation, filters.organisation_id) if filters.organisation_id else None
    return render(
        "meetings/meetings.html",
        page=page,
        filters=filters,
        organisation=organisation,
        kinds=KIND_LABELS,
        statuses=STATUS_LABELS,
    )


@bp.get("/meetings/month")
@role_required(Role.VIEWER)
def month():
    value = request.args.get("m", "")
    try:
        first = date.fromisoformat(value + "-01") if value else date.today().replace(day=1)
    except ValueError:
        abort(400)
    tz_name = str(get_timezone())
    rows = services.month_meetings(db.session, current_user, first, tz_name)
    by_day: dict[date, list[Meeting]] = {}
    for meeting in rows:
        by_day.setdefault(services.to_local(meeting.starts_at, tz_name).date(), []).append(meeting)
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    trips: dict[date, list] = {}
    for visit in visits.visits_between(db.session, current_user, weeks[0][0], weeks[-1][-1] + timedelta(days=1)):
        for day in visit.days:
            trips.setdefault(day, []).append(visit)
    due: dict[date, list] = {}
    for commitment in commitments.due_between(db.session, current_user, weeks[0][0], weeks[-1][-1] + timedelta(days=1)):
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


def _meeting_form(form: MeetingForm) -> MeetingForm:
    form.status.choices = list(STATUS_LABELS.items())
    return form


def _picked_organisations(form: MeetingForm) -> list[Organisation]:
    ids = [i for i in (form.organisation_ids.data or []) if isinstance(i, int)]
    if not ids:
        return []
    found = {o.id: o for o in db.session.scalars(db.select(Organisation).where(Organisation.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


@bp.route("/meetings/new", methods=["GET", "POST"])
@role_required(Role.STAFF)
def meeting_new():
    form = _meeting_form(MeetingForm())
    if request.method == "GET":
        form.timezone.data = current_user.timezone or "Africa/Bamako"
        form.status.data = MeetingStatus.PLANNED.value
        if request.args.get("organisation"):
            form.organisation_ids.data = [int_arg("organisation")]
    if form.validate_on_submit():
        try:
            meeting = services.save_meeting(db.session, form_data(form), current_user)
        except DomainError as exc:
            db.session.rollback()
            return render(
                "meetings/meeting_form.html",
                form=form,
                picked=_picked_organisations(form),
                error=form_refusal(form, exc),
                status=exc.status,
            )
        db.session.commit()
        flash(_("Meeting %(ref)s created.", ref=meeting.reference), "success")
        return redirect_to(url_for("meetings.meeting", meeting_id=meeting.id))
    status = 422 if request.method == "POST" else 200
    return render("meetings/meeting_form.html", form=form, picked=_picked_organisations(form), status=status)


@bp.get("/meetings/<int:meeting_id>")
@role_required(Role.VIEWER)
def meeting(meeting_id: int):
    return _meeting_page(meeting_id)


def _meeting_page(meeting_id: int, *, attachment_error: str | None = None, status: int = 200):
    record = services.meeting_detail(db.session, meeting_id, current_user) or abort(404)
    page = render(
        "meetings/meeting.html",
        meeting=record,
        revision=services.current_revision(record),
        previous=services.previous_meeting(db.session, record, current_user),
        carried=commitments.carry_forward(db.session, record, current_user),
        arising=commitments.for_meeting(db.session, record.id, current_user),
        attachments=documents.for_meeting(db.session, record.id),
        history=db.session.scalars(audit.history_for("meeting", record.id)).all(),
        roles=ROLE_LABELS,
        attendances=ATTENDANCE_LABELS,
        attachment_form=AttachmentForm(),
        attachment_error=attachment_error,
        delete_form=DeleteForm(),
        status=status,
    )
    if record.confidentiality == Confidentiality.CONFIDENTIAL and request.method == "GET":
        # Committed after rendering: the commit expires the loaded record.
        audit.record(
            db.session, "read_confidential", entity_type="meeting", entity_id=meeting_id, label=record.reference
        )
        db.session.commit()
    return page


@bp.route("/meetings/<int:meeting_id>/edit", methods=["GET", "POST"])
@role_required(Role.STAFF)
def meeting_edit(meeting_id: int):
    record = _visible(meeting_id)
    form = _meeting_form(MeetingForm(obj=record))
    if request.method == "GET":
        form.starts_at.data = services.to_local(record.starts_at, record.timezone)
        form.ends_at.data = services.to_local(record.ends_at, record.timezone)
    del form.organisation_ids  # organisations are managed on the meeting's page
    if form.validate_on_submit():
        try:
            services.save_meeting(db.session, form_data(form), current_user, record, form.version.data)
        except DomainError as exc:
            db.session.rollback()
            return render(
                "meetings/meeting_form.html",
                form=form,
                meeting=record,
                error=form_refusal(form, exc, record),
                status=exc.status,
            )
        db.session.commit()
        flash(_("Meeting saved."), "success")
        return redirect_to(url_for("meetings.meeting", meeting_id=record.id))
    status = 422 if request.method == "POST" else 200
    return render("meetings/meeting_form.html", form=form, meeting=record, status=status)


# --- organisations and participants ------------------------------------------------------------


@bp.get("/meetings/organisation-search")
@role_required(Role.STAFF)
def organisation_search():
    """Autocomplete for the meeting form: a few matching organisations, each a button that picks it."""
    exclude = [int(v) for v in request.args.getlist("organisation_ids") if v.isdigit()]
    found = services.organisation_search(db.session, request.args.get("q", "")[:100], exclude)
    return render("meetings/_organisation_options.html", found=found, meeting=None)


def _people_panel(record_id: int, error: str | None = None, status: int = 200):
    record = services.meeting_detail(db.session, record_id, current_user) or abort(404)
    return render(
        "meetings/_people.html",
        meeting=record,
        roles=ROLE_LABELS,
        attendances=ATTENDANCE_LABELS,
        people_error=error,
        status=status,
    )


@bp.get("/meetings/<int:meeting_id>/organisation-search")
@role_required(Role.STAFF)
def meeting_organisation_search(meeting_id: int):
    record = _visible(meeting_id)
    found = services.organisation_search(
        db.session, request.args.get("q", "")[:100], services.organisation_ids(db.session, record.id)
    )
    return render("meetings/_organisation_options.html", found=found, meeting=record)


@bp.post("/meetings/<int:meeting_id>/organisations")
@role_required(Role.STAFF)
def organisation_add(meeting_id: int):
    record = _visible(meeting_id)
    form = OrganisationPickForm()
    if not form.validate_on_submit() or not str(form.organisation_id.data).isdigit():
        return _people_panel(record.id, _("Choose an organisation from the list."), 422)
    try:
        services.add_organisation(db.session, record, int(form.organisation_id.data))
    except DomainError as exc:
        db.session.rollback()
        return _people_panel(record.id, exc.message, exc.status)
    db.session.commit()
    return _after_people_change(record.id)


@bp.post("/meetings/<int:meeting_id>/organisations/<int:organisation_id>/remove")
@role_required(Role.STAFF)
def organisation_remove(meeting_id: int, organisation_id: int):
    record = _visible(meeting_id)
    if not DeleteForm().validate_on_submit():
        abort(400)
    try:
        services.remove_organisation(db.session, record, organisation_id)
    except DomainError as exc:
        db.session.rollback()
        return _people_panel(record.id, exc.message, exc.status)
    db.session.commit()
    return _after_people_change(record.id)


def _after_people_change(meeting_id: int):
    if htmx:
        return _people_panel(meeting_id)
    return redirect_to(url_for("meetings.meeting", meeting_id=meeting_id) + "#people")


@bp.get("/meetings/<int:meeting_id>/people-search")
@role_required(Role.STAFF)
def people_search(meeting_id: int):
    record = services.meeting_detail(db.session, meeting_id, current_user) or abort(404)
    users, contacts = services.people_search(db.session, record, request.args.get("q", "")[:100])
    org_ids = {link.organisation_id for link in record.organisations}
    return render("meetings/_people_options.html", meeting=record, users=users, contacts=contacts, org_ids=org_ids)


@bp.post("/meetings/<int:meeting_id>/participants")
@role_required(Role.STAFF)
def participant_add(meeting_id: int):
    record = _visible(meeting_id)
    form = ParticipantForm()
    if not form.validate_on_submit():
        return _people_panel(record.id, _("Choose a person from the list."), 422)
    user_id, contact_id, organisation_id, side = parse_person(form.person.data)
    try:
        services.add_participant(
            db.session,
            record,
            user_id=user_id,
            contact_id=contact_id,
            organisation_id=organisation_id,
            side=side,
            role=form.role.data,
            attendance=form.attendance.data,
        )
    except DomainError as exc:
        db.session.rollback()
        return _people_panel(record.id, exc.message, exc.status)
    db.session.commit()
    return _after_people_change(record.id)


def _participant(record: Meeting, participant_id: int) -> Participant:
    participant = db.session.get(Participant, participant_id)
    if participant is None or participant.meeting_id != record.id:
        abort(404)
    return participant


@bp.post("/meetings/<int:meeting_id>/participants/<int:participant_id>")
@role_required(Role.STAFF)
def participant_edit(meeting_id: int, participant_id: int):
    record = _visible(meeting_id)
    participant = _participant(record, participant_id)
    form = ParticipantEditForm()
    if not form.validate_on_submit():
        return _people_panel(record.id, _("Choose a role and an attendance from the list."), 422)
    services.update_participant(db.session, participant, form.role.data, form.attendance.data)
    db.session.commit()
    return _after_people_change(record.id)


@bp.post("/meetings/<int:meeting_id>/participants/<int:participant_id>/remove")
@role_required(Role.STAFF)
def participant_remove(meeting_id: int, participant_id: int):
    record = _visible(meeting_id)
    participant = _participant(record, participant_id)
    if not DeleteForm().validate_on_submit():
        abort(400)
    try:
        services.remove_participant(db.session, record, participant, current_user)
    except DomainError as exc:
        db.session.rollback()
        return _people_panel(record.id, exc.message, exc.status)
    db.session.commit()
    return _after_people_change(record.id)


# --- minutes -----------------------------------------------------------------------------------


def _minutes_page(record: Meeting, revision, *, error: str | None = None, status: int = 200, **extra):
    revisions = db.session.scalars(
        db.select(MinutesRevision).where(MinutesRevision.meeting_id == record.id).order_by(MinutesRevision.number)
    ).all()
    return render(
        "meetings/minutes.html",
        meeting=record,
        revision=revision,
        revisions=revisions,
        latest=revisions[-1] if revisions else None,
        error=error,
        version_form=VersionForm(),
        amend_form=extra.pop("amend_form", None) or AmendForm(),
        decided=commitments.decided_in(db.session, record.id, current_user),
        status=status,
        **extra,
    )


@bp.get("/meetings/<int:meeting_id>/minutes")
@role_required(Role.VIEWER)
def minutes(meeting_id: int):
    record = _visible(meeting_id)
    return _minutes_page(record, services.revision_with_items(db.session, record.id))


@bp.get("/meetings/<int:meeting_id>/minutes/<int:number>")
@role_required(Role.VIEWER)
def minutes_revision(meeting_id: int, number: int):
    record = _visible(meeting_id)
    revision = services.revision_with_items(db.session, record.id, number) or abort(404)
    return _minutes_page(record, revision, read_only=True)


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
    record = _visible(meeting_id)
    if not VersionForm().validate_on_submit():
        abort(400)
    services.start_minutes(db.session, record)
    db.session.commit()
    return redirect_to(url_for("meetings.minutes", meeting_id=record.id))


def _typed_minutes() -> tuple[str, dict[int, dict[str, str]], int | None]:
    """The editor's fields: summary, item-<id>-<field>, version. Unknown names are ignored."""
    items: dict[int, dict[str, str]] = {}
    for name, value in request.form.items():
        parts = name.split("-")
        if (
            len(parts) == 3
            and parts[0] == "item"
            and parts[1].isdigit()
            and parts[2] in ("title", "discussion", "decisions")
        ):
            items.setdefault(int(parts[1]), {})[parts[2]] = value
    version = request.form.get("version", "")
    return request.form.get("summary", ""), items, int(version) if version.isdigit() else None


def _draft(record: Meeting):
    revision = services.revision_with_items(db.session, record.id)
    if revision is None:
        abort(404)
    return revision


@bp.post("/meetings/<int:meeting_id>/minutes/autosave")
@role_required(Role.STAFF)
def minutes_autosave(meeting_id: int):
    record = _visible(meeting_id)
    revision = _draft(record)
    summary, items, version = _typed_minutes()
    try:
        services.save_minutes(db.session, revision, summary, items, version)
    except DomainError as exc:
        db.session.rollback()
        return render(
            "meetings/_save_status.html",
            fragment="meetings/_save_status.html",
            revision=revision,
            version=version,
            error=exc.message,
            status=exc.status,
        )
    db.session.commit()
    if not htmx:
        return redirect_to(url_for("meetings.minutes", meeting_id=record.id))
    return render(
        "meetings/_save_status.html",
        fragment="meetings/_save_autosaved.html",
        meeting=record,
        revision=revision,
        version=revision.version,
    )


def _structural(meeting_id: int, change):
    """Add, move or remove an item: first save what was typed, then change the structure, in one go."""
    record = _visible(meeting_id)
    revision = _draft(record)
    summary, items, version = _typed_minutes()
    try:
        services.save_minutes(db.session, revision, summary, items, version)
        change(revision, revision.version)
    except DomainError as exc:
        db.session.rollback()
        if htmx:
            return render(
                "meetings/_save_status.html",
                fragment="meetings/_save_status.html",
                revision=revision,
                version=version,
                error=exc.message,
                status=exc.status,
            )
        flash(exc.message, "error")
        return redirect_to(url_for("meetings.minutes", meeting_id=record.id))
    db.session.commit()
    if not htmx:
        return redirect_to(url_for("meetings.minutes", meeting_id=record.id))
    revision = services.revision_with_items(db.session, record.id)
    return render(
        "meetings/_minutes_editor.html", fragment="meetings/_minutes_editor.html", meeting=record, revision=revision
    )


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


def _lifecycle(meeting_id: int, action, done_message: str):
    record = _visible(meeting_id)
    revision = _draft(record)
    form = VersionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        action(revision, form.version.data)
    except DomainError as exc:
        db.session.rollback()
        status = 403 if exc.field == "role" else exc.status
        return _minutes_page(
            record, services.revision_with_items(db.session, record.id), error=exc.message, status=status
        )
    db.session.commit()
    flash(done_message, "success")
    return redirect_to(url_for("meetings.minutes", meeting_id=record.id))


@bp.post("/meetings/<int:meeting_id>/minutes/submit")
@role_required(Role.STAFF)
def minutes_submit(meeting_id: int):
    """Submit, after saving whatever was typed since the last autosave (the editor's fields come along)."""
    record = _visible(meeting_id)
    revision = _draft(record)
    if not VersionForm().validate_on_submit():
        abort(400)
    summary, items, version = _typed_minutes()
    try:
        if "summary" in request.form:
            services.save_minutes(db.session, revision, summary, items, version)
            db.session.commit()
            version = revision.version
        services.submit_minutes(db.session, revision, current_user, version)
    except DomainError as exc:
        db.session.rollback()
        return _minutes_page(
            record, services.revision_with_items(db.session, record.id), error=exc.message, status=exc.status
        )
    db.session.commit()
    flash(_("Minutes submitted for approval."), "success")
    return redirect_to(url_for("meetings.minutes", meeting_id=record.id))


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
    return _lifecycle(meeting_id, _approve_and_freeze, _("Minutes approved. This revision is now locked."))


def _approve_and_freeze(revision: MinutesRevision, version: int | None) -> None:
    """Approve, then print the approved revision once, in each language: downloads serve those bytes."""
    services.approve_minutes(db.session, revision, current_user, version)
    meeting = services.meeting_detail(db.session, revision.meeting_id, current_user)
    for lang in printing.LANGUAGES:
        url = url_for("documents.verify_revision", reference=meeting.reference, number=revision.number, _external=True)
        printing.freeze(db.session, meeting, revision, current_user, lang, url)


@bp.post("/meetings/<int:meeting_id>/minutes/amend")
@role_required(Role.STAFF)
def minutes_amend(meeting_id: int):
    record = _visible(meeting_id)
    form = AmendForm()
    if not form.validate_on_submit():
        return _minutes_page(record, services.revision_with_items(db.session, record.id), amend_form=form, status=422)
    try:
        revision = services.amend_minutes(db.session, record, current_user, form.reason.data)
    except DomainError as exc:
        db.session.rollback()
        return _minutes_page(
            record,
            services.revision_with_items(db.session, record.id),
            error=exc.message,
            amend_form=form,
            status=exc.status,
        )
    db.session.commit()
    flash(_("Revision %(n)s opened. The approved revision stays as it was.", n=revision.number), "success")
    return redirect_to(url_for("meetings.minutes", meeting_id=record.id))


# --- attachments -------------------------------------------------------------------------------


@bp.post("/meetings/<int:meeting_id>/attachments")
@role_required(Role.STAFF)
def attachment_add(meeting_id: int):
    record = _visible(meeting_id)
    form = AttachmentForm()
    try:
        if not form.validate_on_submit():
            raise DomainError(_("Choose a file to attach."), field="file")
        documents.attach_upload(db.session, record, request.files.get("file"), form.description.data, current_user)
    except DomainError as exc:
        db.session.rollback()
        return _meeting_page(record.id, attachment_error=exc.message, status=exc.status)
    db.session.commit()
    flash(_("File attached."), "success")
    return redirect_to(url_for("meetings.meeting", meeting_id=record.id) + "#attachments")


def _attachment(attachment_id: int) -> Attachment:
    """The file, if the user may see the meeting or visit it belongs to; the same 404 otherwise."""
    attachment = db.session.get(Attachment, attachment_id) or abort(404)
    if attachment.meeting_id:
        _visible(attachment.meeting_id)
    elif visits.visible_visit(db.session, attachment.visit_id, current_user) is None:
        abort(404)
    return attachment


@bp.get("/attachments/<int:attachment_id>")
@role_required(Role.VIEWER)
def attachment(attachment_id: int):
    item = _attachment(attachment_id)
    path = documents.path_of(item, current_app.config["CRM_ATTACHMENTS_DIR"])
    if not path.is_file():
        abort(404)
    response = send_file(
        path, mimetype=item.content_type, as_attachment=True, download_name=item.original_name, max_age=0, etag=False
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/attachments/<int:attachment_id>/delete")
@role_required(Role.OFFICER)
def attachment_delete(attachment_id: int):
    item = _attachment(attachment_id)
    if not DeleteForm().validate_on_submit():
        abort(400)
    back = (
        url_for("meetings.meeting", meeting_id=item.meeting_id)
        if item.meeting_id
        else url_for("visits.visit", visit_id=item.visit_id)
    )
    path = documents.path_of(item, current_app.config["CRM_ATTACHMENTS_DIR"])
    db.session.delete(item)
    db.session.commit()
    path.unlink(missing_ok=True)  # only once the row is gone for good
    flash(_("Attachment deleted."), "success")
    return redirect_to(back + "#attachments")
