"""Business rules of commitments: who owes what to whom, by when, and whether it was kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from difflib import SequenceMatcher
from typing import Any

from blinker import Namespace
from sqlalchemy import ColumnElement, Date, Select, and_, bindparam, case, func, or_, select, union_all, update
from sqlalchemy.orm import aliased, joinedload, selectinload

from crm.auth.models import Role, User
from crm.auth.permissions import reader_key
from crm.commitments.models import (
    Commitment,
    CommitmentStatus,
    CommitmentUpdate,
    OwedBy,
    Priority,
)
from crm.core import confidentiality, fulltext
from crm.core.confidentiality import Sharing
from crm.db import DbSession, check_version
from crm.errors import DomainError, Forbidden
from crm.i18n import gettext as _
from crm.meetings import services as meetings
from crm.meetings.models import AgendaItem, Meeting, MinutesRevision, Participant
from crm.pagination import Page, filter_values, keyset_page
from crm.partners import institutions
from crm.partners.models import Contact, Institution, Organisation, Position
from crm.references import next_reference
from crm.visits import services as visits
from crm.visits.models import Visit

REFERENCE_PREFIX = "ENG"

# What other domains hear about: a commitment was given to a (new) responsible officer (sender: the commitment;
# actor=, previous_id=).
signals = Namespace()
responsible_changed = signals.signal("commitment-responsible-changed")
ACTIVE = (CommitmentStatus.OPEN, CommitmentStatus.IN_PROGRESS, CommitmentStatus.BLOCKED)


# --- following the meetings they come from ------------------------------------------------------


@meetings.meeting_saved.connect
def _follow_meeting(meeting: Meeting, session: DbSession, **_extra: Any) -> None:
    """Commitments carry their meeting's confidentiality and sharing, so their lists filter on their own row."""
    session.execute(
        update(Commitment)
        .where(
            Commitment.origin_meeting_id == meeting.id,
            or_(Commitment.limited != meeting.is_limited, Commitment.sharing != meeting.sharing),
        )
        .values(limited=meeting.is_limited, sharing=meeting.sharing)
        .execution_options(synchronize_session=False)
    )


@meetings.item_removing.connect
def _keep_items_with_commitments(item: AgendaItem, session: DbSession, **_extra: Any) -> None:
    if session.scalar(select(Commitment.id).where(Commitment.origin_item_id == item.id).limit(1)) is not None:
        raise DomainError(_("A commitment comes from this item: it cannot be removed."))


def owned_clause(institution_id: int) -> ColumnElement[bool]:
    """Tracked by this institution, or coming from a meeting or a visit it holds (joint ones included)."""
    return or_(
        Commitment.owner_institution_id == institution_id,
        and_(
            Commitment.origin_meeting_id.is_not(None),
            meetings.co_owned_clause(institution_id, Commitment.origin_meeting_id),
        ),
        and_(
            Commitment.origin_visit_id.is_not(None),
            visits.co_owned_clause(institution_id, Commitment.origin_visit_id),
        ),
    )


def visible_clause(user: User) -> ColumnElement[bool]:
    """Who sees a commitment: as for its origin (confidentiality and sharing are copied onto its own row).
    Built once per reader."""
    return visible_to(user.id, user.institution_id, user.can(Role.ADMIN))


@confidentiality.per_reader
def visible_to(user_id: int, institution_id: int, admin: bool) -> ColumnElement[bool]:
    """``visible_clause`` for a reader given as (user id, institution, admin or not)."""
    return confidentiality.visible_clause(
        owned=owned_clause(institution_id),
        sharing=Commitment.sharing,
        limited=Commitment.limited.is_(True),
        taking_part=or_(
            meetings.is_participant_clause(user_id, Commitment.origin_meeting_id),
            visits.is_member_clause(user_id, Commitment.origin_visit_id),
        ),
        admin=admin,
    )


def with_people(stmt):
    return stmt.options(
        joinedload(Commitment.responsible),
        joinedload(Commitment.organisation),
        joinedload(Commitment.contact),
        joinedload(Commitment.institution),
    )


