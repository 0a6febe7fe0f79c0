"""Business rules of events, delegation visits, their members and programme."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Date, Select, bindparam, exists, inspect, or_, select
from sqlalchemy.orm import joinedload, selectinload

from crm import i18n
from crm.auth import services as auth
from crm.auth.models import Role, User
from crm.auth.permissions import reader_key
from crm.core import confidentiality, fulltext
from crm.core.confidentiality import Confidentiality
from crm.db import DbSession, check_version, like_pattern, search_key
from crm.errors import DomainError, Forbidden
from crm.i18n import gettext as _
from crm.meetings import services as meetings
from crm.meetings.models import Meeting, Participant, ParticipantRole
from crm.pagination import Page, filter_values, keyset_page
from crm.partners import institutions
from crm.partners.models import Contact, Country, Organisation, Position
from crm.references import next_reference
from crm.visits.models import (
    COUNTRY_ZONES,
    Direction,
    Event,
    MemberRole,
    ProgrammeItem,
    Visit,
    VisitInstitution,
    VisitMember,
    VisitStatus,
    direction_seen_by,
    ends_an_hour_later,
)

REFERENCE_PREFIX = "MIS"
MAX_VISIT_DAYS = 60


# --- who may see what -------------------------------------------------------------------------


def is_member_clause(user_id: int, visit_id_column) -> ColumnElement[bool]:
    member = VisitMember.__table__.alias()  # a Core alias: cheap to build
    return exists(select(member.c.id).where(member.c.visit_id == visit_id_column, member.c.user_id == user_id))


def co_owned_clause(institution_id: int, visit_id_column) -> ColumnElement[bool]:
    """The visit is held by this institution: as host, or with people in the delegation."""
    holder = VisitInstitution.__table__.alias()
    return exists(
        select(holder.c.id).where(holder.c.visit_id == visit_id_column, holder.c.institution_id == institution_id)
    )


def visible_clause(user: User) -> ColumnElement[bool]:
    """Who sees a visit: the same rule as meetings (core.confidentiality.visible_clause), built once per reader."""
    return visible_to(user.id, user.institution_id, user.can(Role.ADMIN))


@confidentiality.per_reader
def visible_to(user_id: int, institution_id: int, admin: bool) -> ColumnElement[bool]:
    """``visible_clause`` for a reader given as (user id, institution, admin or not)."""
    return confidentiality.visible_clause(
        owned=co_owned_clause(institution_id, Visit.id),
        sharing=Visit.sharing,
        limited=confidentiality.is_limited(Visit.confidentiality),
        taking_part=is_member_clause(user_id, Visit.id),
        admin=admin,
    )


def co_owners(session: DbSession, visit_id: int) -> list[int]:
    return list(
        session.scalars(
            select(VisitInstitution.institution_id)
            .where(VisitInstitution.visit_id == visit_id)
            .order_by(VisitInstitution.id)
        )
    )


def check_editable(session: DbSession, visit: Visit, user: User) -> None:
    if user.institution_id not in co_owners(session, visit.id):
        raise Forbidden(
            _("This visit is shared with your institution for reading: only the institutions holding it change it.")
        )


def _co_own(session: DbSession, visit: Visit, institution_id: int) -> None:
    if institution_id in co_owners(session, visit.id):
        return
    name = institutions.get(session, institution_id).short_name
    link = VisitInstitution(visit=visit, institution_id=institution_id)  # in visit.institutions if loaded
    link.audit_name = name
    session.add(link)
    session.flush()


def visible_visit(session: DbSession, visit_id: int, user: User) -> Visit | None:
    return session.scalars(select(Visit).where(Visit.id == visit_id, visible_clause(user))).first()


def visit_detail(session: DbSession, visit_id: int, user: User) -> Visit | None:
    return session.scalars(
        select(Visit)
        .options(
            joinedload(Visit.event),
            joinedload(Visit.country),
            joinedload(Visit.owner_institution),
            selectinload(Visit.institutions).joinedload(VisitInstitution.institution),
            selectinload(Visit.members).options(
                joinedload(VisitMember.user), joinedload(VisitMember.contact), joinedload(VisitMember.institution)
            ),
            selectinload(Visit.items),
        )
        .where(Visit.id == visit_id, visible_clause(user))
    ).first()


# --- events ------------------------------------------------------------------------------------

EVENT_FIELDS = (
    "name",
    "edition",
    "theme",
    "venue",
    "city",
    "country_code",
    "starts_on",
    "ends_on",
    "organiser_id",
    "notes",
)


def _dates(start: date | None, end: date | None, field: str = "ends_on") -> None:
    if start is None or end is None:
        raise DomainError(_("Give both dates."), field=field)
    if end < start:
        raise DomainError(_("The end date must be on or after the start date."), field=field)
    if (end - start).days > MAX_VISIT_DAYS:
        raise DomainError(_("That is more than %(n)s days.", n=MAX_VISIT_DAYS), field=field)


def _country(session: DbSession, code: str) -> None:
    if session.get(Country, code or "") is None:
        raise DomainError(_("Unknown country."), field="country_code")


def save_event(
    session: DbSession, data: dict[str, Any], event: Event | None = None, version: int | None = None
) -> Event:
    _dates(data.get("starts_on"), data.get("ends_on"))
    _country(session, data.get("country_code") or "")
    if data.get("organiser_id") is not None and session.get(Organisation, data["organiser_id"]) is None:
        raise DomainError(_("Unknown organisation."), field="organiser_id")
    if event is not None:
        check_version(event, version)
    else:
        event = Event()
        session.add(event)
    for name in EVENT_FIELDS:
        if name in data:
            value = data[name]
            setattr(event, name, value.strip() if isinstance(value, str) else value)
    session.flush()
    return event


def event_detail(session: DbSession, event_id: int, user: User) -> tuple[Event, list[Visit], list[Meeting]] | None:
    event = session.scalars(
        select(Event).options(joinedload(Event.country), joinedload(Event.organiser)).where(Event.id == event_id)
    ).first()
    if event is None:
        return None
    visits = session.scalars(
        select(Visit).where(Visit.event_id == event_id, visible_clause(user)).order_by(Visit.starts_on, Visit.id)
    ).all()
    held = session.scalars(
        select(Meeting)
        .where(Meeting.event_id == event_id, meetings.visible_clause(user))
        .order_by(Meeting.starts_at, Meeting.id)
    ).all()
    return event, list(visits), list(held)


def list_events(session: DbSession) -> list[Event]:
    return list(
        session.scalars(select(Event).options(joinedload(Event.country)).order_by(Event.starts_on.desc()).limit(200))
    )


def event_choices(session: DbSession) -> list[tuple[int, str]]:
    rows = session.execute(
        select(Event.id, Event.name, Event.edition, Event.starts_on).order_by(Event.starts_on.desc())
    )
    return [(r.id, f"{r.name} {r.edition} ({r.starts_on.year})".strip()) for r in rows]


# --- visits ------------------------------------------------------------------------------------

VISIT_FIELDS = (
    "title",
    "direction",
    "purpose",
    "event_id",
    "city",
    "country_code",
    "starts_on",
    "ends_on",
    "status",
    "confidentiality",
    "sharing",
)


def save_visit(
    session: DbSession, data: dict[str, Any], actor: User, visit: Visit | None = None, version: int | None = None
) -> Visit:
    """Create or update a visit; the programme must still fit in its dates."""
    _dates(data.get("starts_on"), data.get("ends_on"))
    _country(session, data.get("country_code") or "")
    if data.get("event_id") is not None and session.get(Event, data["event_id"]) is None:
        raise DomainError(_("Unknown event."), field="event_id")
    creating = visit is None
    if visit is not None:
        check_editable(session, visit, actor)
        check_version(visit, version)
        outside = session.scalar(
            select(ProgrammeItem.id).where(
                ProgrammeItem.visit_id == visit.id,
                or_(ProgrammeItem.day < data["starts_on"], ProgrammeItem.day > data["ends_on"]),
            )
        )
        if outside is not None:
            raise DomainError(
                _("Some programme items fall outside these dates: move or remove them first."), field="starts_on"
            )
    else:
        year = data["starts_on"].year
        host = institutions.get(session, actor.institution_id)
        visit = Visit(
            reference=next_reference(session, f"{host.code}-{REFERENCE_PREFIX}", year),
            year=year,
            created_by_id=actor.id,
            owner_institution_id=host.id,
        )
        session.add(visit)
    for name in VISIT_FIELDS:
        if name in data:
            value = data[name]
            setattr(visit, name, value.strip() if isinstance(value, str) else value)
    visit.timezone = COUNTRY_ZONES.get(visit.country_code, "Africa/Bamako")
    visit.refresh_search()
    session.flush()
    if creating:
        _co_own(session, visit, visit.owner_institution_id)
        # Whoever plans the visit is in it, so a restricted one never locks out its author.
        member = VisitMember(
            visit_id=visit.id, user_id=actor.id, institution_id=actor.institution_id, role=MemberRole.MEMBER
        )
        member.audit_name = actor.name
        session.add(member)
        session.flush()
    return visit


def save_report(session: DbSession, visit: Visit, report: str, version: int | None) -> None:
    check_version(visit, version)
    if len(report) > 50_000:
        raise DomainError(_("This text is too long (%(max)s characters at most).", max=50_000), field="report")
    visit.report = report.replace("\r\n", "\n")
    session.flush()


@dataclass
class VisitFilters:
    when: str = "upcoming"
    q: str = ""
    direction: str = ""
    status: str = ""
    event_id: int | None = None
    mine: bool = False


@dataclass(slots=True)
class VisitRow:
    """A visit as the list shows it: a few columns and the names of its event and country, no ORM object."""

    id: int
    starts_on: date
    ends_on: date
    title: str
    reference: str
    direction: Direction
    owner_institution_id: int
    status: VisitStatus
    confidentiality: Confidentiality
    city: str
    event: str | None  # as Event.display_name
    country: str  # in the reader's language, as Country.name

    @property
    def is_limited(self) -> bool:
        return self.confidentiality.limited

    def direction_for(self, institution_id: int) -> Direction:
        return direction_seen_by(self.direction, self.owner_institution_id, institution_id)


def _visit_rows(user: User) -> Select[Any]:
    return (
        select(
            Visit.id,
            Visit.starts_on,
            Visit.ends_on,
            Visit.title,
            Visit.reference,
            Visit.direction,
            Visit.owner_institution_id,
            Visit.status,
            Visit.confidentiality,
            Visit.city,
            Event.id.label("event_id"),
            Event.name,
            Event.edition,
            Country.name_fr,
            Country.name_en,
        )
        .join(Country, Country.code == Visit.country_code)
        .outerjoin(Event, Event.id == Visit.event_id)
        .where(visible_clause(user))
    )


def _row_maker(english: bool) -> Callable[[Any], VisitRow]:
    def make(row: Any) -> VisitRow:
        (id_, starts_on, ends_on, title, reference, direction, owner_id, status, level, city) = row[:10]
        event_id, name, edition, name_fr, name_en = row[10:]
        event = None if event_id is None else f"{name} ({edition})" if edition else name
        country = name_en if english else name_fr
        return VisitRow(
            id_, starts_on, ends_on, title, reference, direction, owner_id, status, level, city, event, country
        )

    return make


def list_visits(
    session: DbSession,
    user: User,
    filters: VisitFilters,
    *,
    cursor: str | None,
    size: int,
    today: date,
    list_rows: bool = False,
) -> Page:
    """``list_rows``: the page's rows are ``VisitRow``s (the list page); exports read the visits whole."""
    capped = False
    ids: list[int] | None = None
    if filters.q.strip():
        ids, capped = fulltext.matching_ids(session, "visit", filters.q)
    past = filters.when == "past"

    def build() -> Select[Any]:
        if list_rows:
            stmt = _visit_rows(user)
        else:
            stmt = select(Visit).options(joinedload(Visit.country), joinedload(Visit.event)).where(visible_clause(user))
        on = bindparam("today", type_=Date)  # a parameter: the statement is kept (see keyset_page)
        stmt = stmt.where(Visit.ends_on < on if past else Visit.ends_on >= on)
        if ids is not None:
            stmt = stmt.where(Visit.id.in_(ids))
        if filters.direction:
            stmt = stmt.where(Visit.direction == filters.direction)
        if filters.status:
            stmt = stmt.where(Visit.status == filters.status)
        if filters.event_id:
            stmt = stmt.where(Visit.event_id == filters.event_id)
        if filters.mine:
            stmt = stmt.where(is_member_clause(user.id, Visit.id))
        return stmt

    # A search's ids make each statement its own; any other is the same for the reader and filters.
    shape = None if ids is not None else ("visits", *reader_key(user), filter_values(filters), list_rows)
    return keyset_page(
        session,
        build,
        [Visit.starts_on, Visit.id],
        cursor=cursor,
        size=size,
        descending=past,
        capped=capped,
        shape=shape,
        params={"today": today},
        make=_row_maker(str(i18n.locale() or "fr") == "en") if list_rows else None,
    )


