"""A whole audience in Chromium: meeting, participants, minutes with two decisions, commitments,
submission in French, approval in English, and the commitments on the partner's page."""

from __future__ import annotations

from datetime import date

from playwright.sync_api import expect

from crm.extensions import db
from crm.partners.models import Position
from tests.browser.conftest import shot, sign_in
from tests.conftest import make_contact, make_org


def _partner(app) -> int:
    with app.app_context():
        orange = make_org("Orange Mali", sectors=["telecom"])
        leyti = make_contact("N’Diaye", "Leyti", honorific="M.")
        db.session.add(
            Position(
                contact_id=leyti.id, organisation_id=orange.id, title="Directeur général", start_date=date(2026, 1, 1)
            )
        )
        db.session.commit()
        org_id = orange.id
        db.session.remove()
    return org_id


def test_a_whole_audience(live_server, page_for):
    base = live_server["url"]
    org_id = _partner(live_server["app"])

    # Staff, in French: plan the meeting, picking the partner in the autocomplete.
    page = page_for("fr-FR")
    sign_in(page, base, "staff@mcenma.example")
    page.goto(f"{base}/meetings/new")
    page.fill("input[name=title]", "Audience du Ministre avec le DG d’Orange Mali")
    page.fill("input[name=starts_at]", "2026-01-22T10:00")
    page.fill("input[name=ends_at]", "2026-01-22T11:00")
    page.fill("input[name=place]", "Cabinet du Ministre, Bamako")
    page.fill("#org-search", "orange")
    page.locator(".options button.option", has_text="Orange Mali").click()
    expect(page.locator(".chip", has_text="Orange Mali")).to_be_visible()
    shot(page, "audience-1-new-meeting-fr")
    page.locator("form.card button.primary").click()
    expect(page.locator("h1")).to_have_text("Audience du Ministre avec le DG d’Orange Mali")
    expect(page.locator(".facts")).to_contain_text("ML-AUD-2026-0001")

    # Add the partner's director general: his title on that day shows.
    page.fill("#people-q", "ndiaye")
    page.locator("#people-options button.option", has_text="Leyti").first.click()
    expect(page.locator("#people")).to_contain_text("Directeur général, Orange Mali")
    shot(page, "audience-2-participants-fr")

    # Minutes: a summary, one agenda item, two decisions, saved as the user types.
    page.locator("a.button.primary[href$='/minutes']").click()
    page.locator("form[action$='/minutes/start'] button").click()
    page.fill("textarea[name=summary]", "Le Ministre a reçu M. Leyti N’Diaye, nouveau Directeur général d’Orange Mali.")
    page.locator("button[hx-post$='/minutes/items']").click()
    title = page.locator("input[name$='-title']").first
    expect(title).to_be_visible()
    title.fill("Couverture des zones rurales")
    page.locator("textarea[name$='-discussion']").first.fill("Extension du réseau et qualité de service.")
    page.locator("textarea[name$='-decisions']").first.fill(
        "Orange Mali transmettra son plan d’extension rurale\nLe Ministère réunira Orange Mali et l’AGETIC"
    )
    expect(page.locator("#save-status .ok")).to_be_visible(timeout=10_000)
    links = page.locator(".decisions a[href*='/commitments/new']")
    expect(links).to_have_count(2)
    shot(page, "audience-3-minutes-autosaved-fr")

    # Each decision becomes a commitment in one step.
    for owed_by, due in (("partner", "2026-03-31"), ("ours", "2026-02-28")):
        page.locator(".decisions a[href*='/commitments/new']").first.click()
        expect(page.locator("textarea[name=title]")).not_to_be_empty()
        page.select_option("select[name=owed_by]", owed_by)
        page.fill("input[name=due_date]", due)
        page.locator("form.card button.primary").click()
        expect(page.locator("#minutes-form")).to_be_visible()
    expect(page.locator(".decisions a.tag")).to_have_count(2)
    shot(page, "audience-4-commitments-linked-fr")

    page.locator("form[action$='/minutes/submit'] button").click()
    expect(page.locator(".revision-bar .status-submitted")).to_be_visible()
    page.locator("form[action$='/logout'] button").click()

    # An officer, in English, approves.
    officer = page_for("en-GB")
    sign_in(officer, base, "officer@mcenma.example")
    officer.goto(f"{base}/meetings/1/minutes")
    officer.locator("form[action$='/minutes/approve'] button").click()
    expect(officer.locator(".revision-bar .status-approved")).to_have_text("Approved")
    expect(officer.locator("#minutes-form")).to_have_count(0)  # locked
    shot(officer, "audience-5-approved-en")

    # The partner's page shows the meeting, both commitments and the promise figures.
    officer.goto(f"{base}/organisations/{org_id}")
    record = officer.locator("#partner-record")
    expect(record).to_contain_text("ML-ENG-2026-0001")
    expect(record).to_contain_text("ML-ENG-2026-0002")
    expect(record).to_contain_text("ML-AUD-2026-0001")
    expect(record.locator("#promises")).to_contain_text("Promises kept")
    shot(officer, "audience-6-partner-page-en")


def test_minutes_typed_after_the_session_ended_are_saved_once_back(live_server, page_for):
    base, app = live_server["url"], live_server["app"]
    with app.app_context():
        from crm.auth.models import User
        from crm.meetings import services as meetings
        from tests.conftest import make_meeting

        staff = db.session.scalars(db.select(User).where(User.email == "staff@mcenma.example")).one()
        meeting_id = make_meeting(staff).id
        db.session.remove()
    page = page_for("fr-FR")
    sign_in(page, base, "staff@mcenma.example")
    page.goto(f"{base}/meetings/{meeting_id}/minutes")
    page.locator("form[action$='/minutes/start'] button").click()
    summary = page.locator("textarea[name=summary]")
    summary.fill("Première phrase.")
    expect(page.locator("#save-status .ok")).to_be_visible(timeout=10_000)

    page.context.clear_cookies()  # the session is gone (expired, or signed out elsewhere)
    summary.fill("Première phrase. Texte tapé après l’expiration de la session.")
    expect(page.locator("#notice")).to_be_visible(timeout=10_000)
    expect(page.locator("#save-status .error")).to_be_visible()
    expect(summary).to_have_value("Première phrase. Texte tapé après l’expiration de la session.")
    shot(page, "audience-7-session-ended-text-kept-fr")

    other = page.context.new_page()  # signing in again in another tab
    sign_in(other, base, "staff@mcenma.example")
    other.wait_for_url(lambda url: "/login" not in url)  # signed in: the session cookie is set
    other.close()
    page.locator("h1").click()  # back in the first tab, the user clicks back into the text
    summary.click()
    expect(page.locator("#save-status .ok")).to_be_visible(timeout=10_000)
    with app.app_context():
        saved = meetings.revision_with_items(db.session, meeting_id).summary
        db.session.remove()
    assert saved == "Première phrase. Texte tapé après l’expiration de la session."
