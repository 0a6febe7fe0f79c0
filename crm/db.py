"""Declarative base with a naming convention, shared mixins and small query helpers."""

from __future__ import annotations

import os
import re
import sqlite3
import time
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from flask import has_request_context, request
from sqlalchemy import DateTime, Engine, Executable, Integer, MetaData, TypeDecorator, event, inspect
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, declared_attr, mapped_column, scoped_session
from sqlalchemy.pool import Pool

from crm.errors import StaleEdit, stale_message

# What services receive: a Session, or the request's scoped session (db.session) that stands for one.
DbSession = Session | scoped_session[Any]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- SQLite as a server's database -------------------------------------------------------------
# WAL lets readers and one writer work at once; the busy timeout makes writers queue instead of failing;
# foreign keys are enforced as on PostgreSQL. Transactions are begun by us, not by the sqlite3 module,
# so that savepoints work and so that a request that writes takes the write lock first (BEGIN
# IMMEDIATE): otherwise a reader that later writes can fail at once with "database is locked".

SQLITE_BUSY_TIMEOUT_MS = 15_000
# Asked for on every connection; on a file system without shared memory SQLite stays in "delete", and
# `flask check-deploy` says so.
SQLITE_JOURNAL_MODE = "WAL"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@event.listens_for(Engine, "connect")
def _sqlite_connect(dbapi_connection: Any, connection_record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute(f"PRAGMA journal_mode = {SQLITE_JOURNAL_MODE}")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin(conn: Connection) -> None:
    reading = has_request_context() and request.method in READ_METHODS
    conn.info.pop(_LAZY, None)
    if conn.dialect.name == "sqlite":
        if reading:
            # A page that only reads needs no transaction (each statement reads a consistent snapshot), and one that
            # writes (a session touched, a confidential read audited) takes the write lock at its first write.
            conn.info[_LAZY] = True
        else:
            # Outside requests (commands, tests) transactions stay deferred: a read must never hold the write lock.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if has_request_context() else "BEGIN")
    elif reading and conn.dialect.driver == "psycopg":
        _begin_at_first_write(conn)


# --- A page that only reads sends no BEGIN and no COMMIT -------------------------------------------
# SQLite: a GET reads in autocommit (each statement its own snapshot) and sends BEGIN IMMEDIATE before its first
# write, so that it waits for the write lock instead of failing on a snapshot that moved. PostgreSQL:
# at READ COMMITTED (PostgreSQL's default, and ours) each statement sees its own snapshot, in a transaction or
# not: a GET's reads gain nothing from one, and paid two round trips for it (BEGIN, COMMIT: ~0.18 ms here, more
# with the database on another machine; the approved PDF's download is two statements). A GET's connection is
# therefore in autocommit until its first statement that is not a plain SELECT (an INSERT, an UPDATE, a
# SAVEPOINT, a SELECT ... FOR UPDATE): BEGIN is sent just before it, and the unit of work's commit or rollback
# ends that transaction as usual (psycopg sends COMMIT or ROLLBACK when the server is in a transaction, whatever
# its autocommit). What a GET writes is therefore as atomic as before. Back in the pool, the connection leaves
# autocommit.
_LAZY = "crm_begin_at_first_write"
_LOCKING_READ = re.compile(r"\bFOR\s+(?:UPDATE|SHARE|NO\s+KEY\s+UPDATE|KEY\s+SHARE)\b", re.IGNORECASE)


def _begin_at_first_write(conn: Connection) -> None:
    dbapi_connection = conn.connection.dbapi_connection
    if dbapi_connection is None or dbapi_connection.autocommit:
        return  # an engine made for autocommit (tests' admin engines) is left as it is
    dbapi_connection.autocommit = True  # psycopg has not sent BEGIN yet: it does so with the first statement
    conn.info[_LAZY] = True


@lru_cache(maxsize=1024)
def _plain_read(statement: str) -> bool:
    return statement.lstrip()[:6].upper() == "SELECT" and not _LOCKING_READ.search(statement)


@event.listens_for(Engine, "before_cursor_execute")
def _begin_before_writing(conn: Connection, cursor: Any, statement: str, *_args: Any) -> None:
    if conn.info.get(_LAZY) and not _plain_read(statement):
        dbapi_connection = cursor.connection
        if isinstance(dbapi_connection, sqlite3.Connection):
            if not dbapi_connection.in_transaction:
                cursor.execute("BEGIN IMMEDIATE")
        elif dbapi_connection.info.transaction_status == 0:  # psycopg's TransactionStatus.IDLE: none on the server
            cursor.execute("BEGIN")


@event.listens_for(Pool, "checkin")
def _leave_autocommit(dbapi_connection: Any, connection_record: Any) -> None:
    if connection_record is None or not connection_record.info.pop(_LAZY, False):
        return
    if not isinstance(dbapi_connection, sqlite3.Connection) and not dbapi_connection.closed:
        dbapi_connection.autocommit = False


# --- Connections the server closed (PostgreSQL) ---------------------------------------------------
# A pooled connection may be dead when a request takes it: the server restarted, or closed it after a long
# silence (idle_session_timeout, a firewall). One that sat unused for more than CRM_DB_PING_AFTER seconds is
# tested with a SELECT 1 first and, if dead, replaced before the request uses it. One used in the last few
# seconds is not: SQLAlchemy's pool_pre_ping tested every connection on every request, one more round trip to
# the server each time (~0.15 ms on this machine, more with the database on another one). 0 tests every time.
# SQLite's files do not go away: never tested.
PING_AFTER_SECONDS = float(os.environ.get("CRM_DB_PING_AFTER", "5"))
_IDLE_SINCE = "crm_idle_since"


@event.listens_for(Pool, "connect")
@event.listens_for(Pool, "checkin")
def _idle_from_now(_dbapi_connection: Any, connection_record: Any) -> None:
    if connection_record is not None:
        connection_record.info[_IDLE_SINCE] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _ping_if_idle(dbapi_connection: Any, connection_record: Any, _proxy: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        return
    since = connection_record.info.get(_IDLE_SINCE)
    if since is not None and time.monotonic() - since <= PING_AFTER_SECONDS:
        return
    autocommit = dbapi_connection.autocommit
    try:
        dbapi_connection.autocommit = True  # the test must not open a transaction
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_connection.autocommit = autocommit
    except Exception as exc:  # any failure means this connection cannot be used: the pool makes a new one
        raise DisconnectionError(f"pooled connection unusable: {exc}") from exc


def column_rows(session: DbSession, statement: Executable, params: dict[str, Any] | None = None) -> Sequence[Row[Any]]:
    """The rows of a statement that selects columns, not entities (a list page's rows, names to show beside them):
    run on the session's connection and transaction, past the ORM's result machinery (identity map, loader
    options), which columns do not use (~0.04 ms a statement). Unflushed changes are flushed first, as
    ``session.execute`` would."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(statement, params or {}).all()


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back as an aware datetime (SQLite forgets zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class VersionMixin:
    """Optimistic locking: every UPDATE checks and bumps `version` (SQLAlchemy version_id_col)."""

    version: Mapped[int] = mapped_column(Integer, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:  # noqa: N805 - a declared_attr receives the class
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]  # set by the mapping


def loaded_name(obj: Any, *paths: tuple[str, str]) -> str:
    """The name of a related row, for the history, when that row is already loaded (never a query)."""
    unloaded = inspect(obj).unloaded
    for relation, attribute in paths:
        if relation not in unloaded and (related := getattr(obj, relation)) is not None:
            return str(getattr(related, attribute))
    return ""


def search_key(text: str | None) -> str:
    """Fold case, accents, apostrophes and spacing so that 'N’Diaye' and 'ndiaye' meet."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = []
    for ch in decomposed:
        if unicodedata.combining(ch):
            continue
        if ch in "'’ʼ`´‘-_.,;:()/":
            kept.append(" " if ch in "-_.,;:()/" else "")
            continue
        kept.append(ch)
    return " ".join("".join(kept).split())


def like_pattern(text: str | None) -> str:
    """A LIKE pattern (escape "\\") matching the folded text anywhere in a folded search column."""
    folded = search_key(text).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{folded}%"


def check_version(obj: VersionMixin, version: int | None) -> None:
    """Refuse a save made from a form loaded before the record's last change."""
    if version is None or int(version) != obj.version:
        raise StaleEdit(stale_message())
