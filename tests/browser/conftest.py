"""A live server on a temporary SQLite file, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from crm.auth.models import Role
from crm.extensions import db
from crm.partners import services as partners
from tests.conftest import PASSWORD, _make_app, make_user

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRED = os.environ.get("CRM_REQUIRE_BROWSER") == "1"
SHOTS = Path(__file__).resolve().parents[2] / "screenshots"


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM:
        if REQUIRED:
            pytest.fail("CRM_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install chromium)")
        pytest.skip("no chromium on PATH: browser tests skipped (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def live_server(tmp_path):
    app = _make_app(f"sqlite:///{tmp_path / 'browser.sqlite3'}")
    with app.app_context():
        db.create_all()
        partners.seed_countries(db.session)
        db.session.commit()
        users = {
            role: make_user(role, email=f"{role.value}@mcenma.example", name=f"Awa {role.value}")
            for role in (Role.STAFF, Role.OFFICER, Role.VIEWER)
        }
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_port}", "users": users, "app": app}
    server.shutdown()
    thread.join()


@pytest.fixture
def page_for(browser):
    contexts = []

    def _page(locale: str = "fr-FR"):
        context = browser.new_context(locale=locale, viewport={"width": 1200, "height": 900})
        contexts.append(context)
        return context.new_page()

    yield _page
    for context in contexts:
        context.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
