"""Business rules of meetings, participants and minutes."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from blinker import Namespace
from sqlalchemy import ColumnElement, Select, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import aliased, joinedload, selectinload

from crm.auth import services as auth
from crm.auth.models import Role, User
from crm.auth.permissions import reader_key
from crm.core import confidentiality, fulltext
from crm.core.confidentiality import Confidentiality
from crm.db import DbSession, check_version, column_rows, like_pattern, search_key, utcnow
from crm.errors import REFUSALS, DomainError, Forbidden, as_refusal
from crm.i18n import gettext as _
from crm.meetings.models import (
    AgendaItem,
    Attendance,
    Meeting,
    MeetingInstitution,
    MeetingKind,
    MeetingOrganisation,
    MeetingStatus,
    MinutesApproval,
    MinutesRevision,
    MinutesStatus,
    Participant,
    ParticipantRole,
    Side,
    lacks_minutes,
)
from crm.pagination import Page, filter_values, keyset_page
from crm.partners import institutions
from crm.partners import services as partners
from crm.partners.models import Contact, Organisation, Position
from crm.references import next_reference

REFERENCE_PREFIX = "AUD"
MAX_ITEMS = 60

# What other domains hear about (they may import meetings; meetings never imports them).
signals = Namespace()
# A meeting was created or changed (sender: the meeting): records copied from it follow it.
meeting_saved = signals.signal("meeting-saved")
# An agenda item is about to be removed (sender: the item): a receiver may refuse with a DomainError.
item_removing = signals.signal("agenda-item-removing")
# Minutes were submitted for approval, or fully approved (sender: the revision; actor=): people are told.
minutes_submitted = signals.signal("minutes-submitted")
minutes_approved = signals.signal("minutes-approved")
# A person joined a planned meeting (sender: the participant): they are invited.
participant_added = signals.signal("participant-added")
# A person is about to leave a meeting (sender: the participant): their invitation is withdrawn.
participant_removing = signals.signal("participant-removing")


# --- who may see what -------------------------------------------------------------------------


# The EXISTS clauses below use aliases: a query that itself joins participants or holders (the AES view)
# would otherwise correlate them away.


def is_participant_clause(user_id: int, meeting_id_column) -> ColumnElement[bool]:
    taking_part = aliased(Participant)
    return exists(
        select(taking_part.id).where(taking_part.meeting_id == meeting_id_column, taking_part.user_id == user_id)
    )


def co_owned_clause(institution_id: int, meeting_id_column) -> ColumnElement[bool]:
    """The meeting is held by this institution: as host, or as one of the institutions taking part."""
    holder = MeetingInstitution.__table__.alias()
    return exists(
        select(holder.c.id).where(holder.c.meeting_id == meeting_id_column, holder.c.institution_id == institution_id)
    )


def visible_clause(user: User, meeting: Any = Meeting) -> ColumnElement[bool]:
    """Who sees a meeting (core.confidentiality.visible_clause), inside every query on meetings (``meeting``:
    Meeting or an alias of it). On Meeting itself the clause is built once per reader, not per request."""
    if meeting is Meeting:
        return visible_to(user.id, user.institution_id, user.can(Role.ADMIN))
    return _visible(user.id, user.institution_id, user.can(Role.ADMIN), meeting)


@confidentiality.per_reader
def visible_to(user_id: int, institution_id: int, admin: bool) -> ColumnElement[bool]:
    """``visible_clause`` on Meeting, for a reader given as (user id, institution, admin or not)."""
    return _visible(user_id, institution_id, admin, Meeting)


def _visible(user_id: int, institution_id: int, admin: bool, meeting: Any) -> ColumnElement[bool]:
    return confidentiality.visible_clause(
        owned=co_owned_clause(institution_id, meeting.id),
        sharing=meeting.sharing,
        limited=confidentiality.is_limited(meeting.confidentiality),
        taking_part=is_participant_clause(user_id, meeting.id),
        admin=admin,
    )


def co_owners(session: DbSession, meeting_id: int) -> list[int]:
    """The institutions holding the meeting, the host first."""
    return list(
        session.scalars(
            select(MeetingInstitution.institution_id)
            .where(MeetingInstitution.meeting_id == meeting_id)
            .order_by(MeetingInstitution.id)
        )
    )


def check_editable(session: DbSession, meeting: Meeting, user: User) -> None:
    """Sharing lets other institutions read a meeting; only the institutions holding it change it."""
    if user.institution_id not in co_owners(session, meeting.id):
        raise Forbidden(
            _("This meeting is shared with your institution for reading: only the institutions holding it change it.")
        )


def _co_own(session: DbSession, meeting: Meeting, institution_id: int) -> None:
    """An institution taking part holds the meeting with the host (added once)."""
    if institution_id in co_owners(session, meeting.id):
        return
    link = MeetingInstitution(meeting_id=meeting.id, institution_id=institution_id)
    link.audit_name = institutions.get(session, institution_id).short_name
    session.add(link)
    session.flush()


def visible_meeting(session: DbSession, meeting_id: int, user: User) -> Meeting | None:
    """The meeting if it exists and the user may see it; None either way, so that ids leak nothing."""
    return session.scalars(select(Meeting).where(Meeting.id == meeting_id, visible_clause(user))).first()


def _holders(stmt):
    """The meeting with its few holders and partners joined (three of each at most, in practice one or two)."""
    return stmt.options(
        joinedload(Meeting.owner_institution),
        joinedload(Meeting.institutions).joinedload(MeetingInstitution.institution),
        joinedload(Meeting.organisations).joinedload(MeetingOrganisation.organisation),
    )


def _people(stmt):
    """``_holders``, then the participants with their people in a second statement."""
    return _holders(stmt).options(
        selectinload(Meeting.participants).options(
            joinedload(Participant.user),
            joinedload(Participant.organisation),
            joinedload(Participant.institution),
            joinedload(Participant.contact).joinedload(Contact.positions),
        ),
    )


@dataclass(slots=True)
class ParticipantRow:
    """A participant as the meeting's page shows them: a few columns of the participant, their person and
    organisation, no ORM object."""

    id: int
    side: Side
    institution_id: int | None
    organisation_id: int | None
    role: ParticipantRole
    attendance: Attendance
    user: str | None  # one of ours: their name…
    unit: str  # …and unit
    contact_id: int | None  # a partner contact:
    contact: str  # as Contact.display_name
    title: str  # the title they held on the meeting's day, in that organisation (partners.title_on)
    organisation: str  # acronym, else name


def participant_rows(session: DbSession, meeting: Meeting) -> list[ParticipantRow]:
    """The meeting's participants in its order (``Meeting.participants``), in one statement: each joined with
    their contact's positions (newest first, as ``Contact.positions``) to find the title they held that day."""
    day = meeting.local_date
    rows: dict[int, ParticipantRow] = {}
    for row in column_rows(session, _participants_statement(), {"meeting_id": meeting.id}):
        (id_, side, institution_id, organisation_id, role, attendance, user_id, name, unit) = row[:9]
        (contact_id, honorific, given, family, acronym, org_name, post_org, title, start, end) = row[9:]
        found = rows.get(id_)
        if found is None:
            full = " ".join(part for part in (given, family) if part)
            found = rows[id_] = ParticipantRow(
                id_,
                side,
                institution_id,
                organisation_id,
                role,
                attendance,
                name if user_id is not None else None,
                unit or "",
                contact_id,
                " ".join(part for part in (honorific, full) if part),
                "",
                acronym or org_name or "",
            )
        if (
            title is not None
            and not found.title
            and (start is None or start <= day)
            and (end is None or day <= end)  # Position.held_on
            and (organisation_id is None or post_org == organisation_id)
        ):
            found.title = title
    return list(rows.values())


