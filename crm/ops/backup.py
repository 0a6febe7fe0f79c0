"""`flask backup FILE` and `flask restore FILE`: one archive holds the database and a checksum manifest.

The archive is a gzip'd tar: `manifest.json` first (engine, alembic revision, app version, the SHA-256 and size
of every other member), then `database.sqlite3` (SQLite's online backup API: a consistent copy while the app
writes) or `database.pgdump` (`pg_dump --format=custom`: one snapshot), then `files/<folder>/…` for whatever is
still in the instance's `attachments/` and `documents/` folders (empty once files live in the database).

A restore checks the whole archive in a scratch folder before it touches anything, and only goes into an empty
database and empty file folders: it never merges with or overwrites data (see docs/deploy.md for why).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from crm.config import MIGRATIONS
from crm.ops.files import sqlite_file

FORMAT = "crm-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE_MEMBER = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
FILE_FOLDERS = {"attachments": "CRM_ATTACHMENTS_DIR", "documents": "CRM_DOCUMENTS_DIR"}
CHUNK = 1024 * 1024


class BackupError(Exception):
    """What went wrong, said for the operator, with what to do."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- shared ------------------------------------------------------------------------------------


def engine_name(url: URL) -> str:
    name = url.get_backend_name()
    if name not in DATABASE_MEMBER:
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {name}.")
    return name


def file_folders(app: Flask) -> dict[str, Path]:
    """The legacy file folders (attachments, frozen PDFs, logo) as configured, or their instance defaults."""
    instance = Path(app.instance_path)
    return {name: Path(app.config.get(key) or instance / name) for name, key in FILE_FOLDERS.items()}


def app_version() -> str:
    try:
        with (Path(__file__).resolve().parents[2] / "pyproject.toml").open("rb") as fh:
            return tomllib.load(fh)["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI for pg_dump/pg_restore, and an environment carrying the password (not argv)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BackupError(
            f"{command[0]} is not installed. Install the PostgreSQL client of the server's version "
            "(Debian: apt-get install postgresql-client)."
        ) from None
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip() or done.stdout.strip()}")


@contextmanager
def _scratch(near: Path) -> Iterator[Path]:
    """A private scratch folder on the same disk as `near`, removed afterwards whatever happens."""
    near.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=".crm-backup-", dir=near))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --- backup ------------------------------------------------------------------------------------


def _sqlite_copy(source: Path, target: Path) -> str:
    """A consistent copy through SQLite's online backup API (writers wait at most for one step); its revision."""
    if not source.is_file():
        raise BackupError(f"The SQLite database {source} does not exist.")
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # all pages in one step: one snapshot, even while other connections write
        revision = _sqlite_revision(dst)
    finally:
        dst.close()
        src.close()
    return revision


def _sqlite_revision(conn: sqlite3.Connection) -> str:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return ""
    return row[0] if row else ""


def _pg_dump(url: URL, target: Path) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            revision = conn.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception as exc:
        raise BackupError(f"Cannot read the database: {exc.__class__.__name__}: {exc}".splitlines()[0]) from None
    finally:
        engine.dispose()
    uri, env = _libpq(url)
    # One transaction snapshot (pg_dump's own): consistent while the app writes, and it blocks no writer.
    _run(["pg_dump", "--format=custom", "--file", str(target), "--dbname", uri], env)
    return revision or ""


def _copy_files(folder: Path, into: Path) -> list[Path]:
    copied: list[Path] = []
    if not folder.is_dir():
        return copied
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink() and not path.name.startswith(".crm-backup-"):
            target = into / path.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            copied.append(target)
    return copied


