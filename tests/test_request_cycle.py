"""The request cycle: junk never gets a 500, conflicts are the usual 409, one record per form, links from
the configured address, and a verification page that tells nothing to those who do not hold the document."""

from __future__ import annotations

import io
from datetime import date

import pytest
from sqlalchemy import event, func, select, update

from crm.auth.models import Role
from crm.commitments import services as commitments
from crm.commitments.models import Commitment
from crm.documents import printing
from crm.documents.models import FrozenDocument
from crm.meetings import services as meetings
from crm.meetings.models import Meeting, MinutesRevision
from crm.partners.models import Organisation
from tests.conftest import (
    ERROR_FR,
    error_message,
    htmx_headers,
    make_commitment,
    make_meeting,
    make_org,
    make_user,
    open_session,
)
from tests.test_security import records  # noqa: F401 - the fixture of real records for every route

JUNK_IDS = ["-1", "0", "2147483648", "99999999999999999999", "abc"]
JUNK_QUERY = (
    "?organisation=99999999999999999999&responsible=-1&event=abc&after=%21%21%21&rev=99999999999999999999"
    "&from=2026-13-01&to=x&m=99999-01&d=0001-01-01&item=2147483648&meeting=99999999999999999999&visit=-3"
    "&parent=99999999999999999999&lang=xx&kind=zz&status=zz&owed_by=zz&direction=zz&sector=zz&q=%00%27"
)
JUNK_FORM = {
    "organisation_id": "99999999999999999999",
    "organisation_ids": ["2147483648", "-1"],
    "parent_id": "99999999999999999999",
    "contact_id": "-5",
    "responsible_id": "abc",
    "origin_meeting_id": "99999999999999999999",
    "origin_item_id": "2147483648",
    "origin_visit_id": "x",
    "event_id": "99999999999999999999",
    "organiser_id": "-1",
    "from_user": "99999999999999999999",
    "to_user": "0",
    "version": "99999999999999999999",
    "person": "contact:99999999999999999999:2147483648:ours",
    "item-99999999999999999999-title": "x",
    "day": "0000-00-00",
    "starts_at": "25:99",
    "starts_on": "2026-02-30",
    "due_date": "9999-99-99",
    "status": "approved'; DROP TABLE meeting; --",
    "confirm": "yes",
    "sha256": "0" * 64,
}


def _clients(app, db):
    clients = {"anonymous": app.test_client()}
    for role in Role:
        clients[role.value] = app.test_client()
        open_session(clients[role.value], make_user(role))
    return clients


def _assert_the_apps_own_answer(response, where):
    if response.status_code == 503 and response.is_json:  # /healthz: the test database was not migrated
        return
    assert response.status_code < 500, (where, response.status_code)
    assert "Content-Security-Policy" in response.headers, where
    if response.status_code >= 400 and response.mimetype == "text/html":
        html = response.get_data(as_text=True)
        assert 'class="error-message"' in html or 'class="form-error"' in html or 'class="error"' in html, (
            where,
            html[:300],
        )


def test_junk_urls_methods_ids_and_fields_never_get_a_500(app, db, records):  # noqa: F811
    clients = _clients(app, db)
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        url = rule.build(records, append_unknown=False)[1]
        methods = rule.methods - {"HEAD", "OPTIONS"}
        for name, client in clients.items():
            # oversized, negative and non-numeric ids in the path
            for arg in rule.arguments & {k for k, v in records.items() if isinstance(v, int)}:
                for junk in JUNK_IDS:
                    response = client.get(url.replace(f"/{records[arg]}", f"/{junk}", 1))
                    _assert_the_apps_own_answer(response, (name, url, arg, junk))
            # junk in the query string
            if "GET" in methods:
                response = client.get(url + JUNK_QUERY)
                _assert_the_apps_own_answer(response, (name, url, "query"))
            # a method the route does not take
            for wrong in {"PUT", "DELETE", "PATCH", "POST", "GET"} - methods:
                _assert_the_apps_own_answer(client.open(url, method=wrong), (name, url, wrong))
            # junk in every field a form could have
            if "POST" in methods:
                response = client.post(url + "?direction=sideways", data=JUNK_FORM)
                _assert_the_apps_own_answer(response, (name, url, "form"))
                response = client.post(url, data=JUNK_FORM, headers=htmx_headers())
                _assert_the_apps_own_answer(response, (name, url, "htmx form"))
            checked += 1
    assert checked > 400