def with_names(stmt):
    """``with_people`` for a list: of each person or body, only the fields a row shows (their other columns,
    a user's among them, are neither read nor turned into attributes)."""
    return stmt.options(
        joinedload(Commitment.responsible).load_only(User.name, raiseload=True),
        joinedload(Commitment.organisation).load_only(Organisation.acronym, Organisation.name, raiseload=True),
        joinedload(Commitment.contact).load_only(
            Contact.honorific, Contact.given_name, Contact.family_name, raiseload=True
        ),
        joinedload(Commitment.institution).load_only(Institution.short_name, raiseload=True),
    )


@dataclass(slots=True)
class CommitmentRow:
    """A commitment as a list's row shows it: a few of its columns and the names of the bodies and people it
    names (read as columns: no ORM object is built for a row)."""

    id: int
    reference: str
    title: str
    owed_by: OwedBy
    status: CommitmentStatus
    closed: bool
    due_date: date | None
    version: int
    organisation: str | None  # acronym, else name
    contact: str | None  # as Contact.display_name
    institution: str | None  # the owing institution's short name
    responsible: str | None

    def is_overdue(self, today: date) -> bool:
        return not self.closed and self.due_date is not None and self.due_date < today

    @property
    def owed_by_name(self) -> str:
        """As the ``owed_by`` macro: which of the institutions, or the partner (named)."""
        if self.owed_by == OwedBy.OURS and self.institution:
            return self.institution
        return self.organisation or self.owed_by.label


def row_columns(stmt: Select[Any]) -> Select[Any]:
    """``stmt`` (a select of nothing yet) selecting a ``CommitmentRow``'s columns, and the list's order."""
    responsible, owing = aliased(User), aliased(Institution)
    return (
        stmt.add_columns(
            Commitment.id,
            Commitment.reference,
            Commitment.title,
            Commitment.owed_by,
            Commitment.status,
            Commitment.closed,
            Commitment.due_date,
            Commitment.version,
            Organisation.acronym,
            Organisation.name,
            Contact.honorific,
            Contact.given_name,
            Contact.family_name,
            Contact.id.label("contact_id"),
            owing.short_name,
            responsible.name.label("responsible"),
            Commitment.due_key,
        )
        .select_from(Commitment)
        .outerjoin(Organisation, Organisation.id == Commitment.organisation_id)
        .outerjoin(Contact, Contact.id == Commitment.contact_id)
        .outerjoin(owing, owing.id == Commitment.institution_id)
        .outerjoin(responsible, responsible.id == Commitment.responsible_id)
    )


def make_row(row: Any) -> CommitmentRow:
    (id_, reference, title, owed_by, status, closed, due_date, version, acronym, name) = row[:10]
    honorific, given, family, contact_id, institution, responsible = row[10:16]
    contact = " ".join(p for p in (honorific, " ".join(p for p in (given, family) if p)) if p)
    return CommitmentRow(
        id_,
        reference,
        title,
        owed_by,
        status,
        closed,
        due_date,
        version,
        (acronym or name) if name is not None else None,
        contact if contact_id is not None else None,
        institution,
        responsible,
    )


def commitment_row(session: DbSession, commitment_id: int, user: User) -> CommitmentRow | None:
    """One commitment as the list shows it (the row an inline change sends back), if the reader sees it."""
    row = session.execute(row_columns(select()).where(Commitment.id == commitment_id, visible_clause(user))).first()
    return make_row(row) if row is not None else None


def visible_commitment(
    session: DbSession, commitment_id: int, user: User, *, detail: bool = False
) -> Commitment | None:
    stmt = select(Commitment).where(Commitment.id == commitment_id, visible_clause(user))
    if detail:
        stmt = with_people(stmt).options(
            joinedload(Commitment.origin_meeting),
            joinedload(Commitment.origin_item),
            selectinload(Commitment.updates).joinedload(CommitmentUpdate.author),
        )
    return session.scalars(stmt).first()


# --- saving ------------------------------------------------------------------------------------


FIELDS = (
    "title",
    "details",
    "owed_by",
    "institution_id",
    "responsible_id",
    "contact_id",
    "organisation_id",
    "due_date",
    "priority",
)