def create_backup(app: Flask, archive: Path, url: URL) -> dict:
    """Write the archive; it appears under its name only once complete. Returns the manifest."""
    engine = engine_name(url)
    archive = archive.resolve()
    if archive.exists():
        raise BackupError(f"{archive} already exists: choose a new name (e.g. with the date), nothing was written.")
    if not archive.parent.is_dir():
        raise BackupError(f"The folder {archive.parent} does not exist.")
    with _scratch(archive.parent) as scratch:
        members: dict[str, Path] = {}
        database = scratch / DATABASE_MEMBER[engine]
        if engine == "sqlite":
            path = sqlite_file(url.render_as_string(hide_password=False))
            if path is None:
                raise BackupError("An in-memory SQLite database cannot be backed up.")
            revision = _sqlite_copy(path, database)
        else:
            revision = _pg_dump(url, database)
        members[database.name] = database
        # Files after the database: a row in the copy never lacks a file that existed when it was committed.
        for name, folder in file_folders(app).items():
            for copied in _copy_files(folder, scratch / "files" / name):
                members[copied.relative_to(scratch).as_posix()] = copied
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "app_version": app_version(),
            "alembic_revision": revision,
            "engine": engine,
            "database": database.name,
            "members": {name: {"sha256": _sha256(p), "size": p.stat().st_size} for name, p in members.items()},
        }
        partial = scratch / "archive.partial"
        with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
            for name, path in members.items():
                info = tar.gettarinfo(path, arcname=name)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mode = 0o600
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
        with partial.open("rb") as fh:
            os.fsync(fh.fileno())
        partial.chmod(0o600)
        os.replace(partial, archive)
    return manifest


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(info, _BytesReader(data))


class _BytesReader:
    def __init__(self, data: bytes):
        self.data, self.offset = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else self.offset + size
        chunk = self.data[self.offset : end]
        self.offset += len(chunk)
        return chunk


# --- verify ------------------------------------------------------------------------------------


def _safe_member_name(name: str) -> bool:
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts and "\\" not in name


def verify_archive(archive: Path, into: Path) -> dict:
    """Unpack into `into` and check every member against the manifest; raise BackupError on any doubt."""
    manifest_bytes, seen = _unpack(archive, into)
    manifest = _read_manifest(manifest_bytes)
    members = manifest["members"]
    missing = sorted(set(members) - set(seen))
    extra = sorted(set(seen) - set(members))
    if missing:
        raise BackupError(f"The archive is damaged: missing {', '.join(missing[:5])}.")
    if extra:
        raise BackupError(f"The archive is damaged: {', '.join(extra[:5])} is not in its manifest.")
    wrong = sorted(name for name, found in seen.items() if found != members[name])
    if wrong:
        raise BackupError(f"The archive is damaged: the checksum of {', '.join(wrong[:5])} does not match.")
    if manifest["database"] not in seen:
        raise BackupError("The archive holds no database.")
    return manifest


def _unpack(archive: Path, into: Path) -> tuple[bytes | None, dict[str, dict]]:
    """The manifest's bytes, and each other member written under `into/members` with its SHA-256 and size."""
    seen: dict[str, dict] = {}
    manifest_bytes = None
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for info in tar:  # reading to the end also checks the gzip trailer: a truncated file fails here
                if not _safe_member_name(info.name) or not info.isfile() or info.name in seen:
                    raise BackupError(f"The archive holds an unexpected entry ({info.name!r}): refused.")
                source = tar.extractfile(info)
                if source is None:  # pragma: no cover - isfile() was checked just above
                    raise BackupError(f"The archive holds an unreadable entry ({info.name!r}): refused.")
                if info.name == MANIFEST:
                    manifest_bytes = source.read(1024 * 1024)
                    continue
                target = into / "members" / info.name
                target.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                size = 0
                with target.open("wb") as out:
                    while chunk := source.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                seen[info.name] = {"sha256": digest.hexdigest(), "size": size}
    except BackupError:
        raise
    except FileNotFoundError:
        raise BackupError(f"{archive} does not exist.") from None
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise BackupError(f"The archive is damaged or truncated ({exc}): nothing was restored.") from None
    return manifest_bytes, seen


def _read_manifest(data: bytes | None) -> dict:
    if data is None:
        raise BackupError("The archive has no manifest.json: it is not a backup of this application, or damaged.")
    try:
        manifest = json.loads(data)
        members, engine, database = manifest["members"], manifest["engine"], manifest["database"]
        ok = isinstance(members, dict) and all(isinstance(m, dict) for m in members.values())
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise BackupError("The archive's manifest.json is unreadable: the archive is damaged.")
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError("This archive is not in a backup format this version knows.")
    if engine not in DATABASE_MEMBER or database != DATABASE_MEMBER[engine]:
        raise BackupError("The archive's manifest names no database this version can restore.")
    return manifest


# --- restore -----------------------------------------------------------------------------------


