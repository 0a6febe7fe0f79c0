"""One JSON line per request, with ids only; the request id in the response and on error pages."""

from __future__ import annotations

import json
import logging

import pytest

from crm import create_app
from crm.auth.models import Role
from crm.auth.permissions import public
from tests.conftest import htmx_headers, make_meeting


@pytest.fixture
def request_lines(capsys):
    """The request lines written to stderr since the test started, parsed."""
    # An in-process `flask db upgrade` (another test) runs logging.fileConfig, which disables existing loggers.
    for name in ("crm", "crm.access"):
        logging.getLogger(name).disabled = False

    def _lines():
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
        return [line for line in lines if line["event"] == "request"]

    return _lines


def test_one_json_line_per_request_with_ids_only(client, db, login_as, request_lines):
    user = login_as(Role.STAFF, email="awa.traore@mcenma.example")
    meeting = make_meeting(user, title="Audience confidentielle")
    request_lines()  # forget the sign-in
    response = client.get(f"/meetings/{meeting.id}?q=secret-search")
    assert response.status_code == 200 and response.get_data()  # logged once the body is sent
    lines = request_lines()
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["user_id"] == user.id
    assert line["method"] == "GET"
    assert line["route"] == "/meetings/<int:meeting_id>"  # the rule, not the path with its id
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    raw = json.dumps(line)
    for personal in ("awa.traore", "secret-search", "Audience", str(meeting.reference), "crm_session"):
        assert personal not in raw


def test_anonymous_and_unknown_urls_are_logged_too(client, db, request_lines):
    client.get("/no/such/page").get_data()
    client.get("/login").get_data()
    first, second = request_lines()
    assert (first["route"], first["status"], first["user_id"]) == (None, 404, None)
    assert (second["route"], second["status"]) == ("/login", 200)


def test_a_sane_incoming_request_id_is_kept_and_a_strange_one_replaced(client, db, request_lines):
    kept = client.get("/login", headers={"X-Request-ID": "0f6c3a1e9b2d4c8a9e7f1a2b3c4d5e6f"})
    kept.get_data()
    assert kept.headers["X-Request-ID"] == "0f6c3a1e9b2d4c8a9e7f1a2b3c4d5e6f"
    for strange in ('abc"} {"forged": 1', "x" * 300, "short"):
        replaced = client.get("/login", headers={"X-Request-ID": strange})
        assert replaced.headers["X-Request-ID"] != strange
        assert len(replaced.headers["X-Request-ID"]) == 16
    assert next(line["request_id"] for line in request_lines()) == "0f6c3a1e9b2d4c8a9e7f1a2b3c4d5e6f"


def test_error_pages_show_the_request_id_to_quote(client, db, login_as):
    login_as(Role.VIEWER)
    page = client.get("/meetings/999999", headers={"Accept-Language": "fr"})
    assert page.status_code == 404
    assert f"Référence de l’erreur : {page.headers['X-Request-ID']}" in page.get_data(as_text=True)
    fragment = client.get("/meetings/999999", headers=htmx_headers())
    text = fragment.get_data(as_text=True)
    # The htmx notice bar shows the text of .error-message: the reference must be inside it.
    message = text.split('class="error-message"')[1].split("</p>")[0]
    assert fragment.headers["X-Request-ID"] in message


def test_an_unexpected_error_gives_a_reference_found_in_the_logs(database_url, request_lines, capsys):
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})  # not TESTING: the production error page

    @app.get("/boom")
    @public
    def boom():
        raise RuntimeError("kaput")

    with app.app_context():
        response = app.test_client().get("/boom", headers={"Accept-Language": "en"})
    request_id = response.headers["X-Request-ID"]
    assert response.status_code == 500
    assert f"Error reference: {request_id}" in response.get_data(as_text=True)
    assert "kaput" not in response.get_data(as_text=True)
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    error = next(line for line in lines if line["level"] == "error")
    assert error["request_id"] == request_id and "RuntimeError: kaput" in error["error"]
    request = next(line for line in lines if line["event"] == "request")
    assert (request["request_id"], request["status"], request["route"]) == (request_id, 500, "/boom")
