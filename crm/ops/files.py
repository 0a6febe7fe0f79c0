"""Private files: the instance folder 0700, the SQLite database and everything the app writes 0600."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from flask import Flask
from sqlalchemy.engine import make_url


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for another engine or an in-memory database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    if parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


def loose(path: Path) -> bool:
    """Can a user other than the owner read, write or enter it?"""
    return bool(stat.S_IMODE(path.lstat().st_mode) & 0o077)


def init_app(app: Flask) -> None:
    # Everything this process writes is private data (database, key, demo passwords, backups, logs): no file of
    # it should be readable by another account, whichever entry point created it (gunicorn, a flask command).
    os.umask(0o077)
    instance = Path(app.instance_path)
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)
    if loose(instance) and instance.stat().st_uid == os.geteuid():
        instance.chmod(0o700)  # created 0755 by an earlier version, or by config.py before we got here
    database = sqlite_file(app.config["SQLALCHEMY_DATABASE_URI"])
    if database is not None and database.parent.is_dir() and not database.exists():
        # SQLite would create the file 0644; an empty file is an empty database, so make it ourselves.
        with contextlib.suppress(FileExistsError):  # another worker was first
            os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
