"""Organisations and contacts imported from CSV or XLSX: upload, mapping, preview, import — all or nothing."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from crm.audit.models import AuditEvent
from crm.auth.models import Role
from crm.exchange import imports
from crm.exchange.models import ImportUpload
from crm.partners.models import Contact, Organisation, Position
from tests.conftest import make_contact, make_org, make_user, open_session

ORGS_CSV = (
    "Nom;Sigle;Type;Pays;Secteurs;Courriel;Ville\n"
    "Orange Mali;OML;Opérateur télécom;Mali;Télécommunications;contact@orange.ml;Bamako\n"
    "Moov Africa Burkina;;operator;BF;;;Ouagadougou\n"
    "Agence Nationale de la Sécurité Informatique;ANSI;Agence publique;Niger;Cybersécurité, E-gouvernement;;Niamey\n"
)


def csv_file(text: str, name: str = "partenaires.csv", encoding: str = "utf-8") -> tuple[io.BytesIO, str]:
    return io.BytesIO(text.encode(encoding)), name


def xlsx_file(rows: list[list], name: str = "partenaires.xlsx") -> tuple[io.BytesIO, str]:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    data = io.BytesIO()
    workbook.save(data)
    data.seek(0)
    return data, name


def html_of(response) -> str:
    """The page's text, no-break spaces (French punctuation) read as spaces."""
    return response.get_data(as_text=True).replace("\u00a0", " ").replace("&nbsp;", " ")


def upload(client, file, kind: str = "organisations"):
    return client.post("/import", data={"kind": kind, "file": file}, content_type="multipart/form-data")


def token_of(response) -> str:
    assert response.status_code == 302, html_of(response)[:800]
    return response.headers["Location"].rsplit("/", 1)[1]


def mapping_of(html: str) -> dict[str, str]:
    """Which field each column goes to, as the selects of the mapping form show it."""
    found = {}
    for column, body in re.findall(r'<select id="(col-\d+)" name="col-\d+">(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        found[column] = chosen.group(1) if chosen else ""
    return found


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def staff(client, login_as):
    return login_as(Role.STAFF)


def test_french_headings_are_recognised_and_the_preview_shows_what_will_happen(client, staff, db):
    make_org("Orange Mali")  # already there
    token = token_of(upload(client, csv_file(ORGS_CSV)))

    page = client.get(f"/import/{token}")
    html = html_of(page)

    assert page.status_code == 200
    assert mapping_of(html) == {
        "col-0": "name",
        "col-1": "acronym",
        "col-2": "kind",
        "col-3": "country",
        "col-4": "sectors",
        "col-5": "email",
        "col-6": "city",
    }
    assert "<strong>2</strong> nouvelles fiches à créer" in html
    assert "<strong>1</strong> déjà dans l’annuaire, laissées telles quelles" in html
    assert "<strong>0</strong> en erreur" in html
    assert count(db, Organisation) == 2  # the ministry and Orange: the preview writes nothing


def test_the_import_creates_the_new_rows_and_leaves_duplicates(client, staff, db):
    make_org("Orange Mali")
    token = token_of(upload(client, csv_file(ORGS_CSV)))
    before = count(db, Organisation)

    response = client.post(
        f"/import/{token}",
        data={f"col-{i}": k for i, k in enumerate(mapping_of(html_of(client.get(f"/import/{token}"))).values())},
        follow_redirects=True,
    )

    assert response.status_code == 200
    assert "2 organisations importées ; 1 étaient déjà dans l’annuaire." in html_of(response)
    assert count(db, Organisation) == before + 2
    ansi = db.session.scalars(select(Organisation).where(Organisation.acronym == "ANSI")).one()
    assert ansi.country_code == "NE" and ansi.kind == "agency" and ansi.sectors == ",cybersecurity,egov,"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "import")).one()
    assert event.changes["created"] == 2 and event.actor_id == staff.id


def _import(client, file, kind="organisations", mapping: dict[str, str] | None = None):
    token = token_of(upload(client, file, kind))
    guessed = mapping_of(html_of(client.get(f"/import/{token}")))
    return client.post(f"/import/{token}", data={**guessed, **(mapping or {})})


def test_importing_the_same_file_again_creates_nothing(client, staff, db):
    assert _import(client, csv_file(ORGS_CSV)).status_code == 302
    orgs, events = count(db, Organisation), count(db, AuditEvent)

    token = token_of(upload(client, csv_file(ORGS_CSV)))
    html = html_of(client.get(f"/import/{token}"))
    assert "<strong>0</strong> nouvelles fiches à créer" in html
    assert "<strong>3</strong> déjà dans l’annuaire" in html
    assert _import(client, csv_file(ORGS_CSV)).status_code == 302

    assert count(db, Organisation) == orgs
    assert count(db, AuditEvent) == events + 1  # the import itself, nothing created


