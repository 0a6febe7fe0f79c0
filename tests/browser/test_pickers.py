"""Pickers in Chromium, by keyboard: the arrow keys go from the search box through the people found, Enter
adds the one chosen as a plain member (nobody chairs unless chosen)."""

from __future__ import annotations

from datetime import date

from playwright.sync_api import expect

from crm.auth.models import Role
from crm.extensions import db
from crm.partners.models import Position
from tests.browser.conftest import sign_in
from tests.conftest import make_contact, make_meeting, make_org


def test_the_arrow_keys_choose_a_participant(live_server, page_for):
    base = live_server["url"]
    with live_server["app"].app_context():
        orange = make_org("Orange Mali")
        for family, given in (("N’Diaye", "Leyti"), ("Ndiaye", "Awa")):
            contact = make_contact(family, given)
            db.session.add(
                Position(
                    contact_id=contact.id, organisation_id=orange.id, title="Directeur", start_date=date(2025, 1, 1)
                )
            )
        db.session.commit()
        meeting_id = make_meeting(db.session.merge(live_server["users"][Role.STAFF]), orgs=[orange]).id
        db.session.remove()
    page = page_for("fr-FR")
    sign_in(page, base, "staff@mcenma.example")
    page.goto(f"{base}/meetings/{meeting_id}")
    search = page.locator("#people-q")
    box = search.bounding_box()
    assert box and box["width"] >= 280  # wide enough for its placeholder
    search.fill("ndiaye")
    options = page.locator("#people-options .option")
    expect(options).to_have_count(2)
    search.press("ArrowDown")
    expect(options.nth(0)).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(options.nth(1)).to_be_focused()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    expect(search).to_be_focused()
    search.press("ArrowDown")
    page.keyboard.press("Enter")
    partner_side = page.locator("#people")
    expect(partner_side).to_contain_text("Awa Ndiaye")
    added = page.locator("#people li", has_text="Awa Ndiaye")
    expect(added.locator("select[name=role]")).to_have_value("member")
    expect(added.locator("select[name=attendance]")).to_have_value("present")  # the meeting was held