def visits_between(session: DbSession, user: User, first: date, end: date) -> list[Visit]:
    """Visits overlapping [first, end): calendars show them across their days."""
    return list(
        session.scalars(
            select(Visit)
            .where(
                visible_clause(user),
                Visit.starts_on < end,
                Visit.ends_on >= first,
                Visit.status != VisitStatus.CANCELLED,
            )
            .order_by(Visit.starts_on, Visit.id)
            .limit(200)
        )
    )


# --- members -----------------------------------------------------------------------------------


def add_member(
    session: DbSession,
    visit: Visit,
    *,
    user_id: int | None = None,
    contact_id: int | None = None,
    role: str = MemberRole.MEMBER,
) -> VisitMember:
    if role not in set(MemberRole):
        raise DomainError(_("Choose a role from the list."), field="role")
    institution_id: int | None = None
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise DomainError(_("Unknown or inactive user."), field="person")
        taken, name, institution_id = VisitMember.user_id == user_id, user.name, user.institution_id
    elif contact_id is not None:
        contact = session.scalars(
            select(Contact).options(selectinload(Contact.positions)).where(Contact.id == contact_id)
        ).first()
        if contact is None:
            raise DomainError(_("Unknown contact."), field="person")
        taken, name = VisitMember.contact_id == contact_id, contact.full_name
        sides = institutions.institution_sides(session)
        held = [
            p.organisation_id for p in contact.positions if p.held_on(visit.starts_on) and p.organisation_id in sides
        ]
        institution_id = sides[held[0]] if held else None  # a minister travels for her ministry
    else:
        raise DomainError(_("Choose a person from the list."), field="person")
    if session.scalar(select(VisitMember.id).where(VisitMember.visit_id == visit.id, taken)) is not None:
        raise DomainError(_("This person is already in the delegation."), field="person")
    _one_head(session, visit, role)
    member = VisitMember(  # visit=: the delegation already loaded (the page drawn next) has the new member
        visit=visit, user_id=user_id, contact_id=contact_id, institution_id=institution_id, role=MemberRole(role)
    )
    member.audit_name = name
    session.add(member)
    session.flush()
    if institution_id is not None:
        _co_own(session, visit, institution_id)  # its people travel: it holds the visit too
    return member


