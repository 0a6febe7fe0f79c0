"""One search over everything: what each record puts in the index, the listener that keeps it in step, the
search itself (visibility applied in SQL), and the snippets.

The index (``core.fulltext.SearchEntry``) is written by one session listener, after each flush, on the
flush's own connection: the entries of every record the flush created, changed or deleted are rewritten in
the same transaction. A rollback takes them back with the records; ``flask search rebuild`` writes them all
again (after a bulk load, or an upgrade).
"""

from __future__ import annotations

import base64
import json
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    delete,
    event,
    exists,
    insert,
    inspect,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from crm.auth.models import Role, User
from crm.auth.permissions import reader_key
from crm.commitments import services as commitments
from crm.commitments.models import Commitment, CommitmentUpdate
from crm.core import confidentiality
from crm.core.fulltext import (
    WIDER,
    Reading,
    SearchEntry,
    candidates_union,
    compact,
    fold,
    pg_query,
    query_words,
    title_holds,
)
from crm.db import DbSession, search_key
from crm.documents.models import Attachment
from crm.i18n import lazy_gettext as _l
from crm.meetings import services as meetings
from crm.meetings.models import AgendaItem, Meeting, MeetingOrganisation, MinutesRevision
from crm.partners.models import Contact, Organisation, Position
from crm.visits import services as visits
from crm.visits.models import Event, Visit

# The kinds, in the order the results page shows them, with their headings.
KINDS: dict[str, Any] = {
    "organisation": _l("Organisations"),
    "contact": _l("Contacts"),
    "meeting": _l("Meetings"),
    "commitment": _l("Commitments"),
    "visit": _l("Visits"),
    "event": _l("Events"),
    "attachment": _l("Files"),
}
BATCH = 500
BODY_LIMIT = 20_000


# --- what each record puts in the index -------------------------------------------------------------


def _entry(
    kind: str,
    record_id: int,
    title: str,
    *,
    detail: str = "",
    body: Iterable[str | None] = (),
    guard: tuple[str, int | None] = ("", None),
    archived: bool = False,
) -> dict[str, Any]:
    text = "\n".join(part.strip() for part in body if part and part.strip())[:BODY_LIMIT]
    return {
        "kind": kind,
        "record_id": record_id,
        "guard_kind": guard[0],
        "guard_id": guard[1],
        "title": title[:600],
        "detail": detail[:300],
        "body": text,
        "archived": archived,
        "title_key": fold(title)[:600],
        "terms": fold(title, detail, text),
    }


def _organisations(conn: Connection, ids: list[int]) -> Iterator[dict[str, Any]]:
    rows = conn.execute(
        select(
            Organisation.id,
            Organisation.name,
            Organisation.acronym,
            Organisation.city,
            Organisation.email,
            Organisation.website,
            Organisation.notes,
            Organisation.archived_at,
            Organisation.country_code,
        ).where(Organisation.id.in_(ids))
    )
    for r in rows:
        yield _entry(
            "organisation",
            r.id,
            r.name,
            detail=" · ".join(p for p in (r.acronym, r.city, r.country_code) if p),
            body=(r.email, r.website, r.notes),
            archived=r.archived_at is not None,
        )


def _contacts(conn: Connection, ids: list[int]) -> Iterator[dict[str, Any]]:
    posts: dict[int, list[str]] = defaultdict(list)
    for contact_id, title, org in conn.execute(
        select(Position.contact_id, Position.title, Organisation.name)
        .join(Organisation, Organisation.id == Position.organisation_id)
        .where(Position.contact_id.in_(ids))
        .order_by(Position.end_date.is_not(None), Position.id.desc())
    ):
        posts[contact_id].append(f"{title}, {org}")
    rows = conn.execute(
        select(
            Contact.id,
            Contact.honorific,
            Contact.given_name,
            Contact.family_name,
            Contact.native_name,
            Contact.email,
            Contact.phone,
            Contact.notes,
            Contact.archived_at,
        ).where(Contact.id.in_(ids))
    )
    for r in rows:
        name = " ".join(p for p in (r.honorific, r.given_name, r.family_name) if p)
        yield _entry(
            "contact",
            r.id,
            name,
            detail=r.native_name,
            body=(*posts[r.id], r.email, r.phone, r.notes),
            archived=r.archived_at is not None,
        )