@cache
def _participants_statement() -> Select[Any]:
    """Built once (the meeting's id a parameter)."""
    return (
        select(
            Participant.id,
            Participant.side,
            Participant.institution_id,
            Participant.organisation_id,
            Participant.role,
            Participant.attendance,
            User.id,
            User.name,
            User.unit,
            Contact.id,
            Contact.honorific,
            Contact.given_name,
            Contact.family_name,
            Organisation.acronym,
            Organisation.name,
            Position.organisation_id,
            Position.title,
            Position.start_date,
            Position.end_date,
        )
        .outerjoin(User, User.id == Participant.user_id)
        .outerjoin(Contact, Contact.id == Participant.contact_id)
        .outerjoin(Organisation, Organisation.id == Participant.organisation_id)
        .outerjoin(Position, Position.contact_id == Participant.contact_id)
        .where(Participant.meeting_id == bindparam("meeting_id"))
        .order_by(Participant.id, Position.start_date.desc())
    )


def _detail(stmt):
    """The meeting and all it holds, in two statements: ``_people`` and its revisions joined."""
    return _people(stmt).options(
        joinedload(Meeting.revisions).options(
            joinedload(MinutesRevision.approved_by), joinedload(MinutesRevision.submitted_by)
        ),
    )


def meeting_detail(session: DbSession, meeting_id: int, user: User) -> Meeting | None:
    stmt = _detail(select(Meeting)).where(Meeting.id == meeting_id, visible_clause(user))
    return session.scalars(stmt).unique().first()


def meeting_with_holders(session: DbSession, meeting_id: int, user: User) -> Meeting | None:
    """The meeting with its holders and partners (its participants: ``participant_rows``)."""
    stmt = _holders(select(Meeting)).where(Meeting.id == meeting_id, visible_clause(user))
    return session.scalars(stmt).unique().first()


def meeting_for_print(session: DbSession, meeting_id: int, user: User) -> Meeting | None:
    """The meeting as its minutes print it: its holders, partners and people, not its revisions (the print shows
    one, loaded on its own). The statement is built once per reader, the meeting's id its parameter."""
    stmt = _print_statement(user.id, user.institution_id, user.can(Role.ADMIN))
    return session.scalars(stmt, {"meeting_id": meeting_id}).unique().first()


@confidentiality.per_reader
def _print_statement(user_id: int, institution_id: int, admin: bool) -> Select[Any]:
    return _people(select(Meeting)).where(
        Meeting.id == bindparam("meeting_id"), visible_to(user_id, institution_id, admin)
    )


class PreviousMeeting(NamedTuple):
    """The previous meeting as the meeting's page links to it: four columns, no ORM object."""

    id: int
    reference: str
    title: str
    starts_at: datetime


class LatestRevision(NamedTuple):
    """The meeting's latest minutes as its page names them."""

    number: int
    status: MinutesStatus


@dataclass
class MeetingPage:
    meeting: Meeting  # with its holders and partners (participants: ``participant_rows``)
    previous: PreviousMeeting | None
    revision: LatestRevision | None


