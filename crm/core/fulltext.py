"""The search index: one row per searchable record, and the one way to match words against it.

Every domain may read it (the lists' own search boxes ask it for the ids matching their box); it imports no
domain. What goes into it, and when, is ``crm.search.services``: a session listener rewrites the rows of the
records each flush touched, in that flush's transaction, so a rollback or a crash cannot leave the index and
the records apart.

Words are folded in Python before they reach either database (case, accents, apostrophes: "N’Diaye" is
indexed as "ndiaye"), so both engines index the same words and no database extension is needed.

- SQLite: an FTS5 table over ``search_entry`` (external content, kept in step by triggers), ranked by BM25
  with the title ten times heavier than the rest.
- PostgreSQL: a GIN index on the entry's tsvector ('simple' configuration: no stemming, every script),
  ranked title matches first (ts_rank would parse every match's whole text again).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    DDL,
    Boolean,
    ColumnElement,
    Index,
    Integer,
    Select,
    String,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    cast,
    column,
    event,
    func,
    literal,
    literal_column,
    select,
    table,
    union_all,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, DbSession, search_key

MAX_WORDS = 8
WORD = re.compile(r"\w+")


class SearchEntry(Base):
    """A record as the search box sees it. ``guard`` is the record whose visibility applies (none: the
    directory, seen by everyone); the text is kept as written for the snippet, and folded for matching."""

    __tablename__ = "search_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    record_id: Mapped[int] = mapped_column(Integer)
    guard_kind: Mapped[str] = mapped_column(String(20), default="")
    guard_id: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(600))
    detail: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    title_key: Mapped[str] = mapped_column(String(600))
    terms: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("kind", "record_id"),
        Index("ix_search_entry_guard", "guard_kind", "guard_id"),
        Index("ix_search_entry_kind_id", "kind", "id"),
    )


# A word joined by an apostrophe is indexed whole ("N’Diaye": ndiaye) and, after it, as the word it elides
# ("d’Orange", "l’AGETIC": orange, agetic), so that both are found.
ELIDED = re.compile(r"(?<=\w)['’ʼ‘`´](\w+)")


def fold(*texts: str | None) -> str:
    """The words of ``texts`` as both engines index them: folded, separated by single spaces."""
    text = " ".join(t for t in texts if t)
    return " ".join(WORD.findall(search_key(ELIDED.sub(lambda m: m.group(0) + " " + m.group(1), text))))


def query_words(q: str | None) -> list[str]:
    """The words of what was typed; one-letter words are dropped when a longer one is there."""
    words = WORD.findall(search_key((q or "")[:200]))
    longer = [w for w in words if len(w) > 1]
    return (longer or [w for w in words if len(w) > 1])[:MAX_WORDS]


# --- the engines --------------------------------------------------------------------------------------

FTS_TABLE = "search_fts"
TITLE_TABLE = "search_title_fts"
# detail=column: which column a word is in, not where in it (no phrase search here), and the kind is a column of
# its own so that "the meetings matching huawei" is one walk through the index. Prefixes of 3 to 12 letters
# are indexed: a word being typed is found without reading every word that starts like it. The titles have an
# index of their own, so that "whose title holds the words" is read, not filtered out of every match.
_FTS_OPTIONS = "tokenize='unicode61 remove_diacritics 2', prefix='3 4 5 6 7 8 9 10 11 12', detail=column"
PREFIX_INDEXED = 12
# The last word typed matches the start of a word from three letters on (as a prefix, "re" would match most of
# the index while one is still typing); the words before it are whole.
PREFIX_FROM = 3
_INDEXES = ((FTS_TABLE, ("kind", "title_key", "terms")), (TITLE_TABLE, ("kind", "title_key")))


def _sqlite_ddl() -> list[str]:
    statements = [
        f"CREATE VIRTUAL TABLE {name} USING fts5({', '.join(cols)}, content='search_entry', content_rowid='id', "
        f"{_FTS_OPTIONS})"
        for name, cols in _INDEXES
    ]

    def add(row: str) -> str:
        return " ".join(
            f"INSERT INTO {name}(rowid, {', '.join(cols)}) VALUES ({row}.id, {', '.join(f'{row}.{c}' for c in cols)});"
            for name, cols in _INDEXES
        )

    def remove() -> str:
        return " ".join(
            f"INSERT INTO {name}({name}, rowid, {', '.join(cols)}) VALUES ('delete', old.id, "
            f"{', '.join(f'old.{c}' for c in cols)});"
            for name, cols in _INDEXES
        )

    return [
        *statements,
        f"CREATE TRIGGER search_entry_ai AFTER INSERT ON search_entry BEGIN {add('new')} END",
        f"CREATE TRIGGER search_entry_ad AFTER DELETE ON search_entry BEGIN {remove()} END",
        f"CREATE TRIGGER search_entry_au AFTER UPDATE ON search_entry BEGIN {remove()} {add('new')} END",
    ]


SQLITE_DDL = _sqlite_ddl()
SQLITE_DROP = [f"DROP TABLE IF EXISTS {name}" for name, _cols in _INDEXES]
# The kinds of records the index holds (crm.search says what each puts in it).
KINDS = ("organisation", "contact", "meeting", "commitment", "visit", "event", "attachment")
# PostgreSQL: the words as stored tsvectors computed by the database from the folded columns, one for all the
# words and one for the title's, each with a GIN index per kind (partial): "is 'réunion' in any commitment?" is
# answered by the commitments' index alone, without reading the million meetings that hold the word.
PG_COLUMN = "search_vector"
PG_TITLE_COLUMN = "search_title_vector"
PG_INDEX = "ix_search_entry_vector"
PG_TITLE_INDEX = "ix_search_entry_title_vector"
# Each index's predicate names an always-filled column of its own ("… IS NOT NULL"), which only the queries
# meant for it mention: a query on the words then cannot read a kind's title index whole as the list of that
# kind's entries, and a query among the recent entries cannot read every match of a common word.
_PG_MARKERS = {PG_COLUMN: "record_id", PG_TITLE_COLUMN: "guard_kind"}
_PG_INDEXES = [
    (f"{index}_{kind}", column_name, kind)
    for index, column_name in ((PG_INDEX, PG_COLUMN), (PG_TITLE_INDEX, PG_TITLE_COLUMN))
    for kind in KINDS
]
# The title's words and, weighted A, the start of each (3 to 12 letters: "fib", "fibr", "fibre" for "fibre"),
# so that the word being typed is one key of the GIN index, not a prefix: GIN gathers every entry under a
# prefix before it looks at the other words ("huawei fib" read the 115,000 commitments titled "fibre…" to find
# that none has "huawei" in its title). Words are asked for as weight D (to_tsvector's), starts as weight A.
_TITLE_STARTS = " || ' ' || ".join(
    rf"regexp_replace(title_key, '\m(\w{{{n}}})\w*|\m\w{{1,{n - 1}}}\M', '\1', 'g')"
    for n in range(PREFIX_FROM, PREFIX_INDEXED + 1)
)
PG_TITLE_EXPRESSION = (
    f"to_tsvector('simple'::regconfig, title_key) || setweight(to_tsvector('simple'::regconfig, {_TITLE_STARTS}), 'A')"
)
WORD_WEIGHT, START_WEIGHT = "D", "A"


def _pg_index_ddl(*columns: str) -> list[str]:
    return [
        f"CREATE INDEX {name} ON search_entry USING gin ({column}) "
        f"WHERE kind = '{kind}' AND {_PG_MARKERS[column]} IS NOT NULL"
        for name, column, kind in _PG_INDEXES
        if column in columns
    ]


# The title's column and its indexes alone (a migration makes them again when the title's expression changes).
PG_TITLE_DDL = [
    f"ALTER TABLE search_entry ADD COLUMN {PG_TITLE_COLUMN} tsvector GENERATED ALWAYS AS ({PG_TITLE_EXPRESSION}) "
    "STORED",
    *_pg_index_ddl(PG_TITLE_COLUMN),
]
PG_DDL = [
    f"ALTER TABLE search_entry ADD COLUMN {PG_COLUMN} tsvector GENERATED ALWAYS AS "
    "(to_tsvector('simple'::regconfig, terms)) STORED",
    *_pg_index_ddl(PG_COLUMN),
    *PG_TITLE_DDL,
]
PG_TITLE_DROP = [
    *(f"DROP INDEX IF EXISTS {name}" for name, column, _kind in _PG_INDEXES if column == PG_TITLE_COLUMN),
    f"ALTER TABLE search_entry DROP COLUMN IF EXISTS {PG_TITLE_COLUMN}",
]
PG_DROP = [
    *(f"DROP INDEX IF EXISTS {name}" for name, column, _kind in _PG_INDEXES if column == PG_COLUMN),
    f"ALTER TABLE search_entry DROP COLUMN IF EXISTS {PG_COLUMN}",
    *PG_TITLE_DROP,
]
# Made outside the models' metadata (a virtual table, a generated tsvector column and its index): the
# comparison of the migrated schema with the models leaves them out by these names.
OUTSIDE_METADATA = (FTS_TABLE, TITLE_TABLE, PG_COLUMN, PG_TITLE_COLUMN, PG_INDEX, PG_TITLE_INDEX)


def compact(conn: Any) -> None:
    """After writing many entries at once: SQLite's FTS5 tables merged into one segment each (a query then reads
    each word's list from one b-tree, not from the dozens a bulk write leaves: half the time of a list's box at
    a million meetings). PostgreSQL's GIN indexes need nothing of the kind."""
    if conn.dialect.name == "sqlite":
        for name in (FTS_TABLE, TITLE_TABLE):
            conn.exec_driver_sql(f"INSERT INTO {name}({name}) VALUES ('optimize')")