@pytest.mark.parametrize(
    "path, method, status",
    [
        ("/favicon.ico", "GET", 200),
        ("/logout", "GET", 405),
        ("/meetings/abc", "GET", 404),
        ("/meetings/-1", "GET", 404),
        ("/meetings/99999999999999999999", "GET", 404),
        ("/meetings", "PUT", 405),
        ("/nowhere/at/all", "GET", 404),
    ],
)
def test_everyday_junk_gets_the_apps_own_page_for_every_role(app, db, path, method, status):
    for name, client in _clients(app, db).items():
        response = client.open(path, method=method)
        assert response.status_code == status, (name, path)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        if status != 200:
            html = response.get_data(as_text=True)
            assert '<html lang="fr">' in html and 'class="error-message"' in html, (name, path)


def test_the_favicon_is_a_real_icon_cached_for_a_year(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert "immutable" in response.headers["Cache-Control"]


def test_error_pages_speak_the_users_language(client, db, login_as):
    login_as(Role.STAFF, locale="en")
    html = client.get("/meetings/99999999999999999999").get_data(as_text=True)
    assert '<html lang="en">' in html and "This page does not exist" in html
    french = client.get("/meetings/abc", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "This page does not exist" in french  # the account's language wins over the browser's


def test_an_htmx_error_lands_in_the_notice_bar_and_leaves_the_form(client, db, login_as):
    login_as(Role.VIEWER)
    response = client.post("/meetings/new", headers=htmx_headers())
    assert response.status_code == 403 and error_message(response) == ERROR_FR[403]
    assert response.headers["HX-Retarget"] == "#notice"


# --- conflicts: a stale form and two saves at the same instant ---------------------------------


def _someone_else_saves(db, commitment_id: int) -> None:
    other = make_user(Role.STAFF)
    record = db.session.get(Commitment, commitment_id)
    commitments.change_status(db.session, record, "in_progress", "pris en charge", other, record.version)
    db.session.commit()


def test_a_stale_commitment_edit_is_a_409_that_keeps_what_was_typed(client, db, login_as):
    staff = login_as(Role.STAFF)
    commitment = make_commitment(staff, origin_meeting_id=make_meeting(staff).id)
    loaded_version = commitment.version
    _someone_else_saves(db, commitment.id)
    response = client.post(
        f"/commitments/{commitment.id}/edit",
        data={"title": "Mon texte à moi", "owed_by": "ours", "priority": "high", "version": loaded_version},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Quelqu’un d’autre a enregistré cette fiche" in html and "Mon texte à moi" in html
    assert db.session.get(Commitment, commitment.id).title == "Étendre la couverture rurale"


def _race(db, table, row_id: int):
    """Just before the request's UPDATE, another writer bumps the row: the version check already passed."""

    def bump(session, flush_context, instances):
        with db.engine.connect() as other:
            other.execute(update(table).where(table.id == row_id).values(version=table.version + 1))
            other.commit()

    event.listen(db.session, "before_flush", bump, once=True)


def test_two_saves_at_the_same_instant_end_in_the_usual_409(client, db, login_as):
    staff = login_as(Role.STAFF)
    commitment = make_commitment(staff)
    if db.engine.url.get_backend_name() == "sqlite" and db.engine.url.database in (None, "", ":memory:"):
        pytest.skip("one in-memory connection: the other writer cannot be a second connection here")
    _race(db, Commitment, commitment.id)
    response = client.post(
        f"/commitments/{commitment.id}/status",
        data={"status": "blocked", "note": "attente", "version": commitment.version},
        headers=htmx_headers(),
    )
    assert response.status_code == 409
    assert "Quelqu’un d’autre a enregistré cette fiche" in response.get_data(as_text=True)


def test_a_minutes_autosave_that_loses_the_race_is_a_409_and_keeps_the_text(client, db, login_as):
    staff = login_as(Role.STAFF)
    meeting = make_meeting(staff)
    revision = meetings.start_minutes(db.session, meeting)
    db.session.commit()
    if db.engine.url.get_backend_name() == "sqlite" and db.engine.url.database in (None, "", ":memory:"):
        pytest.skip("one in-memory connection: the other writer cannot be a second connection here")
    _race(db, MinutesRevision, revision.id)
    response = client.post(
        f"/meetings/{meeting.id}/minutes/autosave",
        data={"summary": "Texte tapé pendant la course", "version": revision.version},
        headers=htmx_headers(),
    )
    assert response.status_code == 409
    assert "Quelqu’un d’autre a enregistré cette fiche" in response.get_data(as_text=True)


# --- one record per form -----------------------------------------------------------------------


MEETING = {
    "title": "Audience du Ministre avec Huawei Mali",
    "kind": "audience",
    "status": "planned",
    "confidentiality": "internal",
    "starts_at": "2026-12-03T10:00",
    "ends_at": "2026-12-03T11:00",
    "timezone": "Africa/Bamako",
    "place": "Bamako",
}


def test_a_form_sent_twice_makes_one_record_and_leads_to_it(client, db, login_as):
    login_as(Role.STAFF)
    page = client.get("/meetings/new").get_data(as_text=True)
    token = page.split('name="submission" type="hidden" value="')[1].split('"')[0]
    first = client.post("/meetings/new", data={**MEETING, "submission": token})
    second = client.post("/meetings/new", data={**MEETING, "submission": token}, headers=htmx_headers())
    assert first.status_code == 302 and second.headers["HX-Redirect"] == first.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(Meeting)) == 1
    followed = client.get(first.headers["Location"]).get_data(as_text=True)
    assert "Ce formulaire a déjà été envoyé" in followed


def test_a_refused_form_keeps_its_token_for_the_corrected_sending(client, db, login_as):
    login_as(Role.STAFF)
    token = "t" * 24
    refused = client.post("/meetings/new", data={**MEETING, "ends_at": "2026-12-03T09:00", "submission": token})
    assert (
        refused.status_code == 422
        and "La fin de la rencontre doit être postérieure à son début" in refused.get_data(as_text=True)
    )
    assert f'value="{token}"' in refused.get_data(as_text=True)
    assert client.post("/meetings/new", data={**MEETING, "submission": token}).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Meeting)) == 1