def _check_people(session: DbSession, data: dict[str, Any], meeting: Meeting | None) -> None:
    if data.get("owed_by") not in set(OwedBy) or data.get("priority", Priority.NORMAL) not in set(Priority):
        raise DomainError(_("Choose a value from the list."), field="owed_by")
    responsible_id = data.get("responsible_id")
    if responsible_id is not None:
        user = session.get(User, responsible_id)
        if user is None or not user.active:
            raise DomainError(_("Unknown or inactive user."), field="responsible_id")
        limited = meeting is not None and meeting.is_limited and not user.can(Role.ADMIN)
        if limited and meeting and not session.scalar(select(meetings.is_participant_clause(user.id, meeting.id))):
            raise DomainError(
                _("The responsible officer must be a participant of this restricted meeting."),
                field="responsible_id",
            )
    if data.get("contact_id") is not None and session.get(Contact, data["contact_id"]) is None:
        raise DomainError(_("Unknown contact."), field="contact_id")
    if data.get("organisation_id") is not None and session.get(Organisation, data["organisation_id"]) is None:
        raise DomainError(_("Unknown organisation."), field="organisation_id")


def _origin(
    session: DbSession, actor: User, meeting_id: int | None, item_id: int | None
) -> tuple[Meeting | None, AgendaItem | None]:
    if meeting_id is None:
        return None, None
    meeting = meetings.visible_meeting(session, meeting_id, actor)
    if meeting is None:
        raise DomainError(_("The meeting this commitment comes from does not exist."), field="origin_meeting_id")
    meetings.check_editable(session, meeting, actor)
    item = None
    if item_id is not None:
        item = session.scalar(
            select(AgendaItem)
            .join(MinutesRevision, MinutesRevision.id == AgendaItem.revision_id)
            .where(AgendaItem.id == item_id, MinutesRevision.meeting_id == meeting.id)
        )
        if item is None:
            raise DomainError(_("This agenda item is not part of the meeting's minutes."), field="origin_item_id")
    return meeting, item


def create_commitment(session: DbSession, data: dict[str, Any], actor: User) -> Commitment:
    """A new commitment, from a meeting's decision (origin given) or on its own."""
    meeting, item = _origin(session, actor, data.get("origin_meeting_id"), data.get("origin_item_id"))
    visit = None
    if data.get("origin_visit_id") is not None:
        if meeting is not None:
            raise DomainError(
                _("A commitment comes from a meeting or from a visit, not both."), field="origin_visit_id"
            )
        visit = visits.visible_visit(session, data["origin_visit_id"], actor)
        if visit is None:
            raise DomainError(_("The visit this commitment comes from does not exist."), field="origin_visit_id")
        visits.check_editable(session, visit, actor)
    _check_people(session, data, meeting)
    data = {**data, "institution_id": _owing_institution(session, data, actor, meeting, visit)}
    year = (meeting.local_date if meeting else visit.ends_on if visit else date.today()).year
    owner = institutions.get(session, actor.institution_id)
    origin = meeting or visit
    commitment = Commitment(
        reference=next_reference(session, f"{owner.code}-{REFERENCE_PREFIX}", year),
        status=CommitmentStatus.OPEN,
        origin_meeting_id=meeting.id if meeting else None,
        origin_item_id=item.id if item else None,
        origin_decision=(data.get("origin_decision") or "").strip()[:1000] if item else "",
        origin_visit_id=visit.id if visit else None,
        limited=bool(origin and origin.is_limited),
        owner_institution_id=owner.id,
        # From a meeting or a visit: shared as it is. On its own: as the form says.
        sharing=origin.sharing if origin else Sharing.parse(data.get("sharing")) or Sharing.INSTITUTION,
        created_by_id=actor.id,
    )
    _apply(commitment, data)
    commitment.refresh_keys()
    session.add(commitment)
    session.flush()
    session.add(CommitmentUpdate(commitment_id=commitment.id, author_id=actor.id, new_status=commitment.status))
    session.flush()
    if commitment.responsible_id is not None:
        responsible_changed.send(commitment, session=session, actor=actor, previous_id=None)
    return commitment


def holding_institutions(session: DbSession, commitment: Commitment) -> list[int]:
    """Who may change a commitment: the institution tracking it, and those holding its meeting or visit."""
    holders = [commitment.owner_institution_id]
    if commitment.origin_meeting_id:
        holders += meetings.co_owners(session, commitment.origin_meeting_id)
    if commitment.origin_visit_id:
        holders += visits.co_owners(session, commitment.origin_visit_id)
    return holders