def _one_head(session: DbSession, visit: Visit, role: str, member_id: int | None = None) -> None:
    if role != MemberRole.HEAD:
        return
    stmt = select(VisitMember.id).where(VisitMember.visit_id == visit.id, VisitMember.role == MemberRole.HEAD)
    if member_id:
        stmt = stmt.where(VisitMember.id != member_id)
    if session.scalar(stmt) is not None:
        raise DomainError(_("The delegation already has a head."), field="role")


def update_member(
    session: DbSession, visit: Visit, member: VisitMember, data: dict[str, Any], version: int | None
) -> None:
    """Role and logistics; arrival and departure are typed in the host country's time."""
    check_version(member, version)
    role = data.get("role", member.role)
    if role not in set(MemberRole):
        raise DomainError(_("Choose a role from the list."), field="role")
    _one_head(session, visit, role, member.id)
    zone = ZoneInfo(visit.timezone)
    arrival = data.get("arrival_at")
    departure = data.get("departure_at")
    arrival = arrival.replace(tzinfo=zone) if arrival else None
    departure = departure.replace(tzinfo=zone) if departure else None
    if arrival and departure and departure < arrival:
        raise DomainError(_("Departure must be after arrival."), field="departure_at")
    member.role = role
    member.arrival_at, member.departure_at = arrival, departure
    member.accommodation = (data.get("accommodation") or "").strip()[:300]
    session.flush()