def _meetings(conn: Connection, ids: list[int]) -> Iterator[dict[str, Any]]:
    orgs: dict[int, list[str]] = defaultdict(list)
    for meeting_id, name, acronym in conn.execute(
        select(MeetingOrganisation.meeting_id, Organisation.name, Organisation.acronym)
        .join(Organisation, Organisation.id == MeetingOrganisation.organisation_id)
        .where(MeetingOrganisation.meeting_id.in_(ids))
        .order_by(MeetingOrganisation.id)
    ):
        orgs[meeting_id].append(f"{name} ({acronym})" if acronym and acronym not in name else name)
    # The latest minutes: their summary, and each point's title, discussion and decisions.
    latest = (
        select(MinutesRevision.meeting_id, MinutesRevision.id, MinutesRevision.summary)
        .where(MinutesRevision.meeting_id.in_(ids))
        .order_by(MinutesRevision.meeting_id, MinutesRevision.number.desc())
    )
    minutes: dict[int, list[str]] = {}
    revision_of: dict[int, int] = {}
    for meeting_id, revision_id, summary in conn.execute(latest):
        if meeting_id not in minutes:
            minutes[meeting_id] = [summary]
            revision_of[revision_id] = meeting_id
    if revision_of:
        for revision_id, title, discussion, decisions in conn.execute(
            select(AgendaItem.revision_id, AgendaItem.title, AgendaItem.discussion, AgendaItem.decisions)
            .where(AgendaItem.revision_id.in_(list(revision_of)))
            .order_by(AgendaItem.revision_id, AgendaItem.position)
        ):
            minutes[revision_of[revision_id]] += [title, decisions, discussion]
    rows = conn.execute(
        select(Meeting.id, Meeting.reference, Meeting.title, Meeting.place, Meeting.notes).where(Meeting.id.in_(ids))
    )
    for r in rows:
        yield _entry(
            "meeting",
            r.id,
            r.title,
            detail=r.reference,
            body=(r.place, *orgs[r.id], *minutes.get(r.id, []), r.notes),
            guard=("meeting", r.id),
        )


def _commitments(conn: Connection, ids: list[int]) -> Iterator[dict[str, Any]]:
    notes: dict[int, list[str]] = defaultdict(list)
    for commitment_id, note in conn.execute(
        select(CommitmentUpdate.commitment_id, CommitmentUpdate.note)
        .where(CommitmentUpdate.commitment_id.in_(ids), CommitmentUpdate.note != "")
        .order_by(CommitmentUpdate.id.desc())
    ):
        notes[commitment_id].append(note)
    rows = conn.execute(
        select(
            Commitment.id,
            Commitment.reference,
            Commitment.title,
            Commitment.details,
            Commitment.outcome,
            Commitment.origin_decision,
            Organisation.name,
        )
        .outerjoin(Organisation, Organisation.id == Commitment.organisation_id)
        .where(Commitment.id.in_(ids))
    )
    for r in rows:
        yield _entry(
            "commitment",
            r.id,
            r.title,
            detail=r.reference,
            body=(r.name, r.details, r.origin_decision, r.outcome, *notes[r.id]),
            guard=("commitment", r.id),
        )


def _visits(conn: Connection, ids: list[int]) -> Iterator[dict[str, Any]]:
    rows = conn.execute(
        select(Visit.id, Visit.reference, Visit.title, Visit.city, Visit.purpose, Visit.report).where(Visit.id.in_(ids))
    )
    for r in rows:
        yield _entry(
            "visit", r.id, r.title, detail=r.reference, body=(r.city, r.purpose, r.report), guard=("visit", r.id)
        )


def _events(conn: Connection, ids: list[int]) -> Iterator[dict[str, Any]]:
    rows = conn.execute(
        select(Event.id, Event.name, Event.edition, Event.theme, Event.venue, Event.city, Event.notes).where(
            Event.id.in_(ids)
        )
    )
    for r in rows:
        title = f"{r.name} ({r.edition})" if r.edition else r.name
        yield _entry("event", r.id, title, detail=r.city, body=(r.venue, r.theme, r.notes))


