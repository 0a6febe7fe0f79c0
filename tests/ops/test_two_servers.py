"""Two app servers (real gunicorn processes, each with its own instance folder) on one PostgreSQL database behave
as one: a session, a sign-in throttle, a calendar link, a file, an approval made on one is seen by the other."""

from __future__ import annotations

import http.cookiejar
import io
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from pypdf import PdfReader

from crm.auth.models import Role
from crm.config import sqlalchemy_url
from crm.extensions import db
from crm.meetings import services as meetings
from tests.conftest import PASSWORD, PG_URL, make_meeting, make_org, make_user
from tests.ops.conftest import drop_pg_database, make_ops_app, pg_database

pytestmark = pytest.mark.skipif(not PG_URL, reason="two app servers share a PostgreSQL database")

ROOT = Path(__file__).resolve().parents[2]
LOGO = ROOT / "tests" / "documents" / "logo.png"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """Just enough of a browser: a cookie jar (shareable between servers), forms with their CSRF token."""

    def __init__(self, base: str, jar: http.cookiejar.CookieJar | None = None):
        self.base = base
        self.jar = jar if jar is not None else http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def on(self, base: str) -> Browser:
        """The same browser (same cookies) talking to another server."""
        return Browser(base, self.jar)

    def open(self, method: str, path: str, data: bytes | None = None, headers: dict | None = None) -> Reply:
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        try:
            with self.opener.open(request, timeout=60) as response:
                return Reply(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return Reply(error.code, dict(error.headers), error.read())

    def get(self, path: str) -> Reply:
        return self.open("GET", path)

    def csrf(self, path: str) -> str:
        page = self.get(path).text
        tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', page).group(0)
        return re.search(r'value="([^"]+)"', tag).group(1)

    def post(self, path: str, fields: dict, files: dict | None = None, form_page: str | None = None) -> Reply:
        fields = {"csrf_token": self.csrf(form_page or path), **fields}
        if not files:
            body = urllib.parse.urlencode(fields).encode()
            return self.open("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
        boundary = secrets.token_hex(16)
        out = io.BytesIO()
        for name, value in fields.items():
            out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        for name, (filename, data) in files.items():
            out.write(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n".encode()
            )
            out.write(data + b"\r\n")
        out.write(f"--{boundary}--\r\n".encode())
        return self.open("POST", path, out.getvalue(), {"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def sign_in(self, email: str, password: str = PASSWORD) -> Reply:
        return self.post("/login", {"email": email, "password": password})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(url: str, instance: Path, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "FLASK_"))}
    env.update(
        CRM_DATABASE_URL=url,
        CRM_INSTANCE_PATH=str(instance),
        CRM_SECRET_KEY=secret,
        CRM_STATIC_BUILD_DIR=str(instance.parent / "static-build"),
        CRM_WORKERS="1",  # two servers on a 2-core machine
    )
    return env


def _start(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    with log.open("wb") as out:
        command = [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py"]
        process = subprocess.Popen(
            [*command, "--bind", f"127.0.0.1:{port}", "app:app"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):  # at most a minute
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
                if response.status == 200:
                    return process, base
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    process.terminate()
    process.wait(timeout=30)
    raise AssertionError(f"the server did not start:\n{log.read_text()}")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Servers A and B on database crm_ops_two_servers, migrated with `flask db upgrade`, and a few records."""
    tmp = tmp_path_factory.mktemp("two-servers")
    url = pg_database("two_servers")
    secret = secrets.token_urlsafe(48)
    migrate = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
        cwd=ROOT,
        env=_server_env(url, tmp / "setup" / "instance", secret),
        capture_output=True,
        text=True,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    with pytest.MonkeyPatch.context() as monkeypatch:
        setup = make_ops_app(monkeypatch, tmp / "setup" / "instance", sqlalchemy_url(url))
    with setup.app_context():
        officer = make_user(Role.OFFICER, email="awa.traore@mcenma.example")
        staff = make_user(Role.STAFF, email="ibrahim.maiga@mcenma.example")
        admin = make_user(Role.ADMIN, email="admin@mcenma.example")
        throttled = make_user(Role.VIEWER, email="kadiatou.sidibe@mcenma.example")
        org = make_org("Orange Mali")
        meeting = make_meeting(staff, orgs=[org])
        revision = meetings.start_minutes(db.session, meeting)
        meetings.add_item(db.session, revision, revision.version, "Couverture rurale")
        db.session.commit()
        revision = meetings.revision_with_items(db.session, meeting.id)
        meetings.submit_minutes(db.session, revision, staff, revision.version)
        db.session.commit()
        records = {
            "officer": officer.email,
            "staff": staff.email,
            "admin": admin.email,
            "throttled": throttled.email,
            "org_id": org.id,
            "meeting_id": meeting.id,
            "reference": meeting.reference,
            "revision": revision.number,
        }
        db.session.remove()
        db.engine.dispose()
    started = []
    try:
        for name in ("a", "b"):
            started.append(_start(_server_env(url, tmp / name / "instance", secret), tmp / f"{name}.log"))
        yield {"a": started[0][1], "b": started[1][1], "url": url, **records}
    finally:
        for process, _base in started:
            _stop(process)
        drop_pg_database(url)


def test_each_server_has_its_own_instance_folder_and_one_database(servers):
    for base in (servers["a"], servers["b"]):
        health = Browser(base).get("/healthz")
        assert health.status == 200 and health.headers["Server"] == "crm"


def test_a_session_opened_on_one_server_works_on_the_other_and_ends_on_both(servers):
    on_a = Browser(servers["a"])
    assert on_a.sign_in(servers["officer"]).status == 302
    on_b = on_a.on(servers["b"])  # the same cookie, the other server (as a load balancer would do)
    page = on_b.get("/organisations")
    assert page.status == 200 and "Orange Mali" in page.text
    assert on_b.post("/logout", {}, form_page="/organisations").status == 302
    assert on_a.get("/organisations").status == 302  # signed out everywhere


def test_failed_sign_ins_on_one_server_count_on_the_other(servers):
    on_a, on_b = Browser(servers["a"]), Browser(servers["b"])
    email = servers["throttled"]
    for browser in (on_a, on_a, on_a, on_b, on_b):  # five failures, the account's limit, across both
        assert browser.sign_in(email, "not the password").status == 401
    assert on_b.sign_in(email).status == 429  # even the right password, on either server
    assert on_a.sign_in(email).status == 429


def test_a_calendar_link_made_on_one_server_works_on_the_other(servers):
    on_a = Browser(servers["a"])
    on_a.sign_in(servers["staff"])
    page = on_a.post("/account/calendar", {"action": "new", "confirm": "yes"})
    link = re.search(r'value="(http[^"]+\.ics)"', page.text).group(1)
    path = urllib.parse.urlsplit(link).path
    feed = Browser(servers["b"]).get(path)  # a calendar application: no cookie, only the link
    assert feed.status == 200 and feed.body.startswith(b"BEGIN:VCALENDAR")


def _approve_on_a(servers) -> tuple[Browser, bytes]:
    on_a = Browser(servers["a"])
    on_a.sign_in(servers["officer"])
    minutes = f"/meetings/{servers['meeting_id']}/minutes"
    page = on_a.get(minutes).text
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    approved = on_a.post(f"{minutes}/approve", {"version": version}, form_page=minutes)
    assert approved.status in (302, 303), approved.text[:500]
    pdf = on_a.get(f"/meetings/{servers['meeting_id']}/minutes.pdf")
    assert pdf.status == 200 and pdf.body.startswith(b"%PDF")
    return on_a, pdf.body


@pytest.fixture(scope="module")
def approved(servers):
    return _approve_on_a(servers)


def test_minutes_approved_on_one_server_are_verified_on_the_other(servers, approved):
    _on_a, pdf = approved
    on_b = Browser(servers["b"])
    on_b.sign_in(servers["staff"])
    check = f"/verify/{servers['reference']}/{servers['revision']}"
    result = on_b.post(check, {"sha256": ""}, files={"file": ("copie.pdf", pdf)})
    assert result.status == 200
    assert "Authentique" in result.text or "Authentic" in result.text


def test_the_approved_pdf_frozen_on_one_server_downloads_from_the_other(servers, approved):
    on_a, pdf = approved
    on_b = on_a.on(servers["b"])
    copy = on_b.get(f"/meetings/{servers['meeting_id']}/minutes.pdf")
    assert copy.status == 200 and copy.body == pdf


def test_a_file_uploaded_on_one_server_downloads_from_the_other(servers):
    on_a = Browser(servers["a"])
    on_a.sign_in(servers["staff"])
    data = b"%PDF-1.4\n% invitation\n%%EOF\n"
    meeting = f"/meetings/{servers['meeting_id']}"
    sent = on_a.post(
        f"{meeting}/attachments", {"description": "Invitation"}, {"file": ("invitation.pdf", data)}, meeting
    )
    assert sent.status in (302, 303), sent.text[:500]
    ids = re.findall(r'href="/attachments/(\d+)"', on_a.get(meeting).text)
    assert ids
    download = on_a.on(servers["b"]).get(f"/attachments/{ids[-1]}")
    assert download.status == 200 and download.body == data


def test_the_letterhead_logo_set_on_one_server_prints_on_the_other(servers):
    on_a = Browser(servers["a"])
    on_a.sign_in(servers["admin"])
    fields = {"country": "République du Mali", "motto": "Un Peuple – Un But – Une Foi", "authority": "Ministère"}
    version = re.search(r'name="version" type="hidden" value="(\d+)"', on_a.get("/admin/letterhead").text)[1]
    fields |= {"unit": "Direction de la coopération", "city": "Bamako", "version": version}
    saved = on_a.post("/admin/letterhead", fields, {"logo": ("logo.png", LOGO.read_bytes())})
    assert saved.status in (302, 303), saved.text[:500]
    report = f"/organisations/{servers['org_id']}/commitments.pdf"
    images = []
    for base in (servers["a"], servers["b"]):
        pdf = on_a.on(base).get(report)
        assert pdf.status == 200
        images.append(len(PdfReader(io.BytesIO(pdf.body)).pages[0].images))
    assert images[0] >= 1 and images == [images[0], images[0]]