def meeting_page(session: DbSession, meeting_id: int, user: User) -> MeetingPage | None:
    """The meeting with its holders and partners, and in the same statement its latest revision's number and
    status, and the previous meeting with one of its partners that the user may see (driven from the
    partners' few meetings, not by scanning every meeting)."""
    stmt = _meeting_page_statement(user.id, user.institution_id, user.can(Role.ADMIN))
    row = session.execute(stmt, {"meeting_id": meeting_id}).unique().first()
    if row is None:
        return None
    meeting, previous_id, reference, title, starts_at, number, status = row
    return MeetingPage(
        meeting,
        PreviousMeeting(previous_id, reference, title, starts_at) if previous_id is not None else None,
        LatestRevision(number, status) if number is not None else None,
    )


@confidentiality.per_reader
def _meeting_page_statement(user_id: int, institution_id: int, admin: bool) -> Select[Any]:
    """Built once per reader (the meeting's id is its parameter): building it cost more than running it."""
    earlier, previous = aliased(Meeting), aliased(Meeting)
    theirs, ours = aliased(MeetingOrganisation), aliased(MeetingOrganisation)
    previous_id = (
        select(earlier.id)
        .join(theirs, theirs.meeting_id == earlier.id)
        .join(ours, and_(ours.organisation_id == theirs.organisation_id, ours.meeting_id == Meeting.id))
        .where(
            _visible(user_id, institution_id, admin, earlier),
            earlier.id != Meeting.id,
            earlier.starts_at < Meeting.starts_at,
            earlier.status != MeetingStatus.CANCELLED,
        )
        .order_by(earlier.starts_at.desc(), earlier.id.desc())
        .limit(1)
        .correlate(Meeting)
        .scalar_subquery()
    )
    latest = aliased(MinutesRevision)
    newest = (
        select(func.max(MinutesRevision.number))
        .where(MinutesRevision.meeting_id == Meeting.id)
        .correlate(Meeting)
        .scalar_subquery()
    )
    columns = (previous.id, previous.reference, previous.title, previous.starts_at, latest.number, latest.status)
    return (
        select(Meeting, *columns)
        .select_from(Meeting)
        .options(
            joinedload(Meeting.institutions).joinedload(MeetingInstitution.institution),
            joinedload(Meeting.organisations).joinedload(MeetingOrganisation.organisation),
        )
        .outerjoin(previous, previous.id == previous_id)
        .outerjoin(latest, and_(latest.meeting_id == Meeting.id, latest.number == newest))
        .where(Meeting.id == bindparam("meeting_id"), visible_to(user_id, institution_id, admin))
    )


# --- time zones --------------------------------------------------------------------------------


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DomainError(_("Unknown time zone."), field="timezone") from None


def to_utc(local: datetime, zone_name: str) -> datetime:
    """A time typed in the meeting's zone, stored in UTC."""
    return local.replace(tzinfo=zone(zone_name)).astimezone(UTC)


def to_local(moment: datetime, zone_name: str) -> datetime:
    return moment.astimezone(zone(zone_name)).replace(tzinfo=None)


# --- meetings ----------------------------------------------------------------------------------


MEETING_FIELDS = ("title", "kind", "place", "confidentiality", "sharing", "status", "notes", "timezone")


def _organisations(session: DbSession, ids: list[int]) -> list[Organisation]:
    ids = list(dict.fromkeys(int(i) for i in ids))
    orgs = list(session.scalars(select(Organisation).where(Organisation.id.in_(ids)))) if ids else []
    if len(orgs) != len(ids):
        raise DomainError(_("One of the organisations does not exist."), field="organisation_ids")
    return sorted(orgs, key=lambda o: ids.index(o.id))


def save_meeting(
    session: DbSession, data: dict[str, Any], actor: User, meeting: Meeting | None = None, version: int | None = None
) -> Meeting:
    """Create or update a meeting. Times arrive as typed in the meeting's zone."""
    tz_name = data.get("timezone") or "Africa/Bamako"
    starts, ends = to_utc(data["starts_at"], tz_name), to_utc(data["ends_at"], tz_name)
    if ends < starts:
        raise DomainError(_("The meeting must end after it starts."), field="ends_at")
    if ends - starts > timedelta(days=14):
        raise DomainError(_("A meeting lasts at most 14 days; plan a visit for longer."), field="ends_at")
    orgs = _organisations(session, data.get("organisation_ids") or [])
    creating = meeting is None
    if meeting is not None:
        check_editable(session, meeting, actor)
        check_version(meeting, version)
    else:
        year = starts.astimezone(zone(tz_name)).year
        host = institutions.get(session, actor.institution_id)
        meeting = Meeting(
            reference=next_reference(session, f"{host.code}-{REFERENCE_PREFIX}", year),
            year=year,
            created_by_id=actor.id,
            owner_institution_id=host.id,
        )
        session.add(meeting)
    for field in MEETING_FIELDS:
        if field in data:
            value = data[field]
            setattr(meeting, field, value.strip() if isinstance(value, str) else value)
    meeting.starts_at, meeting.ends_at = starts, ends
    if creating:
        session.flush()
        _co_own(session, meeting, meeting.owner_institution_id)
        sides = institutions.institution_sides(session)
        for org in orgs:
            link = MeetingOrganisation(meeting_id=meeting.id, organisation_id=org.id)
            link.audit_name = org.name
            session.add(link)
            if org.id in sides:  # another ministry of the installation: it holds the meeting too
                _co_own(session, meeting, sides[org.id])
        # Whoever plans the meeting takes part, so a confidential one never locks out its author.
        author = Participant(
            meeting_id=meeting.id,
            side=Side.OURS,
            user_id=actor.id,
            institution_id=actor.institution_id,
            role=ParticipantRole.MEMBER,
            attendance=Attendance.PRESENT if meeting.status == MeetingStatus.HELD else Attendance.INVITED,
        )
        author.audit_name = actor.name
        session.add(author)
    elif (
        meeting.is_limited
        and not actor.can(Role.ADMIN)
        and not session.scalar(select(is_participant_clause(actor.id, meeting.id)))
    ):
        raise DomainError(
            _("Add yourself as a participant before restricting this meeting, or you would lose access to it."),
            field="confidentiality",
        )
    meeting.refresh_search([o.name for o in orgs] if creating else _org_names(session, meeting.id))
    session.flush()
    meeting_saved.send(meeting, session=session, actor=actor, invite_contacts=bool(data.get("invite_contacts")))
    return meeting