def _attachments(conn: Connection, ids: list[int]) -> Iterator[dict[str, Any]]:
    rows = conn.execute(
        select(
            Attachment.id,
            Attachment.original_name,
            Attachment.description,
            Attachment.meeting_id,
            Attachment.visit_id,
        ).where(Attachment.id.in_(ids))
    )
    for r in rows:
        guard = ("meeting", r.meeting_id) if r.meeting_id else ("visit", r.visit_id)
        yield _entry("attachment", r.id, r.original_name, body=(r.description,), guard=guard)


BUILDERS = {
    "organisation": _organisations,
    "contact": _contacts,
    "meeting": _meetings,
    "commitment": _commitments,
    "visit": _visits,
    "event": _events,
    "attachment": _attachments,
}
SOURCES: dict[str, Any] = {
    "organisation": Organisation,
    "contact": Contact,
    "meeting": Meeting,
    "commitment": Commitment,
    "visit": Visit,
    "event": Event,
    "attachment": Attachment,
}


def reindex(conn: Connection, kind: str, ids: Iterable[int], *, fresh: bool = False) -> None:
    """Rewrite the entries of these records (none for those gone, and none for what they guarded); ``fresh``:
    the index holds none of them (a rebuild), nothing to take out first."""
    wanted = sorted({i for i in ids if i is not None})
    for start in range(0, len(wanted), BATCH):
        chunk = wanted[start : start + BATCH]
        rows = list(BUILDERS[kind](conn, chunk))
        if not fresh:
            conn.execute(delete(SearchEntry).where(SearchEntry.kind == kind, SearchEntry.record_id.in_(chunk)))
            gone = set(chunk) - {row["record_id"] for row in rows}
            if gone:  # a deleted meeting's files went with it (the database cascaded)
                conn.execute(delete(SearchEntry).where(SearchEntry.guard_kind == kind, SearchEntry.guard_id.in_(gone)))
        if rows:
            conn.execute(insert(SearchEntry), rows)


# --- keeping it in step -----------------------------------------------------------------------------


# For each kind of row a flush may write: the record whose entry it changes (kind, id of that record).
TOUCHES: list[tuple[type, str, str]] = [
    (Organisation, "organisation", "id"),
    (Contact, "contact", "id"),
    (Position, "contact", "contact_id"),
    (Meeting, "meeting", "id"),
    (MeetingOrganisation, "meeting", "meeting_id"),
    (MinutesRevision, "meeting", "meeting_id"),
    (AgendaItem, "_revision", "revision_id"),  # its meeting is looked up
    (Commitment, "commitment", "id"),
    (CommitmentUpdate, "commitment", "commitment_id"),
    (Visit, "visit", "id"),
    (Event, "event", "id"),
    (Attachment, "attachment", "id"),
]


def _touched(objects: Iterable[Any]) -> dict[str, set[int]]:
    """The records whose entries a flush of these objects changes."""
    found: dict[str, set[int]] = defaultdict(set)
    for obj in objects:
        for model, kind, attribute in TOUCHES:
            if isinstance(obj, model):
                found[kind].add(getattr(obj, attribute))
                break
    return found


def _renamed(session: Session) -> list[int]:
    """Organisations whose name changed: the meetings and contacts that show it follow."""
    renamed = []
    for obj in session.dirty:
        if isinstance(obj, Organisation) and session.is_modified(obj, include_collections=False):
            state = inspect(obj)
            if any(state.attrs[key].history.has_changes() for key in ("name", "acronym")):
                renamed.append(obj.id)
    return renamed


def _after_flush(session: Session, flush_context: Any) -> None:
    touched = _touched([*session.new, *session.dirty, *session.deleted])
    renamed = _renamed(session)
    if not touched and not renamed:
        return
    conn = session.connection()
    revisions = touched.pop("_revision", set())
    if revisions:
        touched["meeting"].update(
            conn.scalars(select(MinutesRevision.meeting_id).where(MinutesRevision.id.in_(revisions)))
        )
    if renamed:
        touched["meeting"].update(
            conn.scalars(select(MeetingOrganisation.meeting_id).where(MeetingOrganisation.organisation_id.in_(renamed)))
        )
        touched["contact"].update(
            conn.scalars(select(Position.contact_id).where(Position.organisation_id.in_(renamed)))
        )
    for kind in KINDS:
        if touched.get(kind):
            reindex(conn, kind, touched[kind])


