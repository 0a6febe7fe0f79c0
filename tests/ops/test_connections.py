"""A pooled PostgreSQL connection the server closed (a restart, an idle timeout) is replaced before a page uses it."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import crm.db
from crm.audit import services as audit
from tests.conftest import PG_URL, make_org
from tests.ops.conftest import _admin_engine, needs_pg


@needs_pg
def test_a_page_still_loads_after_the_server_closed_the_idle_connections(app, client, db, login_as, monkeypatch):
    login_as("officer")
    make_org("Sotelma-Malitel")
    db.session.commit()
    assert client.get("/organisations").status_code == 200  # the pool now holds a connection the page used

    database = make_url(str(db.engine.url)).database
    admin = _admin_engine()
    with admin.connect() as conn:
        closed = conn.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": database},
        )
    admin.dispose()
    assert closed >= 1
    # As after a quiet spell longer than CRM_DB_PING_AFTER (the suite does not wait 5 s).
    monkeypatch.setattr(crm.db, "PING_AFTER_SECONDS", 0)

    response = client.get("/organisations")
    assert response.status_code == 200
    assert "Sotelma-Malitel" in response.text


def _add_route(app, rule, view):
    """A page of the test's own, run in the unit of work as every view of the app is."""
    from crm.cycle import unit_of_work

    view.is_public = True
    app.add_url_rule(rule, view.__name__, unit_of_work(view))


def _events(action: str) -> int:
    """Counted from a connection of its own: what was committed, not what the request's session holds."""
    admin = create_engine(make_url(PG_URL).set(drivername="postgresql+psycopg"))
    with admin.connect() as conn:
        count = conn.scalar(text("SELECT count(*) FROM audit_event WHERE action = :a"), {"a": action})
    admin.dispose()
    return count


def _in_transaction(raw) -> bool:
    """Whether the database connection is in a transaction (SQLite's module, or psycopg's status on the server)."""
    return raw.in_transaction if isinstance(raw, sqlite3.Connection) else raw.info.transaction_status != 0


def _committed(db, action: str) -> int:
    """PostgreSQL: counted from a connection of its own. SQLite in memory has one connection: the test's session,
    after the request's work was committed or rolled back."""
    if PG_URL:
        return _events(action)
    return db.session.scalar(text("SELECT count(*) FROM audit_event WHERE action = :a"), {"a": action})


def test_what_a_get_writes_is_committed_or_rolled_back_whole(app, client, db):
    """A GET that only reads opens no transaction; one that writes begins one just before its first write
    (SQLite: BEGIN IMMEDIATE, the write lock taken at once), so that its writes are still kept or dropped
    together."""
    seen: dict[str, bool] = {}

    def reads_then_writes():
        raw = db.session.connection().connection.dbapi_connection
        db.session.execute(text("SELECT 1"))
        seen["after_read"] = _in_transaction(raw)
        audit.record(db.session, "walk_test_kept", actor_id=None, actor_label="test")
        audit.record(db.session, "walk_test_kept", actor_id=None, actor_label="test")
        db.session.flush()
        seen["after_write"] = _in_transaction(raw)
        return "ok"

    def writes_then_fails():
        audit.record(db.session, "walk_test_dropped", actor_id=None, actor_label="test")
        db.session.flush()
        raise RuntimeError("after a write")

    _add_route(app, "/_test/reads-then-writes", reads_then_writes)
    _add_route(app, "/_test/writes-then-fails", writes_then_fails)
    db.session.commit()

    assert client.get("/_test/reads-then-writes").status_code == 200
    assert seen == {"after_read": False, "after_write": True}
    assert _committed(db, "walk_test_kept") == 2

    with pytest.raises(RuntimeError):
        client.get("/_test/writes-then-fails")
    db.session.rollback()
    assert _committed(db, "walk_test_dropped") == 0
    # Outside requests, statements run in transactions again (the connection is back as SQLAlchemy left it).
    db.session.execute(text("SELECT 1"))
    assert _in_transaction(db.session.connection().connection.dbapi_connection)
