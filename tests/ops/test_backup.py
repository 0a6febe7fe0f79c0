"""`flask backup` / `flask restore`: a consistent archive while the app writes, restored table by table and file by
file; a damaged archive, or a database that is not empty, is refused and nothing changes."""

from __future__ import annotations

import io
import json
import tarfile
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from crm.auth.models import Role
from crm.config import sqlalchemy_url
from crm.core import fulltext
from crm.core.fulltext import FTS_TABLE, TITLE_TABLE
from crm.extensions import db
from crm.partners import services as partners
from crm.partners.models import Organisation
from tests.conftest import make_meeting, make_org, make_user
from tests.ops.conftest import drop_pg_database, empty_database, make_ops_app, migrated, needs_pg, pg_database

LEGACY_FILES = {
    "attachments/3f2a9c.pdf": b"%PDF-1.4\n% compte rendu\n%%EOF\n",
    "documents/logo-1a2b.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
}


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, ordered by primary key, read through a connection of its own."""
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            inspector = inspect(conn)
            tables = {}
            for name in sorted(inspector.get_table_names()):
                keys = inspector.get_pk_constraint(name)["constrained_columns"] or [
                    c["name"] for c in inspector.get_columns(name)
                ]
                order = ", ".join(f'"{k}"' for k in keys)
                rows = conn.execute(text(f'SELECT * FROM "{name}" ORDER BY {order}'))
                tables[name] = [tuple(_comparable(value) for value in row) for row in rows]
            return tables
    finally:
        engine.dispose()


def _comparable(value):
    """JSON columns come back as dicts on PostgreSQL: make them hashable, so that rows can go in sets."""
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value


def folder_contents(instance: Path) -> dict[str, bytes]:
    return {
        p.relative_to(instance).as_posix(): p.read_bytes()
        for folder in ("attachments", "documents")
        if (instance / folder).is_dir()
        for p in (instance / folder).rglob("*")
        if p.is_file()
    }


@pytest.fixture
def source(engine, tmp_path, monkeypatch):
    """A migrated database with a little of everything, and legacy files in the instance folders."""
    url = empty_database(engine, tmp_path, "source")
    instance = tmp_path / "source-instance"
    app = make_ops_app(monkeypatch, instance, sqlalchemy_url(url))
    with migrated(app):
        officer = make_user(Role.OFFICER, email="awa.traore@mcenma.example")
        make_meeting(officer, orgs=[make_org("Orange Mali"), make_org("Sotelma-Moov", "ML")])
        for name, data in LEGACY_FILES.items():
            (instance / name).parent.mkdir(parents=True, exist_ok=True)
            (instance / name).write_bytes(data)
        yield app, url, instance
    if engine == "postgresql":
        drop_pg_database(url)


@pytest.fixture
def target(engine, tmp_path, monkeypatch):
    """A new app server: an empty database and an empty instance folder."""
    url = empty_database(engine, tmp_path, "target")
    instance = tmp_path / "target-instance"
    app = make_ops_app(monkeypatch, instance, sqlalchemy_url(url))
    yield app, url, instance
    with app.app_context():
        db.engine.dispose()
    if engine == "postgresql":
        drop_pg_database(url)


def run(app, *args: str):
    """A flask command on this app (as on its own server), even inside another app's context."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


def test_backup_then_restore_gives_back_every_row_and_every_file(source, target, tmp_path):
    app, url, instance = source
    archive = tmp_path / "crm-backup.tar.gz"
    result = run(app, "backup", str(archive))
    assert result.exit_code == 0, result.output
    assert archive.stat().st_mode & 0o077 == 0  # it holds everything: private

    new_app, new_url, new_instance = target
    result = run(new_app, "restore", str(archive))
    assert result.exit_code == 0, result.output
    assert snapshot(new_url) == snapshot(url)
    assert folder_contents(new_instance) == folder_contents(instance) == LEGACY_FILES
    with new_app.app_context():
        assert new_app.test_client().get("/healthz").get_json() == {"status": "ok"}
        # The audit trail is still append-only once restored.
        with pytest.raises(DBAPIError):
            db.session.execute(text("UPDATE audit_event SET label = 'forged'"))
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()


def test_a_backup_taken_while_the_app_writes_restores_a_consistent_database(source, target, tmp_path):
    app, url, _instance = source
    written: list[int] = []
    # Held from a commit until its id is noted, so that "committed before/after" read from `written` is exact.
    noting = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        with app.app_context():
            i = 0
            while not stop.is_set():
                try:
                    org = partners.save_organisation(
                        db.session, {"name": f"Opérateur {n}-{i}", "country_code": "NE", "kind": "operator"}
                    )
                    org_id = org.id
                    with noting:
                        db.session.commit()  # the organisation and its audit event, in one transaction
                        written.append(org_id)
                except OperationalError:  # SQLite: another writer held the lock past the busy timeout
                    db.session.rollback()
                    continue
                except BaseException as exc:
                    errors.append(exc)
                    raise
                i += 1
            db.session.remove()

    def wait_for(count: int) -> None:
        for _ in range(20_000):
            if len(written) >= count or errors:
                return
            stop.wait(0.005)
        raise AssertionError("the writers stalled")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    try:
        wait_for(10)
        with noting:
            committed_before = set(written)
        archive = tmp_path / "during-writes.tar.gz"
        result = run(app, "backup", str(archive))
        with noting:
            committed_after = set(written)
        wait_for(len(committed_after) + 5)  # and the writers went on after the backup
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not errors, errors
    assert result.exit_code == 0, result.output

    new_app, new_url, new_instance = target
    result = run(new_app, "restore", str(archive))
    assert result.exit_code == 0, result.output
    now, restored = snapshot(url), snapshot(new_url)
    assert set(restored) == set(now)
    for table, rows in restored.items():
        if table.startswith((FTS_TABLE, TITLE_TABLE)):
            continue  # SQLite's full-text tables and segments: derived from search_entry, checked by a search below
        if table in ("organisation", "audit_event", "search_entry"):  # the writers went on adding to these
            assert set(rows) <= set(now[table]), table  # each restored row exactly as it was written
        else:
            assert rows == now[table], table
    with new_app.app_context():
        org_ids = set(db.session.scalars(select(Organisation.id)))
        created = set(
            db.session.scalars(
                text("SELECT entity_id FROM audit_event WHERE entity_type = 'organisation' AND action = 'create'")
            )
        )
        # The full-text index came back with its entries: a restored organisation is found by its name.
        first = min(committed_before)
        name = db.session.get(Organisation, first).name
        found = set(fulltext.matching_ids(db.session, "organisation", name)[0])
        db.session.remove()
        db.engine.dispose()
    assert first in found
    assert committed_before <= org_ids  # everything committed before the backup began is in it
    assert not (set(written) - committed_after) & org_ids  # nothing committed after it ended
    assert org_ids == created  # no transaction cut in half: each organisation came with its audit event
    assert folder_contents(new_instance) == LEGACY_FILES