def install_listener(session_class: type[Session]) -> None:
    if not event.contains(session_class, "after_flush", _after_flush):
        event.listen(session_class, "after_flush", _after_flush)


def rebuild(session: DbSession, echo: Any = None) -> dict[str, int]:
    """Write every entry again, kind by kind (in the caller's transaction)."""
    return rebuild_on(session.connection(), echo)


def rebuild_on(conn: Connection, echo: Any = None) -> dict[str, int]:
    conn.execute(delete(SearchEntry))
    counts = {}
    for kind, model in SOURCES.items():
        ids = list(conn.scalars(select(model.id).order_by(model.id)))
        reindex(conn, kind, ids, fresh=True)
        counts[kind] = len(ids)
        if echo:
            echo(kind, len(ids))
    compact(conn)
    return counts


# --- searching ----------------------------------------------------------------------------------------


# What guards each kind's entries (none: the directory and the events, seen by everyone).
GUARDS: dict[str, tuple[str, ...]] = {
    "organisation": (),
    "contact": (),
    "event": (),
    "meeting": ("meeting",),
    "commitment": ("commitment",),
    "visit": ("visit",),
    "attachment": ("meeting", "visit"),
}


def visible_entries(user: User, kind: str | None = None) -> Any:
    """An entry is seen when the record guarding it is: the rule of each domain, inside the query (for
    ``kind``: only the rules that can guard its entries). Built once per reader and kind."""
    return _visible_entries(user.id, user.institution_id, user.can(Role.ADMIN), kind)


@confidentiality.per_reader
def _visible_entries(user_id: int, institution_id: int, admin: bool, kind: str | None) -> Any:
    rules: dict[str, tuple[Any, Any]] = {
        "meeting": (Meeting.id, meetings.visible_to),
        "visit": (Visit.id, visits.visible_to),
        "commitment": (Commitment.id, commitments.visible_to),
    }
    guards = GUARDS[kind] if kind else tuple(rules)
    if not guards:
        return true()
    seen = []
    for guard in guards:
        record_id, visible_to = rules[guard]
        rule = visible_to(user_id, institution_id, admin)
        seen.append(
            and_(
                SearchEntry.guard_kind == guard,
                exists(select(record_id).where(record_id == SearchEntry.guard_id, rule)),
            )
        )
    return or_(SearchEntry.guard_kind == "", *seen)


@dataclass
class Hit:
    kind: str
    record_id: int
    title: Markup
    detail: str
    snippet: Markup
    archived: bool
    guard_kind: str
    guard_id: int | None


@dataclass
class Results:
    words: list[str]
    groups: dict[str, list[Hit]]
    more: dict[str, bool]
    next_cursor: str | None = None


COLUMNS = (
    SearchEntry.id,
    SearchEntry.kind,
    SearchEntry.record_id,
    SearchEntry.title,
    SearchEntry.detail,
    SearchEntry.body,
    SearchEntry.archived,
    SearchEntry.guard_kind,
    SearchEntry.guard_id,
)
# The order of results: records in use before archived ones (only the directory archives its records), and in
# each, those whose title holds every word before the others; the newest first inside each stage.
STAGES = ((False, True), (False, False), (True, True), (True, False))  # (archived, in the title)
ARCHIVING = ("organisation", "contact")


def _stages(kind: str | None, first: int = 0) -> list[int]:
    return [s for s in range(first, len(STAGES)) if not STAGES[s][0] or kind in ARCHIVING]


@dataclass(frozen=True)
class _Arm:
    """One read of the index: a stage of one kind (or all), below an entry, so many rows.

    A stage of matches outside the title reads the newest matches and leaves out, here, those whose title
    holds the words (they were the stage before): it reads twice what it shows, so that it still shows enough.
    """

    stage: int
    kind: str
    before: int | None
    limit: int

    @property
    def in_title(self) -> bool:
        return STAGES[self.stage][1]

    @property
    def reads(self) -> int:
        return self.limit if self.in_title else 2 * self.limit