def remove_member(session: DbSession, visit: Visit, member: VisitMember, actor: User) -> None:
    if visit.is_limited and member.user_id == actor.id and not actor.can(Role.ADMIN):
        raise DomainError(_("You cannot remove yourself from a restricted visit: you would lose access to it."))
    institution_id = member.institution_id
    _take_out(session, visit, "members", member)
    session.flush()
    if institution_id is not None and institution_id != visit.owner_institution_id:
        left = session.scalar(
            select(VisitMember.id).where(VisitMember.visit_id == visit.id, VisitMember.institution_id == institution_id)
        )
        link = session.scalars(
            select(VisitInstitution).where(
                VisitInstitution.visit_id == visit.id, VisitInstitution.institution_id == institution_id
            )
        ).first()
        if left is None and link is not None:
            link.audit_name = institutions.get(session, institution_id).short_name
            _take_out(session, visit, "institutions", link)
            session.flush()


def _take_out(session: DbSession, visit: Visit, collection: str, row: Any) -> None:
    """Delete a row of one of the visit's collections, and take it out of the collection if it is loaded:
    the page drawn after the change shows the visit as it now is."""
    if collection not in inspect(visit).unloaded:
        getattr(visit, collection).remove(row)
    session.delete(row)


def people_search(session: DbSession, visit: Visit, q: str, limit: int = 8) -> tuple[list[User], list[Contact]]:
    term = search_key(q)
    if len(term) < 2:
        return [], []
    taken_users = select(VisitMember.user_id).where(VisitMember.visit_id == visit.id, VisitMember.user_id.is_not(None))
    users = auth.find_users(session, term, taken_users, limit, first_of=visit.owner_institution_id)
    taken = select(VisitMember.contact_id).where(VisitMember.visit_id == visit.id, VisitMember.contact_id.is_not(None))
    contacts = session.scalars(
        select(Contact)
        .options(selectinload(Contact.positions).joinedload(Position.organisation))
        .where(
            Contact.archived_at.is_(None),
            Contact.search.like(like_pattern(term), escape="\\"),
            Contact.id.not_in(taken),
        )
        .order_by(Contact.sort_key)
        .limit(limit)
    ).all()
    return users, list(contacts)