def check_editable(session: DbSession, commitment: Commitment, user: User) -> None:
    if user.institution_id not in holding_institutions(session, commitment):
        raise Forbidden(
            _(
                "This commitment is shared with your institution for reading: "
                "only the institutions holding it change it."
            )
        )


def owing_choices(session: DbSession, actor: User, meeting: Meeting | None, visit: Visit | None) -> list[int]:
    """Which institutions may owe a commitment: those holding its meeting or visit, or the author's own."""
    if meeting is not None:
        return meetings.co_owners(session, meeting.id)
    if visit is not None:
        return visits.co_owners(session, visit.id)
    return [actor.institution_id]


def _owing_institution(
    session: DbSession, data: dict[str, Any], actor: User, meeting: Meeting | None, visit: Visit | None
) -> int | None:
    """Owed by one of us: by which institution (in joint minutes, perhaps another). Owed by the partner: none."""
    if data.get("owed_by") != OwedBy.OURS:
        return None
    allowed = owing_choices(session, actor, meeting, visit)
    chosen = data.get("institution_id") or (actor.institution_id if actor.institution_id in allowed else allowed[0])
    if chosen not in allowed:
        raise DomainError(_("Choose one of the institutions holding the meeting."), field="institution_id")
    return chosen


def update_commitment(
    session: DbSession, commitment: Commitment, data: dict[str, Any], actor: User, version: int | None
) -> None:
    check_editable(session, commitment, actor)
    check_version(commitment, version)
    meeting = session.get(Meeting, commitment.origin_meeting_id) if commitment.origin_meeting_id else None
    visit = session.get(Visit, commitment.origin_visit_id) if commitment.origin_visit_id else None
    _check_people(session, data, meeting)
    data = {**data, "institution_id": _owing_institution(session, data, actor, meeting, visit)}
    if meeting is None and visit is None and Sharing.parse(data.get("sharing")):
        commitment.sharing = Sharing(data["sharing"])
    previous_id = commitment.responsible_id
    _apply(commitment, data)
    commitment.refresh_keys()
    session.flush()
    if commitment.responsible_id is not None and commitment.responsible_id != previous_id:
        responsible_changed.send(commitment, session=session, actor=actor, previous_id=previous_id)


def _apply(commitment: Commitment, data: dict[str, Any]) -> None:
    for name in FIELDS:
        if name in data:
            value = data[name]
            setattr(commitment, name, value.strip() if isinstance(value, str) else value)


def change_status(
    session: DbSession,
    commitment: Commitment,
    new_status: str,
    note: str,
    actor: User,
    version: int | None,
    *,
    today: date | None = None,
) -> CommitmentUpdate:
    """Move a commitment along, always with a note; "done" records the outcome and the day it was kept."""
    check_editable(session, commitment, actor)
    check_version(commitment, version)
    if new_status not in set(CommitmentStatus):
        raise DomainError(_("Choose a status from the list."), field="status")
    note = (note or "").strip()
    if not note:
        raise DomainError(_("Say in a few words what changed."), field="note")
    if len(note) > 5000:
        raise DomainError(_("This text is too long (%(max)s characters at most).", max=5000), field="note")
    old = commitment.status
    if new_status == CommitmentStatus.DONE and old != CommitmentStatus.DONE:
        commitment.completed_on = today or date.today()
        commitment.outcome = note
    elif new_status != CommitmentStatus.DONE:
        commitment.completed_on = None
    commitment.status = CommitmentStatus(new_status)
    commitment.refresh_keys()
    entry = CommitmentUpdate(
        commitment_id=commitment.id,
        author_id=actor.id,
        old_status=old if old != new_status else None,
        new_status=new_status if old != new_status else None,
        note=note,
    )
    session.add(entry)
    session.flush()
    return entry