# --- damaged archives --------------------------------------------------------------------------


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}


def _write_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def damaged_archives(good: Path, folder: Path) -> dict[str, tuple[Path, str]]:
    """Ways an archive arrives broken, each with what the refusal says."""
    raw = good.read_bytes()
    members = _members(good)
    database = json.loads(members["manifest.json"])["database"]
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 0xFF
    altered_db = bytearray(members[database])
    altered_db[len(altered_db) // 2] ^= 0x01
    out = {}

    def save(name: str, data: bytes) -> Path:
        (folder / name).write_bytes(data)
        return folder / name

    out["a flipped byte"] = (save("flipped.tar.gz", bytes(flipped)), "damaged")
    out["truncated"] = (save("truncated.tar.gz", raw[: len(raw) * 2 // 3]), "damaged or truncated")
    out["not an archive"] = (save("notes.tar.gz", b"meeting notes, not a backup\n" * 50), "damaged or truncated")
    out["a member changed"] = (
        _write_tar(folder / "altered.tar.gz", {**members, database: bytes(altered_db)}),
        f"the checksum of {database} does not match",
    )
    without = {k: v for k, v in members.items() if k != "files/attachments/3f2a9c.pdf"}
    out["a member missing"] = (_write_tar(folder / "missing.tar.gz", without), "missing files/attachments/3f2a9c.pdf")
    out["a member added"] = (
        _write_tar(folder / "extra.tar.gz", {**members, "files/attachments/evil.pdf": b"x"}),
        "files/attachments/evil.pdf is not in its manifest",
    )
    out["a path outside"] = (
        _write_tar(folder / "escape.tar.gz", {**members, "../../escape.txt": b"x"}),
        "unexpected entry",
    )
    no_manifest = {k: v for k, v in members.items() if k != "manifest.json"}
    out["no manifest"] = (_write_tar(folder / "nomanifest.tar.gz", no_manifest), "no manifest.json")
    return out


def test_a_damaged_archive_is_refused_and_changes_nothing(source, target, tmp_path):
    app, _url, _instance = source
    good = tmp_path / "good.tar.gz"
    assert run(app, "backup", str(good)).exit_code == 0
    new_app, new_url, new_instance = target
    before = snapshot(new_url)
    entries_before = sorted(p.name for p in new_instance.iterdir())
    for case, (archive, says) in damaged_archives(good, tmp_path).items():
        result = run(new_app, "restore", str(archive))
        assert result.exit_code != 0, case
        assert says in result.output, (case, result.output)
        assert "Traceback" not in result.output
        assert snapshot(new_url) == before == {}, case
        assert sorted(p.name for p in new_instance.iterdir()) == entries_before, case  # no file, no scratch left
        verify = run(new_app, "restore", "--verify-only", str(archive))
        assert verify.exit_code != 0, case
    assert (tmp_path / "escape.txt").exists() is False
    assert run(new_app, "restore", str(good)).exit_code == 0  # the same target takes the good archive


def test_restore_refuses_a_database_that_is_not_empty(source, tmp_path):
    app, url, _instance = source
    archive = tmp_path / "backup.tar.gz"
    assert run(app, "backup", str(archive)).exit_code == 0
    before = snapshot(url)
    result = run(app, "restore", str(archive))
    assert result.exit_code != 0
    assert "not empty" in result.output
    assert snapshot(url) == before


def test_backup_never_overwrites_an_existing_file(source, tmp_path):
    app, _url, _instance = source
    archive = tmp_path / "backup.tar.gz"
    archive.write_bytes(b"yesterday's backup")
    result = run(app, "backup", str(archive))
    assert result.exit_code != 0 and "already exists" in result.output
    assert archive.read_bytes() == b"yesterday's backup"


@needs_pg
def test_a_sqlite_archive_is_not_restored_into_postgresql(tmp_path, monkeypatch):
    app = make_ops_app(monkeypatch, tmp_path / "a", f"sqlite:///{tmp_path / 'a.sqlite3'}")
    with migrated(app):
        assert run(app, "backup", str(tmp_path / "sqlite.tar.gz")).exit_code == 0
    url = pg_database("engine_mismatch")
    try:
        pg_app = make_ops_app(monkeypatch, tmp_path / "b", sqlalchemy_url(url))
        result = run(pg_app, "restore", str(tmp_path / "sqlite.tar.gz"))
        assert result.exit_code != 0 and "holds a sqlite database" in result.output
        assert snapshot(url) == {}
        with pg_app.app_context():
            db.engine.dispose()
    finally:
        drop_pg_database(url)
