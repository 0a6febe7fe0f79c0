"""A pooled PostgreSQL connection the server closed (a restart, an idle timeout) is replaced before a page uses it."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import make_url

import crm.db
from tests.conftest import make_org
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