def reassign(session: DbSession, from_user_id: int, to_user_id: int, actor: User) -> tuple[int, list[Commitment]]:
    """Hand every open commitment of one officer to another. Returns (moved, kept back).

    A commitment from a restricted meeting the new officer does not take part in stays where it was.
    """
    target = session.get(User, to_user_id)
    if target is None or not target.active or target.institution_id != actor.institution_id:
        raise DomainError(_("Unknown or inactive user."), field="to_user")
    if from_user_id == to_user_id:
        raise DomainError(_("Choose two different people."), field="to_user")
    rows = list(
        session.scalars(
            select(Commitment)
            .where(
                Commitment.responsible_id == from_user_id,
                Commitment.closed.is_(False),
                Commitment.owner_institution_id == actor.institution_id,
                visible_clause(actor),
            )
            .order_by(Commitment.id)
        )
    )
    allowed = set(
        session.scalars(select(Commitment.id).where(Commitment.id.in_([c.id for c in rows]), visible_clause(target)))
    )
    moved, kept = 0, []
    for commitment in rows:
        if commitment.id not in allowed:
            kept.append(commitment)
            continue
        commitment.responsible_id = to_user_id
        responsible_changed.send(commitment, session=session, actor=actor, previous_id=from_user_id)
        session.add(
            CommitmentUpdate(
                commitment_id=commitment.id,
                author_id=actor.id,
                note=_("Reassigned to %(name)s.", name=target.name),
            )
        )
        moved += 1
    session.flush()
    return moved, kept


# --- reading -----------------------------------------------------------------------------------


@dataclass
class CommitmentFilters:
    q: str = ""
    status: str = "active"  # active | closed | all | one status
    owed_by: str = ""
    organisation_id: int | None = None
    responsible_id: int | None = None
    overdue: bool = False
    mine: bool = False


def list_commitments(
    session: DbSession,
    user: User,
    filters: CommitmentFilters,
    *,
    cursor: str | None,
    size: int,
    today: date,
    names_only: bool = False,
) -> Page:
    """Open ones first, soonest due first (so overdue ones lead), then the closed ones. ``names_only``: rows of
    what the list page shows (``CommitmentRow``); exports and reports read the commitments whole."""
    capped = False
    ids: list[int] | None = None
    if filters.q.strip():
        ids, capped = fulltext.matching_ids(session, "commitment", filters.q)

    def build() -> Select[Any]:
        stmt = (row_columns(select()) if names_only else with_people(select(Commitment))).where(visible_clause(user))
        if ids is not None:
            stmt = stmt.where(Commitment.id.in_(ids))
        if filters.status == "active":
            stmt = stmt.where(Commitment.closed.is_(False))
        elif filters.status == "closed":
            stmt = stmt.where(Commitment.closed.is_(True))
        elif filters.status in set(CommitmentStatus):
            stmt = stmt.where(Commitment.status == filters.status)
        if filters.owed_by in set(OwedBy):
            stmt = stmt.where(Commitment.owed_by == filters.owed_by)
        if filters.organisation_id:
            stmt = stmt.where(Commitment.organisation_id == filters.organisation_id)
        if filters.mine:
            stmt = stmt.where(Commitment.responsible_id == user.id)
        elif filters.responsible_id:
            stmt = stmt.where(Commitment.responsible_id == filters.responsible_id)
        if filters.overdue:
            stmt = stmt.where(Commitment.closed.is_(False), Commitment.due_key < bindparam("today", type_=Date))
        return stmt

    # A search's ids make each statement its own; any other is the same for the reader and filters.
    shape = None if ids is not None else ("commitments", *reader_key(user), filter_values(filters), names_only)
    return keyset_page(
        session,
        build,
        [Commitment.closed, Commitment.due_key, Commitment.id],
        cursor=cursor,
        size=size,
        capped=capped,
        shape=shape,
        params={"today": today} if filters.overdue else None,
        make=make_row if names_only else None,
    )


def for_visit(session: DbSession, visit_id: int, user: User) -> list[Commitment]:
    return list(
        session.scalars(
            with_people(select(Commitment))
            .where(Commitment.origin_visit_id == visit_id, visible_clause(user))
            .order_by(Commitment.id)
        )
    )


def for_meeting(session: DbSession, meeting_id: int, user: User) -> list[Commitment]:
    stmt = _for_meeting_statement(user.id, user.institution_id, user.can(Role.ADMIN))
    return list(session.scalars(stmt, {"meeting_id": meeting_id}))


@confidentiality.per_reader
def _for_meeting_statement(user_id: int, institution_id: int, admin: bool) -> Select[Any]:
    """Built once per reader (the meeting's id is its parameter)."""
    return (
        with_people(select(Commitment))
        .where(Commitment.origin_meeting_id == bindparam("meeting_id"), visible_to(user_id, institution_id, admin))
        .order_by(Commitment.id)
    )


