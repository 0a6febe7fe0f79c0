"""Language in Chromium: the header switch works without JavaScript and comes back to the same page; a session
that ended is announced in the page's language, not the browser's."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import delete, select

from crm.auth.models import User, UserSession
from crm.extensions import db
from tests.browser.conftest import shot, sign_in
from tests.conftest import ERROR_FR


def _set_locale(server, email: str, lang: str) -> None:
    with server["app"].app_context():
        db.session.scalars(select(User).where(User.email == email)).one().locale = lang
        db.session.commit()
        db.session.remove()


def test_the_header_switch_works_without_javascript(live_server, browser):
    base = live_server["url"]
    context = browser.new_context(locale="fr-FR", java_script_enabled=False, viewport={"width": 360, "height": 800})
    page = context.new_page()
    sign_in(page, base, "staff@mcenma.example")
    page.goto(f"{base}/organisations?q=orange")
    expect(page.locator("h1")).to_have_text("Organisations")

    page.get_by_role("button", name="English").click()

    expect(page).to_have_url(f"{base}/organisations?q=orange")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Meetings")).to_be_visible()
    shot(page, "language-switched-en-360")
    page.get_by_role("button", name="Français").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    context.close()


def test_a_session_that_ended_is_announced_in_the_pages_language(live_server, page_for):
    base = live_server["url"]
    _set_locale(live_server, "staff@mcenma.example", "fr")
    page = page_for("en-US")  # the browser asks for English; the account reads French
    sign_in(page, base, "staff@mcenma.example")
    page.goto(f"{base}/organisations")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    with live_server["app"].app_context():  # the session ends on the server (expired, or signed out elsewhere)
        db.session.execute(delete(UserSession))
        db.session.commit()
        db.session.remove()

    page.get_by_role("searchbox").first.fill("orange")

    notice = page.locator("#notice")
    expect(notice).to_be_visible()
    expect(notice).to_have_text(ERROR_FR[401])
    shot(page, "session-ended-fr")
