"""Meeting pages as users meet them: forms, autosave, expired sessions, confidentiality, attachments."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from crm.audit.models import AuditEvent
from crm.auth.models import Role, User
from crm.commitments.models import Commitment
from crm.documents.models import Attachment
from crm.meetings import services
from crm.meetings.models import AgendaItem, Meeting, MinutesRevision, Participant
from crm.partners.models import Organisation, Position
from tests.conftest import (
    ERROR_FR,
    PASSWORD,
    STALE_FR,
    error_message,
    htmx_headers,
    make_commitment,
    make_contact,
    make_meeting,
    make_org,
    make_user,
    sign_in,
)


def _form(**overrides):
    data = {
        "title": "Audience du Ministre avec le DG d’Orange Mali",
        "kind": "audience",
        "starts_at": "2026-01-22T10:00",
        "ends_at": "2026-01-22T11:00",
        "timezone": "Africa/Bamako",
        "place": "Cabinet du Ministre",
        "confidentiality": "internal",
        "status": "held",
        "notes": "",
    }
    data.update(overrides)
    return data


def test_create_a_meeting_with_its_partner(client, db, login_as):
    login_as(Role.STAFF)
    orange = make_org("Orange Mali")
    response = client.post("/meetings/new", data={**_form(), "organisation_ids": [str(orange.id)]})
    assert response.status_code == 302
    assert db.session.scalars(select(Meeting)).one().reference == "ML-AUD-2026-0001"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "ML-AUD-2026-0001" in page and "Orange Mali" in page and "10:00" in page


def test_end_before_start_keeps_what_was_typed(client, db, login_as):
    login_as(Role.STAFF)
    response = client.post("/meetings/new", data=_form(ends_at="2026-01-22T09:00", place="Salle Kurukan Fuga"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    # the message sits under the end field
    assert (
        '<small id="ends_at-err" class="error">La fin de la rencontre doit être postérieure à son début.</small>'
        in html
    )
    assert "Salle Kurukan Fuga" in html and db.session.scalar(select(func.count(Meeting.id))) == 0


def test_smuggled_fields_are_ignored(client, db, login_as):
    login_as(Role.STAFF)
    client.post("/meetings/new", data=_form(reference="ML-AUD-1999-0666", created_by_id="999", search="x"))
    meeting = db.session.scalars(select(Meeting)).one()
    assert meeting.reference == "ML-AUD-2026-0001" and meeting.created_by_id != 999


def test_partner_titles_are_those_held_on_the_meeting_day(client, db, login_as):
    staff = login_as(Role.STAFF)
    orange = make_org("Orange Mali")
    old_dg, new_dg = make_contact("Konaté", "Seydou"), make_contact("N’Diaye", "Leyti")
    db.session.add_all(
        [
            Position(
                contact_id=old_dg.id, organisation_id=orange.id, title="Directeur général", end_date=date(2025, 12, 31)
            ),
            Position(
                contact_id=old_dg.id, organisation_id=orange.id, title="Conseiller spécial", start_date=date(2026, 1, 1)
            ),
            Position(
                contact_id=new_dg.id, organisation_id=orange.id, title="Directeur général", start_date=date(2026, 1, 1)
            ),
        ]
    )
    db.session.commit()
    before = make_meeting(staff, "Audience 2025", orgs=[orange], starts=datetime(2025, 6, 3, 10))
    services.add_participant(db.session, before, contact_id=old_dg.id, organisation_id=orange.id)
    db.session.commit()
    html = client.get(f"/meetings/{before.id}").get_data(as_text=True)
    assert "Seydou Konaté" in html and "Directeur général" in html and "Conseiller spécial" not in html


@pytest.fixture
def at_the_table(db, login_as):
    """A meeting with Orange Mali, and a contact who may speak for Orange Mali or for Huawei."""
    staff = login_as(Role.STAFF)
    orange, huawei = make_org("Orange Mali"), make_org("Huawei Technologies Mali", kind="vendor")
    contact = make_contact("Wei", "Jean Sun")
    return make_meeting(staff, orgs=[orange]), contact, orange, huawei


def _add_participant(client, meeting, contact, organisation, role="member"):
    return client.post(
        f"/meetings/{meeting.id}/participants",
        data={"person": f"contact:{contact.id}:{organisation.id}", "role": role, "attendance": "present"},
        headers=htmx_headers(),
    )


def test_a_participant_for_an_organisation_not_at_the_meeting_is_refused(client, db, at_the_table):
    meeting, contact, _orange, huawei = at_the_table
    response = _add_participant(client, meeting, contact, huawei)
    assert response.status_code == 422
    assert (
        "Cette personne doit représenter l’une des organisations de la rencontre\u00a0: ajoutez d’abord "
        "l’organisation." in response.get_data(as_text=True)
    )
    assert db.session.scalar(select(Participant.id).where(Participant.contact_id == contact.id)) is None


def test_a_participant_for_an_organisation_at_the_meeting_is_added(client, at_the_table):
    meeting, contact, orange, _huawei = at_the_table
    response = _add_participant(client, meeting, contact, orange, role="interpreter")
    assert response.status_code == 200 and "Jean Sun Wei" in response.get_data(as_text=True)


def test_people_autocomplete_finds_users_and_contacts(client, db, login_as):
    staff = login_as(Role.STAFF, name="Awa Traoré")
    orange = make_org("Orange Mali")
    contact = make_contact()
    db.session.add(Position(contact_id=contact.id, organisation_id=orange.id, title="Directeur général"))
    db.session.commit()
    make_user(Role.STAFF, name="Ibrahim Maïga")
    meeting = make_meeting(staff, orgs=[orange])
    html = client.get(f"/meetings/{meeting.id}/people-search?q=ndiaye", headers=htmx_headers()).get_data(as_text=True)
    assert f"contact:{contact.id}:{orange.id}" in html and "Directeur général" in html
    html = client.get(f"/meetings/{meeting.id}/people-search?q=maiga", headers=htmx_headers()).get_data(as_text=True)
    assert "Ibrahim Maïga" in html and "<html" not in html


# --- minutes: autosave, expired session, lifecycle over HTTP -----------------------------------


def _minutes(client, db, staff):
    meeting = make_meeting(staff)
    client.post(f"/meetings/{meeting.id}/minutes/start")
    client.post(f"/meetings/{meeting.id}/minutes/items", data={"version": "1"}, headers=htmx_headers())
    revision = services.revision_with_items(db.session, meeting.id)
    return meeting, revision


def test_autosave_writes_the_text_and_returns_the_new_version(client, db, login_as):
    staff = login_as(Role.STAFF)
    meeting, revision = _minutes(client, db, staff)
    item = revision.items[0]
    response = client.post(
        f"/meetings/{meeting.id}/minutes/autosave",
        data={
            "version": revision.version,
            "summary": "Le Ministre a reçu M. Leyti N’Diaye.",
            f"item-{item.id}-title": "Couverture rurale",
            f"item-{item.id}-decisions": "Orange Mali transmettra son plan\nRéunion technique avec l’AGETIC",
        },
        headers=htmx_headers(),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    db.session.expire_all()
    saved = services.revision_with_items(db.session, meeting.id)
    assert saved.summary == "Le Ministre a reçu M. Leyti N’Diaye." and saved.items[0].title == "Couverture rurale"
    assert f'name="version" value="{saved.version}"' in html
    # the decisions now offer to become commitments, swapped in out of band
    assert f'id="decisions-{item.id}"' in html and "hx-swap-oob" in html and "Orange Mali transmettra son plan" in html


def test_expired_session_keeps_the_text_until_the_user_is_back(app, client, db, login_as):
    staff = login_as(Role.STAFF)
    meeting, revision = _minutes(client, db, staff)
    typed = {"version": revision.version, "summary": "Texte tapé pendant que la session expirait"}
    client.post("/logout")
    response = client.post(f"/meetings/{meeting.id}/minutes/autosave", data=typed, headers=htmx_headers())
    assert response.status_code == 401 and error_message(response) == ERROR_FR[401]
    db.session.expire_all()
    assert services.revision_with_items(db.session, meeting.id).summary == ""
    # Back: the page asks whether it is signed in, takes the fresh token, and sends the same text again.
    signed_out = client.get("/session", headers=htmx_headers())
    assert signed_out.status_code == 401 and error_message(signed_out) == ERROR_FR[401]
    sign_in(client, staff.email, PASSWORD)
    check = client.get("/session", headers=htmx_headers())
    assert check.status_code == 200 and check.json["csrf_token"]
    response = client.post(f"/meetings/{meeting.id}/minutes/autosave", data=typed, headers=htmx_headers())
    assert response.status_code == 200
    db.session.expire_all()
    assert services.revision_with_items(db.session, meeting.id).summary == typed["summary"]


def test_stale_autosave_gets_409_and_changes_nothing(client, db, login_as):
    staff = login_as(Role.STAFF)
    meeting, revision = _minutes(client, db, staff)
    old = revision.version
    client.post(
        f"/meetings/{meeting.id}/minutes/autosave", data={"version": old, "summary": "Onglet A"}, headers=htmx_headers()
    )
    response = client.post(
        f"/meetings/{meeting.id}/minutes/autosave", data={"version": old, "summary": "Onglet B"}, headers=htmx_headers()
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and f'<span class="error">{STALE_FR}' in html
    assert f'name="version" value="{old}"' in html
    db.session.expire_all()
    assert services.revision_with_items(db.session, meeting.id).summary == "Onglet A"


def test_submitting_saves_the_last_words_typed(client, db, login_as):
    staff = login_as(Role.STAFF)
    meeting, revision = _minutes(client, db, staff)
    response = client.post(
        f"/meetings/{meeting.id}/minutes/submit",
        data={"version": revision.version, "summary": "Dernière phrase tapée avant l’envoi"},
        headers=htmx_headers(),
    )
    assert response.status_code == 200 and response.headers.get("HX-Redirect")
    db.session.expire_all()
    revision = services.revision_with_items(db.session, meeting.id)
    assert revision.status == "submitted" and revision.summary == "Dernière phrase tapée avant l’envoi"


@pytest.fixture
def submitted(client, db, login_as):
    """Minutes a staff member wrote and submitted (the staff member is signed in)."""
    staff = login_as(Role.STAFF)
    meeting, revision = _minutes(client, db, staff)
    services.save_minutes(db.session, revision, "Synthèse soumise", {}, revision.version)
    services.submit_minutes(db.session, revision, staff, revision.version)
    db.session.commit()
    return meeting, revision


def test_a_staff_member_cannot_approve_minutes(client, db, submitted):
    meeting, revision = submitted
    refused = client.post(f"/meetings/{meeting.id}/minutes/approve", data={"version": revision.version})
    assert refused.status_code == 403 and error_message(refused) == ERROR_FR[403]
    db.session.expire_all()
    assert services.revision_with_items(db.session, meeting.id).status == "submitted"


def test_submitted_minutes_cannot_be_edited(client, db, submitted):
    meeting, revision = submitted
    response = client.post(
        f"/meetings/{meeting.id}/minutes/autosave", data={"version": revision.version, "summary": "x"}
    )
    assert response.status_code == 422
    assert (
        '<span class="error">Ce compte rendu a été soumis pour approbation. Remettez-le en brouillon pour le '
        "modifier.</span>" in response.get_data(as_text=True)
    )
    db.session.expire_all()
    assert services.revision_with_items(db.session, meeting.id).summary == "Synthèse soumise"


@pytest.fixture
def approved(client, db, login_as):
    """Minutes written by a staff member and approved by the officer who is signed in."""
    staff = make_user(Role.STAFF)
    login_as(Role.OFFICER)
    meeting = make_meeting(staff)
    revision = services.start_minutes(db.session, meeting)
    services.save_minutes(db.session, revision, "Version approuvée", {}, revision.version)
    services.submit_minutes(db.session, revision, staff, revision.version)
    db.session.commit()
    assert client.post(f"/meetings/{meeting.id}/minutes/approve", data={"version": revision.version}).status_code == 302
    db.session.expire_all()
    return meeting, db.session.scalars(select(MinutesRevision)).one()


def test_approved_minutes_cannot_be_edited_and_say_how_to_amend_them(client, db, approved):
    meeting, revision = approved
    response = client.post(
        f"/meetings/{meeting.id}/minutes/autosave",
        data={"version": revision.version, "summary": "Réécrit"},
        headers=htmx_headers(),
    )
    assert response.status_code == 422
    assert (
        "Ce compte rendu est approuvé et verrouillé. Utilisez «\u00a0Amender\u00a0» pour ouvrir une nouvelle "
        "version." in response.get_data(as_text=True)
    )
    db.session.expire_all()
    assert services.revision_with_items(db.session, meeting.id).summary == "Version approuvée"


def test_an_amendment_needs_a_reason(client, db, approved):
    meeting, _revision = approved
    refused = client.post(f"/meetings/{meeting.id}/minutes/amend", data={"reason": ""})
    assert refused.status_code == 422
    reason_field = refused.get_data(as_text=True).split('name="reason"', 1)[1].split("</div>", 1)[0]
    assert '<small class="error">Ce champ est requis.</small>' in reason_field
    assert db.session.scalar(select(func.count()).select_from(MinutesRevision)) == 1


def test_amending_opens_a_new_revision_and_keeps_the_approved_one(client, db, approved):
    meeting, _revision = approved
    assert client.post(f"/meetings/{meeting.id}/minutes/amend", data={"reason": "Erreur de titre"}).status_code == 302
    page = client.get(f"/meetings/{meeting.id}/minutes/1").get_data(as_text=True)
    assert "Version approuvée" in page
    diff = client.get(f"/meetings/{meeting.id}/minutes/diff?from=1&to=2")
    assert diff.status_code == 200 and "Erreur de titre" in diff.get_data(as_text=True)


# --- confidentiality, by id guessing -----------------------------------------------------------


@dataclass
class Limited:
    author: User
    orange: Organisation
    meeting: Meeting
    item: AgendaItem
    commitment: Commitment


@pytest.fixture(params=["restricted", "confidential"])
def limited(db, request) -> Limited:
    """A restricted or confidential meeting with Orange Mali, an agenda item and a commitment arising from it."""
    author = make_user(Role.STAFF)
    orange = make_org("Orange Mali")
    meeting = make_meeting(author, "Négociation tarifaire sensible", orgs=[orange], confidentiality=request.param)
    revision = services.start_minutes(db.session, meeting)
    item = services.add_item(db.session, revision, revision.version, "Point sensible")
    db.session.commit()
    commitment = make_commitment(author, "Engagement secret", origin_meeting_id=meeting.id, organisation_id=orange.id)
    return Limited(author, orange, meeting, item, commitment)


def test_a_limited_meetings_pages_are_a_404_to_non_participants(client, login_as, limited):
    login_as(Role.OFFICER)
    m = limited.meeting.id
    for url in [
        f"/meetings/{m}",
        f"/meetings/{m}/minutes",
        f"/meetings/{m}/minutes/1",
        f"/meetings/{m}/minutes/diff",
        f"/meetings/{m}/people-search?q=ab",
        f"/commitments/{limited.commitment.id}",
        f"/commitments/new?meeting={m}&item={limited.item.id}",
    ]:
        assert client.get(url).status_code == 404, url
        assert client.get(url, headers=htmx_headers()).status_code == 404, url
    for url in [
        f"/meetings/{m}/minutes/autosave",
        f"/meetings/{m}/participants",
        f"/commitments/{limited.commitment.id}/status",
    ]:
        assert client.post(url, data={"version": 1, "summary": "x"}).status_code == 404, url


def test_a_limited_meeting_is_left_out_of_every_list_of_non_participants(client, login_as, limited):
    login_as(Role.OFFICER)
    for url in [
        "/meetings",
        "/meetings?when=past",
        "/meetings/month?m=2026-01",
        "/commitments?status=all",
        f"/organisations/{limited.orange.id}/record",
        "/meetings?q=sensible&when=past",
    ]:
        html = client.get(url).get_data(as_text=True)
        assert "Négociation tarifaire" not in html and "Engagement secret" not in html, url


def _attach_commitment(client, meeting: Meeting):
    return client.post(
        "/commitments/new",
        data={
            "title": "Engagement rattaché en douce",
            "owed_by": "ours",
            "priority": "normal",
            "origin_meeting_id": meeting.id,
        },
    )


def test_a_non_participant_cannot_attach_a_commitment_to_a_limited_meeting(client, db, login_as, limited):
    login_as(Role.OFFICER)
    response = _attach_commitment(client, limited.meeting)
    assert response.status_code == 422 and "Engagement rattaché en douce" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Commitment)) == 1


def test_the_refused_origin_of_a_commitment_is_said(client, login_as, limited):
    login_as(Role.OFFICER)
    response = _attach_commitment(client, limited.meeting)
    # as if there were no such meeting
    assert "La rencontre dont est issu cet engagement n’existe pas." in response.get_data(as_text=True)


def test_the_author_sees_a_limited_meeting_and_its_commitments(client, limited):
    sign_in(client, limited.author.email)
    assert client.get(f"/meetings/{limited.meeting.id}").status_code == 200
    assert "Engagement secret" in client.get("/commitments?status=all").get_data(as_text=True)


def test_an_admin_sees_a_limited_meetings_commitments(client, login_as, limited):
    login_as(Role.ADMIN)
    assert client.get(f"/commitments/{limited.commitment.id}").status_code == 200


def test_reading_a_confidential_meeting_is_audited(client, db, login_as):
    admin = login_as(Role.ADMIN)
    meeting = make_meeting(admin, confidentiality="confidential")
    client.get(f"/meetings/{meeting.id}")
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "read_confidential")).one()
    assert event.entity_id == meeting.id and event.actor_id == admin.id


# --- attachments -------------------------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_attachment_is_checked_stored_and_served_with_its_name(app, client, db, login_as):
    staff = login_as(Role.STAFF)
    meeting = make_meeting(staff)
    response = client.post(
        f"/meetings/{meeting.id}/attachments",
        data={"file": (io.BytesIO(PDF), "PV signé N’Diaye.pdf"), "description": "PV signé"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    stored = db.session.scalars(select(Attachment)).one()
    assert stored.original_name == "PV signé N’Diaye.pdf" and stored.size == len(PDF)
    download = client.get(f"/attachments/{stored.id}")
    assert download.status_code == 200 and download.data == PDF
    assert "attachment" in download.headers["Content-Disposition"] and "PV" in download.headers["Content-Disposition"]
    assert download.headers["Content-Type"] == "application/pdf" and "no-store" in download.headers["Cache-Control"]


def test_attachment_type_comes_from_the_content(client, db, login_as):
    staff = login_as(Role.STAFF)
    meeting = make_meeting(staff)
    response = client.post(
        f"/meetings/{meeting.id}/attachments",
        data={"file": (io.BytesIO(b"MZ\x90\x00 not a pdf at all"), "rapport.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Ce type de fichier n’est pas accepté" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0


@pytest.fixture
def app_config():
    return {"CRM_MAX_ATTACHMENT_BYTES": 1024, "MAX_CONTENT_LENGTH": 4096}


def _upload(client, meeting, content: bytes, name: str):
    return client.post(
        f"/meetings/{meeting.id}/attachments",
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def test_a_file_over_the_attachment_limit_is_refused_on_the_meetings_page(client, db, login_as):
    staff = login_as(Role.STAFF)
    meeting = make_meeting(staff)
    response = _upload(client, meeting, PDF + b"0" * 2000, "gros.pdf")
    html = response.get_data(as_text=True)
    assert response.status_code == 413
    # the limit is 1 KB here, which the message rounds down to 0 MB
    assert '<small class="error" role="alert">Le fichier est trop volumineux (0 Mo au maximum).</small>' in html
    assert meeting.title in html
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0


def test_a_request_over_the_upload_limit_gets_the_apps_own_413(client, db, login_as):
    staff = login_as(Role.STAFF)
    meeting = make_meeting(staff)
    response = _upload(client, meeting, PDF + b"0" * 9000, "enorme.pdf")
    assert response.status_code == 413 and error_message(response) == ERROR_FR[413]
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0


def test_attachment_of_a_confidential_meeting_is_hidden(app, client, db, login_as):
    author = make_user(Role.STAFF)
    meeting = make_meeting(author, confidentiality="confidential")
    from crm.documents import services as documents

    attachment = documents.store(
        db.session,
        meeting,
        io.BytesIO(PDF),
        "secret.pdf",
        "",
        author,
        max_bytes=1024,
    )
    db.session.commit()
    login_as(Role.OFFICER)
    assert client.get(f"/attachments/{attachment.id}").status_code == 404


def test_month_view_places_meetings_on_their_day(client, db, login_as):
    staff = login_as(Role.STAFF)
    make_meeting(staff, "Audience Huawei", starts=datetime(2026, 1, 22, 11, 30))
    make_commitment(staff, "Désigner les points focaux", due_date=date(2026, 1, 23))
    html = client.get("/meetings/month?m=2026-01").get_data(as_text=True)
    assert "Audience Huawei" in html and "11:30" in html and "ML-ENG-2026-0001" in html


def test_the_days_of_the_next_and_previous_months_in_the_grid_show_their_meetings(client, db, login_as):
    # February 2026's grid runs from Monday 26 January to Sunday 1 March.
    staff = login_as(Role.STAFF)
    make_meeting(staff, "Réunion tripartite", starts=datetime(2026, 1, 29, 15))
    make_meeting(staff, "Audience Orange Mali", starts=datetime(2026, 3, 1, 9))
    make_meeting(staff, "Hors de la grille", starts=datetime(2026, 1, 25, 9))
    html = client.get("/meetings/month?m=2026-02").get_data(as_text=True)
    assert "Réunion tripartite" in html and "Audience Orange Mali" in html
    assert "Hors de la grille" not in html


def test_a_month_that_does_not_exist_is_the_apps_own_400(client, login_as):
    login_as(Role.STAFF)
    response = client.get("/meetings/month?m=2026-13")
    assert response.status_code == 400 and error_message(response) == ERROR_FR[400]


def test_the_previous_meeting_link_skips_what_the_reader_may_not_see_and_cancelled_meetings(client, db, login_as):
    staff = make_user(Role.STAFF)
    orange = make_org("Orange Mali")
    older = make_meeting(staff, "Audience de janvier", orgs=[orange], starts=datetime(2026, 1, 8, 10))
    make_meeting(
        staff, "Réunion restreinte", orgs=[orange], starts=datetime(2026, 1, 15, 10), confidentiality="restricted"
    )
    cancelled = make_meeting(staff, "Réunion annulée", orgs=[orange], starts=datetime(2026, 1, 20, 10))
    cancelled.status = "cancelled"
    db.session.commit()
    follow_up = make_meeting(staff, "Suivi", orgs=[orange], starts=datetime(2026, 2, 3, 10))
    login_as(Role.VIEWER)
    html = client.get(f"/meetings/{follow_up.id}").get_data(as_text=True)
    line = html.split("Rencontre précédente avec ce partenaire")[1].split("</p>")[0]
    assert older.reference in line and "restreinte" not in line and "annulée" not in line


def test_a_busy_day_shows_its_first_meetings_then_how_many_more_in_the_month_and_the_week(client, db, login_as):
    staff = login_as(Role.STAFF)
    for hour in range(8, 15):  # seven meetings on Thursday 22 January
        make_meeting(staff, f"Séance de {hour} h", starts=datetime(2026, 1, 22, hour))
    month = client.get("/meetings/month?m=2026-01").get_data(as_text=True)
    assert "Séance de 10 h" in month and "Séance de 11 h" not in month
    assert "+ 4 de plus" in month and "/calendar/week?d=2026-01-22" in month
    week = client.get("/calendar/week?d=2026-01-22").get_data(as_text=True)
    assert all(f"Séance de {hour} h" in week for hour in range(8, 15)) and "de plus" not in week