def due_between(session: DbSession, user: User, first: date, end: date, limit: int = 500) -> list[Commitment]:
    """Open commitments falling due from ``first`` (included) to ``end`` (excluded): calendars show them."""
    return list(
        session.scalars(
            select(Commitment)
            .options(joinedload(Commitment.organisation))
            .where(
                visible_clause(user),
                Commitment.closed.is_(False),
                Commitment.due_key >= first,
                Commitment.due_key < end,
            )
            .order_by(Commitment.due_key, Commitment.id)
            .limit(limit)
        )
    )


@dataclass
class Decided:
    """The commitments made from a decision (several when it binds several institutions); ``was`` the
    decision's wording when they were made, when it has changed since."""

    commitments: list[Commitment]
    was: str = ""


SIMILAR = 0.5  # how alike a reworded decision and its earlier wording must be to stay the same decision


def decided_in(
    session: DbSession, meeting_id: int, user: User, items: list[AgendaItem]
) -> dict[tuple[int, int], Decided]:
    """For each decision of these agenda items, (item id, line) → the commitments made from it.

    A decision keeps its commitments across amendments: a commitment remembers the item it came from (an
    amended item descends from it) and the decision's wording then. Within an item, the same wording is the
    same decision; failing that, the most alike remaining wording, when alike enough, is the same decision
    reworded. Commitments made before decisions were tracked match by their title.
    """
    rows = session.execute(
        select(Commitment, func.coalesce(AgendaItem.origin_id, AgendaItem.id))
        .outerjoin(AgendaItem, AgendaItem.id == Commitment.origin_item_id)
        .where(Commitment.origin_meeting_id == meeting_id, visible_clause(user))
        .order_by(Commitment.id)
    ).all()
    by_lineage: dict[int | None, dict[str, list[Commitment]]] = {}
    for commitment, lineage in rows:
        wording = commitment.origin_decision or commitment.title
        by_lineage.setdefault(lineage, {}).setdefault(wording, []).append(commitment)
    loose = by_lineage.pop(None, {})
    found: dict[tuple[int, int], Decided] = {}
    for item in items:
        pool = dict(by_lineage.get(item.lineage, {}))
        waiting = []
        for line, text in enumerate(item.decision_list):
            if text in pool:
                found[(item.id, line)] = Decided(pool.pop(text))
            elif text in loose:
                found[(item.id, line)] = Decided(loose.pop(text))
            else:
                waiting.append((line, text))
        pairs = sorted(
            (
                (SequenceMatcher(None, text, wording).ratio(), line, wording)
                for line, text in waiting
                for wording in pool
            ),
            key=lambda pair: -pair[0],
        )
        for ratio, line, wording in pairs:
            if ratio < SIMILAR:
                break
            if (item.id, line) not in found and wording in pool:
                found[(item.id, line)] = Decided(pool.pop(wording), wording)
    return found


def review(
    session: DbSession, meeting: Meeting, user: User, limit: int = 25
) -> tuple[list[Commitment], list[Commitment]]:
    """carry_forward and for_meeting in one statement (the meeting page shows both): (carried, arising)."""
    org_ids = [link.organisation_id for link in meeting.organisations]
    reader = (user.id, user.institution_id, user.can(Role.ADMIN))
    stmt = _review_with_partners(*reader) if org_ids else _review_alone(*reader)
    params = {"meeting_id": meeting.id, "org_ids": org_ids, "limit": limit} if org_ids else {"meeting_id": meeting.id}
    rows = list(session.scalars(stmt, params))
    mine = sorted((c for c in rows if c.origin_meeting_id == meeting.id), key=lambda c: c.id)
    others = sorted((c for c in rows if c.origin_meeting_id != meeting.id), key=lambda c: (c.due_key, c.id))
    return others, mine


# The review's statement, built once per reader (meeting, partners and limit are its parameters): building it
# cost more than running it.


@confidentiality.per_reader
def _review_alone(user_id: int, institution_id: int, admin: bool) -> Select[Any]:
    return _review(_arising(), user_id, institution_id, admin)


@confidentiality.per_reader
def _review_with_partners(user_id: int, institution_id: int, admin: bool) -> Select[Any]:
    carried = (
        select(Commitment.id)
        .where(
            Commitment.organisation_id.in_(bindparam("org_ids", expanding=True)),
            Commitment.closed.is_(False),
            or_(Commitment.origin_meeting_id.is_(None), Commitment.origin_meeting_id != bindparam("meeting_id")),
        )
        .order_by(Commitment.due_key, Commitment.id)
        .limit(bindparam("limit"))
    )
    return _review(union_all(_arising(), select(carried.subquery().c.id)), user_id, institution_id, admin)


