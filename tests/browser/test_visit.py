"""Planning a delegation visit in Chromium: a three-day programme with two meetings."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import shot, sign_in


def test_plan_the_ouagadougou_trip(live_server, page_for):
    base = live_server["url"]
    page = page_for("fr-FR")
    sign_in(page, base, "officer@mcenma.example")
    page.goto(f"{base}/visits/new")
    page.fill("input[name=title]", "Délégation malienne à la 20e Semaine du Numérique")
    page.select_option("select[name=direction]", "outgoing")
    page.fill("input[name=city]", "Ouagadougou")
    page.select_option("select[name=country_code]", "BF")
    page.fill("input[name=starts_on]", "2025-11-17")
    page.fill("input[name=ends_on]", "2025-11-19")
    page.locator("form.card button.primary").click()
    expect(page.locator(".facts")).to_contain_text("ML-MIS-2025-0001")

    form = page.locator("#item-form")
    # typing a day outside the visit is flagged before anything is sent
    form.locator("input[name=day]").fill("2025-11-25")
    form.locator("input[name=activity]").fill("Visite hors dates")
    expect(page.locator("#item-check .error[data-field=day]")).to_be_visible()
    shot(page, "visit-1-outside-dates-fr")

    lines = [
        ("2025-11-17", "16:00", "", "Arrivée de la délégation"),
        ("2025-11-18", "09:00", "12:00", "Cérémonie d’ouverture"),
        ("2025-11-18", "15:00", "16:30", "Séance de travail avec la ministre de la Transition digitale"),
        ("2025-11-19", "10:00", "11:00", "Entretien avec le ministre nigérien du Numérique"),
    ]
    for day, start, end, activity in lines:
        form = page.locator("#item-form")
        form.locator("input[name=day]").fill(day)
        form.locator("input[name=starts_at]").fill(start)
        if end:
            form.locator("input[name=ends_at]").fill(end)
        form.locator("input[name=activity]").fill(activity)
        form.locator("button[type=submit]").click()
        expect(page.locator("#programme")).to_contain_text(activity)
    # an overlapping line is flagged as a warning while typing
    form = page.locator("#item-form")
    form.locator("input[name=day]").fill("2025-11-18")
    form.locator("input[name=starts_at]").fill("10:00")
    form.locator("input[name=activity]").fill("Interview")
    expect(page.locator("#item-check .warning")).to_contain_text("Cérémonie d’ouverture")

    for activity in ("Séance de travail avec la ministre", "Entretien avec le ministre nigérien"):
        page.locator("#programme li", has_text=activity).locator("button", has_text="Créer la rencontre").click()
        expect(page.locator("#programme li", has_text=activity).locator("a.tag")).to_be_visible()
    expect(page.locator("#programme a.tag")).to_have_count(2)
    shot(page, "visit-2-programme-two-meetings-fr")

    # after the trip: the report, and a commitment made from it
    page.fill("textarea[name=report]", "Le Mali, invité spécial, a porté la vision commune de l’AES.")
    page.locator("#report button.primary").click()
    expect(page.locator("textarea[name=report]")).to_have_value(
        "Le Mali, invité spécial, a porté la vision commune de l’AES."
    )
    page.locator("#report a.button", has_text="engagement").click()
    page.fill("textarea[name=title]", "Proposer un cadre d’échanges réguliers entre les pays de l’AES")
    page.select_option("select[name=owed_by]", "ours")  # who owes it is asked, never assumed
    page.locator("form.card button.primary").click()
    expect(page.locator("section#report")).to_contain_text("Proposer un cadre d’échanges réguliers")
    shot(page, "visit-3-report-commitment-fr")

    page.goto(f"{base}/calendar/week?d=2025-11-18")
    expect(page.locator(".week")).to_contain_text("Délégation malienne")
    expect(page.locator(".week")).to_contain_text("Séance de travail avec la ministre")
    shot(page, "visit-4-week-fr")