def test_the_user_can_change_the_mapping(client, staff, db):
    text = "Raison;Code\nSonatel;SN\n"
    token = token_of(upload(client, csv_file(text)))
    html = html_of(client.get(f"/import/{token}"))
    assert "Choisissez la colonne qui contient : Nom, Pays." in html
    assert "disabled>Importer maintenant" in html

    html = html_of(client.get(f"/import/{token}?col-0=name&col-1=country"))
    assert mapping_of(html) == {"col-0": "name", "col-1": "country"}
    assert "<strong>1</strong> nouvelles fiches à créer" in html

    assert client.post(f"/import/{token}", data={"col-0": "name", "col-1": "country"}).status_code == 302
    assert db.session.scalars(select(Organisation).where(Organisation.name == "Sonatel")).one().country_code == "SN"


def test_rows_with_errors_are_listed_and_nothing_is_imported(client, staff, db):
    text = ORGS_CSV + "Sans pays;;;;;;\nTest;;;Atlantide;;pas-un-courriel;\n"
    before = count(db, Organisation)
    response = _import(client, csv_file(text))
    html = html_of(response)

    assert response.status_code == 422
    assert "2 lignes comportent des erreurs" in html and "Rien n’a été importé." in html
    assert "« Pays » est obligatoire." in html
    assert "Pays inconnu « Atlantide »." in html
    assert "« pas-un-courriel » n’est pas une adresse e-mail." in html
    assert re.search(r"<td>5</td>", html) and re.search(r"<td>6</td>", html)  # the lines in the file
    assert count(db, Organisation) == before


def test_duplicates_within_the_file_are_found(client, staff, db):
    text = "Nom;Pays\nOrange Mali;ML\nORANGE  MALI;Mali\n"
    token = token_of(upload(client, csv_file(text)))
    html = html_of(client.get(f"/import/{token}"))
    assert "Même organisation que la ligne 2 de ce fichier." in html
    assert "<strong>1</strong> nouvelles fiches à créer" in html


def test_an_xlsx_file_with_english_headings(client, login_as, db):
    login_as(Role.STAFF, locale="en")
    rows = [["Name", "Acronym", "Country", "Kind"], ["Huawei Technologies Mali", "HTM", "ML", "Vendor"]]
    token = token_of(upload(client, xlsx_file(rows)))
    html = html_of(client.get(f"/import/{token}"))
    assert mapping_of(html) == {"col-0": "name", "col-1": "acronym", "col-2": "country", "col-3": "kind"}
    assert "<strong>1</strong> new, to be created" in html
    response = _import(client, xlsx_file(rows))
    assert response.status_code == 302
    assert db.session.scalars(select(Organisation).where(Organisation.acronym == "HTM")).one().kind == "vendor"


def test_our_own_export_imports_back_as_duplicates(client, staff, db):
    make_org("Orange Mali", acronym="OML", sectors=["telecom"])
    exported = client.get("/export/organisations.xlsx").get_data()
    token = token_of(upload(client, (io.BytesIO(exported), "organisations.xlsx")))
    html = html_of(client.get(f"/import/{token}"))
    assert "<strong>0</strong> nouvelles fiches à créer" in html and "<strong>0</strong> en erreur" in html


# --- contacts and their posts -------------------------------------------------------------------------

CONTACTS_CSV = (
    "Civilité,Prénom,Nom,Courriel,Fonction,Organisation,Date de début\n"
    "Mme,Aminata,Traoré,a.traore@orange.ml,Directrice générale,Orange Mali,2024-03-01\n"
    "M.,Issa,Ouédraogo,,Directeur technique,OML,01/02/2025\n"
    "M.,Issa,Ouédraogo,,Conseiller,Orange Mali,\n"
    "Dr,Moussa,Diallo,,,,\n"
)


def test_contacts_import_with_their_posts(client, staff, db):
    orange = make_org("Orange Mali", acronym="OML")
    response = _import(client, csv_file(CONTACTS_CSV), kind="contacts")
    assert response.status_code == 302
    assert count(db, Contact) == 3
    posts = db.session.scalars(select(Position).order_by(Position.id)).all()
    assert [(p.title, p.organisation_id) for p in posts] == [
        ("Directrice générale", orange.id),
        ("Directeur technique", orange.id),
        ("Conseiller", orange.id),
    ]
    assert str(posts[1].start_date) == "2025-02-01"

    again = _import(client, csv_file(CONTACTS_CSV), kind="contacts")
    assert again.status_code == 302
    assert count(db, Contact) == 3 and count(db, Position) == 3


def test_a_known_contact_gets_the_new_post_only(client, staff, db):
    orange = make_org("Orange Mali", acronym="OML")
    make_contact("Traoré", "Aminata", email="a.traore@orange.ml")
    token = token_of(upload(client, csv_file(CONTACTS_CSV), "contacts"))
    html = html_of(client.get(f"/import/{token}"))
    assert "Déjà dans l’annuaire : la fonction sera ajoutée." in html
    assert client.post(f"/import/{token}", data=mapping_of(html)).status_code == 302, html
    aminata = db.session.scalars(select(Contact).where(Contact.email == "a.traore@orange.ml")).one()
    assert count(db, Contact) == 3
    assert db.session.scalars(select(Position.organisation_id).where(Position.contact_id == aminata.id)).all() == [
        orange.id
    ]


