"""The bell in Chromium: a commitment given to me rings it; opening the notification leads to the commitment
and the count goes."""

from __future__ import annotations

from playwright.sync_api import expect

from crm.auth.models import Role
from crm.commitments import services as commitments
from crm.extensions import db
from tests.browser.conftest import shot, sign_in


def test_the_bell_counts_and_leads_to_what_happened(live_server, page_for):
    base, app = live_server["url"], live_server["app"]
    with app.app_context():
        officer, staff = (db.session.merge(live_server["users"][r]) for r in (Role.OFFICER, Role.STAFF))
        commitment = commitments.create_commitment(
            db.session,
            {
                "title": "Étendre la couverture rurale",
                "owed_by": "ours",
                "priority": "normal",
                "responsible_id": staff.id,
            },
            officer,
        )
        db.session.commit()
        reference = commitment.reference
        commitment_id = commitment.id
        db.session.remove()

    page = page_for("en-GB")
    sign_in(page, base, "staff@mcenma.example")
    bell = page.locator("header a.bell")
    expect(bell.locator(".bell-count")).to_have_text("1")
    shot(page, "bell-one-unread")

    bell.click()
    expect(page.locator("h1")).to_have_text("Notifications")
    item = page.get_by_role("button", name=f"A commitment is yours: {reference} — Étendre la couverture rurale")
    expect(item).to_be_visible()
    shot(page, "notifications-list")
    item.click()
    expect(page).to_have_url(f"{base}/commitments/{commitment_id}")
    expect(page.locator("header a.bell .bell-count")).to_have_count(0)