def _sqlite_is_empty(path: Path) -> bool:
    if not path.exists():
        return True
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size:
        return False
    if path.stat().st_size == 0:
        return True
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    except sqlite3.DatabaseError:
        return False
    finally:
        conn.close()


def _pg_is_empty(url: URL) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return not conn.scalar(
                text(
                    "SELECT count(*) FROM pg_catalog.pg_class c "
                    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' "
                    "AND c.relkind IN ('r', 'p', 'v', 'm', 'S')"
                )
            )
    except Exception as exc:
        raise BackupError(
            f"Cannot reach the database to restore into: {exc.__class__.__name__}: {exc}".splitlines()[0]
            + " Create it first (createdb -O crm crm) and check CRM_DATABASE_URL."
        ) from None
    finally:
        engine.dispose()


def _check_revision(manifest: dict) -> None:
    revision = manifest.get("alembic_revision") or ""
    if not revision:
        return
    from alembic.script import ScriptDirectory  # here: a web worker imports this module, not Alembic
    from alembic.util import CommandError

    try:
        known = ScriptDirectory(str(MIGRATIONS)).get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise BackupError(
            f"The archive comes from a newer version of the application (database revision {revision}): "
            "install that version (or a later one) first, then restore."
        )


def restore_backup(app: Flask, archive: Path, url: URL, *, verify_only: bool = False) -> dict:
    """Check the archive, then load it into the configured, empty database and file folders."""
    engine = engine_name(url)
    instance = Path(app.instance_path)
    with _scratch(instance) as scratch:
        manifest = verify_archive(archive.resolve(), scratch)
        _check_revision(manifest)
        if verify_only:
            return manifest
        if manifest["engine"] != engine:
            raise BackupError(
                f"The archive holds a {manifest['engine']} database but CRM_DATABASE_URL points to {engine}: "
                f"configure a {manifest['engine']} database to restore it."
            )
        folders = file_folders(app)
        wanted = {name for name in manifest["members"] if name.startswith("files/")}
        for name, folder in folders.items():
            if any(m.startswith(f"files/{name}/") for m in wanted) and folder.is_dir() and any(folder.iterdir()):
                raise BackupError(f"{folder} is not empty: restore only goes into empty folders. Nothing was changed.")
        members = scratch / "members"
        if engine == "sqlite":
            target = sqlite_file(url.render_as_string(hide_password=False))
            if target is None:
                raise BackupError("Restoring into an in-memory SQLite database makes no sense: set CRM_DATABASE_URL.")
            if not _sqlite_is_empty(target):
                raise BackupError(
                    f"The database {target} is not empty: restore only goes into an empty database. Stop the app, "
                    "move that file away (keep it until the restore is checked), then run the restore again."
                )
            _restore_sqlite(members / manifest["database"], target)
        else:
            if not _pg_is_empty(url):
                raise BackupError(
                    "The database is not empty: restore only goes into an empty database. Stop the app, then "
                    "dropdb and createdb it (or point CRM_DATABASE_URL to a new one), and run the restore again."
                )
            uri, env = _libpq(url)
            # One transaction: a failure half-way leaves the database as empty as it was.
            _run(
                [
                    "pg_restore",
                    "--exit-on-error",
                    "--single-transaction",
                    "--no-owner",
                    "--no-privileges",
                    "--dbname",
                    uri,
                    str(members / manifest["database"]),
                ],
                env,
            )
        for name, folder in folders.items():
            source = members / "files" / name
            if source.is_dir():
                _move_tree(source, folder)
    return manifest


def _restore_sqlite(source: Path, target: Path) -> None:
    conn = sqlite3.connect(source)
    try:
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    except sqlite3.DatabaseError:
        ok = False
    finally:
        conn.close()
    if not ok:
        raise BackupError("The database in the archive fails SQLite's integrity check: nothing was restored.")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.restoring")
    shutil.copyfile(source, partial)
    partial.chmod(0o600)
    with partial.open("rb") as fh:
        os.fsync(fh.fileno())
    for suffix in ("-wal", "-shm"):  # empty leftovers of the previous file would confuse SQLite
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    os.replace(partial, target)


def _move_tree(source: Path, folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in sorted(source.rglob("*")):
        target = folder / path.relative_to(source)
        if path.is_dir():
            target.mkdir(mode=0o700, exist_ok=True)
        else:
            shutil.move(path, target)
            target.chmod(0o600)
