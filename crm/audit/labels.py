"""Words shown in the history of a record."""

from functools import cache
from typing import Any

from crm.core.enums import LabelledEnum
from crm.db import Base
from crm.i18n import lazy_gettext as _l

ACTIONS = {
    "create": _l("created the record"),
    "update": _l("changed"),
    "delete": _l("deleted"),
    "login": _l("signed in"),
    "login_failed": _l("failed to sign in"),
    "login_throttled": _l("was refused sign-in (too many attempts)"),
    "logout": _l("signed out"),
    "password_changed": _l("changed the password"),
    "access_denied": _l("was refused access"),
    "read_confidential": _l("opened this confidential record"),
    "document_checked": _l("checked a printed document"),
    "export": _l("exported a list"),
    "import": _l("imported a file"),
}

ENTITIES = {
    "organisation": _l("organisation"),
    "contact": _l("contact"),
    "position": _l("position"),
    "user_account": _l("account"),
    "meeting": _l("meeting"),
    "meeting_organisation": _l("organisation at the meeting"),
    "participant": _l("participant"),
    "minutes_revision": _l("minutes"),
    "attachment": _l("attachment"),
    "commitment": _l("commitment"),
    "letterhead": _l("letterhead"),
    "event": _l("event"),
    "visit": _l("visit"),
    "visit_member": _l("delegation member"),
    "programme_item": _l("programme item"),
    "calendar_feed": _l("calendar link"),
    "institution": _l("institution"),
    "meeting_institution": _l("institution holding the meeting"),
    "visit_institution": _l("institution holding the visit"),
    "minutes_approval": _l("approval of the minutes"),
    "commitment_update": _l("follow-up"),
}

FIELDS = {
    "name": _l("Name"),
    "acronym": _l("Acronym"),
    "kind": _l("Kind"),
    "country_code": _l("Country"),
    "parent_id": _l("Belongs to"),
    "sectors": _l("Sectors"),
    "email": _l("Email"),
    "phone": _l("Phone"),
    "website": _l("Website"),
    "address": _l("Address"),
    "city": _l("City"),
    "notes": _l("Notes"),
    "archived_at": _l("Archived"),
    "honorific": _l("Honorific"),
    "given_name": _l("Given names"),
    "family_name": _l("Family name"),
    "native_name": _l("Name in its own script"),
    "languages": _l("Languages"),
    "title": _l("Title"),
    "start_date": _l("Start"),
    "end_date": _l("End"),
    "organisation_id": _l("Organisation"),
    "contact_id": _l("Contact"),
    "role": _l("Role"),
    "active": _l("Active account"),
    "unit": _l("Unit"),
    "locale": _l("Language"),
    "timezone": _l("Time zone"),
    "reference": _l("Reference"),
    "starts_at": _l("Starts"),
    "ends_at": _l("Ends"),
    "place": _l("Place"),
    "confidentiality": _l("Confidentiality"),
    "status": _l("Status"),
    "meeting_id": _l("Meeting"),
    "side": _l("Side"),
    "user_id": _l("Person"),
    "attendance": _l("Attendance"),
    "number": _l("Revision"),
    "amendment_reason": _l("Reason for the amendment"),
    "submitted_at": _l("Submitted"),
    "submitted_by_id": _l("Submitted by"),
    "approved_at": _l("Approved"),
    "approved_by_id": _l("Approved by"),
    "original_name": _l("File"),
    "file_id": _l("Stored file"),
    "content_type": _l("Type"),
    "size": _l("Size"),
    "sha256": _l("SHA-256"),
    "description": _l("Description"),
    "uploaded_by_id": _l("Uploaded by"),
    "details": _l("Details"),
    "owed_by": _l("Owed by"),
    "responsible_id": _l("Responsible officer"),
    "due_date": _l("Due date"),
    "priority": _l("Priority"),
    "outcome": _l("Outcome"),
    "completed_on": _l("Kept on"),
    "origin_meeting_id": _l("From meeting"),
    "origin_item_id": _l("From agenda item"),
    "motto": _l("Motto"),
    "authority": _l("Ministry"),
    "logo_file_id": _l("Logo"),
    "country": _l("Country"),
    "edition": _l("Edition"),
    "theme": _l("Theme"),
    "venue": _l("Venue"),
    "starts_on": _l("From"),
    "ends_on": _l("To"),
    "organiser_id": _l("Organiser"),
    "direction": _l("Direction"),
    "purpose": _l("Purpose"),
    "event_id": _l("Event"),
    "report": _l("Report"),
    "arrival_at": _l("Arrival"),
    "departure_at": _l("Departure"),
    "accommodation": _l("Accommodation"),
    "day": _l("Day"),
    "activity": _l("Activity"),
    "visit_id": _l("Visit"),
    "origin_visit_id": _l("From visit"),
    "revoked_at": _l("Revoked"),
    "sharing": _l("Sharing"),
    "institution_id": _l("Institution"),
    "owner_institution_id": _l("Held by"),
    "code": _l("Code"),
    "short_name": _l("Short name"),
    "attachment_id": _l("Attachment"),
}

YES_NO = {True: _l("yes"), False: _l("no")}


def action(code: str) -> str:
    return str(ACTIONS.get(code, code))


def entity(code: str) -> str:
    return str(ENTITIES.get(code, code))


def field(code: str) -> str:
    return str(FIELDS.get(code, code))


@cache
def _enums() -> dict[tuple[str, str], type[LabelledEnum]]:
    """(table, column) → the labelled enum the column holds, read from the mapped models."""
    found: dict[tuple[str, str], type[LabelledEnum]] = {}
    for mapper in Base.registry.mappers:
        for column in mapper.columns:
            enum_class = getattr(column.type, "enum_class", None)
            if isinstance(enum_class, type) and issubclass(enum_class, LabelledEnum) and column.table.name:
                found[(column.table.name, column.key)] = enum_class
    return found


def pair(entity_type: str, field_name: str, change: list[Any]) -> tuple[Any, Any]:
    """A change's old and new values as the history shows them: the names kept beside ids (see
    ``audit.services``), else each value as ``value`` shows it."""
    if len(change) == 4:
        return change[2] or value(entity_type, field_name, change[0]), change[3] or value(
            entity_type, field_name, change[1]
        )
    return value(entity_type, field_name, change[0]), value(entity_type, field_name, change[1])


def value(entity_type: str, field_name: str, raw: Any) -> Any:
    """A value as the history shows it: an enum's label in the reader's language, yes or no."""
    if isinstance(raw, bool):
        return YES_NO[raw]
    enum_class = _enums().get((entity_type, field_name))
    if enum_class is not None and raw is not None:
        try:
            return enum_class(raw).label
        except ValueError:
            return raw  # a value an older version of the app wrote
    return raw
