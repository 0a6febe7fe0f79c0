"""An officer's morning, in French, in Chromium: the minutes waiting on the home page are approved there, "huawei"
is found from the header, and the commitments filtered to Huawei's are exported."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from crm.auth.models import User
from crm.extensions import db
from crm.meetings import services as meetings
from tests.browser.conftest import shot, sign_in
from tests.conftest import make_commitment, make_meeting, make_org


def _morning(app) -> int:
    """A meeting with Huawei held yesterday, its minutes submitted by the staff member; two commitments."""
    with app.app_context():
        staff = db.session.scalars(select(User).where(User.email == "staff@mcenma.example")).one()
        huawei = make_org("Huawei Technologies Mali", acronym="Huawei")
        orange = make_org("Orange Mali")
        yesterday = datetime.now() - timedelta(days=1)
        meeting = make_meeting(staff, "Audience avec le DG de Huawei Mali", orgs=[huawei], starts=yesterday)
        revision = meetings.start_minutes(db.session, meeting)
        meetings.save_minutes(db.session, revision, "Formation des jeunes aux métiers du numérique.", {}, 1)
        meetings.submit_minutes(db.session, revision, staff, revision.version)
        make_commitment(staff, "Huawei présentera un plan de transfert de compétences", organisation_id=huawei.id)
        make_commitment(staff, "Orange Mali proposera une offre à coût réduit", organisation_id=orange.id)
        db.session.commit()
        huawei_id = huawei.id
        db.session.remove()
        return huawei_id


def test_approve_from_home_search_huawei_and_export_its_commitments(live_server, page_for):
    base = live_server["url"]
    huawei_id = _morning(live_server["app"])
    page = page_for("fr-FR")
    sign_in(page, base, "officer@mcenma.example")

    # Signing in opens "Aujourd'hui": the minutes wait there, and are approved without leaving the page.
    expect(page.get_by_role("heading", name="Aujourd’hui", exact=True)).to_be_visible()
    waiting = page.locator("section", has=page.locator("#b-approve"))
    expect(waiting.get_by_role("link", name="Audience avec le DG de Huawei Mali")).to_be_visible()
    shot(page, "morning-01-minutes-waiting")
    waiting.get_by_role("button", name="Approuver").click()
    expect(page).to_have_url(f"{base}/")
    expect(waiting.get_by_role("link", name="Audience avec le DG de Huawei Mali")).to_have_count(0)
    expect(page.get_by_text("Compte rendu approuvé")).to_be_visible()
    shot(page, "morning-02-approved-from-home")

    # "huawei" in the header finds the partner, the meeting and its commitment as one types.
    box = page.get_by_role("searchbox", name="Rechercher partout")
    box.click()
    box.press_sequentially("huawei", delay=40)
    live = page.locator("#search-live")
    expect(live.get_by_role("link", name="Huawei Technologies Mali")).to_be_visible()
    expect(live.get_by_role("link", name="Audience avec le DG de Huawei Mali")).to_be_visible()
    expect(live).not_to_contain_text("Orange")
    shot(page, "morning-03-search-huawei")

    # Huawei's commitments, exported as the list shows them.
    page.goto(f"{base}/commitments?organisation={huawei_id}")
    expect(page.get_by_text("Huawei présentera un plan de transfert de compétences")).to_be_visible()
    expect(page.get_by_text("Orange Mali proposera une offre à coût réduit")).to_have_count(0)
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    with open(download.value.path(), encoding="utf-8-sig") as exported:
        rows = list(csv.reader(exported))
    assert [row[1] for row in rows[1:]] == ["Huawei présentera un plan de transfert de compétences"]
    shot(page, "morning-04-huawei-commitments")
