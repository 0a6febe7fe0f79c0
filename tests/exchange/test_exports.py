"""Every list exported as CSV or XLSX: opened back with the csv module and openpyxl, as a user's spreadsheet would."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from crm.audit.models import AuditEvent
from crm.auth.models import Role
from crm.core.confidentiality import Sharing
from crm.partners import institutions
from tests.conftest import make_commitment, make_contact, make_meeting, make_org, make_user, open_session


def read_csv(response) -> list[list[str]]:
    data = response.get_data()
    assert data.startswith("\ufeff".encode()), "UTF-8 with a byte-order mark, so that Excel shows the accents"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def read_xlsx(response) -> list[list]:
    sheet = load_workbook(io.BytesIO(response.get_data()), read_only=True).active
    return [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]


def read(response, fmt: str) -> list[list]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return read_csv(response) if fmt == "csv" else read_xlsx(response)


FORMATS = ["csv", "xlsx"]


def body(rows: list[list]) -> list[list]:
    """The rows under the header, without the installation's own ministry (an organisation of the directory)."""
    return [r for r in rows[1:] if not str(r[0]).startswith("Ministère")]


@pytest.mark.parametrize("fmt", FORMATS)
def test_organisations_export_in_french_with_the_lists_filters(client, login_as, fmt):
    login_as(Role.VIEWER)
    make_org("Orange Mali", acronym="OML", email="contact@orange.ml")
    make_org("Société Générale Burkina", country="BF", kind="other")
    make_org("Huawei Niger", country="NE", kind="vendor")

    rows = read(client.get(f"/export/organisations.{fmt}?country=ML"), fmt)

    assert rows[0][:4] == ["Nom", "Sigle", "Type", "Pays"]
    assert [r[0] for r in body(rows)] == ["Orange Mali"]
    assert body(rows)[0][1] == "OML" and body(rows)[0][3] == "Mali" and "contact@orange.ml" in body(rows)[0]