def include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
    """For Alembic: the index's engine-specific parts are not in the models' metadata."""
    return not (name and name.startswith(OUTSIDE_METADATA))


for _statement in SQLITE_DDL:
    event.listen(SearchEntry.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
for _statement in PG_DDL:
    event.listen(SearchEntry.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql"))
for _statement in SQLITE_DROP:
    event.listen(SearchEntry.__table__, "before_drop", DDL(_statement).execute_if(dialect="sqlite"))

_fts = table(FTS_TABLE, column("rowid"))
_title_fts = table(TITLE_TABLE, column("rowid"))
_vector: ColumnElement[Any] = literal_column(f"search_entry.{PG_COLUMN}")
_title_vector: ColumnElement[Any] = literal_column(f"search_entry.{PG_TITLE_COLUMN}")


def _dialect(session: DbSession) -> str:
    return session.get_bind().dialect.name


# --- matching, newest first -------------------------------------------------------------------------------
#
# A search reads the index newest entry first and stops at the rows it shows, so that it costs what it
# returns, not what it matches: "réunion" in a million meetings costs what it costs in ten thousand.
#
# - SQLite: FTS5 walks its rowids downwards (its own order), each joined to its entry, never the other way.
# - PostgreSQL: a GIN index has no order; asked for the newest few, the planner guesses from each word's
#   frequency whether to walk the (kind, id) index downwards or to read the GIN index and sort, and guesses
#   wrong when a word common in one kind is absent from another (it then walks the whole kind). So a query is
#   made in parts whose cost does not hang on the guess: RECENT, among the kind's newest RECENT_ENTRIES
#   entries (bounded whichever plan); then, only when they held too few matches: WIDER, the WIDER_ENTRIES
#   ids below them, read the same way, when the matches among the recent entries say that what is missing
#   should be there (words of middling frequency: their posting lists, which grow with the data, are not
#   read); OLDER, below, through the GIN index (ordered by an expression, so no index walk can be chosen),
#   when the words are rare (short posting lists) or the wider look came short.

RECENT, WIDER, OLDER = "recent", "wider", "older"
# At most so many ids below the recent entries are read without the GIN index (0.5-1 µs an entry: 10-20 ms at
# worst): a kind's newest few matches of two words that each match one entry in twenty, say, are found there
# whatever the size of the index, where their posting lists would be read whole. A list's box, which wants a
# hundred of them, reads the GIN index instead (a wider look would cost as much, and come short more often).
WIDER_ENTRIES = 20_000
# A list's box wants LIST_CAP + 1 matches: a partner's name (in one meeting in sixteen) finds them among these; the
# search box, showing a few of each kind, finds them among these too.
RECENT_ENTRIES = 2000
# In each part, so many of the newest matches are read before the caller's conditions (visibility) are checked
# on them: a reader who may see almost none of them sees fewer results than there are (readers see most).
CANDIDATES = 250


def _typed(words: list[str]) -> list[tuple[str, bool]]:
    """Each word, and whether it is matched as the start of a word (the last, if long enough)."""
    last = len(words) - 1
    return [
        (w[:PREFIX_INDEXED], True) if i == last and len(w) >= PREFIX_FROM else (w, False) for i, w in enumerate(words)
    ]


def _fts_expression(words: list[str], in_title: bool, kind: str | None) -> str:
    typed = " AND ".join(f'"{w}"*' if prefix else f'"{w}"' for w, prefix in _typed(words))
    expression = ("title_key : (" if in_title else "{title_key terms} : (") + typed + ")"
    return f"kind : {kind} AND {expression}" if kind else expression


def pg_query(words: list[str], in_title: bool) -> str:
    """The words as a tsquery, written directly: they are folded already, letters and digits only, quoted."""
    if in_title:  # whole words, and the start of one as a word of its own (PG_TITLE_EXPRESSION)
        typed = [f"'{w}':{START_WEIGHT if prefix else WORD_WEIGHT}" for w, prefix in _typed(words)]
    else:
        typed = [f"'{w}':*" if prefix else f"'{w}'" for w, prefix in _typed(words)]
    return " & ".join(typed)


def _pg_condition(words: list[str] | Any, in_title: bool, kind: str, *, gin: bool = True) -> ColumnElement[bool]:
    """The words (or a parameter holding their ``pg_query``) matched in ``kind``'s entries; ``gin``: through the
    kind's own GIN index (whose predicate the query then implies), or not (among a few entries: the GIN index
    would read every match)."""
    query = cast(pg_query(words, in_title) if isinstance(words, list) else words, TSQUERY)
    vector, marker = (_title_vector, SearchEntry.guard_kind) if in_title else (_vector, SearchEntry.record_id)
    condition = and_(SearchEntry.kind == kind, vector.op("@@")(query))
    return and_(condition, marker.is_not(None)) if gin else condition


def title_holds(words: list[str], title: str) -> bool:
    """Whether ``title`` holds every word as the index matches them (the last as a start of a word)."""
    tokens = fold(title).split()
    return all(any(t == w or (prefix and t.startswith(w)) for t in tokens) for w, prefix in _typed(words))


# For the rest of a search's transaction on PostgreSQL: statements planned for their own words, never a sequential
# scan (below the recent entries, the GIN index is the way, whatever the planner guesses of a word's frequency from
# every kind), compiled by nobody (JIT costs more than they do), in one process.
SETTINGS = (
    ("plan_cache_mode", "force_custom_plan"),
    ("enable_seqscan", "off"),
    ("jit", "off"),
    ("max_parallel_workers_per_gather", "0"),
)


class Reading:
    """One search's reads of the index. On PostgreSQL: where each kind's recent entries begin and end, read once,
    and the planner told to plan each statement for its own words (a plan kept for other words would not fit)."""

    def __init__(self, session: DbSession, kinds: Iterable[str]) -> None:
        self.session = session
        self.postgres = _dialect(session) == "postgresql"
        self.floors: dict[str, int] = {}
        self.ceilings: dict[str, int] = {}
        if self.postgres:
            ordered = tuple(sorted(set(kinds)))
            row = session.execute(self._bounds(ordered, RECENT_ENTRIES)).one()[len(SETTINGS) :]
            for i, kind in enumerate(ordered):
                self.floors[kind], self.ceilings[kind] = row[2 * i], row[2 * i + 1]

    @staticmethod
    @lru_cache(maxsize=128)
    def _bounds(kinds: tuple[str, ...], recent: int) -> Select:
        """The search's settings, and where each kind's ``recent`` newest entries begin and end (built once)."""
        settings = [func.set_config(name, value, True) for name, value in SETTINGS]
        return select(*settings, *(Reading._nth_newest(kind, n) for kind in kinds for n in (recent, 1)))

    @staticmethod
    def _nth_newest(kind: str, n: int) -> ColumnElement[Any]:
        # The kind as a range and the order as the (kind, id) index's: only that index serves it, where
        # "kind = … ORDER BY id" lets the planner walk the primary key past every other kind's newer entries.
        newest = select(SearchEntry.id).where(SearchEntry.kind.between(kind, kind))
        newest = newest.order_by(SearchEntry.kind.desc(), SearchEntry.id.desc())
        return func.coalesce(newest.offset(n - 1).limit(1).scalar_subquery(), 0)

    def parts(self, kind: str) -> tuple[str | None, ...]:
        """The parts a read of ``kind`` is made in, in order (one, the whole kind, when it is small)."""
        return (RECENT, WIDER, OLDER) if self.floors.get(kind) else (None,)

    def worth_wider(self, kind: str, recent: int, missing: int) -> bool:
        """Whether the wider look should hold the ``missing`` matches, ``recent`` found among the recent entries
        (the candidates read there): the words are then of middling frequency. None found: they are rare, and
        their posting lists short."""
        span = self.ceilings.get(kind, 0) - self.floors.get(kind, 0) + 1
        return recent > 0 and missing * span <= recent * WIDER_ENTRIES

    def below(self, kind: str, part: str | None) -> int:
        """The id the parts after ``part`` (the last read of ``kind``) read below."""
        floor = self.floors.get(kind, 0)
        return floor - WIDER_ENTRIES if part == WIDER else floor

    def select(
        self,
        words: list[str],
        *columns: Any,
        kind: str,
        in_title: bool = False,
        before: int | None = None,
        limit: int,
        part: str | None = None,
        below: int | None = None,
    ) -> Select:
        """SELECT ``columns`` of the entries of ``kind`` matching every word (in their title only; older than
        the entry ``before``; in ``part``, OLDER below ``below``), the newest first, at most ``limit``. The
        caller may add conditions (visibility), checked on the rows read (on PostgreSQL: on the newest
        CANDIDATES matches)."""
        if not self.postgres:
            index, name = (_title_fts, TITLE_TABLE) if in_title else (_fts, FTS_TABLE)
            match = literal_column(name).op("MATCH")(_fts_expression(words, in_title, kind))
            stmt = select(*columns).select_from(index).join(SearchEntry, SearchEntry.id == index.c.rowid).where(match)
            if before is not None:
                stmt = stmt.where(index.c.rowid < before)
            return stmt.order_by(index.c.rowid.desc()).limit(limit)
        # The statement the search's union writes for one arm, its values bound here.
        values: dict[str, Any] = {**self.values(0, kind=kind, before=before, limit=limit, part=part, below=below)}
        values["title_query" if in_title else "query"] = pg_query(words, in_title)
        found = candidates_union(((kind, in_title, part, before is not None),)).params(values).subquery()
        stmt = select(*columns).select_from(SearchEntry).join(found, found.c.id == SearchEntry.id)
        return stmt.order_by(SearchEntry.id.desc()).limit(limit)

    def values(
        self, arm: int, *, kind: str, before: int | None, limit: int, part: str | None, below: int | None
    ) -> dict[str, int]:
        """The parameters of arm ``arm`` of ``candidates_union``: its bounds (the kind's recent entries, the ids
        just below them, or below ``below``: by default below the recent entries, the wider look passed over) and
        its limit (CANDIDATES at least, so that the caller's conditions are checked on enough of them; the wider
        look stops at what is missing: read to CANDIDATES, it would read all of it for middling words)."""
        floor = self.floors.get(kind, 0)
        values = {f"limit_{arm}": limit if part == WIDER else max(limit, CANDIDATES)}
        if before is not None:
            values[f"before_{arm}"] = before
        if part == OLDER:
            values[f"below_{arm}"] = floor if below is None else below
        elif part == WIDER:
            values[f"low_{arm}"], values[f"high_{arm}"] = floor - WIDER_ENTRIES, floor - 1
        elif part == RECENT:
            values[f"low_{arm}"], values[f"high_{arm}"] = floor, self.ceilings.get(kind, 0)
        return values


@lru_cache(maxsize=512)
def candidates_union(shapes: tuple[tuple[str, bool, str | None, bool], ...]) -> Any:
    """PostgreSQL: one statement reading the ids of the newest matches of several arms, each (kind, in the title
    only, part, below an entry), before any condition of the caller's (checked then on these only, with the
    planner knowing how few). The words, the bounds and the limits are parameters (``Reading.values``, ``query``
    and ``title_query``): built once per shape instead of on every search (building and keying 18 arms cost more
    than planning them). Among the recent entries and the wider look, not through the GIN index (it would read
    every match of a common word); older, through the GIN index alone (the id compared as an expression, so that
    no other index can be walked)."""
    selects = []
    for arm, (kind, in_title, part, has_before) in enumerate(shapes):
        words = bindparam("title_query" if in_title else "query", type_=String)
        stmt = select(SearchEntry.id, literal(arm).label("arm"))
        stmt = stmt.where(_pg_condition(words, in_title, kind, gin=part in (OLDER, None)))
        if has_before:
            stmt = stmt.where(SearchEntry.id < bindparam(f"before_{arm}", type_=Integer))
        if part == OLDER:
            stmt = stmt.where(SearchEntry.id + 0 < bindparam(f"below_{arm}", type_=Integer))
            stmt = stmt.order_by((SearchEntry.id + 0).desc())
        else:
            if part is not None:
                low, high = bindparam(f"low_{arm}", type_=Integer), bindparam(f"high_{arm}", type_=Integer)
                stmt = stmt.where(SearchEntry.id.between(low, high))
            stmt = stmt.order_by(SearchEntry.id.desc())
        selects.append(select(stmt.limit(bindparam(f"limit_{arm}", type_=Integer)).subquery()))
    return union_all(*selects) if len(selects) > 1 else selects[0]


# A list's own search box reads at most this many matches (the newest): four pages of a list; beyond, the list
# says so and the search page (/search) pages through every match. Reading them costs what they are (250 cost
# 2.5 times as much at a million meetings, where a word of the query is in most entries).
LIST_CAP = 100


def matching_ids(session: DbSession, kind: str, q: str) -> tuple[list[int], bool]:
    """The ids of the newest records of ``kind`` matching ``q`` (for a list's own search box), at most
    LIST_CAP of them, and whether there were more."""
    words = query_words(q)
    if not words:
        return [], False
    reading = Reading(session, [kind])
    ids: list[int] = []
    last: str | None = None
    for part in reading.parts(kind):
        if part == WIDER and not reading.worth_wider(kind, len(ids), LIST_CAP + 1 - len(ids)):
            continue
        stmt = reading.select(
            words,
            SearchEntry.record_id,
            kind=kind,
            limit=LIST_CAP + 1 - len(ids),
            part=part,
            below=reading.below(kind, last),
        )
        ids += session.scalars(stmt)
        last = part
        if len(ids) > LIST_CAP:
            break
    return ids[:LIST_CAP], len(ids) > LIST_CAP


def count_matching(session: DbSession, q: str) -> int:
    """How many entries match ``q``, every one counted (for the bench: a search stops at what it shows)."""
    words = query_words(q)
    if not words:
        return 0
    if _dialect(session) == "postgresql":
        with_kinds = [_pg_condition(words, False, kind) for kind in KINDS]
        return sum(session.scalar(select(func.count()).where(condition)) or 0 for condition in with_kinds)
    else:
        stmt = (
            select(func.count())
            .select_from(_fts)
            .where(literal_column(FTS_TABLE).op("MATCH")(_fts_expression(words, False, None)))
        )
    return session.scalar(stmt) or 0