def _read(session: DbSession, user: User, words: list[str], arms: list[_Arm]) -> list[list[Any]]:
    """Each arm's rows, newest first: per part of the index (core.fulltext), one statement for all the arms (on
    PostgreSQL two: the candidates' ids, then the visible ones among them)."""
    reading = Reading(session, {arm.kind for arm in arms})
    plans = [reading.parts(arm.kind) for arm in arms]
    found: list[list[Any]] = [[] for _ in arms]
    read: list[str | None] = [None for _ in arms]  # the last part read of each arm
    recent_candidates: dict[int, int] = {}
    for step in range(3):
        pending = [i for i, plan in enumerate(plans) if step < len(plan) and len(found[i]) < arms[i].reads]
        pending = [
            i
            for i in pending
            if plans[i][step] != WIDER
            or reading.worth_wider(arms[i].kind, recent_candidates.get(i, 0), arms[i].reads - len(found[i]))
        ]
        if not pending:
            continue
        if reading.postgres:
            ids = _candidates(session, reading, words, arms, pending, plans, step, read)
            if step == 0:
                recent_candidates = {i: len(arm_ids) for i, arm_ids in ids.items()}
            for i in pending:
                read[i] = plans[i][step]
            chosen = [i for i in pending if ids.get(i)]
            if chosen:
                shapes = tuple((arms[i].kind, arms[i].stage) for i in chosen)
                params: dict[str, Any] = {}
                for j, i in enumerate(chosen):
                    params |= {f"ids_{j}": ids[i], f"reads_{j}": arms[i].reads}
                for row in session.execute(_among_union(*reader_key(user), shapes), params):
                    found[chosen[row.arm]].append(row)
            continue
        selects = []
        for i in pending:
            arm = arms[i]
            extra = (literal(arm.stage).label("stage"), literal(i).label("arm"))
            stmt = reading.select(
                words, *COLUMNS, *extra, kind=arm.kind, in_title=arm.in_title, before=arm.before, limit=arm.reads
            )
            stmt = stmt.where(visible_entries(user, arm.kind), SearchEntry.archived.is_(STAGES[arm.stage][0]))
            selects.append(select(stmt.subquery()))
        for row in session.execute(union_all(*selects) if len(selects) > 1 else selects[0]):
            found[row.arm].append(row)
    return [sorted(rows, key=lambda row: -row.id)[: arm.reads] for arm, rows in zip(arms, found, strict=True)]


def _candidates(
    session: DbSession,
    reading: Reading,
    words: list[str],
    arms: list[_Arm],
    chosen: list[int],
    plans: list[tuple[str | None, ...]],
    step: int,
    read: list[str | None],
) -> dict[int, list[int]]:
    """PostgreSQL: each chosen arm's candidate ids, in one statement (built once per shape of arms)."""
    shapes = tuple((arms[i].kind, arms[i].in_title, plans[i][step], arms[i].before is not None) for i in chosen)
    params: dict[str, Any] = {"query": pg_query(words, False), "title_query": pg_query(words, True)}
    for j, i in enumerate(chosen):
        part, kind = plans[i][step], arms[i].kind
        below = reading.below(kind, read[i])
        params |= reading.values(j, kind=kind, before=arms[i].before, limit=arms[i].reads, part=part, below=below)
    ids: dict[int, list[int]] = defaultdict(list)
    for entry_id, j in session.execute(candidates_union(shapes), params):
        ids[chosen[j]].append(entry_id)
    return ids


