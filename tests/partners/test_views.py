from datetime import date

import pytest
from sqlalchemy import select

from crm.auth.models import Role
from crm.partners.models import Contact, Organisation, Position
from tests.conftest import ERROR_FR, STALE_FR, error_message, htmx_headers, make_contact, make_org

ORG_FORM = {
    "name": "Huawei Technologies Mali",
    "acronym": "Huawei Mali",
    "kind": "vendor",
    "country_code": "ML",
    "parent_id": "",
    "sectors": ["telecom", "training"],
    "email": "",
    "phone": "+223 20 00 00 00",
    "website": "",
    "address": "",
    "city": "Bamako",
    "notes": "Équipementier.",
}


def test_list_is_a_full_page_and_an_htmx_fragment(client, login_as, db):
    login_as(Role.VIEWER)
    make_org("Orange Mali")
    make_org("Huawei Technologies Mali", kind="vendor")
    page = client.get("/organisations")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html and "Orange Mali" in html and 'id="results"' in html
    fragment = client.get("/organisations?q=hua", headers=htmx_headers())
    text = fragment.get_data(as_text=True)
    assert "<html" not in text and "Huawei" in text and "Orange" not in text
    assert "HX-Request" in fragment.headers["Vary"]


def test_create_organisation_through_the_htmx_form(client, login_as, db):
    login_as(Role.STAFF)
    response = client.post("/organisations/new", data=ORG_FORM, headers=htmx_headers())
    org = db.session.scalars(select(Organisation).where(Organisation.name == ORG_FORM["name"])).one()
    assert response.status_code == 200 and response.headers["HX-Redirect"] == f"/organisations/{org.id}"
    assert org.sector_list == ["telecom", "training"] and org.city == "Bamako"
    page = client.get(f"/organisations/{org.id}").get_data(as_text=True)
    assert "Huawei Technologies Mali" in page and "Formation et compétences" in page


def test_invalid_form_comes_back_inline_with_everything_typed(client, login_as, db):
    login_as(Role.STAFF)
    data = {**ORG_FORM, "name": "", "email": "pas-une-adresse", "notes": "Notes à garder — N’Ko ߒߞߏ"}
    response = client.post("/organisations/new", data=data, headers=htmx_headers())
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" not in html
    assert '<small id="name-err" class="error">Ce champ est requis.</small>' in html
    assert '<small id="email-err" class="error">Adresse électronique non valide.</small>' in html
    assert "pas-une-adresse" in html and "ߒߞߏ" in html and "+223 20 00 00 00" in html
    assert db.session.scalars(select(Organisation).where(Organisation.notes.contains("ߒߞߏ"))).first() is None


def test_overlong_text_is_refused_with_a_message(client, login_as, db):
    login_as(Role.STAFF)
    response = client.post("/organisations/new", data={**ORG_FORM, "name": "x" * 301})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<small id="name-err" class="error">Le champ ne peut pas contenir plus de 300 caractères.</small>' in html
    assert db.session.scalars(select(Organisation).where(Organisation.name.startswith("xxx"))).first() is None


def test_duplicate_organisation_says_so_and_links_to_it(client, login_as, db):
    login_as(Role.STAFF)
    existing = make_org("Orange Mali")
    response = client.post("/organisations/new", data={**ORG_FORM, "name": "ORANGE  MALI"}, headers=htmx_headers())
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "<p>Une organisation portant ce nom existe déjà dans ce pays.</p>" in html
    assert f'<a href="/organisations/{existing.id}">Ouvrir «\u00a0Orange Mali\u00a0»</a>' in html
    assert "ORANGE  MALI" in html


