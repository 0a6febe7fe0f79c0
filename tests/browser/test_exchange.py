"""In French, in Chromium: export the filtered commitments, then import organisations from a file."""

from __future__ import annotations

import csv
from datetime import date, timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from crm.auth.models import User
from crm.commitments import services as commitments
from crm.extensions import db
from crm.partners import services as partners
from tests.browser.conftest import shot, sign_in

ORGS = (
    "Nom;Sigle;Type;Pays;Secteurs;Ville\n"
    "Orange Mali;OML;Opérateur télécom;Mali;Télécommunications;Bamako\n"
    "Moov Africa Burkina;;Opérateur télécom;Burkina Faso;;Ouagadougou\n"
    "Agence Nationale de la Sécurité Informatique;ANSI;Agence publique;Niger;Cybersécurité;Niamey\n"
    "Société sans pays;;;;;\n"
)


def _commitments(app, email: str) -> None:
    with app.app_context():
        author = db.session.scalars(select(User).where(User.email == email)).one()
        for title, days in [("Étendre la couverture rurale", -5), ("Former 200 agents", 40)]:
            commitments.create_commitment(
                db.session,
                {
                    "title": title,
                    "owed_by": "ours",
                    "priority": "normal",
                    "responsible_id": author.id,
                    "due_date": date.today() + timedelta(days=days),
                },
                author,
            )
        partners.save_organisation(db.session, {"name": "Orange Mali", "country_code": "ML", "kind": "operator"})
        db.session.commit()
        db.session.remove()


def test_export_the_filtered_commitments_and_import_organisations(live_server, page_for):
    base = live_server["url"]
    _commitments(live_server["app"], "staff@mcenma.example")
    page = page_for("fr-FR")
    sign_in(page, base, "staff@mcenma.example")

    page.goto(f"{base}/commitments?overdue=1")
    expect(page.get_by_text("Exporter cette liste")).to_be_visible()
    shot(page, "fr-exchange-01-commitments-export-links")
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    with open(download.value.path(), encoding="utf-8-sig") as exported:
        rows = list(csv.reader(exported))
    assert rows[0][:3] == ["Référence", "Titre", "À la charge de"]
    assert [r[1] for r in rows[1:]] == ["Étendre la couverture rurale"]

    page.goto(f"{base}/organisations")
    page.get_by_role("link", name="Importer").click()
    expect(page.get_by_role("heading", name="Importer un fichier")).to_be_visible()
    page.set_input_files(
        "input[type=file]", files=[{"name": "partenaires.csv", "mimeType": "text/csv", "buffer": ORGS.encode()}]
    )
    shot(page, "fr-exchange-02-upload")
    page.get_by_role("button", name="Lire le fichier").click()
    expect(page.get_by_role("heading", name="Aperçu")).to_be_visible()
    expect(page.locator(".summary")).to_contain_text("1 en erreur")
    expect(page.get_by_role("button", name="Importer maintenant")).to_be_disabled()
    shot(page, "fr-exchange-03-preview-with-an-error")

    # The row without a country: told which line and why; corrected in the file and uploaded again.
    page.get_by_role("link", name="Déposer un autre fichier").click()
    fixed = ORGS.replace("Société sans pays;;;;;", "Société avec pays;;;Sénégal;;Dakar")
    page.set_input_files(
        "input[type=file]", files=[{"name": "partenaires.csv", "mimeType": "text/csv", "buffer": fixed.encode()}]
    )
    page.get_by_role("button", name="Lire le fichier").click()
    expect(page.locator(".summary")).to_contain_text("3 nouvelles fiches à créer")
    expect(page.locator(".summary")).to_contain_text("1 déjà dans l’annuaire")
    shot(page, "fr-exchange-04-preview-ready")
    page.get_by_role("button", name="Importer maintenant").click()
    expect(page.locator(".flash")).to_contain_text("3 organisations importées")
    expect(page.get_by_role("link", name="Agence Nationale de la Sécurité Informatique")).to_be_visible()
    shot(page, "fr-exchange-05-imported")

    # A file from Excel's plain "CSV" (Windows-1252) is refused with what to do.
    page.goto(f"{base}/import")
    page.set_input_files(
        "input[type=file]",
        files=[{"name": "excel.csv", "mimeType": "text/csv", "buffer": "Nom;Pays\nSociété;Mali\n".encode("cp1252")}],
    )
    page.get_by_role("button", name="Lire le fichier").click()
    expect(page.locator(".form-error")).to_contain_text("n’est pas en UTF-8")
    shot(page, "fr-exchange-06-windows-1252-refused")