@pytest.mark.parametrize("fmt", FORMATS)
def test_headers_follow_the_users_language(client, login_as, fmt):
    login_as(Role.VIEWER, locale="en")
    make_org("Société Générale Burkina", country="BF")
    rows = read(client.get(f"/export/organisations.{fmt}"), fmt)
    assert rows[0][:4] == ["Name", "Acronym", "Kind", "Country"]
    assert [r[0] for r in body(rows)] == ["Société Générale Burkina"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_cells_a_spreadsheet_would_run_as_formulas_are_neutralised(client, login_as, fmt):
    login_as(Role.VIEWER)
    for name in ['=HYPERLINK("http://evil")', "+33 formula", "-2+3", "@SUM(A1)"]:
        make_org(name)
    make_org("Tabulation")

    rows = read(client.get(f"/export/organisations.{fmt}"), fmt)

    names = sorted(r[0] for r in body(rows))
    assert names == sorted(['\'=HYPERLINK("http://evil")', "'+33 formula", "'-2+3", "'@SUM(A1)", "Tabulation"])


def test_tab_and_carriage_return_starts_are_neutralised_too():
    """Forms strip them, but a value written by other means must not reach a spreadsheet as a formula."""
    from crm.exchange.services import neutralise

    assert neutralise("\tcmd") == "'\tcmd"
    assert neutralise("\r=1") == "'\r=1"
    assert neutralise("N’Diaye") == "N’Diaye"
    assert neutralise(-3) == -3


def test_xlsx_cells_are_text_never_formulas(client, login_as):
    login_as(Role.VIEWER)
    make_org("=1+1", country="BF")
    data = client.get("/export/organisations.xlsx?country=BF").get_data()
    sheet = load_workbook(io.BytesIO(data)).active
    cell = sheet["A2"]
    assert cell.data_type == "s" and cell.value == "'=1+1"


@pytest.mark.parametrize("fmt", FORMATS)
def test_contacts_export_with_their_current_posts(client, login_as, db, fmt):
    login_as(Role.VIEWER)
    orange = make_org("Orange Mali")
    aminata = make_contact("Traoré", "Aminata", email="a.traore@orange.ml")
    from crm.partners import services as partners

    partners.save_position(
        db.session, aminata, {"organisation_id": orange.id, "title": "Directrice générale", "start_date": None}
    )
    db.session.commit()
    make_contact("Ouédraogo", "Issa")

    rows = read(client.get(f"/export/contacts.{fmt}?organisation={orange.id}"), fmt)

    assert rows[0][:3] == ["Civilité", "Prénom", "Nom"]
    assert len(rows) == 2
    assert rows[1][1:3] == ["Aminata", "Traoré"] and "Directrice générale" in rows[1] and "Orange Mali" in rows[1]


@pytest.mark.parametrize("fmt", FORMATS)
def test_commitments_export_the_filtered_view(client, login_as, fmt):
    staff = login_as(Role.STAFF)
    make_commitment(staff, "Étendre la couverture rurale", due_date=date.today() - timedelta(days=3))
    make_commitment(staff, "Former 200 agents", due_date=date.today() + timedelta(days=30))

    rows = read(client.get(f"/export/commitments.{fmt}?overdue=1"), fmt)

    assert rows[0][1] == "Titre"
    assert [r[1] for r in rows[1:]] == ["Étendre la couverture rurale"]
    assert "Oui" in rows[1]  # overdue


@pytest.mark.parametrize("fmt", FORMATS)
def test_meetings_and_visits_export(client, login_as, fmt):
    staff = login_as(Role.STAFF)
    make_meeting(staff, "Audience avec Orange", starts=datetime(2026, 1, 22, 10, 0))
    rows = read(client.get(f"/export/meetings.{fmt}?when=past"), fmt)
    assert [r[1] for r in rows[1:]] == ["Audience avec Orange"]
    starts = rows[1][3]
    assert (starts if isinstance(starts, str) else starts.strftime("%Y-%m-%d %H:%M")) == "2026-01-22 10:00"
    visits = read(client.get(f"/export/visits.{fmt}"), fmt)
    assert visits[0][0] == "Référence" and len(visits) == 1


# --- visibility: what the list would not show, the file does not hold ------------------------------


def _institution(db, code: str, name: str, country: str):
    institutions.ensure_default(db.session)
    org = make_org(name, country=country, kind="ministry")
    made = institutions.save_institution(
        db.session,
        {
            "organisation_id": org.id,
            "code": code,
            "short_name": name.split(maxsplit=1)[0],
            "country": country,
            "authority": name,
        },
    )
    db.session.commit()
    return made


@pytest.mark.parametrize("fmt", FORMATS)
def test_another_institutions_records_stay_out_unless_shared(app, db, fmt):
    burkina = _institution(db, "BF", "MTDPCE Ministère de la Transition digitale", "BF")
    mali_staff = make_user(Role.STAFF)
    make_meeting(mali_staff, "Réunion malienne interne")
    make_meeting(mali_staff, "Réunion partagée avec l'AES", sharing=Sharing.AES)
    make_commitment(mali_staff, "Engagement malien interne")
    client = app.test_client()
    open_session(client, make_user(Role.ADMIN, institution_id=burkina.id))

    meetings = read(client.get(f"/export/meetings.{fmt}?when=past"), fmt)
    commitments = read(client.get(f"/export/commitments.{fmt}?status=all"), fmt)

    assert [r[1] for r in meetings[1:]] == ["Réunion partagée avec l'AES"]
    assert len(commitments) == 1  # the header alone


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_confidential_meeting_stays_out_of_a_non_participants_export(app, db, fmt):
    author = make_user(Role.STAFF)
    make_meeting(author, "Négociation tarifaire sensible", confidentiality="confidential")
    make_meeting(author, "Audience ordinaire")
    outsider, insider = app.test_client(), app.test_client()
    open_session(outsider, make_user(Role.OFFICER))
    open_session(insider, author)

    assert [r[1] for r in read(outsider.get(f"/export/meetings.{fmt}?when=past"), fmt)[1:]] == ["Audience ordinaire"]
    assert len(read(insider.get(f"/export/meetings.{fmt}?when=past"), fmt)) == 3


def test_an_export_is_recorded_in_the_audit_trail(client, login_as, db):
    user = login_as(Role.VIEWER)
    make_org("Orange Mali")
    client.get("/export/organisations.csv?country=ML&q=orange").get_data()
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).one()
    assert event.actor_id == user.id
    assert event.entity_type == "organisation"
    assert event.changes == {"format": "csv", "filters": {"country": "ML", "q": "orange"}}


def test_the_export_links_keep_the_lists_query_string(client, login_as):
    login_as(Role.VIEWER)
    make_org("Orange Mali")
    html = client.get("/organisations?country=ML&q=orange&sort=-name").get_data(as_text=True)
    assert 'href="/export/organisations.csv?country=ML&amp;q=orange&amp;sort=-name"' in html
    assert 'href="/export/organisations.xlsx?country=ML&amp;q=orange&amp;sort=-name"' in html


def test_an_unknown_list_or_format_is_a_404_and_a_bad_filter_a_400(client, login_as):
    login_as(Role.VIEWER)
    assert client.get("/export/users.csv").status_code == 404
    assert client.get("/export/organisations.pdf").status_code == 404
    assert client.get("/export/contacts.csv?organisation=abc").status_code == 400


def test_signed_out_visitors_cannot_export(client):
    assert client.get("/export/organisations.csv").status_code in (302, 401)


def test_many_rows_come_in_pages_of_the_lists_own_query(client, login_as, db, count_queries):
    """A long list is read by its keyset, a page at a time: never all rows in memory."""
    from crm.exchange import services

    login_as(Role.VIEWER)
    from crm.partners.models import Organisation

    for n in range(2 * services.BATCH + 3):
        org = Organisation(name=f"Org {n:04d}", country_code="ML")
        org.refresh_keys()
        db.session.add(org)
    db.session.commit()
    with count_queries() as queries:
        rows = read(client.get("/export/organisations.csv"), "csv")
    assert len(body(rows)) == 2 * services.BATCH + 3
    assert [r[0] for r in body(rows)[:3]] == ["Org 0000", "Org 0001", "Org 0002"]
    assert body(rows)[-1][0] == f"Org {2 * services.BATCH + 2:04d}"
    assert 3 <= queries() <= 12
