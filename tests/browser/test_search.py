"""The header's search box: results appear as one types "huawei", Enter opens the full results page."""

from playwright.sync_api import expect
from sqlalchemy import select

from crm.auth.models import User
from crm.extensions import db
from tests.browser.conftest import shot, sign_in
from tests.conftest import make_commitment, make_meeting, make_org


def test_search_huawei_from_the_header(live_server, page_for):
    base = live_server["url"]
    with live_server["app"].app_context():
        staff = db.session.scalars(select(User).where(User.email == "staff@mcenma.example")).one()
        huawei = make_org("Huawei Technologies Mali", acronym="Huawei")
        make_meeting(staff, "Audience avec le DG de Huawei", orgs=[huawei], notes="Formation <b>5G</b> à Bamako.")
        make_commitment(staff, "Envoyer la note technique à Huawei")
        make_org("Orange Mali")
        db.session.remove()
    page = page_for("fr-FR")
    sign_in(page, base, "staff@mcenma.example")
    box = page.get_by_role("searchbox", name="Rechercher partout")
    box.click()
    box.press_sequentially("huawei", delay=40)
    live = page.locator("#search-live")
    expect(live.get_by_role("link", name="Audience avec le DG de Huawei")).to_be_visible()
    expect(live.get_by_role("link", name="Huawei Technologies Mali")).to_be_visible()
    expect(live.locator("mark").first).to_have_text("Huawei")
    expect(live).not_to_contain_text("Orange")
    shot(page, "search-01-as-you-type")

    box.press("Enter")
    expect(page.get_by_role("heading", name="Résultats de la recherche")).to_be_visible()
    expect(page).to_have_url(f"{base}/search?q=huawei")
    for heading in ("Organisations", "Rencontres", "Engagements"):
        expect(page.locator("#results").get_by_role("heading", name=heading)).to_be_visible()
    # The snippet shows the stored text as text, the match marked.
    expect(page.locator(".snippet", has_text="Formation <b>5G</b> à Bamako.")).to_be_visible()
    expect(page.locator(".snippet b")).to_have_count(0)
    shot(page, "search-02-results-page")
    page.locator("#results").get_by_role("link", name="Audience avec le DG de Huawei").click()
    expect(page.get_by_role("heading", name="Audience avec le DG de Huawei")).to_be_visible()