def test_a_programme_line_sent_twice_is_added_once(client, db, login_as):
    from crm.visits import services as visits

    staff = login_as(Role.STAFF)
    visit = visits.save_visit(
        db.session,
        {
            "title": "Délégation du Burkina Faso",
            "direction": "incoming",
            "city": "Bamako",
            "country_code": "ML",
            "starts_on": date(2026, 1, 28),
            "ends_on": date(2026, 1, 31),
        },
        staff,
    )
    db.session.commit()
    line = {"day": "2026-01-29", "starts_at": "09:00", "activity": "Cérémonie d’ouverture", "submission": "p" * 24}
    for _ in range(2):
        response = client.post(f"/visits/{visit.id}/programme", data=line, headers=htmx_headers())
        assert response.status_code == 200 and response.get_data(as_text=True).count("Cérémonie d’ouverture") == 1


# --- absolute links come from CRM_BASE_URL ------------------------------------------------------


class TestConfiguredAddress:
    @pytest.fixture
    def app_config(self):
        # The test client speaks to "localhost": links must still name the configured address.
        return {
            "CRM_BASE_URL": "https://partenariats.mcenma.gov.ml",
            "CRM_ALLOWED_HOSTS": ["partenariats.mcenma.gov.ml", "localhost"],
        }

    def test_another_host_is_refused(self, client, db):
        response = client.get("/login", headers={"Host": "evil.example"})
        assert response.status_code == 400
        assert error_message(response) == "Ce service ne répond pas à cette adresse."
        assert client.get("/login", headers={"Host": "partenariats.mcenma.gov.ml"}).status_code == 200

    def test_approved_pdfs_and_calendars_link_to_the_configured_address(self, client, db):
        staff, officer = make_user(Role.STAFF), make_user(Role.OFFICER)
        meeting = make_meeting(staff, orgs=[make_org()])
        revision = meetings.start_minutes(db.session, meeting)
        meetings.save_minutes(db.session, revision, "Résumé", {}, revision.version)
        meetings.submit_minutes(db.session, revision, staff, revision.version)
        db.session.commit()
        open_session(client, officer)
        approve = client.post(f"/meetings/{meeting.id}/minutes/approve", data={"version": revision.version})
        assert approve.status_code == 302, approve.get_data(as_text=True).split("error-message")[-1][:300]
        document = db.session.scalars(select(FrozenDocument).where(FrozenDocument.lang == "fr")).one()
        from pypdf import PdfReader

        pdf_text = "".join(
            p.extract_text() for p in PdfReader(io.BytesIO(printing.frozen_bytes(db.session, document))).pages
        )
        assert f"https://partenariats.mcenma.gov.ml/verify/{meeting.reference}/1" in pdf_text
        ics = client.get(f"/meetings/{meeting.id}.ics").get_data(as_text=True)
        assert f"URL:https://partenariats.mcenma.gov.ml/meetings/{meeting.id}" in ics
        settings = client.post("/account/calendar", data={"confirm": "yes"}).get_data(as_text=True)
        assert "https://partenariats.mcenma.gov.ml/calendar/feed/" in settings


