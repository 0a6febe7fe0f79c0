"""`flask check-deploy`: what would make this production configuration unsafe or fragile, each with its fix."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from crm.extensions import db
from crm.ops.files import loose, sqlite_file
from crm.ops.health import database_status
from crm.ops.server import worker_count

ERROR, WARNING, OK = "ERROR", "WARNING", "OK"
KEY_FIX = 'set CRM_SECRET_KEY to the output of: python3 -c "import secrets; print(secrets.token_urlsafe(48))"'
# Words found in placeholder keys (examples, tutorials, our own test key); a random key of 64 characters
# contains one of these by chance about once in 10^13.
PLACEHOLDER_WORDS = ("change", "example", "secret", "default", "password", "production", "replace", "placeholder")


@dataclass
class Finding:
    level: str
    message: str
    fix: str = ""


Check = Callable[[Flask], Iterator[Finding]]


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def check_environment(app: Flask) -> Iterator[Finding]:
    if app.config.get("CRM_ENV") != "production":
        yield Finding(ERROR, "CRM_ENV is not 'production' (cookies are not Secure, no HSTS).", "set CRM_ENV=production")
    else:
        yield Finding(OK, "CRM_ENV is production.")
    if app.debug or _env_flag("FLASK_DEBUG"):
        yield Finding(
            ERROR,
            "Debug mode is on: tracebacks and an interactive console would be shown to anyone.",
            "remove FLASK_DEBUG (and --debug) from the service's environment",
        )
    else:
        yield Finding(OK, "Debug mode is off.")
    if app.testing:
        yield Finding(ERROR, "TESTING is on: CSRF checks may be off.", "do not set TESTING in production")


def check_base_url(app: Flask) -> Iterator[Finding]:
    url = app.config.get("CRM_BASE_URL") or os.environ.get("CRM_BASE_URL", "")
    fix = "set CRM_BASE_URL to the public address, e.g. CRM_BASE_URL=https://crm.mcenma.gov.ml"
    if not url:
        yield Finding(
            ERROR, "No CRM_BASE_URL: links in PDFs, QR codes and calendar feeds need the public address.", fix
        )
        return
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        yield Finding(ERROR, f"CRM_BASE_URL ({url}) is not an https:// address.", fix)
    else:
        yield Finding(OK, f"CRM_BASE_URL is {url}.")


def check_secret_key(app: Flask) -> Iterator[Finding]:
    key = str(app.config.get("SECRET_KEY") or "")
    lowered = key.lower()
    if len(key) < 32:
        yield Finding(ERROR, f"The secret key is too short ({len(key)} characters; at least 32).", KEY_FIX)
    elif any(word in lowered for word in PLACEHOLDER_WORDS) or len(set(key)) < 16:
        yield Finding(ERROR, "The secret key looks like a default or a placeholder, not a random key.", KEY_FIX)
    elif not os.environ.get("CRM_SECRET_KEY"):
        yield Finding(
            WARNING,
            "The secret key is the one generated in instance/secret_key: a second app server would have another, "
            "and users would be signed out whenever they move from one server to the other.",
            KEY_FIX + " (the same value on every app server)",
        )
    else:
        yield Finding(OK, "The secret key is set and looks random.")


def check_cookies(app: Flask) -> Iterator[Finding]:
    problems = []
    if not app.config.get("SESSION_COOKIE_SECURE"):
        problems.append(
            (
                "the session cookie is not Secure (it would travel over plain HTTP)",
                "set CRM_ENV=production and do not set CRM_SECURE_COOKIES=0",
            )
        )
    if not app.config.get("SESSION_COOKIE_HTTPONLY"):
        problems.append(("the session cookie is readable by scripts", "SESSION_COOKIE_HTTPONLY must stay on"))
    if app.config.get("SESSION_COOKIE_SAMESITE") not in ("Lax", "Strict"):
        problems.append(("the session cookie has no SameSite=Lax", "SESSION_COOKIE_SAMESITE must be Lax or Strict"))
    for message, fix in problems:
        yield Finding(ERROR, f"Insecure cookies: {message}.", fix)
    if not problems:
        yield Finding(OK, "Session cookies are Secure, HttpOnly and SameSite=Lax.")


def check_database(app: Flask) -> Iterator[Finding]:
    status = database_status()
    if status == "database unreachable":
        yield Finding(ERROR, "The database does not answer.", "check CRM_DATABASE_URL and that the server runs")
        return
    if status == "migrations pending":
        yield Finding(ERROR, "The database schema is not current.", "run: flask --app app db upgrade")
    else:
        yield Finding(OK, "The database answers and its schema is current.")
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        yield from _check_sqlite(app)
    elif url.get_backend_name() == "postgresql":
        yield from _check_pg_dump()


def _check_sqlite(app: Flask) -> Iterator[Finding]:
    workers = worker_count()
    try:
        mode = str(db.session.execute(text("PRAGMA journal_mode")).scalar()).lower()
    except SQLAlchemyError:
        db.session.rollback()
        mode = "unknown"
    if workers > 1 and mode != "wal":
        path = sqlite_file(str(db.engine.url)) or "FILE"
        yield Finding(
            ERROR,
            f"SQLite in '{mode}' journal mode with {workers} workers: writers would block readers and each other "
            "('database is locked').",
            f"enable WAL once, app stopped: sqlite3 {path} 'PRAGMA journal_mode=WAL;' (or CRM_WORKERS=1)",
        )
    else:
        yield Finding(OK, f"SQLite journal mode {mode} with {workers} worker(s).")
    yield Finding(
        WARNING,
        "SQLite serves one app server only.",
        "for a second app server, move to PostgreSQL (docs/deploy.md, 'Adding an app server')",
    )


def _check_pg_dump() -> Iterator[Finding]:
    if shutil.which("pg_dump") is None:
        yield Finding(
            WARNING, "pg_dump is not installed: `flask backup` will fail.", "apt-get install postgresql-client"
        )
        return
    found = subprocess.run(["pg_dump", "--version"], capture_output=True, text=True, check=False).stdout
    client = re.search(r"(\d+)", found)
    server = db.session.execute(text("SHOW server_version_num")).scalar()
    if client and server and int(client.group(1)) < int(server) // 10000:
        yield Finding(
            WARNING,
            f"pg_dump {client.group(1)} is older than the server ({int(server) // 10000}): it will refuse to dump.",
            "install the postgresql-client of the server's version",
        )
    else:
        yield Finding(OK, "pg_dump is installed for backups.")


def _loose_files(root: Path, limit: int = 5) -> list[str]:
    found: list[str] = []
    if not root.exists():
        return found
    for path in [root, *root.rglob("*")]:
        if loose(path):
            found.append(f"{path} ({stat.filemode(path.lstat().st_mode)})")
            if len(found) >= limit:
                break
    return found


def check_files(app: Flask) -> Iterator[Finding]:
    instance = Path(app.instance_path)
    paths = _loose_files(instance)
    database = sqlite_file(str(db.engine.url))
    if database is not None and instance not in database.resolve().parents:
        for path in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
            if path.exists() and loose(path):
                paths.append(f"{path} ({stat.filemode(path.lstat().st_mode)})")
    if paths:
        yield Finding(
            ERROR,
            "Files readable by other accounts: " + ", ".join(paths) + ".",
            f"chmod -R go-rwx {instance}" + (f" {database}*" if database and database.parent != instance else ""),
        )
    else:
        yield Finding(OK, f"The instance folder {instance} and its files are private (0700/0600).")


def check_proxy(app: Flask) -> Iterator[Finding]:
    if not app.config.get("CRM_PROXY_FIX"):
        yield Finding(
            WARNING,
            "CRM_PROXY_FIX is not set: behind nginx every request seems to come from nginx, so the per-address "
            "sign-in throttle would lock everyone out together.",
            "behind one reverse proxy, set CRM_PROXY_FIX=1",
        )
    else:
        yield Finding(OK, f"X-Forwarded-* headers trusted from {app.config['CRM_PROXY_FIX']} proxy(ies).")


def check_static(app: Flask) -> Iterator[Finding]:
    static = app.extensions.get("crm_static")
    if static is not None and static.build_problem:
        yield Finding(
            WARNING,
            f"Static files are served uncompressed: cannot write their compressed copies ({static.build_problem}).",
            "make CRM_STATIC_BUILD_DIR writable by the app's user",
        )


CHECKS: list[Check] = [
    check_environment,
    check_base_url,
    check_secret_key,
    check_cookies,
    check_database,
    check_files,
    check_proxy,
    check_static,
]


def run_checks(app: Flask) -> list[Finding]:
    findings: list[Finding] = []
    for check in CHECKS:
        findings.extend(check(app))
    return findings
