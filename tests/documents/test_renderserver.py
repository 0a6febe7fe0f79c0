"""The PDF render server (crm/documents/renderserver.py), started as gunicorn's master starts it."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crm.auth.models import Role
from crm.documents import renderserver
from crm.documents.pdf import RenderTimeout
from tests.conftest import error_message
from tests.documents.test_pdf import _text, audience  # noqa: F401 - the fixture, shared

BUSY = "The service is busy"


@pytest.fixture
def render_server(app) -> Iterator[renderserver.RenderServer]:
    server = renderserver.start(app.static_folder)
    try:
        yield server
    finally:
        server.stop()


def _children(pid: int, name: str) -> list[int]:
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            if Path(f"/proc/{child}/comm").read_text().strip() == name:
                found.append(int(child))
        except OSError:  # ended meanwhile
            pass
    return found


def test_a_worker_with_a_render_server_prints_through_it(app, client, audience, login_as, render_server):  # noqa: F811
    meeting, _staff = audience
    app.config["CRM_PDF_SOCKET"] = render_server.path
    login_as(Role.VIEWER)
    response = client.get(f"/meetings/{meeting.id}/minutes.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    text = _text(response.data)
    assert meeting.title in text and "PROJET" in text
    assert "crm_pdf" not in app.extensions  # this process never built a renderer of its own
    assert oct(os.stat(render_server.path).st_mode & 0o777) == "0o600"


def test_a_render_past_the_limit_is_answered_as_busy(app, client, audience, login_as, render_server):  # noqa: F811
    meeting, _staff = audience
    app.config["CRM_PDF_SOCKET"] = render_server.path
    app.config["CRM_PDF_TIMEOUT"] = 0.001  # nothing renders that fast
    login_as(Role.VIEWER)
    response = client.get(f"/meetings/{meeting.id}/minutes.pdf")
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert error_message(response) == "Le service est occupé. Rien n’est perdu : réessayez dans un instant."


def test_a_render_past_the_limit_is_killed(app, render_server):
    remote = renderserver.RemoteRenderer(render_server.path, 0.5, lambda: pytest.fail("rendered in process"))
    endless = "<html><body>" + "<p>Le Ministre a rappelé les attentes de l’État.</p>" * 20_000 + "</body></html>"
    with pytest.raises(RenderTimeout):
        remote.render(endless)  # minutes of layout
    deadline = time.monotonic() + 20
    while _children(render_server.pid, renderserver.BUSY_NAME) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _children(render_server.pid, renderserver.BUSY_NAME) == []  # killed, a second after the limit
    remote.timeout = 60
    assert remote.render(renderserver.WARM_UP).startswith(b"%PDF-")  # and the server serves on


def test_a_dead_render_server_is_a_warning_and_a_render_in_the_worker(
    app,
    client,
    audience,  # noqa: F811
    login_as,
    render_server,
    caplog,
):
    meeting, _staff = audience
    app.config["CRM_PDF_SOCKET"] = render_server.path
    os.kill(render_server.pid, signal.SIGKILL)
    os.waitpid(render_server.pid, 0)
    login_as(Role.VIEWER)
    with caplog.at_level(logging.WARNING, logger="crm.documents.renderserver"):
        response = client.get(f"/meetings/{meeting.id}/minutes.pdf")
    assert response.status_code == 200 and meeting.title in _text(response.data)
    assert "PDF render server" in caplog.text and "rendering in this worker" in caplog.text