def test_a_contact_in_an_unknown_organisation_is_an_error(client, staff, db):
    response = _import(client, csv_file("Nom,Fonction,Organisation\nDiallo,DG,Inconnue SA\n"), kind="contacts")
    assert response.status_code == 422
    assert "Aucune organisation « Inconnue SA » dans l’annuaire" in html_of(response)
    assert count(db, Contact) == 0


# --- bad files: a clear message, nothing kept ---------------------------------------------------------


def _refused(client, db, file, status: int) -> str:
    before = (count(db, Organisation), count(db, ImportUpload))
    response = upload(client, file)
    assert response.status_code == status, html_of(response)[:500]
    assert (count(db, Organisation), count(db, ImportUpload)) == before
    html = html_of(response)
    return re.sub(r"\s+", " ", html.split('class="form-error"', 1)[1].split("</div>", 1)[0])


def test_an_empty_file_is_refused(client, staff, db):
    assert "Ce fichier est vide." in _refused(client, db, csv_file(""), 422)
    assert "Ce fichier est vide." in _refused(client, db, csv_file("\n\n;;\n"), 422)


def test_headings_without_rows_are_refused(client, staff, db):
    assert "aucune ligne à importer" in _refused(client, db, csv_file("Nom;Pays\n"), 422)


def test_a_windows_1252_file_is_refused_with_what_to_do(client, staff, db):
    message = _refused(client, db, csv_file("Nom;Pays\nSociété Générale;Mali\n", encoding="cp1252"), 415)
    assert "Ce fichier n’est pas en UTF-8" in message and "CSV UTF-8" in message


def test_a_damaged_xlsx_is_refused(client, staff, db):
    data, _name = xlsx_file([["Nom", "Pays"], ["Orange", "ML"]])
    broken = data.getvalue()[:300]
    assert "n’a pas pu être lu" in _refused(client, db, (io.BytesIO(broken), "cassé.xlsx"), 422)
    assert "n’a pas pu être lu" in _refused(client, db, (io.BytesIO(b"PK\x03\x04garbage"), "x.xlsx"), 422)


def test_a_binary_file_is_refused(client, staff, db):
    assert "n’a pas pu être lu" in _refused(client, db, (io.BytesIO(b"\x00\x01\x02\xff" * 100), "photo.csv"), 422)


@pytest.fixture
def app_config():
    # Small, so that the test client keeps the uploads in memory (it spools larger bodies to temporary files).
    return {"CRM_IMPORT_MAX_BYTES": 64 * 1024}


def test_a_file_too_large_is_refused(client, staff, db):
    big = "Nom;Pays\n" + "Organisation numéro quelque chose de long;ML\n" * 2_000
    assert "Ce fichier est trop volumineux pour être importé" in _refused(client, db, csv_file(big), 413)


def test_too_many_rows_are_refused(client, staff, db, monkeypatch):
    monkeypatch.setattr(imports, "MAX_ROWS", 100)
    rows = "Nom;Pays\n" + "".join(f"O{n};ML\n" for n in range(101))
    assert "trop volumineux" in _refused(client, db, csv_file(rows), 413)


# --- who may import, and whose file it is ----------------------------------------------------------------


def test_viewers_cannot_import(client, login_as):
    login_as(Role.VIEWER)
    assert client.get("/import").status_code == 403
    assert upload(client, csv_file(ORGS_CSV)).status_code == 403


def test_another_users_upload_is_like_an_expired_one(app, client, staff, db):
    token = token_of(upload(client, csv_file(ORGS_CSV)))
    other = app.test_client()
    open_session(other, make_user(Role.ADMIN))
    for response in (other.get(f"/import/{token}"), other.post(f"/import/{token}", data={"col-0": "name"})):
        assert response.status_code == 302 and response.headers["Location"] == "/import"
    page = other.get("/import/not-a-token", follow_redirects=True)
    assert "Ce fichier n’est plus disponible" in html_of(page)
    assert count(db, Organisation) == 1  # the ministry alone


def test_the_lists_offer_import_to_staff_only(client, login_as):
    login_as(Role.STAFF)
    assert 'href="/import?kind=organisations"' in html_of(client.get("/organisations"))
    assert 'href="/import?kind=contacts"' in html_of(client.get("/contacts"))


def test_an_xlsx_that_unpacks_to_too_much_is_refused(client, staff, db, monkeypatch):
    """A small workbook can unpack to gigabytes (a zip bomb): what it unpacks to is bounded too."""
    monkeypatch.setattr(imports, "MAX_UNPACKED_BYTES", 1000)
    assert "trop volumineux" in _refused(client, db, xlsx_file([["Nom", "Pays"], ["Orange", "ML"]]), 413)