# --- verification: public, and silent to whoever does not hold the document ---------------------


@pytest.fixture
def approved(db):
    """A restricted meeting whose minutes are approved and frozen, and the French PDF's bytes."""
    staff, officer = make_user(Role.STAFF), make_user(Role.OFFICER)
    meeting = make_meeting(staff, "Négociation confidentielle avec Huawei", confidentiality="restricted")
    meetings.add_participant(db.session, meeting, user_id=officer.id)
    revision = meetings.start_minutes(db.session, meeting)
    meetings.save_minutes(db.session, revision, "Résumé", {}, revision.version)
    meetings.submit_minutes(db.session, revision, staff, revision.version)
    db.session.commit()
    printing.approve_and_freeze(db.session, revision, officer, revision.version)
    db.session.commit()
    document = db.session.scalars(select(FrozenDocument).where(FrozenDocument.lang == "fr")).one()
    return meeting, printing.frozen_bytes(db.session, document), document.sha256


def _result(html: str) -> str:
    """The answer part of the verification page (what differs between two checks, if anything)."""
    return html.split("</form>", 1)[1].split("</main>", 1)[0]


def test_anyone_holding_the_pdf_can_check_it_without_an_account(client, db, approved):
    meeting, pdf, sha = approved
    assert client.get(f"/verify/{meeting.reference}/1").status_code == 200
    answer = client.post(
        f"/verify/{meeting.reference}/1",
        data={"file": (io.BytesIO(pdf), "compte-rendu.pdf")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert "Authentique" in answer and meeting.reference in answer and "révision 1" in answer
    assert meeting.title not in answer  # a restricted meeting says no more than the document does
    assert sha not in answer  # fingerprints are never listed


def test_a_wrong_copy_gets_one_answer_whether_or_not_the_reference_exists(client, db, approved):
    meeting, pdf, _sha = approved
    altered = pdf.replace(b"%%EOF", b"%%EOF\n% changed")
    known = client.post(
        f"/verify/{meeting.reference}/1",
        data={"file": (io.BytesIO(altered), "a.pdf")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    unknown = client.post(
        "/verify/ML-AUD-2031-9999/7", data={"file": (io.BytesIO(altered), "a.pdf")}, content_type="multipart/form-data"
    ).get_data(as_text=True)
    assert "Aucun document approuvé ne porte cette empreinte" in known
    assert _result(known) == _result(unknown)


def test_checks_are_throttled_per_address(client, db, approved):
    for _ in range(printing.VERIFY_MAX_CHECKS):
        assert client.post("/verify", data={"sha256": "a" * 64}).status_code == 200
    refused = client.post("/verify", data={"sha256": "a" * 64})
    assert refused.status_code == 429 and "Trop de vérifications depuis cette adresse" in refused.get_data(as_text=True)


def test_ids_out_of_range_are_a_400_or_a_refusal_never_a_500(client, db, login_as):
    """The old 500s: ids past 2^31 in the query string and in hidden form fields."""
    staff = login_as(Role.STAFF)
    make_org()
    meeting = make_meeting(staff)
    for url in [
        "/meetings?organisation=99999999999999999999",
        "/commitments?responsible=2147483648",
        f"/meetings/{meeting.id}/minutes.pdf?rev=99999999999999999999",
    ]:
        response = client.get(url)
        assert response.status_code == 400 and error_message(response) == ERROR_FR[400], url
    refused = client.post("/organisations/new", data={"name": "X", "country_code": "ML", "parent_id": "2147483648"})
    assert refused.status_code == 422
    assert (
        '<small id="parent_id-err" class="error">Choix non valide, ne peut pas être converti.</small>'
        in refused.get_data(as_text=True)
    )
    assert db.session.scalar(select(func.count()).select_from(Organisation).where(Organisation.name == "X")) == 0


def test_an_error_page_leads_back_to_the_section_the_address_was_in(client, login_as):
    login_as(Role.STAFF)
    assert '<a href="/meetings">Retour aux rencontres</a>' in client.get("/meetings/abc").get_data(as_text=True)
    assert '<a href="/contacts">Retour aux contacts</a>' in client.get("/contacts/0").get_data(as_text=True)
    assert '<a href="/">Retour à l’accueil</a>' in client.get("/nowhere/at/all").get_data(as_text=True)