def _org_names(session: DbSession, meeting_id: int) -> list[str]:
    return list(
        session.scalars(
            select(Organisation.name)
            .join(MeetingOrganisation, MeetingOrganisation.organisation_id == Organisation.id)
            .where(MeetingOrganisation.meeting_id == meeting_id)
        )
    )


def add_organisation(session: DbSession, meeting: Meeting, organisation_id: int) -> MeetingOrganisation:
    org = session.get(Organisation, organisation_id)
    if org is None:
        raise DomainError(_("Unknown organisation."), field="organisation_id")
    already = session.scalar(
        select(MeetingOrganisation).where(
            MeetingOrganisation.meeting_id == meeting.id, MeetingOrganisation.organisation_id == organisation_id
        )
    )
    if already is not None:
        return already
    link = MeetingOrganisation(meeting_id=meeting.id, organisation_id=organisation_id)
    link.audit_name = org.name
    session.add(link)
    session.flush()
    institution_id = institutions.institution_of_organisation(session, organisation_id)
    if institution_id is not None:
        _co_own(session, meeting, institution_id)
    meeting.refresh_search(_org_names(session, meeting.id))
    session.flush()
    return link


def organisation_ids(session: DbSession, meeting_id: int) -> list[int]:
    return list(
        session.scalars(
            select(MeetingOrganisation.organisation_id)
            .where(MeetingOrganisation.meeting_id == meeting_id)
            .order_by(MeetingOrganisation.id)
        )
    )


def remove_organisation(session: DbSession, meeting: Meeting, organisation_id: int) -> None:
    represented = session.scalar(
        select(Participant.id).where(
            Participant.meeting_id == meeting.id, Participant.organisation_id == organisation_id
        )
    )
    if represented is not None:
        raise DomainError(_("Remove the people representing this organisation first."))
    link = session.scalar(
        select(MeetingOrganisation).where(
            MeetingOrganisation.meeting_id == meeting.id, MeetingOrganisation.organisation_id == organisation_id
        )
    )
    if link is not None:
        session.delete(link)
        session.flush()
        meeting.refresh_search(_org_names(session, meeting.id))
        session.flush()


def default_attendance(meeting: Meeting) -> Attendance:
    """A held meeting's people were there; a planned one's are invited (until said otherwise)."""
    return Attendance.PRESENT if meeting.status == MeetingStatus.HELD else Attendance.INVITED


def add_participant(
    session: DbSession,
    meeting: Meeting,
    *,
    user_id: int | None = None,
    contact_id: int | None = None,
    organisation_id: int | None = None,
    role: str = ParticipantRole.MEMBER,
    attendance: str | None = None,
) -> Participant:
    """Someone at the table, on the side they belong to — never guessed:

    - a user sits on their institution's side (that institution then holds the meeting too);
    - a contact representing one of the installation's institutions (a post there or in one of its units on
      the meeting day) sits on that institution's side;
    - any other contact represents one of the meeting's partner organisations.
    """
    attendance = attendance or default_attendance(meeting)
    if role not in set(ParticipantRole) or attendance not in set(Attendance):
        raise DomainError(_("Choose a role and an attendance from the list."))
    institution_id: int | None
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise DomainError(_("Unknown or inactive user."), field="person")
        taken = Participant.user_id == user_id
        institution_id = user.institution_id
        participant = Participant(meeting_id=meeting.id, side=Side.OURS, user_id=user_id, institution_id=institution_id)
        participant.audit_name = user.name
    elif contact_id is not None:
        contact = session.scalars(
            select(Contact)
            .options(selectinload(Contact.positions))
            .where(Contact.id == contact_id)
            .execution_options(populate_existing=True)
        ).first()
        if contact is None:
            raise DomainError(_("Unknown contact."), field="person")
        institution_id = institutions.institution_of_organisation(session, organisation_id)
        if institution_id is not None:
            if not any(
                p.organisation_id == organisation_id and p.held_on(meeting.local_date) for p in contact.positions
            ):
                raise DomainError(
                    _("This person held no post in that organisation on the meeting day."), field="person"
                )
            side = Side.OURS
        else:
            in_meeting = session.scalar(
                select(MeetingOrganisation.id).where(
                    MeetingOrganisation.meeting_id == meeting.id,
                    MeetingOrganisation.organisation_id == organisation_id,
                )
            )
            if organisation_id is None or in_meeting is None:
                raise DomainError(
                    _("This person must represent one of the meeting's organisations: add the organisation first."),
                    field="person",
                )
            side = Side.PARTNER
        taken = Participant.contact_id == contact_id
        participant = Participant(
            meeting_id=meeting.id,
            side=side,
            contact_id=contact_id,
            organisation_id=organisation_id,
            institution_id=institution_id,
        )
        participant.audit_name = contact.full_name
    else:
        raise DomainError(_("Choose a person from the list."), field="person")
    if session.scalar(select(Participant.id).where(Participant.meeting_id == meeting.id, taken)) is not None:
        raise DomainError(_("This person is already a participant."), field="person")
    participant.role, participant.attendance = ParticipantRole(role), Attendance(attendance)
    session.add(participant)
    session.flush()
    if institution_id is not None:
        _co_own(session, meeting, institution_id)
    participant_added.send(participant, session=session, meeting=meeting)
    return participant


