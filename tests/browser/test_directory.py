"""Sign in, create an organisation and a contact through the htmx forms, find them with live search."""

from playwright.sync_api import expect

from tests.browser.conftest import shot, sign_in


def test_staff_builds_the_directory_in_french(live_server, page_for):
    base = live_server["url"]
    page = page_for("fr-FR")
    sign_in(page, base, "staff@mcenma.example")
    expect(page.get_by_role("heading", name="Aujourd’hui")).to_be_visible()  # signing in opens the home page
    page.get_by_role("link", name="Organisations").click()
    expect(page.get_by_role("heading", name="Organisations")).to_be_visible()

    # A new organisation; first without a name: the error shows inline and nothing typed is lost.
    page.get_by_role("link", name="Nouvelle organisation").click()
    page.fill("input[name=acronym]", "Huawei Mali")
    page.select_option("select[name=kind]", "vendor")
    page.fill("textarea[name=notes]", "Formation des jeunes, cybersécurité, transfert de savoir-faire.")
    page.click("button.primary")
    expect(page.locator(".field.has-error small.error")).to_be_visible()
    expect(page.locator("textarea[name=notes]")).to_have_value(
        "Formation des jeunes, cybersécurité, transfert de savoir-faire."
    )
    shot(page, "fr-01-organisation-form-error")
    page.fill("input[name=name]", "Huawei Technologies Mali")
    page.check("input[value=training]")
    page.check("input[value=cybersecurity]")
    page.click("button.primary")
    expect(page.get_by_role("heading", name="Huawei Technologies Mali")).to_be_visible()
    expect(page.locator(".tag", has_text="Cybersécurité")).to_be_visible()
    shot(page, "fr-02-organisation-page")

    # A contact with an apostrophe in the name, then their post, added inline on the contact page.
    page.get_by_role("link", name="Nouveau contact").first.click()
    page.select_option("select[name=honorific]", "M.")
    page.fill("input[name=given_name]", "Jean Sun")
    page.fill("input[name=family_name]", "Wei")
    page.check("input[value=zh]")
    page.click("button.primary")
    expect(page.get_by_role("heading", name="M. Jean Sun Wei")).to_be_visible()
    page.get_by_role("link", name="Ajouter une fonction").click()
    page.select_option("select[name=organisation_id]", label="Huawei Technologies Mali (Huawei Mali)")
    page.fill("input[name=title]", "Directeur général")
    page.fill("input[name=start_date]", "2026-01-01")
    page.fill("input[name=end_date]", "2025-01-01")
    page.locator("#position-form button.primary").click()
    expect(page.locator("#position-form .error")).to_contain_text("date de fin")
    page.fill("input[name=end_date]", "")
    page.locator("#position-form button.primary").click()
    expect(page.locator(".lead")).to_contain_text("Directeur général")
    shot(page, "fr-03-contact-page")

    page.get_by_role("link", name="Contacts").first.click()
    page.get_by_role("link", name="Nouveau contact").click()
    page.fill("input[name=given_name]", "Leyti")
    page.fill("input[name=family_name]", "N’Diaye")
    page.click("button.primary")
    expect(page.get_by_role("heading", name="Leyti N’Diaye")).to_be_visible()

    # Live search, as you type, with no page load: apostrophes and accents do not matter.
    page.get_by_role("link", name="Contacts").first.click()
    page.evaluate("window.__sameDocument = true")
    page.fill("main input[name=q]", "ndiaye")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(page.locator("#results")).to_contain_text("Leyti N’Diaye")
    assert page.evaluate("window.__sameDocument") is True
    assert "q=ndiaye" in page.url
    shot(page, "fr-04-contacts-live-search")

    page.get_by_role("link", name="Organisations").first.click()
    page.fill("main input[name=q]", "huawei")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    page.select_option("select[name=country]", "AES")
    expect(page.locator("#results")).to_contain_text("Huawei Technologies Mali")
    page.select_option("select[name=country]", "GH")
    expect(page.locator("#results")).to_contain_text("Aucune organisation")
    shot(page, "fr-05-organisations-filtered")


def test_viewer_reads_the_directory_in_english(live_server, page_for):
    base = live_server["url"]
    page = page_for("en-GB")
    page.goto(f"{base}/login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in(page, base, "viewer@mcenma.example")
    expect(page.get_by_role("heading", name="Today")).to_be_visible()
    page.get_by_role("link", name="Organisations").click()
    expect(page.get_by_role("heading", name="Organisations")).to_be_visible()
    expect(page.get_by_role("link", name="New organisation")).to_have_count(0)  # read-only
    page.select_option("select[name=country]", "GH")
    expect(page.locator("#results")).to_contain_text("No organisation matches")
    shot(page, "en-01-organisations")
    page.get_by_role("link", name="Awa viewer").click()
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    shot(page, "en-02-account")
