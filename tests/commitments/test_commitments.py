"""Commitments: from a decision in one step, statuses with notes, overdue first, carry-forward,
promise figures, bulk reassignment."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from crm.auth.models import Role
from crm.commitments import services
from crm.commitments.models import Commitment, CommitmentUpdate
from crm.errors import DomainError
from crm.meetings import services as meetings
from tests.conftest import (
    ERROR_FR,
    STALE_FR,
    error_message,
    htmx_headers,
    make_commitment,
    make_meeting,
    make_org,
    make_user,
)

DECISION = "Orange Mali transmettra son plan d’extension"


@pytest.fixture
def decision(db, login_as):
    """A meeting with Orange Mali whose minutes have an agenda item, the staff member who wrote them signed in."""
    staff = login_as(Role.STAFF)
    orange = make_org("Orange Mali")
    meeting = make_meeting(staff, orgs=[orange])
    revision = meetings.start_minutes(db.session, meeting)
    item = meetings.add_item(db.session, revision, revision.version, "Couverture rurale")
    db.session.commit()
    return staff, orange, meeting, item


def test_the_form_for_a_commitment_from_a_decision_is_prefilled(client, decision):
    _staff, _orange, meeting, item = decision
    form = client.get(f"/commitments/new?meeting={meeting.id}&item={item.id}&text={DECISION}&back=minutes")
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and DECISION in html and meeting.reference in html


def test_a_commitment_from_a_decision_keeps_its_origin_and_leads_back_to_the_minutes(client, db, decision):
    staff, orange, meeting, item = decision
    response = client.post(
        f"/commitments/new?meeting={meeting.id}",
        data={
            "title": DECISION,
            "owed_by": "partner",
            "priority": "high",
            "responsible_id": str(staff.id),
            "organisation_id": str(orange.id),
            "due_date": "2026-03-31",
            "origin_meeting_id": str(meeting.id),
            "origin_item_id": str(item.id),
            "back": "minutes",
        },
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/meetings/{meeting.id}/minutes")
    commitment = db.session.scalars(select(Commitment)).one()
    assert (commitment.reference, commitment.origin_item_id, commitment.owed_by) == (
        "ML-ENG-2026-0001",
        item.id,
        "partner",
    )
    minutes = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Engagement ML-ENG-2026-0001 enregistré." in minutes


def test_the_decision_links_to_its_commitment_in_the_minutes(client, db, decision):
    staff, orange, meeting, item = decision
    revision = meetings.revision_with_items(db.session, meeting.id)
    meetings.save_minutes(db.session, revision, "", {item.id: {"decisions": DECISION}}, revision.version)
    db.session.commit()
    made = make_commitment(
        staff, DECISION, origin_meeting_id=meeting.id, origin_item_id=item.id, organisation_id=orange.id
    )
    minutes = client.get(f"/meetings/{meeting.id}/minutes").get_data(as_text=True)
    assert f'<a href="/commitments/{made.id}" class="tag light">ML-ENG-2026-0001</a>' in minutes


def _approve_and_amend(db, staff, meeting, decisions: str):
    """Approve the minutes, amend them, and write ``decisions`` in the amended item."""
    revision = meetings.revision_with_items(db.session, meeting.id)
    meetings.submit_minutes(db.session, revision, staff, revision.version)
    meetings.approve_minutes(db.session, revision, make_user(Role.OFFICER), revision.version)
    amended = meetings.amend_minutes(db.session, meeting, staff, "Précision du libellé")
    db.session.flush()
    new_item = amended.items[0]
    meetings.save_minutes(db.session, amended, "", {new_item.id: {"decisions": decisions}}, amended.version)
    db.session.commit()
    return new_item


def test_a_reworded_decision_keeps_its_commitment_after_an_amendment(client, db, decision):
    staff, orange, meeting, item = decision
    revision = meetings.revision_with_items(db.session, meeting.id)
    meetings.save_minutes(db.session, revision, "", {item.id: {"decisions": DECISION}}, revision.version)
    db.session.commit()
    form = client.get(f"/commitments/new?meeting={meeting.id}&item={item.id}&text={DECISION}").get_data(as_text=True)
    assert f'name="origin_decision" type="hidden" value="{DECISION}"' in form
    made = make_commitment(
        staff,
        "Obtenir d’Orange Mali son plan d’extension rurale",  # the officer wrote the commitment in their words
        origin_meeting_id=meeting.id,
        origin_item_id=item.id,
        origin_decision=DECISION,
        organisation_id=orange.id,
    )
    reworded = "Orange Mali transmettra son plan d’extension d’ici au 30 juin"
    _approve_and_amend(db, staff, meeting, f"{reworded}\nL’AGETIC fera un relevé de couverture")

    minutes = client.get(f"/meetings/{meeting.id}/minutes").get_data(as_text=True)
    linked = minutes.split(f'<span dir="auto">{reworded}</span>')[1].split("</li>")[0]
    assert f'<a href="/commitments/{made.id}" class="tag light">ML-ENG-2026-0001</a>' in linked
    assert f'il disait : « <span dir="auto">{DECISION}</span> »' in linked
    assert minutes.count("En faire un engagement") == 1  # only the new decision invites a commitment
    assert '<span dir="auto">L’AGETIC fera un relevé de couverture</span>' in minutes.split("En faire un engagement")[0]


def test_an_unrelated_new_decision_does_not_take_the_commitment(client, db, decision):
    staff, _orange, meeting, item = decision
    revision = meetings.revision_with_items(db.session, meeting.id)
    meetings.save_minutes(db.session, revision, "", {item.id: {"decisions": DECISION}}, revision.version)
    db.session.commit()
    make_commitment(staff, DECISION, origin_meeting_id=meeting.id, origin_item_id=item.id, origin_decision=DECISION)
    _approve_and_amend(db, staff, meeting, "Le ministère publiera le calendrier des consultations")
    minutes = client.get(f"/meetings/{meeting.id}/minutes").get_data(as_text=True)
    assert "ML-ENG-2026-0001" not in minutes.split("Décisions")[1].split("</ul>")[0]
    assert "En faire un engagement" in minutes


def test_an_item_from_another_meeting_is_refused(db):
    staff = make_user(Role.STAFF)
    first, other = make_meeting(staff), make_meeting(staff, "Autre")
    revision = meetings.start_minutes(db.session, other)
    item = meetings.add_item(db.session, revision, revision.version)
    with pytest.raises(DomainError) as refused:
        make_commitment(staff, origin_meeting_id=first.id, origin_item_id=item.id)
    assert refused.value.field == "origin_item_id"
    assert refused.value.message == "Ce point ne fait pas partie du compte rendu de la rencontre."


def _change_status(client, commitment: Commitment, status: str, note: str, version: int, **headers):
    return client.post(
        f"/commitments/{commitment.id}/status",
        data={"status": status, "note": note, "version": version},
        headers=headers,
    )


def test_a_status_change_without_a_note_is_refused_in_its_row(client, db, login_as):
    staff = login_as(Role.STAFF)
    commitment = make_commitment(staff, due_date=date(2026, 2, 28))
    response = _change_status(client, commitment, "done", "", commitment.version, **htmx_headers())
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and html.lstrip().startswith(f'<tr id="commitment-{commitment.id}"')
    assert '<small class="error" role="alert">Indiquez en quelques mots ce qui a changé.</small>' in html
    db.session.refresh(commitment)
    assert commitment.status == "open"


def test_status_changes_with_their_notes_build_a_timeline(client, db, login_as):
    staff = login_as(Role.STAFF)
    commitment = make_commitment(staff, due_date=date(2026, 2, 28))
    response = _change_status(client, commitment, "in_progress", "Réunion fixée", commitment.version, **htmx_headers())
    assert response.status_code == 200 and response.get_data(as_text=True).lstrip().startswith("<tr")
    db.session.refresh(commitment)
    response = _change_status(client, commitment, "done", "Séance tenue à l’AGETIC", commitment.version)
    assert response.status_code == 302
    db.session.refresh(commitment)
    assert commitment.status == "done" and commitment.outcome == "Séance tenue à l’AGETIC"
    assert commitment.completed_on == date.today() and commitment.closed
    notes = db.session.scalars(
        select(CommitmentUpdate.note)
        .where(CommitmentUpdate.commitment_id == commitment.id)
        .order_by(CommitmentUpdate.id)
    ).all()
    assert notes == ["", "Réunion fixée", "Séance tenue à l’AGETIC"]
    page = client.get(f"/commitments/{commitment.id}").get_data(as_text=True)
    assert "Réunion fixée" in page and "Séance tenue à l’AGETIC" in page


def test_a_stale_status_change_is_refused(client, db, login_as):
    staff = login_as(Role.STAFF)
    commitment = make_commitment(staff)
    old = commitment.version
    client.post(f"/commitments/{commitment.id}/status", data={"status": "blocked", "note": "a", "version": old})
    response = client.post(
        f"/commitments/{commitment.id}/status",
        data={"status": "done", "note": "b", "version": old},
        headers=htmx_headers(),
    )
    assert response.status_code == 409
    assert f'<small class="error" role="alert">{STALE_FR}' in response.get_data(as_text=True)
    db.session.refresh(commitment)
    assert commitment.status == "blocked"


def test_lists_put_overdue_first_and_filter(client, db, login_as):
    staff = login_as(Role.STAFF)
    other = make_user(Role.OFFICER)
    today = date.today()
    make_commitment(staff, "Plus tard", due_date=today + timedelta(days=30))
    make_commitment(staff, "En retard", due_date=today - timedelta(days=3))
    make_commitment(staff, "Sans échéance")
    make_commitment(other, "Dossier du collègue", due_date=today + timedelta(days=1))
    kept = make_commitment(staff, "Engagement clos", due_date=today - timedelta(days=10))
    services.change_status(db.session, kept, "done", "ok", staff, kept.version)
    db.session.commit()
    html = client.get("/commitments?mine=1").get_data(as_text=True)
    order = [html.index(t) for t in ("En retard", "Plus tard", "Sans échéance")]
    assert order == sorted(order) and "Dossier du collègue" not in html and "Engagement clos" not in html
    html = client.get("/commitments?overdue=1").get_data(as_text=True)
    assert "En retard" in html and "Plus tard" not in html
    assert "Engagement clos" in client.get("/commitments?status=done").get_data(as_text=True)


def test_pages_of_commitments_follow_each_other(app, client, db, login_as):
    staff = login_as(Role.STAFF)
    for i in range(30):
        make_commitment(staff, f"Engagement numéro {i:02d}", due_date=date(2026, 1, 1) + timedelta(days=i))
    first = client.get("/commitments").get_data(as_text=True)
    assert "numéro 00" in first and "numéro 29" not in first
    cursor = first.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(cursor).get_data(as_text=True)
    assert "numéro 29" in second and "numéro 00" not in second


def test_a_forged_cursor_is_the_apps_own_400(client, login_as):
    login_as(Role.STAFF)
    response = client.get("/commitments?after=bm9wZQ")
    assert response.status_code == 400 and error_message(response) == ERROR_FR[400]


def test_carry_forward_opens_the_next_meeting_with_open_commitments(client, db, login_as):
    staff = login_as(Role.STAFF)
    orange = make_org("Orange Mali")
    first = make_meeting(staff, "Audience de janvier", orgs=[orange], starts=datetime(2026, 1, 22, 10))
    open_ours = make_commitment(
        staff, "Réunion technique AGETIC", origin_meeting_id=first.id, organisation_id=orange.id
    )
    open_theirs = make_commitment(
        staff, "Plan d’extension rurale", owed_by="partner", origin_meeting_id=first.id, organisation_id=orange.id
    )
    done = make_commitment(staff, "Déjà tenu", origin_meeting_id=first.id, organisation_id=orange.id)
    services.change_status(db.session, done, "done", "ok", staff, done.version)
    db.session.commit()
    follow_up = make_meeting(staff, "Suivi", orgs=[orange], starts=datetime(2026, 12, 3, 10), status="planned")
    html = client.get(f"/meetings/{follow_up.id}").get_data(as_text=True)
    carried = html.split('id="carry-forward"')[1].split("</section>")[0]
    assert open_ours.reference in carried and open_theirs.reference in carried and done.reference not in carried
    assert f"/meetings/{first.id}/minutes" in carried  # the link to the previous minutes


def test_promise_figures_match_hand_counted_data(db):
    staff = make_user(Role.STAFF)
    orange = make_org("Orange Mali")
    today = date(2026, 11, 22)

    def made(title, owed_by, due, status="open", kept_on=None):
        c = make_commitment(staff, title, owed_by=owed_by, organisation_id=orange.id, due_date=due)
        if status != "open":
            services.change_status(db.session, c, status, "note", staff, c.version, today=kept_on)
            db.session.commit()
        return c

    made("a", "ours", date(2026, 3, 1), "done", date(2026, 2, 20))  # ours: kept on time
    made("b", "ours", date(2026, 3, 1), "done", date(2026, 3, 1))  # ours: on the day is on time
    made("c", "ours", date(2026, 3, 1), "done", date(2026, 3, 9))  # ours: late
    made("d", "ours", date(2026, 10, 1))  # ours: overdue
    made("e", "ours", None)  # ours: open, no due date
    made("f", "partner", date(2026, 4, 30), "in_progress")  # partner: overdue
    made("g", "partner", date(2026, 12, 31))  # partner: open
    made("h", "partner", date(2026, 1, 1), "cancelled")  # not counted
    made("i", "partner", None, "done", date(2026, 5, 5))  # partner: no due date, kept on time
    figures = services.promise_figures(db.session, orange.id, staff, today)
    ours, partner = figures.ours, figures.partner
    assert (ours.on_time, ours.late, ours.open, ours.overdue) == (2, 1, 1, 1)
    assert (partner.on_time, partner.late, partner.open, partner.overdue) == (1, 0, 1, 1)
    assert ours.on_time_percent == 50  # 2 on time out of 4 that fell due
    assert partner.on_time_percent == 50


def test_partner_page_shows_meetings_commitments_and_figures(client, db, login_as):
    staff = login_as(Role.STAFF)
    huawei = make_org("Huawei Technologies Mali", kind="vendor")
    meeting = make_meeting(staff, "Audience Huawei", orgs=[huawei])
    make_commitment(
        staff,
        "Programme de formation des jeunes",
        owed_by="partner",
        origin_meeting_id=meeting.id,
        organisation_id=huawei.id,
        due_date=date(2020, 1, 1),
    )
    assert f"/organisations/{huawei.id}/record" in client.get(f"/organisations/{huawei.id}").get_data(as_text=True)
    html = client.get(f"/organisations/{huawei.id}/record", headers=htmx_headers()).get_data(as_text=True)
    assert "Audience Huawei" in html and "Programme de formation des jeunes" in html and 'class="late"' in html


def test_bulk_reassignment_keeps_restricted_ones_from_outsiders(client, db, login_as):
    leaving = make_user(Role.OFFICER, name="Officier sortant")
    newcomer = make_user(Role.OFFICER, name="Nouvelle officière")
    secret = make_meeting(leaving, "Restreinte", confidentiality="restricted")
    movable = [make_commitment(leaving, f"Engagement {i}") for i in range(3)]
    stuck = make_commitment(leaving, "Engagement restreint", origin_meeting_id=secret.id)
    login_as(Role.ADMIN)
    response = client.post("/commitments/reassign", data={"from_user": leaving.id, "to_user": newcomer.id})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and stuck.reference in html
    assert (
        "Ces engagements sont issus de rencontres restreintes auxquelles la personne désignée ne participe pas" in html
    )
    for c in [*movable, stuck]:
        db.session.refresh(c)
    assert {c.responsible_id for c in movable} == {newcomer.id} and stuck.responsible_id == leaving.id


def test_reassigning_to_the_same_person_is_refused(client, db, login_as):
    leaving = make_user(Role.OFFICER, name="Officier sortant")
    commitment = make_commitment(leaving)
    login_as(Role.ADMIN)
    refused = client.post("/commitments/reassign", data={"from_user": leaving.id, "to_user": leaving.id})
    assert refused.status_code == 422
    assert '<small id="to_user-err" class="error">Choisissez deux personnes différentes.</small>' in refused.get_data(
        as_text=True
    )
    db.session.refresh(commitment)
    assert commitment.responsible_id == leaving.id


def test_a_staff_member_cannot_reassign(client, db, login_as):
    login_as(Role.STAFF)
    refused = client.post("/commitments/reassign", data={})
    assert refused.status_code == 403 and error_message(refused) == ERROR_FR[403]