@confidentiality.per_reader
def _among_union(user_id: int, institution_id: int, admin: bool, shapes: tuple[tuple[str, int], ...]) -> Any:
    """PostgreSQL: the visible entries among each arm's candidates (kind, stage), the newest first, as many as
    the arm reads: the ids and the counts are parameters, the statement is built once per reader and shape."""
    selects = []
    for j, (kind, stage) in enumerate(shapes):
        stmt = (
            select(*COLUMNS, literal(stage).label("stage"), literal(j).label("arm"))
            .where(SearchEntry.id.in_(bindparam(f"ids_{j}", expanding=True)))
            .where(_visible_entries(user_id, institution_id, admin, kind), SearchEntry.archived.is_(STAGES[stage][0]))
            .order_by(SearchEntry.id.desc())
            .limit(bindparam(f"reads_{j}", type_=Integer))
        )
        selects.append(select(stmt.subquery()))
    return union_all(*selects) if len(selects) > 1 else selects[0]


def _shown(arm: _Arm, rows: list[Any], words: list[str]) -> list[Any]:
    return rows if arm.in_title else [row for row in rows if not title_holds(words, row.title)]


def _hit(row: Any, words: list[str]) -> Hit:
    return Hit(
        kind=row.kind,
        record_id=row.record_id,
        title=highlight(row.title, words),
        detail=row.detail,
        snippet=snippet(row.body, words),
        archived=row.archived,
        guard_kind=row.guard_kind,
        guard_id=row.guard_id,
    )


def _merged(arms: list[_Arm], found: list[list[Any]], words: list[str], limit: int) -> list[Any]:
    """The arms' rows in the arms' order, each once, at most ``limit``."""
    rows, seen = [], set()
    for arm, arm_rows in zip(arms, found, strict=True):
        for row in _shown(arm, arm_rows, words):
            if row.id not in seen:
                seen.add(row.id)
                rows.append(row)
    return rows[:limit]


def live(session: DbSession, user: User, q: str, limit: int = 8) -> Results:
    """As you type: the best few, whatever their kind, shown grouped."""
    words = query_words(q)
    groups: dict[str, list[Hit]] = {}
    if words:
        # One arm per kind and stage (a kind's newest entries are its own: a rebuild writes kind after kind),
        # then the stages in order, the newest first across kinds.
        arms = [_Arm(stage, kind, None, limit) for kind in KINDS for stage in _stages(kind)]
        found = _read(session, user, words, arms)
        by_stage: dict[int, list[Any]] = defaultdict(list)
        for arm, rows in zip(arms, found, strict=True):
            by_stage[arm.stage] += _shown(arm, rows, words)
        best = [row for stage in sorted(by_stage) for row in sorted(by_stage[stage], key=lambda row: -row.id)]
        for row in _shared(best, limit):
            groups.setdefault(row.kind, []).append(_hit(row, words))
    ordered = {kind: groups[kind] for kind in KINDS if kind in groups}
    return Results(words=words, groups=ordered, more={})


LIVE_PER_KIND = 2  # as you type, each kind found first gets this many places before any kind gets more


def _shared(best: list[Any], limit: int) -> list[Any]:
    """The ``limit`` first of ``best``, but each kind gets its first ``LIVE_PER_KIND`` places before another fills
    the rest: typing a partner's name shows that organisation and its people, not only its newest commitments (the
    most recent rows come first, and meetings and commitments outnumber them)."""
    first: list[Any] = []
    rest: list[Any] = []
    taken: dict[str, int] = defaultdict(int)
    for row in best:
        if taken[row.kind] < LIVE_PER_KIND:
            taken[row.kind] += 1
            first.append(row)
        else:
            rest.append(row)
    chosen = {id(row) for row in first[:limit] + rest[: max(0, limit - len(first))]}
    return [row for row in best if id(row) in chosen]


def overview(session: DbSession, user: User, q: str, per_kind: int = 5) -> Results:
    """The full page: the best of each kind, and whether there is more of it (one statement)."""
    words = query_words(q)
    groups: dict[str, list[Hit]] = {}
    more: dict[str, bool] = {}
    if words:
        arms = {kind: [_Arm(stage, kind, None, per_kind + 1) for stage in _stages(kind)] for kind in KINDS}
        every = [arm for kind_arms in arms.values() for arm in kind_arms]
        found = iter(_read(session, user, words, every))
        for kind, kind_arms in arms.items():
            rows = _merged(kind_arms, [next(found) for _ in kind_arms], words, per_kind + 1)
            if rows:
                groups[kind] = [_hit(row, words) for row in rows[:per_kind]]
                more[kind] = len(rows) > per_kind
    return Results(words=words, groups=groups, more=more)