def update_participant(session: DbSession, participant: Participant, role: str, attendance: str) -> None:
    if role not in set(ParticipantRole) or attendance not in set(Attendance):
        raise DomainError(_("Choose a role and an attendance from the list."))
    participant.role, participant.attendance = ParticipantRole(role), Attendance(attendance)
    session.flush()


def remove_participant(session: DbSession, meeting: Meeting, participant: Participant, actor: User) -> None:
    if meeting.is_limited and participant.user_id == actor.id and not actor.can(Role.ADMIN):
        raise DomainError(_("You cannot remove yourself from a restricted meeting: you would lose access to it."))
    institution_id = participant.institution_id
    participant_removing.send(participant, session=session, meeting=meeting)
    session.delete(participant)
    session.flush()
    if institution_id is not None and institution_id != meeting.owner_institution_id:
        # The last of another institution's people left: it no longer holds the meeting.
        left = session.scalar(
            select(Participant.id).where(
                Participant.meeting_id == meeting.id, Participant.institution_id == institution_id
            )
        )
        link = session.scalars(
            select(MeetingInstitution).where(
                MeetingInstitution.meeting_id == meeting.id, MeetingInstitution.institution_id == institution_id
            )
        ).first()
        if left is None and link is not None:
            link.audit_name = institutions.get(session, institution_id).short_name
            session.delete(link)
            session.flush()


def people_search(
    session: DbSession, meeting: Meeting, q: str, limit: int = 8
) -> tuple[list[User], list[tuple[Contact, list[Position]]]]:
    """Autocomplete: our users by name, and partner contacts with the posts they held on the meeting day."""
    term = search_key(q)
    if len(term) < 2:
        return [], []
    taken = select(Participant.user_id).where(Participant.meeting_id == meeting.id, Participant.user_id.is_not(None))
    users = auth.find_users(session, term, taken, limit, first_of=meeting.owner_institution_id)
    taken_contacts = select(Participant.contact_id).where(
        Participant.meeting_id == meeting.id, Participant.contact_id.is_not(None)
    )
    contacts = session.scalars(
        select(Contact)
        .options(selectinload(Contact.positions).joinedload(Position.organisation))
        .where(
            Contact.archived_at.is_(None),
            Contact.search.like(like_pattern(term), escape="\\"),
            Contact.id.not_in(taken_contacts),
        )
        .order_by(Contact.sort_key)
        .limit(limit)
    ).all()
    day = meeting.local_date
    return users, [(c, [p for p in c.positions if p.held_on(day)]) for c in contacts]


def organisation_search(
    session: DbSession, q: str, exclude: list[int] | None = None, limit: int = 8
) -> list[Organisation]:
    term = search_key(q)
    if len(term) < 2:
        return []
    stmt = (
        select(Organisation)
        .where(Organisation.archived_at.is_(None), Organisation.search.like(like_pattern(term), escape="\\"))
        .order_by(Organisation.name_key)
        .limit(limit)
    )
    if exclude:
        stmt = stmt.where(Organisation.id.not_in(exclude))
    return list(session.scalars(stmt))


# --- lists and calendar ----------------------------------------------------------------------


@dataclass
class MeetingFilters:
    when: str = "upcoming"  # upcoming | past
    q: str = ""
    organisation_id: int | None = None
    country: str = ""
    kind: str = ""
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    mine: bool = False
    institution_id: int | None = None  # held by this institution (the AES view links here)
    minutes: str = ""  # "none" (no minutes yet, the meeting over), or where the minutes stand: draft, submitted…


@dataclass(slots=True)
class MeetingRow:
    """A meeting as the list shows it: a few columns, no ORM object (its partners come from ``partner_names``)."""

    id: int
    starts_at: datetime
    ends_at: datetime
    title: str
    reference: str
    kind: MeetingKind
    place: str
    confidentiality: Confidentiality
    status: MeetingStatus
    minutes_status: MinutesStatus | None

    @property
    def is_limited(self) -> bool:
        return self.confidentiality.limited

    @property
    def lacks_minutes(self) -> bool:
        return lacks_minutes(self.minutes_status, self.status, self.ends_at)


ROW_COLUMNS = (
    Meeting.id,
    Meeting.starts_at,
    Meeting.ends_at,
    Meeting.title,
    Meeting.reference,
    Meeting.kind,
    Meeting.place,
    Meeting.confidentiality,
    Meeting.status,
    Meeting.minutes_status,
)


