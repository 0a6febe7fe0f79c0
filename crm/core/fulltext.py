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
    Double,
    Index,
    Integer,
    Select,
    String,
    Text,
    UniqueConstraint,
    cast,
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
SQLITE_DDL = [
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(title_key, terms, content='search_entry', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rank) VALUES ('rank', 'bm25(10.0, 1.0)')",
    f"CREATE TRIGGER search_entry_ai AFTER INSERT ON search_entry BEGIN INSERT INTO {FTS_TABLE}(rowid, title_key, "
    "terms) VALUES (new.id, new.title_key, new.terms); END",
    f"CREATE TRIGGER search_entry_ad AFTER DELETE ON search_entry BEGIN INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, "
    "title_key, terms) VALUES ('delete', old.id, old.title_key, old.terms); END",
    f"CREATE TRIGGER search_entry_au AFTER UPDATE ON search_entry BEGIN INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, "
    "title_key, terms) VALUES ('delete', old.id, old.title_key, old.terms); INSERT INTO "
    f"{FTS_TABLE}(rowid, title_key, terms) VALUES (new.id, new.title_key, new.terms); END",
]
SQLITE_DROP = [f"DROP TABLE IF EXISTS {FTS_TABLE}"]
PG_VECTOR = (
    "(setweight(to_tsvector('simple'::regconfig, title_key), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, terms), 'B'))"
)
PG_INDEX = "ix_search_entry_vector"
PG_DDL = [f"CREATE INDEX {PG_INDEX} ON search_entry USING gin ({PG_VECTOR})"]
# Made outside the models' metadata (a virtual table, an expression index): the comparison of the migrated
# schema with the models leaves them out by these names.
OUTSIDE_METADATA = (FTS_TABLE, PG_INDEX)


def include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
    """For Alembic: the index's engine-specific parts are not in the models' metadata."""
    return not (name and name.startswith(OUTSIDE_METADATA))


for _statement in SQLITE_DDL:
    event.listen(SearchEntry.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
for _statement in PG_DDL:
    event.listen(SearchEntry.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql"))
for _statement in SQLITE_DROP:
    event.listen(SearchEntry.__table__, "before_drop", DDL(_statement).execute_if(dialect="sqlite"))

_fts = table(FTS_TABLE, column("rowid"), column("rank"))


def pg_vector() -> ColumnElement[Any]:
    """The indexed expression, written as in PG_VECTOR (literals inline, so that the index is used)."""
    simple: ColumnElement[Any] = literal_column("'simple'::regconfig")
    title = func.setweight(func.to_tsvector(simple, SearchEntry.title_key), literal_column("'A'"))
    rest = func.setweight(func.to_tsvector(simple, SearchEntry.terms), literal_column("'B'"))
    return title.op("||")(rest)


def _dialect(session: DbSession) -> str:
    return session.get_bind().dialect.name


# A word of two letters is matched whole: as a prefix it would match most of the index ("re": réunion,
# rapport, relance…) while one is still typing.
PREFIX_FROM = 3


def _fts_match(words: list[str]) -> ColumnElement[bool]:
    terms = (f'"{w}"*' if len(w) >= PREFIX_FROM else f'"{w}"' for w in words)
    return literal_column(FTS_TABLE).op("MATCH")(" AND ".join(terms))


def _pg_match(words: list[str]) -> tuple[ColumnElement[bool], ColumnElement[Any]]:
    tsquery = func.to_tsquery(
        literal_column("'simple'::regconfig"), " & ".join(f"{w}:*" if len(w) >= PREFIX_FROM else w for w in words)
    )
    vector = pg_vector()
    # Ranked by whether the title matches, not by ts_rank: ts_rank parses every matching entry's whole text
    # again (seconds when a word is in 100,000 records); the title alone is short. As a double: the score goes
    # into the next page's cursor and must compare equal when it comes back.
    in_title = func.to_tsvector(literal_column("'simple'::regconfig"), SearchEntry.title_key).op("@@")(tsquery)
    return vector.op("@@")(tsquery), -cast(in_title, Integer).cast(Double())


def search_select(session: DbSession, words: list[str], *columns: Any) -> tuple[Select, ColumnElement[Any]]:
    """SELECT ``columns`` (and the score) of the entries matching ``words``; a lower score ranks first.

    The caller adds kinds and visibility. On SQLite the matches are found first (a materialised CTE), so that
    the planner never walks every entry of a kind asking FTS5 about each one.
    """
    if _dialect(session) == "postgresql":
        where, score = _pg_match(words)
        return select(*columns, score.label("score")).where(where), score
    matched = _matched(words)
    stmt = select(*columns, matched.c.rank.label("score")).select_from(matched)
    return stmt.join(SearchEntry, SearchEntry.id == matched.c.entry_id), matched.c.rank


def _matched(words: list[str]) -> Any:
    return (
        select(_fts.c.rowid.label("entry_id"), _fts.c.rank.label("rank"))
        .where(_fts_match(words))
        .cte("matched")
        .prefix_with("MATERIALIZED")
    )


def matching_ids(session: DbSession, kind: str, q: str) -> Select:
    """The ids of the records of ``kind`` whose entry matches ``q`` (for a list's own search box)."""
    words = query_words(q)
    stmt = select(SearchEntry.record_id).where(SearchEntry.kind == kind)
    if not words:
        return stmt.where(SearchEntry.id.is_(None))
    if _dialect(session) == "postgresql":
        return stmt.where(_pg_match(words)[0])
    matched = _matched(words)
    return (
        select(SearchEntry.record_id)
        .select_from(matched)
        .join(SearchEntry, SearchEntry.id == matched.c.entry_id)
        .where(SearchEntry.kind == kind)
    )