def test_stale_edit_is_refused_and_the_users_input_kept(client, login_as, db):
    login_as(Role.STAFF)
    org = make_org("Orange Mali")
    loaded_version = org.version
    # Someone else saves first.
    client.post(f"/organisations/{org.id}/edit", data={**ORG_FORM, "name": "Orange Mali SA", "version": loaded_version})
    response = client.post(
        f"/organisations/{org.id}/edit",
        data={**ORG_FORM, "name": "Orange Mali", "notes": "Mon texte long à ne pas perdre", "version": loaded_version},
        headers=htmx_headers(),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Mon texte long à ne pas perdre" in html and STALE_FR in html
    assert f'name="version" type="hidden" value="{db.session.get(Organisation, org.id).version}"' in html
    assert db.session.get(Organisation, org.id).name == "Orange Mali SA"


def test_unknown_ids_are_the_apps_own_404(client, login_as):
    login_as(Role.VIEWER)
    for url in ["/organisations/999999", "/contacts/999999"]:
        response = client.get(url)
        assert response.status_code == 404 and error_message(response) == ERROR_FR[404], url


def test_bad_cursors_and_filters_are_the_apps_own_400(client, login_as):
    login_as(Role.VIEWER)
    for url in ["/organisations?after=not-a-cursor", "/contacts?organisation=abc"]:
        response = client.get(url)
        assert response.status_code == 400 and error_message(response) == ERROR_FR[400], url


def test_a_new_contacts_email_is_kept_in_lower_case(client, login_as, db):
    login_as(Role.STAFF)
    response = client.post(
        "/contacts/new",
        data={
            "honorific": "M.",
            "given_name": "Leyti",
            "family_name": "N’Diaye",
            "native_name": "",
            "email": "Leyti.NDiaye@orange.example",
            "phone": "",
            "languages": ["fr", "wo"],
            "notes": "",
        },
    )
    leyti = db.session.scalars(select(Contact).where(Contact.family_name == "N’Diaye")).one()
    assert response.status_code == 302 and leyti.email == "leyti.ndiaye@orange.example"


@pytest.fixture
def succession(client, login_as, db):
    """Seydou Konaté is DG of Orange Mali since 2022; Leyti N’Diaye succeeds him on 1 January 2026."""
    login_as(Role.STAFF)
    orange = make_org("Orange Mali")
    previous = make_contact("Konaté", "Seydou")
    leyti = make_contact("N’Diaye", "Leyti", honorific="M.", languages=["fr", "wo"])
    client.post(
        f"/contacts/{previous.id}/positions/new",
        data={"organisation_id": orange.id, "title": "Directeur général", "start_date": "2022-03-01"},
    )
    client.post(
        f"/contacts/{leyti.id}/positions/new",
        data={
            "organisation_id": orange.id,
            "title": "Directeur général",
            "start_date": "2026-01-01",
            "succeeds_holder": "y",
        },
    )
    return orange, leyti


def test_a_successor_ends_the_predecessors_position_the_day_before(client, succession):
    orange, _leyti = succession
    org_page = client.get(f"/organisations/{orange.id}").get_data(as_text=True)
    assert "M. Leyti N’Diaye" in org_page and "en fonction" in org_page
    assert "31 déc. 2025" in org_page


def test_a_contacts_page_shows_their_title_and_languages(client, succession):
    _orange, leyti = succession
    contact_page = client.get(f"/contacts/{leyti.id}").get_data(as_text=True)
    assert "Directeur général" in contact_page and "Wolof" in contact_page


def test_position_ending_before_it_starts_is_a_clear_422(client, login_as, db):
    login_as(Role.STAFF)
    org, person = make_org(), make_contact()
    response = client.post(
        f"/contacts/{person.id}/positions/new",
        data={"organisation_id": org.id, "title": "DG", "start_date": "2026-01-01", "end_date": "2025-01-01"},
        headers=htmx_headers(),
    )
    assert response.status_code == 422
    assert (
        '<small id="end_date-err" class="error">La date de fin doit être identique ou postérieure à la date de '
        "début.</small>" in response.get_data(as_text=True)
    )
    assert db.session.scalars(select(Position)).first() is None


def test_bad_date_is_a_clear_422(client, login_as, db):
    login_as(Role.STAFF)
    org, person = make_org(), make_contact()
    response = client.post(
        f"/contacts/{person.id}/positions/new",
        data={"organisation_id": org.id, "title": "Directrice générale adjointe", "start_date": "31/02/2026"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<small id="start_date-err" class="error">N&#39;est pas une date valide.</small>' in html
    assert 'value="Directrice générale adjointe"' in html
    assert db.session.scalars(select(Position)).first() is None


def test_archive_and_restore_need_an_officer(client, login_as, db):
    login_as(Role.OFFICER)
    org = make_org()
    response = client.post(f"/organisations/{org.id}/archive", data={"version": org.version})
    assert response.status_code == 302
    assert db.session.get(Organisation, org.id).archived_at is not None
    assert "Orange Mali" not in client.get("/organisations").get_data(as_text=True)
    client.post(f"/organisations/{org.id}/restore", data={"version": db.session.get(Organisation, org.id).version})
    assert db.session.get(Organisation, org.id).archived_at is None


def test_dates_follow_the_users_language(client, login_as, db):
    user = login_as(Role.STAFF)
    org, person = make_org(), make_contact()
    db.session.add(Position(contact_id=person.id, organisation_id=org.id, title="DG", start_date=date(2026, 1, 22)))
    db.session.commit()
    assert "22 janv. 2026" in client.get(f"/contacts/{person.id}").get_data(as_text=True)
    client.post("/account", data={"prefs-locale": "en", "prefs-timezone": user.timezone})
    assert "22 Jan 2026" in client.get(f"/contacts/{person.id}").get_data(as_text=True)


def test_names_in_other_scripts_display_with_their_direction(client, login_as, db):
    login_as(Role.VIEWER)
    person = make_contact("Ould Ahmed", "Mariam", native_name="مريم ولد أحمد")
    html = client.get(f"/contacts/{person.id}").get_data(as_text=True)
    assert '<span class="native" dir="auto">مريم ولد أحمد</span>' in html
