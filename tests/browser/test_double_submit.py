"""On a slow link, clicking "Enregistrer" twice (or a double-click) makes one record, whatever the browser does."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import func, select

from crm.extensions import db
from crm.meetings.models import Meeting
from tests.browser.conftest import shot, sign_in

# A slow EDGE link: the first sending is still on its way when the second click comes.
EDGE = {"offline": False, "latency": 1500, "downloadThroughput": 30_000, "uploadThroughput": 15_000}


def _meetings(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Meeting))
        db.session.remove()
    return count


def _slow_link(page) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", EDGE)


def _fill_meeting(page, base: str, title: str) -> None:
    page.goto(f"{base}/meetings/new")
    page.fill("input[name=title]", title)
    page.fill("input[name=starts_at]", "2026-12-03T10:00")
    page.fill("input[name=ends_at]", "2026-12-03T11:00")


def test_two_clicks_600_ms_apart_on_a_slow_link_make_one_meeting(live_server, page_for):
    base, app = live_server["url"], live_server["app"]
    page = page_for("fr-FR")
    sign_in(page, base, "staff@mcenma.example")
    _fill_meeting(page, base, "Audience avec la délégation de Huawei")
    _slow_link(page)
    save = page.locator("form.card button.primary")
    save.click()
    expect(save).to_be_disabled()  # while the first sending is on its way
    shot(page, "double-submit-1-sending-fr")
    page.wait_for_timeout(600)
    save.click(force=True, timeout=2000)  # the impatient second click, on the disabled button
    expect(page.locator(".facts")).to_contain_text("ML-AUD-2026-", timeout=20_000)
    shot(page, "double-submit-2-one-meeting-fr")
    assert _meetings(app) == 1


def test_the_server_keeps_one_record_when_the_browser_sends_twice(live_server, page_for):
    """No trust in the browser: the same form sent twice at once (a replay, a script) still makes one."""
    base, app = live_server["url"], live_server["app"]
    page = page_for("fr-FR")
    sign_in(page, base, "staff@mcenma.example")
    _fill_meeting(page, base, "Audience avec Orange Mali")
    statuses = page.evaluate(
        """async () => {
            const form = document.querySelector("form.card");
            const token = document.body.getAttribute("hx-headers");
            const send = () => fetch(form.getAttribute("hx-post"), {
                method: "POST", body: new FormData(form), redirect: "manual",
                headers: {"X-CSRFToken": JSON.parse(token)["X-CSRFToken"]},
            }).then(r => r.status);
            return Promise.all([send(), send()]);
        }"""
    )
    assert all(status in (0, 302) for status in statuses), statuses  # both sent to the one meeting
    assert _meetings(app) == 1
