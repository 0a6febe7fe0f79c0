"""The month view in Chromium: moving between months replaces the heading and the buttons with the new month's,
the week button leads to a week of the month shown, and the calendar is in the main menu."""

from __future__ import annotations

from datetime import date

from playwright.sync_api import expect

from tests.browser.conftest import shot, sign_in


def _month_after(day: date, n: int) -> date:
    month = day.month - 1 + n
    return date(day.year + month // 12, month % 12 + 1, 1)


def test_moving_between_months_shows_one_month_at_a_time(live_server, page_for):
    base = live_server["url"]
    page = page_for("fr-FR")
    sign_in(page, base, "staff@mcenma.example")
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Agenda").click()
    expect(page.locator("h1")).to_have_count(1)

    target = _month_after(date.today(), 2)
    page.locator("a[rel=next]").click()
    expect(page).to_have_url(f"{base}/meetings/month?m={_month_after(date.today(), 1).strftime('%Y-%m')}")
    page.locator("a[rel=next]").click()
    expect(page).to_have_url(f"{base}/meetings/month?m={target.strftime('%Y-%m')}")
    expect(page.locator("h1")).to_have_count(1)
    expect(page.locator(".head .actions")).to_have_count(1)
    shot(page, "month-two-months-ahead-fr")

    page.get_by_role("link", name="Vue semaine").click()
    expect(page).to_have_url(f"{base}/calendar/week?d={target.isoformat()}")  # the week of the month shown
    expect(page.locator("h1")).to_contain_text("Semaine du")
    page.get_by_role("link", name="Vue mensuelle").click()
    expect(page.get_by_role("link", name="Événements")).to_be_visible()