def member_conflicts(session: DbSession, visit: Visit) -> dict[int, list[str]]:
    """Members who are somewhere else during the visit: another visit, or a meeting outside this one.

    Two queries whatever the size of the delegation.
    """
    users = {m.user_id: m.id for m in visit.members if m.user_id}
    contacts = {m.contact_id: m.id for m in visit.members if m.contact_id}
    if not users and not contacts:
        return {}
    conflicts: dict[int, list[str]] = {}
    start = datetime.combine(visit.starts_on, time.min, ZoneInfo(visit.timezone))
    end = datetime.combine(visit.ends_on + timedelta(days=1), time.min, ZoneInfo(visit.timezone))
    same_person = or_(VisitMember.user_id.in_(list(users)), VisitMember.contact_id.in_(list(contacts)))
    for other, user_id, contact_id in session.execute(
        select(Visit, VisitMember.user_id, VisitMember.contact_id)
        .join(VisitMember, VisitMember.visit_id == Visit.id)
        .where(
            same_person,
            Visit.id != visit.id,
            Visit.status != VisitStatus.CANCELLED,
            Visit.starts_on <= visit.ends_on,
            Visit.ends_on >= visit.starts_on,
        )
    ):
        member_id = users.get(user_id) if user_id else contacts.get(contact_id)
        if member_id is not None:
            conflicts.setdefault(member_id, []).append(
                _("Also in %(ref)s (%(city)s) on those days.", ref=other.reference, city=other.city)
            )
    at_table = or_(Participant.user_id.in_(list(users)), Participant.contact_id.in_(list(contacts)))
    for meeting, user_id, contact_id in session.execute(
        select(Meeting, Participant.user_id, Participant.contact_id)
        .join(Participant, Participant.meeting_id == Meeting.id)
        .where(
            at_table,
            Meeting.starts_at < end,
            Meeting.ends_at > start,
            or_(Meeting.visit_id.is_(None), Meeting.visit_id != visit.id),
            Meeting.status != "cancelled",
        )
    ):
        member_id = users.get(user_id) if user_id else contacts.get(contact_id)
        if member_id is not None:
            conflicts.setdefault(member_id, []).append(
                _("Expected at %(ref)s — %(title)s.", ref=meeting.reference, title=meeting.title)
            )
    return conflicts


