"""/healthz: 200 when the database answers at the migrations' head, 503 otherwise; public, status only."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from crm import create_app
from crm.ops.health import migration_heads


def test_healthy_when_the_database_is_at_the_migrations_head(app, client, db):
    db.session.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
    for head in migration_heads():
        db.session.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": head})
    db.session.commit()
    try:
        response = client.get("/healthz")  # anonymous: no sign-in needed
        assert response.status_code == 200
        assert response.get_json() == {"status": "ok"}
        assert response.headers["Cache-Control"] == "no-store"
        assert "Set-Cookie" not in response.headers
    finally:
        db.session.execute(text("DROP TABLE alembic_version"))
        db.session.commit()


def test_unavailable_while_migrations_are_pending(client, db):
    response = client.get("/healthz")  # the test database is built from the models, never migrated
    assert response.status_code == 503
    assert response.get_json() == {"status": "migrations pending"}


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////nonexistent-folder/crm.sqlite3",
        "postgresql+psycopg://postgres@127.0.0.1:1/crm?connect_timeout=2",  # nothing listens on port 1
    ],
)
def test_unavailable_when_the_database_is_down(url):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "database unreachable"}
    assert response.headers["Cache-Control"] == "no-store"


def test_the_heads_read_from_the_scripts_are_alembics():
    from alembic.script import ScriptDirectory

    from crm.config import MIGRATIONS

    assert migration_heads() == set(ScriptDirectory(str(MIGRATIONS)).get_heads())


def test_the_web_server_loads_no_migration_tooling(tmp_path):
    """gunicorn's workers (CRM_WEB_SERVER=1) serve pages without Flask-Migrate, Alembic or Mako in memory."""
    import subprocess
    import sys

    code = (
        "import sys; from crm import create_app; app = create_app(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'mako', 'flask_migrate'}))"
    )
    env = {"CRM_WEB_SERVER": "1", "CRM_INSTANCE_PATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    served = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert served.stdout.strip() == "[]"
    env.pop("CRM_WEB_SERVER")
    commands = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert "flask_migrate" in commands.stdout  # `flask db` is there for commands