def list_meetings(
    session: DbSession,
    user: User,
    filters: MeetingFilters,
    *,
    cursor: str | None,
    size: int,
    list_rows: bool = False,
) -> Page:
    """``list_rows``: the page's rows are ``MeetingRow``s, without their partners (the list page reads their
    names with ``partner_names``); exports read the meetings whole, with their organisations."""
    capped = False
    ids: list[int] | None = None
    if filters.q.strip():
        ids, capped = fulltext.matching_ids(session, "meeting", filters.q)
    now = bindparam("now", type_=Meeting.starts_at.type)  # a parameter: the statement is kept (see keyset_page)

    def build() -> Select[Any]:
        stmt = (
            select(*ROW_COLUMNS)
            if list_rows
            else select(Meeting).options(
                selectinload(Meeting.organisations).joinedload(MeetingOrganisation.organisation)
            )
        ).where(visible_clause(user))
        stmt = stmt.where(Meeting.starts_at < now if past else Meeting.starts_at >= now)
        if ids is not None:
            stmt = stmt.where(Meeting.id.in_(ids))
        if filters.organisation_id:
            # One partner has few meetings: start from them rather than from every meeting.
            # A group counts its units and subsidiaries (Huawei Technologies: Huawei Mali, Burkina, Niger).
            group = select(Organisation.id).where(
                or_(Organisation.id == filters.organisation_id, Organisation.parent_id == filters.organisation_id)
            )
            stmt = stmt.where(
                Meeting.id.in_(
                    select(MeetingOrganisation.meeting_id).where(MeetingOrganisation.organisation_id.in_(group))
                )
            )
        in_country = partners.country_filter(Organisation.country_code, filters.country)
        if in_country is not None:
            orgs = (
                select(MeetingOrganisation.id)
                .join(Organisation, Organisation.id == MeetingOrganisation.organisation_id)
                .where(MeetingOrganisation.meeting_id == Meeting.id, in_country)
            )
            stmt = stmt.where(exists(orgs))
        if filters.kind:
            stmt = stmt.where(Meeting.kind == filters.kind)
        if filters.status:
            stmt = stmt.where(Meeting.status == filters.status)
        if filters.date_from:
            stmt = stmt.where(Meeting.starts_at >= datetime.combine(filters.date_from, datetime.min.time(), UTC))
        if filters.date_to:
            stmt = stmt.where(
                Meeting.starts_at < datetime.combine(filters.date_to + timedelta(days=1), datetime.min.time(), UTC)
            )
        if filters.mine:
            stmt = stmt.where(is_participant_clause(user.id, Meeting.id))
        if filters.institution_id:
            stmt = stmt.where(co_owned_clause(filters.institution_id, Meeting.id))
        if filters.minutes == "none":
            stmt = stmt.where(
                Meeting.minutes_status.is_(None), Meeting.ends_at < now, Meeting.status != MeetingStatus.CANCELLED
            )
        elif filters.minutes in set(MinutesStatus):
            stmt = stmt.where(Meeting.minutes_status == filters.minutes)
        return stmt

    past = filters.when == "past"
    # A search's ids make each statement its own; any other is the same for the reader and filters.
    shape = None if ids is not None else ("meetings", *reader_key(user), filter_values(filters), list_rows)
    return keyset_page(
        session,
        build,
        [Meeting.starts_at, Meeting.id],
        cursor=cursor,
        size=size,
        descending=past,
        capped=capped,
        shape=shape,
        params={"now": utcnow()},
        make=(lambda row: MeetingRow(*row)) if list_rows else None,
    )


def partner_names(session: DbSession, meeting_ids: list[int]) -> dict[int, list[tuple[int, str]]]:
    """Each meeting's partners as a list shows them (id, and acronym or else name), in the meeting's order:
    three columns in one statement instead of building two ORM objects per partner."""
    rows = column_rows(session, _partner_names_statement(), {"meeting_ids": meeting_ids})
    names: dict[int, list[tuple[int, str]]] = {}
    for meeting_id, org_id, acronym, name in rows:
        names.setdefault(meeting_id, []).append((org_id, acronym or name))
    return names


@cache
def _partner_names_statement() -> Select[Any]:
    """Built once (the meetings' ids a parameter), not on every request."""
    return (
        select(MeetingOrganisation.meeting_id, Organisation.id, Organisation.acronym, Organisation.name)
        .join(Organisation, Organisation.id == MeetingOrganisation.organisation_id)
        .where(MeetingOrganisation.meeting_id.in_(bindparam("meeting_ids", expanding=True)))
        .order_by(MeetingOrganisation.id)
    )


def meetings_between(session: DbSession, user: User, first_day: date, end_day: date, tz_name: str) -> list[Meeting]:
    """Meetings starting on the days from ``first_day`` up to ``end_day`` (excluded), days taken in the reader's
    zone: a month view's whole grid, the end of the previous month and the start of the next included."""
    tz = zone(tz_name)
    start = datetime.combine(first_day, datetime.min.time(), tz).astimezone(UTC)
    end = datetime.combine(end_day, datetime.min.time(), tz).astimezone(UTC)
    return list(
        session.scalars(
            select(Meeting)
            .where(visible_clause(user), Meeting.starts_at >= start, Meeting.starts_at < end)
            .order_by(Meeting.starts_at, Meeting.id)
            .limit(500)
        )
    )


# --- minutes -----------------------------------------------------------------------------------


def revisions(session: DbSession, meeting_id: int) -> list[MinutesRevision]:
    return list(
        session.scalars(
            select(MinutesRevision).where(MinutesRevision.meeting_id == meeting_id).order_by(MinutesRevision.number)
        )
    )


def revision_with_items(session: DbSession, meeting_id: int, number: int | None = None) -> MinutesRevision | None:
    """The latest revision of a meeting, or its revision ``number``, with its items and approvals."""
    stmt = _revision_statement(number is not None)
    parameters = {"meeting_id": meeting_id} if number is None else {"meeting_id": meeting_id, "number": number}
    return session.scalars(stmt, parameters).unique().first()