# --- programme ---------------------------------------------------------------------------------


@dataclass
class ItemCheck:
    errors: dict[str, str]
    warnings: list[str]


def check_item(visit: Visit, data: dict[str, Any], item_id: int | None = None) -> ItemCheck:
    """What is wrong (refused) or worth a look (warned) with a programme line, as the user types it."""
    errors: dict[str, str] = {}
    warnings: list[str] = []
    day, starts, ends = data.get("day"), data.get("starts_at"), data.get("ends_at")
    if day is None:
        errors["day"] = _("Choose the day.")
    elif not visit.starts_on <= day <= visit.ends_on:
        errors["day"] = _(
            "This day is outside the visit (%(start)s – %(end)s).",
            start=visit.starts_on.isoformat(),
            end=visit.ends_on.isoformat(),
        )
    if starts and ends and ends <= starts:
        errors["ends_at"] = _("The end must be after the start.")
    if not (data.get("activity") or "").strip():
        errors["activity"] = _("Say what happens.")
    if day is not None and starts is not None:
        until = ends or ends_an_hour_later(day, starts)
        for other in visit.items:
            if other.id != item_id and other.overlaps(day, starts, until) and other.starts_at is not None:
                warnings.append(
                    _(
                        "At the same time as “%(activity)s” (%(time)s).",
                        activity=other.activity,
                        time=other.starts_at.strftime("%H:%M"),
                    )
                )
    return ItemCheck(errors, warnings)


def add_item(session: DbSession, visit: Visit, data: dict[str, Any]) -> ProgrammeItem:
    check = check_item(visit, data)
    if check.errors:
        field, message = next(iter(check.errors.items()))
        raise DomainError(message, field=field)
    position = 1 + max((i.position for i in visit.items if i.day == data["day"]), default=0)
    item = ProgrammeItem(
        visit_id=visit.id,
        day=data["day"],
        position=position,
        starts_at=data.get("starts_at"),
        ends_at=data.get("ends_at"),
        place=(data.get("place") or "").strip()[:300],
        activity=data["activity"].strip()[:500],
    )
    visit.items.append(item)
    session.flush()
    return item


def _day_items(visit: Visit, day: date) -> list[ProgrammeItem]:
    return sorted((i for i in visit.items if i.day == day), key=lambda i: i.position)