class BadCursor(ValueError):
    pass


def _encode(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[int, int]:
    try:
        stage, last_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise BadCursor(cursor) from exc
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (stage, last_id)):
        raise BadCursor(cursor)
    if not 0 <= stage < len(STAGES) or not 0 < last_id < 2**31:
        raise BadCursor(cursor)
    return stage, last_id


def one_kind(session: DbSession, user: User, q: str, kind: str, *, cursor: str | None, size: int = 20) -> Results:
    """One kind's results, page by page: each page starts after the last entry seen (its stage, its id).

    A stage of matches outside the title may read a full batch of title matches and show few of them: its
    page then ends there, and the next starts below what it read (a short page, never a lost result).
    """
    words = query_words(q)
    if not words or kind not in KINDS:
        return Results(words=words, groups={}, more={})
    first, before = _decode(cursor) if cursor else (0, None)
    arms = [_Arm(stage, kind, before if stage == first else None, size + 1) for stage in _stages(kind, first)]
    rows: list[Any] = []
    next_cursor = None
    for arm, arm_rows in zip(arms, _read(session, user, words, arms), strict=True):
        shown = [row for row in _shown(arm, arm_rows, words) if row.id not in {r.id for r in rows}]
        rows += shown
        if len(rows) > size:
            rows = rows[:size]
            next_cursor = _encode([rows[-1].stage, rows[-1].id])
            break
        if len(arm_rows) == arm.reads and not arm.in_title:  # read a full batch: more may lie below it
            next_cursor = _encode([arm.stage, arm_rows[-1].id])
            break
    hits = [_hit(row, words) for row in rows]
    return Results(words=words, groups={kind: hits} if hits else {}, more={}, next_cursor=next_cursor)


# --- snippets -----------------------------------------------------------------------------------------

APOSTROPHES = "'’ʼ`´‘"


def _spans(text: str) -> Iterator[tuple[int, int]]:
    """Where the words of ``text`` are (letters, digits and their marks; an apostrophe inside a word keeps it
    whole: N’Diaye is one word, as in the index)."""
    start = None
    for i, ch in enumerate(text):
        inside = ch.isalnum() or (start is not None and (_mark(ch) or ch in APOSTROPHES))
        if inside and start is None:
            start = i
        elif not inside and start is not None:
            yield start, i
            start = None
    if start is not None:
        yield start, len(text)


def _mark(ch: str) -> bool:
    return unicodedata.category(ch).startswith("M")


def _matches(word: str, words: list[str]) -> bool:
    """Whether a word of the text matches: whole ("N’Diaye") or the word it elides ("d’Orange")."""
    forms = {"".join(search_key(word).split()), *fold(word).split()}
    return any(form.startswith(w) for form in forms for w in words)


def highlight(text: str, words: list[str]) -> Markup:
    """``text`` escaped, with the words that match marked."""
    parts: list[Markup | str] = []
    last = 0
    for start, end in _spans(text):
        if _matches(text[start:end].rstrip(APOSTROPHES), words):
            parts += [text[last:start], Markup("<mark>%s</mark>") % text[start:end]]
            last = end
    parts.append(text[last:])
    return Markup("").join(escape(p) for p in parts)


def snippet(text: str, words: list[str], width: int = 160) -> Markup:
    """A short passage of ``text`` around its first match, escaped, the matches marked (empty: no match)."""
    if not text:
        return Markup("")
    first = next((s for s, e in _spans(text) if _matches(text[s:e].rstrip(APOSTROPHES), words)), None)
    if first is None:
        return Markup("")
    begin = max(0, first - width // 3)
    if begin:
        space = text.find(" ", begin, first)
        begin = space + 1 if space != -1 else begin
    end = min(len(text), begin + width)
    if end < len(text):
        space = text.rfind(" ", first, end)
        end = space if space > first else end
    passage = " ".join(text[begin:end].split())
    return (
        (Markup("… ") if begin else Markup(""))
        + highlight(passage, words)
        + (Markup(" …") if end < len(text) else Markup(""))
    )
