"""Alembic migrations upgrade an empty database to exactly the models, on SQLite and on PostgreSQL."""

import base64
import hashlib
import json
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import Boolean, Date, DateTime, MetaData, Time, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from crm import create_app
from crm.auth.models import Role, User
from crm.commitments.models import Commitment
from crm.config import sqlalchemy_url
from crm.core.confidentiality import Sharing
from crm.core.fulltext import include_name
from crm.db import Base
from crm.documents.models import FrozenDocument, StoredFile
from crm.extensions import db
from crm.meetings.models import Meeting, MeetingInstitution, MinutesApproval, Participant
from crm.partners.models import Country, Institution, Organisation
from crm.visits.models import Visit
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
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"include_name": include_name}), Base.metadata
            )
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


FIXTURE = Path(__file__).resolve().parent / "fixtures" / "demo-0008.json"


def _typed(value, kind):
    """A value of the dump (read from SQLite: dates as text, booleans as 0/1) for a column of this type."""
    if isinstance(value, dict) and "b64" in value:
        return base64.b64decode(value["b64"])
    if isinstance(value, dict) and "iso" in value:
        value = value["iso"]
    if value is None:
        return None
    if isinstance(kind, DateTime):
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if isinstance(kind, Date):
        return date.fromisoformat(value)
    if isinstance(kind, Time):
        return time.fromisoformat(value)
    if isinstance(kind, Boolean):
        return bool(value)
    return value


def _load_fixture(conn, dump: dict) -> None:
    """Rows of the previous demo database, typed by the reflected schema of its revision."""
    meta = MetaData()
    meta.reflect(conn)
    for table in meta.sorted_tables:
        rows = [
            {key: _typed(value, table.c[key].type) for key, value in row.items()}
            for row in dump["tables"].get(table.name, [])
        ]
        if rows:
            conn.execute(table.insert(), rows)
    if conn.dialect.name == "postgresql":  # the ids were given: move the sequences past them
        for table in meta.sorted_tables:
            if "id" in table.c and dump["tables"].get(table.name):
                sequence = f"pg_get_serial_sequence('{table.name}', 'id')"
                conn.execute(text(f"SELECT setval({sequence}, (SELECT MAX(id) FROM {table.name}))"))


def test_a_single_ministry_database_becomes_one_institution_owning_everything(empty_database):
    dump = json.loads(FIXTURE.read_text(encoding="utf-8"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database})
    with app.app_context():
        upgrade(revision=dump["revision"])
        with db.engine.begin() as conn:
            _load_fixture(conn, dump)
        counts_before = {name: len(rows) for name, rows in dump["tables"].items()}
        upgrade()
        # nothing lost
        for name, count in counts_before.items():
            if name == "letterhead":
                continue  # became the institution's letterhead
            assert db.session.scalar(text(f'SELECT COUNT(*) FROM "{name}"')) >= count, name
        # one institution: the letterhead's ministry, with the letterhead as it was
        (institution,) = db.session.scalars(select(Institution)).all()
        assert institution.code == "ML" and institution.short_name == "MCENMA"
        assert institution.unit == "Direction de la coopération" and "Un Peuple" in institution.motto
        assert db.session.get(Organisation, institution.organisation_id).name.startswith(
            "Ministère de la Communication"
        )
        # everything belongs to it, kept within it; our side is its side
        assert set(db.session.scalars(select(User.institution_id))) == {institution.id}
        assert (
            db.session.scalar(select(func.count()).select_from(User).where(User.role == Role.INSTALLATION_ADMIN)) == 1
        )
        for model in (Meeting, Visit, Commitment):
            assert set(db.session.scalars(select(model.owner_institution_id))) == {institution.id}, model
            assert set(db.session.scalars(select(model.sharing))) == {Sharing.INSTITUTION}, model
        assert db.session.scalar(select(func.count()).select_from(MeetingInstitution)) == counts_before["meeting"]
        ours = db.session.scalars(select(Participant).where(Participant.side == "ours")).all()
        assert ours and {p.institution_id for p in ours} == {institution.id}
        owed = db.session.scalars(select(Commitment).where(Commitment.owed_by == "ours")).all()
        assert owed and {c.institution_id for c in owed} == {institution.id}
        # references keep resolving, the frozen PDFs keep their bytes and their approval
        assert {m.reference for m in db.session.scalars(select(Meeting))} == {
            row["reference"] for row in dump["tables"]["meeting"]
        }
        frozen = db.session.scalars(select(FrozenDocument)).all()
        assert len(frozen) == 2 and all(
            hashlib.sha256(db.session.get(StoredFile, f.file_id).data).hexdigest() == f.sha256 for f in frozen
        )
        assert db.session.scalar(select(func.count()).select_from(MinutesApproval)) == 1
        # 0010: each meeting says where its latest minutes stand (the lists and the home page filter on it)
        latest = {}
        for row in sorted(dump["tables"]["minutes_revision"], key=lambda r: r["number"]):
            latest[row["meeting_id"]] = row["status"]
        stands = {m.id: m.minutes_status for m in db.session.scalars(select(Meeting))}
        assert latest and stands == {m: latest.get(m) for m in stands}
        # 0011: a commitment made from a decision remembers the decision's words (its title, then)
        from_decisions = db.session.scalars(select(Commitment).where(Commitment.origin_item_id.is_not(None))).all()
        assert from_decisions and all(c.origin_decision == c.title for c in from_decisions)
        with db.engine.connect() as conn:
            assert (
                compare_metadata(MigrationContext.configure(conn, opts={"include_name": include_name}), Base.metadata)
                == []
            )
        db.session.remove()
        db.engine.dispose()
