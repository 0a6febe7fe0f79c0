"""Meeting pages as users meet them: forms, autosave, expired sessions, confidentiality, attachments."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from crm.audit.models import AuditEvent
from crm.auth.models import Role
from crm.documents.models import Attachment
from crm.meetings import services
from crm.meetings.models import Meeting, MinutesRevision
from crm.partners.models import Position
from tests.conftest import (
    PASSWORD,
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
    assert 'id="ends_at-err"' in html  # the message sits under the end field
    assert "Salle Kurukan Fuga" in html and db.session.scalar(select(func.count(Meeting.id))) == 0


def test_smuggled_fields_are_ignored(client, db, login_as):
    login_as(Role.STAFF)
    client.post("/meetings/new", data=_form(reference="AUD-1999-0666", created_by_id="999", search="x"))
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


def test_adding_a_participant_from_another_organisation_is_refused(client, db, login_as):
    staff = login_as(Role.STAFF)
    orange, huawei = make_org("Orange Mali"), make_org("Huawei Technologies Mali", kind="vendor")
    contact = make_contact("Wei", "Jean Sun")
    meeting = make_meeting(staff, orgs=[orange])
    response = client.post(
        f"/meetings/{meeting.id}/participants",
        data={"person": f"contact:{contact.id}:{huawei.id}", "role": "member", "attendance": "present"},
        headers=htmx_headers(),
    )
    assert response.status_code == 422 and "organisation" in response.get_data(as_text=True)
    response = client.post(
        f"/meetings/{meeting.id}/participants",
        data={"person": f"contact:{contact.id}:{orange.id}", "role": "interpreter", "attendance": "present"},
        headers=htmx_headers(),
    )
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
    assert response.status_code == 401
    assert "session" in response.get_data(as_text=True).lower()
    db.session.expire_all()
    assert services.revision_with_items(db.session, meeting.id).summary == ""
    # Back: the page asks whether it is signed in, takes the fresh token, and sends the same text again.
    assert client.get("/session", headers=htmx_headers()).status_code == 401
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
    assert response.status_code == 409 and f'value="{old}"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert services.revision_with_items(db.session, meeting.id).summary == "Onglet A"


def test_submit_saves_last_words_then_approval_needs_an_officer(client, db, login_as):
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
    assert client.post(f"/meetings/{meeting.id}/minutes/approve", data={"version": revision.version}).status_code == 403
    response = client.post(
        f"/meetings/{meeting.id}/minutes/autosave", data={"version": revision.version, "summary": "x"}
    )
    assert response.status_code == 422


def test_editing_an_approved_revision_is_refused_and_amending_keeps_it(client, db, login_as):
    staff = make_user(Role.STAFF)
    login_as(Role.OFFICER)
    meeting = make_meeting(staff)
    revision = services.start_minutes(db.session, meeting)
    services.save_minutes(db.session, revision, "Version approuvée", {}, revision.version)
    services.submit_minutes(db.session, revision, staff, revision.version)
    db.session.commit()
    assert client.post(f"/meetings/{meeting.id}/minutes/approve", data={"version": revision.version}).status_code == 302
    db.session.expire_all()
    revision = db.session.scalars(select(MinutesRevision)).one()
    response = client.post(
        f"/meetings/{meeting.id}/minutes/autosave",
        data={"version": revision.version, "summary": "Réécrit"},
        headers=htmx_headers(),
    )
    assert (
        response.status_code == 422 and "Amend" in response.get_data(as_text=True)
    ) or "Amender" in response.get_data(as_text=True)
    assert client.post(f"/meetings/{meeting.id}/minutes/amend", data={"reason": ""}).status_code == 422
    assert client.post(f"/meetings/{meeting.id}/minutes/amend", data={"reason": "Erreur de titre"}).status_code == 302
    page = client.get(f"/meetings/{meeting.id}/minutes/1").get_data(as_text=True)
    assert "Version approuvée" in page
    diff = client.get(f"/meetings/{meeting.id}/minutes/diff?from=1&to=2")
    assert diff.status_code == 200 and "Erreur de titre" in diff.get_data(as_text=True)


# --- confidentiality, by id guessing -----------------------------------------------------------


@pytest.mark.parametrize("level", ["restricted", "confidential"])
def test_limited_meetings_are_invisible_to_non_participants(client, db, login_as, level):
    author = make_user(Role.STAFF)
    orange = make_org("Orange Mali")
    meeting = make_meeting(author, "Négociation tarifaire sensible", orgs=[orange], confidentiality=level)
    revision = services.start_minutes(db.session, meeting)
    item = services.add_item(db.session, revision, revision.version, "Point sensible")
    db.session.commit()
    commitment = make_commitment(author, "Engagement secret", origin_meeting_id=meeting.id, organisation_id=orange.id)
    login_as(Role.OFFICER)
    m = meeting.id
    for url in [
        f"/meetings/{m}",
        f"/meetings/{m}/minutes",
        f"/meetings/{m}/minutes/1",
        f"/meetings/{m}/minutes/diff",
        f"/meetings/{m}/people-search?q=ab",
        f"/commitments/{commitment.id}",
        f"/commitments/new?meeting={m}&item={item.id}",
    ]:
        assert client.get(url).status_code == 404, url
        assert client.get(url, headers=htmx_headers()).status_code == 404, url
    for url in [
        f"/meetings/{m}/minutes/autosave",
        f"/meetings/{m}/participants",
        f"/commitments/{commitment.id}/status",
    ]:
        assert client.post(url, data={"version": 1, "summary": "x"}).status_code == 404, url
    for url in [
        "/meetings",
        "/meetings?when=past",
        "/meetings/month?m=2026-01",
        "/commitments?status=all",
        f"/organisations/{orange.id}/record",
        "/meetings?q=sensible&when=past",
    ]:
        html = client.get(url).get_data(as_text=True)
        assert "Négociation tarifaire" not in html and "Engagement secret" not in html, url
    # a commitment on its own cannot be attached to it either
    response = client.post(
        "/commitments/new", data={"title": "x", "owed_by": "ours", "priority": "normal", "origin_meeting_id": m}
    )
    assert response.status_code == 422
    # the author and an admin see it
    client.post("/logout")
    sign_in(client, author.email)
    assert client.get(f"/meetings/{m}").status_code == 200
    assert "Engagement secret" in client.get("/commitments?status=all").get_data(as_text=True)
    client.post("/logout")
    login_as(Role.ADMIN)
    assert client.get(f"/commitments/{commitment.id}").status_code == 200


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


def test_attachment_size_limit(client, db, login_as):
    staff = login_as(Role.STAFF)
    meeting = make_meeting(staff)
    response = client.post(
        f"/meetings/{meeting.id}/attachments",
        data={"file": (io.BytesIO(PDF + b"0" * 2000), "gros.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    response = client.post(
        f"/meetings/{meeting.id}/attachments",
        data={"file": (io.BytesIO(PDF + b"0" * 9000), "enorme.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413


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
    assert client.get("/meetings/month?m=2026-13").status_code == 400