def _arising() -> Select[Any]:
    return select(Commitment.id).where(Commitment.origin_meeting_id == bindparam("meeting_id"))


def _review(ids: Any, user_id: int, institution_id: int, admin: bool) -> Select[Any]:
    # The meeting page's tables show a name of each person or body: with_names, not with_people.
    return with_names(select(Commitment)).where(Commitment.id.in_(ids), visible_to(user_id, institution_id, admin))


@dataclass
class Promises:
    on_time: int = 0
    late: int = 0
    open: int = 0
    overdue: int = 0

    @property
    def on_time_percent(self) -> int | None:
        """Share of the promises that came due (kept, or overdue) that were kept on time."""
        due = self.on_time + self.late + self.overdue
        return round(100 * self.on_time / due) if due else None


@dataclass
class PromiseFigures:
    ours: Promises = field(default_factory=Promises)
    partner: Promises = field(default_factory=Promises)


def promise_figures_by_institution(
    session: DbSession, organisation_id: int, user: User, today: date
) -> dict[int, PromiseFigures]:
    """For each institution, as far as the reader may see: the promises it made to this partner (ours) and
    the partner's promises to it. Kept on time, kept late, open, overdue; cancelled ones do not count."""
    kept_late = (Commitment.due_date.is_not(None)) & (Commitment.completed_on > Commitment.due_date)
    overdue = Commitment.due_date.is_not(None) & (Commitment.due_date < today)
    institution = case(
        (Commitment.owed_by == OwedBy.OURS.value, Commitment.institution_id), else_=Commitment.owner_institution_id
    )
    rows = session.execute(
        select(
            institution.label("institution"),
            Commitment.owed_by,
            Commitment.status,
            kept_late.label("late"),
            overdue.label("overdue"),
            func.count(),
        )
        .where(
            Commitment.organisation_id == organisation_id,
            Commitment.status != CommitmentStatus.CANCELLED,
            visible_clause(user),
        )
        .group_by("institution", Commitment.owed_by, Commitment.status, "late", "overdue")
    ).all()
    figures: dict[int, PromiseFigures] = {}
    for institution_id, owed_by, status, late, is_overdue, count in rows:
        both = figures.setdefault(institution_id, PromiseFigures())
        side = both.ours if owed_by == OwedBy.OURS else both.partner
        if status == CommitmentStatus.DONE:
            if late:
                side.late += count
            else:
                side.on_time += count
        elif is_overdue:
            side.overdue += count
        else:
            side.open += count
    return figures


def promise_figures(session: DbSession, organisation_id: int, user: User, today: date) -> PromiseFigures:
    """The reader's institution's figures with a partner (empty when there is nothing it may see)."""
    return promise_figures_by_institution(session, organisation_id, user, today).get(
        user.institution_id, PromiseFigures()
    )


# --- the form's choices ------------------------------------------------------------------------


def contact_choices(session: DbSession, organisation_ids: list[int], meeting_id: int | None) -> list[tuple[int, str]]:
    """The partner's people: the origin meeting's partner side, then current holders of a post there."""
    people: dict[int, str] = {}
    if meeting_id:
        for contact in session.scalars(
            select(Contact)
            .join(Participant, Participant.contact_id == Contact.id)
            .where(Participant.meeting_id == meeting_id, Participant.side == "partner")
        ):
            people[contact.id] = contact.display_name
    if organisation_ids:
        today = date.today()
        for contact in session.scalars(
            select(Contact)
            .join(Position, Position.contact_id == Contact.id)
            .where(
                Position.organisation_id.in_(organisation_ids),
                (Position.end_date.is_(None)) | (Position.end_date >= today),
            )
            .order_by(Contact.sort_key)
            .limit(200)
        ):
            people.setdefault(contact.id, contact.display_name)
    return list(people.items())


def first_partner(session: DbSession, meeting_id: int) -> int | None:
    """The meeting's first partner organisation: where a commitment from it most likely goes."""
    ids = meetings.organisation_ids(session, meeting_id)
    return ids[0] if ids else None
