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
    column,
    event,
    func,
    literal_column,
    select,
    table,
)
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


def fold(*texts: str | None) -> str:
    """The words of ``texts`` as both engines index them: folded, separated by single spaces."""
    return " ".join(WORD.findall(search_key(" ".join(t for t in texts if t))))


def query_words(q: str | None) -> list[str]:
    """The words of what was typed; one-letter words are dropped when a longer one is there."""
    words = WORD.findall(search_key((q or "")[:200]))
    longer = [w for w in words if len(w) > 1]
    return (longer or [w for w in words if len(w) > 1])[:MAX_WORDS]


# --- the engines --------------------------------------------------------------------------------------

FTS_TABLE = "search_fts"
# detail=column: which column a word is in, not where in it (no phrase search here): a third of the size, and
# the kind is a column of its own so that "the meetings matching huawei" is one walk through the index.
SQLITE_DDL = [
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(kind, title_key, terms, content='search_entry', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2', prefix='2 3 4', detail=column)",
    f"CREATE TRIGGER search_entry_ai AFTER INSERT ON search_entry BEGIN INSERT INTO {FTS_TABLE}(rowid, kind, "
    "title_key, terms) VALUES (new.id, new.kind, new.title_key, new.terms); END",
    f"CREATE TRIGGER search_entry_ad AFTER DELETE ON search_entry BEGIN INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, "
    "kind, title_key, terms) VALUES ('delete', old.id, old.kind, old.title_key, old.terms); END",
    f"CREATE TRIGGER search_entry_au AFTER UPDATE ON search_entry BEGIN INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, "
    "kind, title_key, terms) VALUES ('delete', old.id, old.kind, old.title_key, old.terms); INSERT INTO "
    f"{FTS_TABLE}(rowid, kind, title_key, terms) VALUES (new.id, new.kind, new.title_key, new.terms); END",
]
SQLITE_DROP = [f"DROP TABLE IF EXISTS {FTS_TABLE}"]
# PostgreSQL: the words as a stored tsvector (title weighted A), computed by the database from the folded
# columns; a GIN index finds rare words, and the index on (kind, id) walks the newest entries of a kind when
# a word is common (the planner picks, from the column's statistics).
PG_COLUMN = "search_vector"
PG_INDEX = "ix_search_entry_vector"
PG_DDL = [
    f"ALTER TABLE search_entry ADD COLUMN {PG_COLUMN} tsvector GENERATED ALWAYS AS "
    "(setweight(to_tsvector('simple'::regconfig, title_key), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, terms), 'B')) STORED",
    f"CREATE INDEX {PG_INDEX} ON search_entry USING gin ({PG_COLUMN})",
]
# Made outside the models' metadata (a virtual table, a generated tsvector column and its index): the
# comparison of the migrated schema with the models leaves them out by these names.
OUTSIDE_METADATA = (FTS_TABLE, PG_COLUMN, PG_INDEX)


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
_vector = literal_column(f"search_entry.{PG_COLUMN}")


def _dialect(session: DbSession) -> str:
    return session.get_bind().dialect.name


# A word of two letters is matched whole: as a prefix it would match most of the index ("re": réunion,
# rapport, relance…) while one is still typing.
PREFIX_FROM = 3

# --- matching, newest first -------------------------------------------------------------------------------
#
# Results come in two tiers: the entries whose title holds every word, then those holding them elsewhere;
# inside a tier, the newest entry first (the most recently written or changed record). Each tier is read
# from the index in that order and stops after the rows asked for, so a query costs what it returns, not
# what it matches: "réunion" in a million meetings costs what it costs in ten thousand.

TITLE, ELSEWHERE = 0, 1


def _fts_words(words: list[str]) -> str:
    return " AND ".join(f'"{w}"*' if len(w) >= PREFIX_FROM else f'"{w}"' for w in words)


def _fts_expression(words: list[str], tier: int | None, kind: str | None) -> str:
    anywhere = "{title_key terms} : (" + _fts_words(words) + ")"
    in_title = "title_key : (" + _fts_words(words) + ")"
    expression = {None: anywhere, TITLE: in_title, ELSEWHERE: f"({anywhere}) NOT ({in_title})"}[tier]
    return f"kind : {kind} AND ({expression})" if kind else expression


def _pg_words(words: list[str], weight: str = "") -> str:
    return " & ".join(f"{w}:*{weight}" if len(w) >= PREFIX_FROM else f"{w}:{weight}" if weight else w for w in words)


def _pg_query(words: list[str], tier: int | None) -> ColumnElement[Any]:
    anywhere, in_title = _pg_words(words), _pg_words(words, "A")
    text = {None: anywhere, TITLE: in_title, ELSEWHERE: f"({anywhere}) & !({in_title})"}[tier]
    return func.to_tsquery(literal_column("'simple'::regconfig"), text)


# The other entries (tier ELSEWHERE) are looked for among the newest WINDOW matches: "every match but those
# whose title holds the words" would otherwise read every match when most of them are title matches
# ("réunion" in a million meetings titled "Réunion …"). Past the window, the next page starts below it.
WINDOW = 1000


def _condition(session: DbSession, words: list[str], tier: int | None, kind: str | None) -> tuple[Any, Any, Any]:
    """(what to read from, the matching condition, the entry id to order by) for this engine."""
    if _dialect(session) == "postgresql":
        condition = _vector.op("@@")(_pg_query(words, tier))
        if kind:
            condition = and_(SearchEntry.kind == kind, condition)
        return SearchEntry, condition, SearchEntry.id
    return _fts, literal_column(FTS_TABLE).op("MATCH")(_fts_expression(words, tier, kind)), _fts.c.rowid


def window_floor(session: DbSession, words: list[str], kind: str | None, before: int | None) -> Select:
    """The id of the oldest entry in the window of newest matches (none when there are fewer)."""
    source, condition, key = _condition(session, words, None, kind)
    stmt = select(key).select_from(source).where(condition)
    if before is not None:
        stmt = stmt.where(key < before)
    return stmt.order_by(key.desc()).offset(WINDOW - 1).limit(1)


def newest_matching(
    session: DbSession,
    words: list[str],
    *columns: Any,
    tier: int | None = None,
    kind: str | None = None,
    before: int | None = None,
    limit: int,
) -> Select:
    """SELECT ``columns`` of the entries matching every word (of ``kind``; in ``tier``; older than the entry
    ``before``), the newest first, at most ``limit``. The caller may add conditions (visibility).

    The index is read in the order shown and stops with the LIMIT: on SQLite, FTS5 walks its rowids downwards
    and each is joined to its entry, never the other way round; on PostgreSQL, the planner walks (kind, id)
    downwards when a word is common and reads the GIN index when it is rare.
    """
    source, condition, key = _condition(session, words, tier, kind)
    stmt = select(*columns).select_from(source)
    if source is _fts:
        stmt = stmt.join(SearchEntry, SearchEntry.id == _fts.c.rowid)
    stmt = stmt.where(condition)
    if before is not None:
        stmt = stmt.where(key < before)
    if tier == ELSEWHERE:
        stmt = stmt.where(key >= func.coalesce(window_floor(session, words, kind, before).scalar_subquery(), 0))
    return stmt.order_by(key.desc()).limit(limit)


# A list's own search box reads at most this many matches (the newest): beyond, the list says so.
LIST_CAP = 1000


def matching_ids(session: DbSession, kind: str, q: str) -> tuple[list[int], bool]:
    """The ids of the newest records of ``kind`` matching ``q`` (for a list's own search box), at most
    LIST_CAP of them, and whether there were more."""
    words = query_words(q)
    if not words:
        return [], False
    ids = list(session.scalars(newest_matching(session, words, SearchEntry.record_id, kind=kind, limit=LIST_CAP + 1)))
    return ids[:LIST_CAP], len(ids) > LIST_CAP
