"""Alembic migrations upgrade an empty database to exactly the models, on SQLite and on PostgreSQL."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from crm import create_app
from crm.auth.models import User
from crm.config import sqlalchemy_url
from crm.db import Base
from crm.extensions import db
from crm.partners.models import Country
from tests.conftest import PG_URL


def _fresh_pg_database() -> str:
    """A scratch database named after the suite's own, so that two suites on one server never collide."""
    base = make_url(sqlalchemy_url(PG_URL))
    name = f"{base.database}_migration"
    url = base.set(database=name)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrate.sqlite3'}"
    if not PG_URL:
        pytest.skip("set CRM_TEST_DATABASE_URL to run the PostgreSQL migration test")
    return _fresh_pg_database()


def test_upgrade_from_empty_matches_the_models(empty_database):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database})
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        assert db.session.scalar(select(func.count()).select_from(Country)) == 249
        assert set(db.session.scalars(select(Country.code).where(Country.is_aes))) == {"ML", "BF", "NE"}
        # No default credentials in a fresh database.
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
        # The trail is append-only once migrated, too.
        db.session.execute(
            text(
                "INSERT INTO audit_event (created_at, actor_label, action, entity_type, owner_type, label, changes, "
                "subject, ip) VALUES (CURRENT_TIMESTAMP, '', 'test', '', '', '', '{}', '', '')"
            )
        )
        db.session.commit()
        with pytest.raises(DBAPIError):
            db.session.execute(text("UPDATE audit_event SET label = 'forged'"))
        db.session.rollback()
        downgrade(revision="base")
        db.session.remove()
        db.engine.dispose()