@cache
def _revision_statement(numbered: bool) -> Select[Any]:
    """Built once (meeting and number are its parameters): building it cost more than running it."""
    stmt = (
        select(MinutesRevision)
        .options(
            selectinload(MinutesRevision.items),
            joinedload(MinutesRevision.approved_by),
            joinedload(MinutesRevision.submitted_by),
            # joined (one row per holding institution, three at most): one statement fewer on the minutes page
            joinedload(MinutesRevision.approvals).options(
                joinedload(MinutesApproval.institution), joinedload(MinutesApproval.approved_by)
            ),
        )
        .where(MinutesRevision.meeting_id == bindparam("meeting_id"))
    )
    if numbered:
        stmt = stmt.where(MinutesRevision.number == bindparam("number"))
    return stmt.order_by(MinutesRevision.number.desc()).limit(1)


def start_minutes(session: DbSession, meeting: Meeting) -> MinutesRevision:
    """The first draft, opened the first time someone writes the minutes."""
    existing = revision_with_items(session, meeting.id)
    if existing is not None:
        return existing
    revision = MinutesRevision(meeting_id=meeting.id, number=1, status=MinutesStatus.DRAFT, summary="")
    revision.items = []
    session.add(revision)
    session.flush()
    _minutes_stand(session, revision)
    return revision


def _minutes_stand(session: DbSession, revision: MinutesRevision) -> None:
    """Record on the meeting where its latest minutes stand (lists filter on it, the home page counts it).

    An UPDATE statement rather than a change to the loaded meeting: the meeting's version does not move, so
    whoever is editing its details at that moment is not told their form is stale."""
    session.execute(
        update(Meeting).where(Meeting.id == revision.meeting_id).values(minutes_status=revision.status),
        execution_options={"synchronize_session": "evaluate"},
    )


def _editable(revision: MinutesRevision, version: int | None) -> None:
    if revision.status == MinutesStatus.APPROVED:
        raise DomainError(_("These minutes are approved and locked. Use “Amend” to open a new revision."))
    if revision.status != MinutesStatus.DRAFT:
        raise DomainError(_("These minutes were submitted for approval. Withdraw them to make changes."))
    check_version(revision, version)


def _touch(revision: MinutesRevision) -> None:
    """Any change to the minutes bumps the revision's version, so two editors never overwrite each other."""
    revision.updated_at = utcnow()


TEXT_LIMITS = {"summary": 50_000, "title": 300, "discussion": 50_000, "decisions": 20_000}


def _text(value: Any, field: str) -> str:
    text = (value or "").replace("\r\n", "\n") if isinstance(value, str) else ""
    if len(text) > TEXT_LIMITS[field]:
        raise DomainError(_("This text is too long (%(max)s characters at most).", max=TEXT_LIMITS[field]), field=field)
    return text


def save_minutes(
    session: DbSession, revision: MinutesRevision, summary: str, items: dict[int, dict[str, str]], version: int | None
) -> bool:
    """Autosave: the summary and each agenda item's text. Returns whether anything changed."""
    _editable(revision, version)
    changed = False
    new_summary = _text(summary, "summary")
    if new_summary != revision.summary:
        revision.summary, changed = new_summary, True
    by_id = {item.id: item for item in revision.items}
    for item_id, values in items.items():
        item = by_id.get(item_id)
        if item is None:
            continue  # removed meanwhile by the same user in another tab: nothing to write to
        for field in ("title", "discussion", "decisions"):
            if field in values:
                text = _text(values[field], field)
                if text != getattr(item, field):
                    setattr(item, field, text)
                    changed = True
    if changed:
        _touch(revision)
        session.flush()
    return changed


def add_item(session: DbSession, revision: MinutesRevision, version: int | None, title: str = "") -> AgendaItem:
    _editable(revision, version)
    if len(revision.items) >= MAX_ITEMS:
        raise DomainError(_("An agenda has at most %(n)s items.", n=MAX_ITEMS))
    item = AgendaItem(position=len(revision.items) + 1, title=_text(title, "title"), discussion="", decisions="")
    revision.items.append(item)
    _touch(revision)
    session.flush()
    return item


def move_item(session: DbSession, revision: MinutesRevision, item_id: int, offset: int, version: int | None) -> None:
    _editable(revision, version)
    items = list(revision.items)
    index = next((i for i, item in enumerate(items) if item.id == item_id), None)
    if index is None:
        raise DomainError(_("This agenda item no longer exists."))
    target = index + offset
    if 0 <= target < len(items):
        items[index], items[target] = items[target], items[index]
        for position, item in enumerate(items, start=1):
            item.position = position
        revision.items.sort(key=lambda item: item.position)
    _touch(revision)
    session.flush()


def remove_item(session: DbSession, revision: MinutesRevision, item_id: int, version: int | None) -> None:
    _editable(revision, version)
    item = next((item for item in revision.items if item.id == item_id), None)
    if item is None:
        raise DomainError(_("This agenda item no longer exists."))
    item_removing.send(item, session=session)
    revision.items.remove(item)
    for position, remaining in enumerate(revision.items, start=1):
        remaining.position = position
    _touch(revision)
    session.flush()


def submit_minutes(session: DbSession, revision: MinutesRevision, actor: User, version: int | None) -> None:
    _editable(revision, version)
    if not revision.summary.strip() and not any(
        item.title.strip() or item.discussion.strip() for item in revision.items
    ):
        raise DomainError(_("The minutes are empty: write a summary or an agenda item first."))
    revision.status = MinutesStatus.SUBMITTED
    revision.submitted_at, revision.submitted_by_id = utcnow(), actor.id
    session.flush()
    _minutes_stand(session, revision)
    minutes_submitted.send(revision, session=session, actor=actor)