def move_item(session: DbSession, visit: Visit, item_id: int, offset: int) -> None:
    item = next((i for i in visit.items if i.id == item_id), None)
    if item is None:
        raise DomainError(_("This programme item no longer exists."))
    items = _day_items(visit, item.day)
    index = items.index(item)
    target = index + offset
    if 0 <= target < len(items):
        items[index], items[target] = items[target], items[index]
        for position, line in enumerate(items, start=1):
            line.position = position
    session.flush()


def remove_item(session: DbSession, visit: Visit, item_id: int) -> None:
    item = next((i for i in visit.items if i.id == item_id), None)
    if item is None:
        raise DomainError(_("This programme item no longer exists."))
    visit.items.remove(item)
    session.delete(item)
    session.flush()


def meeting_from_item_id(session: DbSession, visit: Visit, item_id: int, actor: User) -> Meeting:
    item = next((i for i in visit.items if i.id == item_id), None)
    if item is None:
        raise DomainError(_("This programme item no longer exists."))
    return meeting_from_item(session, visit, item, actor)


def meeting_from_item(session: DbSession, visit: Visit, item: ProgrammeItem, actor: User) -> Meeting:
    """One click: the programme line becomes a meeting of the visit, the whole delegation at the table.

    Each member sits on their side: our users and the people of an AES institution on that institution's
    side, the others on the partner's side for the organisation where they hold a post (added to the
    meeting). The head of the delegation chairs their side.
    """
    if item.meeting_id is not None:
        raise DomainError(_("This programme item already has its meeting."))
    starts = datetime.combine(item.day, item.starts_at or time(9, 0))
    ends = datetime.combine(item.day, item.ends_at) if item.ends_at else starts + timedelta(hours=1)
    posts = _members_posts(session, visit, item.day)
    partner_orgs = list(dict.fromkeys(org for org, inst in posts.values() if org and inst is None))
    parties = {visit.owner_institution_id} | {m.institution_id for m in visit.members if m.institution_id}
    multilateral = len(parties) + len(partner_orgs) > 2
    meeting = meetings.save_meeting(
        session,
        {
            "title": item.activity,
            "kind": "multilateral" if multilateral else "bilateral",
            "starts_at": starts,
            "ends_at": ends,
            "timezone": visit.timezone,
            "place": item.place or visit.city,
            "confidentiality": visit.confidentiality,
            "sharing": visit.sharing,
            "status": "planned",
            "notes": "",
            "organisation_ids": partner_orgs,
        },
        actor,
    )
    meeting.visit_id, meeting.event_id = visit.id, visit.event_id
    for member in visit.members:
        role = ParticipantRole.CHAIR if member.role == MemberRole.HEAD else ParticipantRole.MEMBER
        if member.user_id == actor.id:
            continue  # already at the table as the meeting's author
        if member.user_id:
            meetings.add_participant(session, meeting, user_id=member.user_id, role=role)
        elif member.contact_id and posts.get(member.contact_id, (None, None))[0]:
            organisation_id = posts[member.contact_id][0]
            meetings.add_participant(
                session, meeting, contact_id=member.contact_id, organisation_id=organisation_id, role=role
            )
    item.meeting_id = meeting.id
    session.flush()
    return meeting


def _members_posts(session: DbSession, visit: Visit, day: date) -> dict[int, tuple[int | None, int | None]]:
    """For each contact of the delegation: the organisation they represent on that day, and its institution."""
    sides = institutions.institution_sides(session)
    contact_ids = [m.contact_id for m in visit.members if m.contact_id]
    posts: dict[int, tuple[int | None, int | None]] = {}
    for position in session.scalars(select(Position).where(Position.contact_id.in_(contact_ids))):
        if not position.held_on(day):
            continue
        organisation_id = position.organisation_id
        current = posts.get(position.contact_id)
        # A post in an institution wins (a minister travels for her ministry, not for a board she sits on).
        if current is None or (current[1] is None and organisation_id in sides):
            posts[position.contact_id] = (organisation_id, sides.get(organisation_id))
    return posts
