"""Real servers for the tests that need several processes: the app under gunicorn, and a small client.

The client keeps cookies and sends the CSRF token like a browser's page would, so that it meets the
app exactly as users do (CSRF on, sessions, throttling), through real sockets.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crm import create_app
from crm.config import sqlalchemy_url
from tests.conftest import PASSWORD, PG_URL

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
SECRET = "live-test-secret-key-not-for-production-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_database(kind: str, tmp_path: Path, name: str) -> str:
    """An empty database: a file under tmp_path (SQLite) or a new database on the test server (PostgreSQL)."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / (name + '.sqlite3')}"
    base = make_url(sqlalchemy_url(PG_URL))
    database = f"{base.database}_{name}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    return base.set(database=database).render_as_string(hide_password=False)


def migrated_app(database_url: str) -> Flask:
    """The app on that database, migrated to the head as `flask db upgrade` would."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": sqlalchemy_url(database_url)})
    with app.app_context():
        upgrade()
    return app


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path

    def workers(self) -> list[int]:
        found = subprocess.run(["pgrep", "-P", str(self.process.pid)], check=False, capture_output=True, text=True)
        out = found.stdout
        return [int(pid) for pid in out.split()]

    def kill_worker(self) -> int:
        pid = self.workers()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def wait_for_workers(self, count: int, besides: set[int] = frozenset(), timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = set(self.workers())
            if len(current - besides) >= count:
                return
            time.sleep(0.1)
        raise TimeoutError(self.log.read_text()[-2000:])


@contextmanager
def gunicorn(database_url: str, instance: Path, *, workers: int = 3, env: dict | None = None) -> Iterator[Server]:
    port = free_port()
    instance.mkdir(parents=True, exist_ok=True)
    log = instance / "gunicorn.log"
    environment = {
        **os.environ,
        "CRM_DATABASE_URL": database_url,
        "CRM_INSTANCE_PATH": str(instance),
        "CRM_SECRET_KEY": SECRET,
        "CRM_BASE_URL": f"http://127.0.0.1:{port}",
        "CRM_ALLOWED_HOSTS": "127.0.0.1",
        **(env or {}),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(GUNICORN), "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--timeout", "120", "app:app"],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_until_up(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_until_up(server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(server.log.read_text()[-3000:])
        try:
            with urllib.request.urlopen(server.url + "/login", timeout=15) as response:
                if response.status == 200:
                    return
        except (OSError, http.client.HTTPException):  # refused, reset, timed out: not up yet
            time.sleep(0.2)
    raise TimeoutError(server.log.read_text()[-3000:])


@dataclass
class Answer:
    status: int
    body: str
    headers: dict[str, str]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
CSRF_HEADER = re.compile(r'"X-CSRFToken": "([^"]+)"')


class Client:
    """A browser without a screen: cookies, CSRF token from the last page, no redirects followed."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)
        self.csrf = ""

    def request(self, method: str, path: str, data: dict | None = None, headers: dict | None = None) -> Answer:
        body = urllib.parse.urlencode(data or {}, doseq=True).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        if body is not None:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with self.opener.open(request, timeout=120) as response:
                answer = Answer(response.status, response.read().decode("utf-8", "replace"), dict(response.headers))
        except urllib.error.HTTPError as error:
            answer = Answer(error.code, error.read().decode("utf-8", "replace"), dict(error.headers))
        match = CSRF_HEADER.search(answer.body) or CSRF_INPUT.search(answer.body)
        if match:
            self.csrf = next(group for group in match.groups() if group)
        return answer

    def get(self, path: str, **headers: str) -> Answer:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, data: dict, *, htmx: bool = False) -> Answer:
        headers = {"X-CSRFToken": self.csrf}
        if htmx:
            headers["HX-Request"] = "true"
        return self.request("POST", path, {**data, "csrf_token": self.csrf}, headers)

    def sign_in(self, email: str, password: str = PASSWORD) -> Answer:
        self.get("/login")
        answer = self.post("/login", {"email": email, "password": password})
        assert answer.status == 302, answer.body[:500]
        return answer