def save_and_submit(
    session: DbSession,
    revision: MinutesRevision,
    actor: User,
    version: int | None,
    typed: tuple[str, dict[int, dict[str, str]]] | None,
) -> DomainError | None:
    """Submit, after saving what was typed since the last autosave. The text is kept even when the
    submission is refused (empty minutes, say): the refusal is returned, not raised."""
    if typed is not None:
        summary, items = typed
        save_minutes(session, revision, summary, items, version)
        version = revision.version
    try:
        with session.begin_nested():
            submit_minutes(session, revision, actor, version)
    except REFUSALS as exc:
        return as_refusal(exc)
    return None


def withdraw_minutes(session: DbSession, revision: MinutesRevision, actor: User, version: int | None) -> None:
    """Back to draft: by the person who submitted, or by an approver returning it for changes."""
    check_version(revision, version)
    if revision.status != MinutesStatus.SUBMITTED:
        raise DomainError(_("Only submitted minutes can go back to draft."))
    if revision.submitted_by_id != actor.id and not actor.can(Role.OFFICER):
        raise Forbidden(_("Only the person who submitted the minutes, or an officer, can do this."))
    revision.status = MinutesStatus.DRAFT
    for approval in session.scalars(select(MinutesApproval).where(MinutesApproval.revision_id == revision.id)):
        session.delete(approval)  # an approval was given to a text that may now change
    session.flush()
    _minutes_stand(session, revision)


def approve_minutes(session: DbSession, revision: MinutesRevision, actor: User, version: int | None) -> bool:
    """Approve for the officer's institution. Joint minutes are approved (and locked) once every institution
    holding the meeting has approved its side; returns whether that is now the case."""
    if not actor.can(Role.OFFICER):
        raise Forbidden(_("Only a cooperation officer or an administrator can approve minutes."))
    check_version(revision, version)
    if revision.status == MinutesStatus.APPROVED:
        raise DomainError(_("These minutes are already approved."))
    if revision.status != MinutesStatus.SUBMITTED:
        raise DomainError(_("Submit the minutes before approving them."))
    holders = co_owners(session, revision.meeting_id)
    if actor.institution_id not in holders:
        raise Forbidden(_("Only the institutions holding this meeting approve its minutes."))
    approved = set(
        session.scalars(select(MinutesApproval.institution_id).where(MinutesApproval.revision_id == revision.id))
    )
    if actor.institution_id in approved:
        raise DomainError(_("Your institution has already approved these minutes; the others have not yet."))
    institution = institutions.get(session, actor.institution_id)
    # revision=: in revision.approvals if loaded, so the PDF frozen now signs for this institution too
    approval = MinutesApproval(revision=revision, institution=institution, approved_by=actor, approved_at=utcnow())
    approval.audit_meeting_id = revision.meeting_id
    approval.audit_name = institution.short_name
    session.add(approval)
    _touch(revision)  # the next approver works from this state: two at once cannot both miss the last step
    if set(holders) <= approved | {actor.institution_id}:
        revision.status = MinutesStatus.APPROVED
        revision.approved_at, revision.approved_by_id = utcnow(), actor.id
    session.flush()
    _minutes_stand(session, revision)
    if revision.status == MinutesStatus.APPROVED:
        minutes_approved.send(revision, session=session, actor=actor)
    return revision.status == MinutesStatus.APPROVED


def amend_minutes(session: DbSession, meeting: Meeting, actor: User, reason: str) -> MinutesRevision:
    """Open the next revision as a copy of the approved one; the approved one stays as it was."""
    latest = revision_with_items(session, meeting.id)
    if latest is None or latest.status != MinutesStatus.APPROVED:
        raise DomainError(_("Only approved minutes can be amended; edit the current draft instead."))
    if not reason.strip():
        raise DomainError(_("Say why the minutes are amended."), field="reason")
    revision = MinutesRevision(
        meeting_id=meeting.id,
        number=latest.number + 1,
        status=MinutesStatus.DRAFT,
        summary=latest.summary,
        amendment_reason=_text(reason.strip(), "decisions"),
    )
    revision.items = [
        AgendaItem(
            position=item.position,
            title=item.title,
            discussion=item.discussion,
            decisions=item.decisions,
            origin_id=item.lineage,
        )
        for item in latest.items
    ]
    session.add(revision)
    session.flush()
    _minutes_stand(session, revision)
    return revision


def minutes_text(revision: MinutesRevision) -> list[str]:
    """The minutes as lines of text, the form revisions are compared in."""
    lines = [_("Summary"), *revision.summary.splitlines(), ""]
    for item in revision.items:
        lines.append(f"{item.position}. {item.title}")
        lines.extend(item.discussion.splitlines())
        if item.decisions.strip():
            lines.append(_("Decisions:"))
            lines.extend(f"- {decision}" for decision in item.decision_list)
        lines.append("")
    return lines


@dataclass
class DiffLine:
    kind: str  # same | added | removed
    text: str


def revision_diff(old: MinutesRevision, new: MinutesRevision) -> list[DiffLine]:
    lines: list[DiffLine] = []
    before, after = minutes_text(old), minutes_text(new)
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            lines.extend(DiffLine("same", text) for text in before[a1:a2])
            continue
        lines.extend(DiffLine("removed", text) for text in before[a1:a2])
        lines.extend(DiffLine("added", text) for text in after[b1:b2])
    return lines
