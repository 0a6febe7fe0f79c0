"""Delegation visits: planning, members and logistics, the programme and its conflicts, report, access."""

from __future__ import annotations

import io
from datetime import date, time

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from crm.auth.models import Role, User
from crm.commitments.models import Commitment
from crm.documents.models import Attachment
from crm.meetings.models import Meeting, Participant
from crm.partners.models import Contact, Position
from crm.visits import services
from crm.visits.models import ProgrammeItem, Visit, VisitMember
from tests.conftest import htmx_headers, make_contact, make_org, make_user


def _visit_form(**overrides):
    data = {
        "title": "Délégation malienne à la 20e Semaine du Numérique",
        "direction": "outgoing",
        "purpose": "Porter la vision commune de l’AES",
        "city": "Ouagadougou",
        "country_code": "BF",
        "starts_on": "2025-11-17",
        "ends_on": "2025-11-20",
        "status": "planned",
        "confidentiality": "internal",
    }
    data.update(overrides)
    return data


def _new_visit(client, db, **overrides) -> Visit:
    response = client.post("/visits/new", data=_visit_form(**overrides))
    assert response.status_code == 302, response.get_data(as_text=True)
    return db.session.scalars(select(Visit).order_by(Visit.id.desc())).first()


# --- a visit planned through its forms (17–20 November 2025, in Ouagadougou) -----------------------


@pytest.fixture
def staff(login_as) -> User:
    return login_as(Role.STAFF)


@pytest.fixture
def visit(client, db, staff) -> Visit:
    return _new_visit(client, db)


@pytest.fixture
def minister(db) -> Contact:
    return make_contact("Ag Ilyène", "Alhamdou", honorific="S.E.")


def _add_member(client, visit: Visit, person: str, role: str, **headers):
    return client.post(f"/visits/{visit.id}/members", data={"person": person, "role": role}, headers=headers)


@pytest.fixture
def head(client, db, staff, visit, minister) -> VisitMember:
    """The minister, head of the delegation."""
    assert _add_member(client, visit, f"contact:{minister.id}:0", "head", **htmx_headers()).status_code == 200
    members = services.visit_detail(db.session, visit.id, staff).members
    return next(m for m in members if m.contact_id == minister.id)


def _edit_member(client, visit: Visit, member: VisitMember, **data):
    return client.post(
        f"/visits/{visit.id}/members/{member.id}",
        data={"role": "head", "version": member.version, **data},
        headers=htmx_headers(),
    )


def _add_line(client, visit: Visit, **line):
    return client.post(f"/visits/{visit.id}/programme", data=line, headers=htmx_headers())


def _check_line(client, visit: Visit, **line) -> str:
    return client.post(f"/visits/{visit.id}/programme/check", data=line, headers=htmx_headers()).get_data(as_text=True)


PROGRAMME = [
    ("2025-11-18", "09:00", "12:00", "Cérémonie d’ouverture"),
    ("2025-11-18", "15:00", "16:30", "Séance de travail avec la ministre"),
    ("2025-11-19", "10:00", "", "Visite des stands"),
]


@pytest.fixture
def programme(client, db, visit) -> list[ProgrammeItem]:
    """Three lines over two days; returns those of 18 November in their order."""
    for day, start, end, activity in PROGRAMME:
        response = _add_line(client, visit, day=day, starts_at=start, ends_at=end, activity=activity, place="Ouaga")
        assert response.status_code == 200, response.get_data(as_text=True)
    return _lines_of(db, visit, date(2025, 11, 18))


def _lines_of(db, visit: Visit, day: date) -> list[ProgrammeItem]:
    db.session.expire_all()
    return db.session.scalars(
        select(ProgrammeItem)
        .where(ProgrammeItem.visit_id == visit.id, ProgrammeItem.day == day)
        .order_by(ProgrammeItem.position)
    ).all()


def test_dates_out_of_order_are_refused_and_the_text_kept(client, db, login_as):
    login_as(Role.STAFF)
    response = client.post("/visits/new", data=_visit_form(ends_on="2025-11-10", purpose="Texte à garder"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "La date de fin doit être identique ou postérieure à la date de début." in html
    assert "Texte à garder" in html
    assert db.session.scalar(select(Visit.id)) is None


def test_a_new_visit_gets_its_reference_and_the_host_citys_time_zone(visit):
    assert visit.reference == "ML-MIS-2025-0001" and visit.timezone == "Africa/Ouagadougou"


# --- members -----------------------------------------------------------------------------------


def test_the_minister_heads_the_delegation(client, visit, minister):
    response = _add_member(client, visit, f"contact:{minister.id}:0", "head", **htmx_headers())
    assert response.status_code == 200
    page = client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "S.E. Alhamdou Ag Ilyène" in page
    assert '<option value="head" selected>Chef de délégation</option>' in page


def test_the_delegation_shown_after_adding_a_member_has_the_new_member(client, visit, minister):
    response = _add_member(client, visit, f"contact:{minister.id}:0", "head", **htmx_headers())
    assert "S.E. Alhamdou Ag Ilyène" in response.get_data(as_text=True)


def test_a_removed_member_leaves_the_delegation(client, visit, head):
    removed = client.post(f"/visits/{visit.id}/members/{head.id}/remove", data={"confirm": "yes"})
    assert removed.status_code == 302
    assert "S.E. Alhamdou Ag Ilyène" not in client.get(f"/visits/{visit.id}").get_data(as_text=True)


def test_the_delegation_shown_after_removing_a_member_no_longer_has_them(client, visit, head):
    removed = client.post(
        f"/visits/{visit.id}/members/{head.id}/remove", data={"confirm": "yes"}, headers=htmx_headers()
    )
    assert removed.status_code == 200 and "S.E. Alhamdou Ag Ilyène" not in removed.get_data(as_text=True)


def test_a_second_head_is_refused(client, db, staff, visit, head):
    colleague = make_user(Role.STAFF, name="Ibrahim Maïga")
    refused = _add_member(client, visit, f"user:{colleague.id}", "head", **htmx_headers())
    assert refused.status_code == 422
    assert "La délégation a déjà un chef de délégation." in refused.get_data(as_text=True)
    members = services.visit_detail(db.session, visit.id, staff).members
    assert colleague.id not in {m.user_id for m in members}


def test_an_unknown_user_cannot_join_the_delegation(client, visit):
    refused = _add_member(client, visit, "user:999999", "member")
    assert refused.status_code == 422
    assert "Utilisateur inconnu ou inactif." in refused.get_data(as_text=True)


def test_a_departure_before_arrival_is_refused(client, db, visit, head):
    bad = _edit_member(client, visit, head, arrival_at="2025-11-18T10:00", departure_at="2025-11-17T10:00")
    assert bad.status_code == 422
    assert "Le départ doit être postérieur à l’arrivée." in bad.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(VisitMember, head.id).departure_at is None


def test_a_members_arrival_departure_and_hotel_are_saved(client, visit, head):
    ok = _edit_member(
        client,
        visit,
        head,
        arrival_at="2025-11-17T16:00",
        departure_at="2025-11-20T11:00",
        accommodation="Hôtel Laico, Ouagadougou",
    )
    assert ok.status_code == 200 and "Hôtel Laico" in ok.get_data(as_text=True)
    assert "Hôtel Laico" in client.get(f"/visits/{visit.id}").get_data(as_text=True)


def test_a_member_in_two_places_at_once_is_flagged(client, db, login_as):
    staff = login_as(Role.STAFF, name="Awa Traoré")
    first = _new_visit(client, db)
    second = _new_visit(
        client,
        db,
        title="Mission à Niamey",
        city="Niamey",
        country_code="NE",
        starts_on="2025-11-19",
        ends_on="2025-11-21",
    )
    assert first.id != second.id
    html = client.get(f"/visits/{second.id}").get_data(as_text=True)
    # the author is in both: the warning sits under their name
    warning = f"⚠ Également en mission {first.reference} (Ouagadougou) à ces dates."
    row = html.split(f'<strong dir="auto">{staff.name}</strong>')[1].split("</td>")[0]
    assert row.strip() == f'<br><small class="error">{warning}</small>'


# --- programme ---------------------------------------------------------------------------------


def test_a_programme_line_outside_the_visit_is_refused_and_kept_in_the_form(client, db, visit):
    outside = _add_line(client, visit, day="2025-11-25", activity="Visite du technopôle")
    html = outside.get_data(as_text=True)
    assert outside.status_code == 422
    assert "Ce jour est en dehors de la période de la mission (2025-11-17 – 2025-11-20)." in html
    assert 'value="Visite du technopôle"' in html and 'value="2025-11-25"' in html
    assert db.session.scalar(select(ProgrammeItem.id)) is None


def test_a_line_at_the_same_time_as_another_is_flagged_as_the_user_types(client, visit, programme):
    check = _check_line(client, visit, day="2025-11-18", starts_at="11:00", activity="Interview")
    assert '<small class="warning">⚠ En même temps que «\u00a0Cérémonie d’ouverture\u00a0» (09:00).</small>' in check


def test_a_line_saved_at_the_same_time_as_another_stays_flagged_on_the_page_and_in_the_pdf(client, visit, programme):
    assert _add_line(client, visit, day="2025-11-18", starts_at="11:00", activity="Interview").status_code == 200
    flag = "⚠ En même temps que «\u00a0Cérémonie d’ouverture\u00a0» (09:00)."
    page = client.get(f"/visits/{visit.id}").get_data(as_text=True)
    interview = page.split('<span dir="auto">Interview</span>')[1].split("</li>")[0]
    assert flag in interview
    ceremony = page.split('<span dir="auto">Cérémonie d’ouverture</span>')[1].split("</li>")[0]
    assert "⚠ En même temps que «\u00a0Interview\u00a0» (11:00)." in ceremony
    stands = page.split('<span dir="auto">Visite des stands</span>')[1].split("</li>")[0]
    assert "⚠" not in stands
    pdf = client.get(f"/visits/{visit.id}/programme.pdf").data
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    assert "En même temps que « Cérémonie d’ouverture » (09:00)" in text.replace("\u00a0", " ")


def test_a_day_outside_the_visit_and_an_end_before_the_start_are_flagged_as_the_user_types(client, visit):
    check = _check_line(client, visit, day="2025-12-01", starts_at="15:00", ends_at="14:00", activity="x")
    assert (
        '<small class="error" data-field="day">Ce jour est en dehors de la période de la mission '
        "(2025-11-17 – 2025-11-20).</small>"
    ) in check
    assert '<small class="error" data-field="ends_at">La fin doit être postérieure au début.</small>' in check


def test_a_programme_line_moves_up(client, db, visit, programme):
    client.post(f"/visits/{visit.id}/programme/{programme[1].id}/move?direction=up", data={"confirm": "yes"})
    order = [item.activity for item in _lines_of(db, visit, date(2025, 11, 18))]
    assert order == ["Séance de travail avec la ministre", "Cérémonie d’ouverture"]


def test_a_programme_line_becomes_a_meeting_of_the_visit_with_our_delegation(client, db, staff, visit, programme):
    line = programme[1]
    assert client.post(f"/visits/{visit.id}/programme/{line.id}/meeting", data={"confirm": "yes"}).status_code == 302
    meeting = db.session.scalars(select(Meeting).where(Meeting.visit_id == visit.id)).one()
    assert meeting.title == "Séance de travail avec la ministre" and meeting.timezone == "Africa/Ouagadougou"
    assert meeting.starts_at.hour == 15  # Ouagadougou is UTC
    at_the_table = select(Participant.id).where(Participant.meeting_id == meeting.id, Participant.user_id == staff.id)
    assert db.session.scalar(at_the_table) is not None


def test_shrinking_the_dates_past_the_programme_is_refused(client, db, visit, programme):
    shrink = client.post(f"/visits/{visit.id}/edit", data=_visit_form(starts_on="2025-11-19", version=visit.version))
    html = shrink.get_data(as_text=True)
    assert shrink.status_code == 422
    assert "Certains points du programme se situent en dehors de ces dates" in html
    assert 'value="2025-11-19"' in html  # what was typed stays in the form
    db.session.expire_all()
    assert db.session.get(Visit, visit.id).starts_on == date(2025, 11, 17)


# --- report and what arises from the visit ------------------------------------------------------


def test_the_report_is_saved(client, db, visit):
    report = "Le Mali, invité spécial, a porté la vision de l’AES."
    response = client.post(f"/visits/{visit.id}/report", data={"report": report, "version": visit.version})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/visits/{visit.id}#report")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Rapport de mission enregistré." in page and report in page


def test_a_commitment_from_the_visit_leads_back_to_it(client, db, visit):
    response = client.post(
        f"/commitments/new?visit={visit.id}",
        data={
            "title": "Proposer un cadre d’échanges AES",
            "owed_by": "ours",
            "priority": "high",
            "origin_visit_id": str(visit.id),
            "back": "visit",
        },
    )
    assert response.status_code == 302 and f"/visits/{visit.id}" in response.headers["Location"]
    assert db.session.scalars(select(Commitment)).one().origin_visit_id == visit.id
    assert "Proposer un cadre d’échanges AES" in client.get(f"/visits/{visit.id}").get_data(as_text=True)


# --- access, events, documents, the partner's timeline ------------------------------------------


def test_restricted_visits_are_hidden_from_outsiders(client, db, login_as):
    author = make_user(Role.STAFF)
    visit = services.save_visit(
        db.session,
        {
            "title": "Mission sensible",
            "direction": "outgoing",
            "city": "Accra",
            "country_code": "GH",
            "starts_on": date(2026, 3, 1),
            "ends_on": date(2026, 3, 3),
            "confidentiality": "restricted",
        },
        author,
    )
    db.session.commit()
    login_as(Role.OFFICER)
    assert client.get(f"/visits/{visit.id}").status_code == 404
    assert client.post(f"/visits/{visit.id}/programme", data={"day": "2026-03-01", "activity": "x"}).status_code == 404
    assert "Mission sensible" not in client.get("/visits?when=upcoming").get_data(as_text=True)
    assert "Mission sensible" not in client.get("/calendar/week?d=2026-03-02").get_data(as_text=True)
    assert client.get(f"/commitments/new?visit={visit.id}").status_code == 404


def test_event_page_lists_its_visits_and_meetings(client, db, login_as):
    staff = login_as(Role.STAFF)
    event = services.save_event(
        db.session,
        {
            "name": "Semaine du Numérique au Mali",
            "edition": "3e édition",
            "venue": "CICB",
            "city": "Bamako",
            "country_code": "ML",
            "starts_on": date(2026, 1, 29),
            "ends_on": date(2026, 1, 31),
        },
    )
    visit = services.save_visit(
        db.session,
        {
            "title": "Délégations du Burkina Faso et du Niger",
            "direction": "incoming",
            "city": "Bamako",
            "country_code": "ML",
            "starts_on": date(2026, 1, 28),
            "ends_on": date(2026, 2, 1),
            "event_id": event.id,
        },
        staff,
    )
    db.session.commit()
    visit = services.visit_detail(db.session, visit.id, staff)
    item = services.add_item(
        db.session, visit, {"day": date(2026, 1, 29), "starts_at": time(15), "activity": "Réunion tripartite"}
    )
    services.meeting_from_item(db.session, visit, item, staff)
    db.session.commit()
    html = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "Délégations du Burkina Faso et du Niger" in html and "Réunion tripartite" in html


def test_an_event_ending_before_it_starts_is_refused_and_the_name_kept(client, db, login_as):
    login_as(Role.STAFF)
    refused = client.post(
        "/events/new",
        data={
            "name": "Salon des TIC de Niamey",
            "country_code": "ML",
            "starts_on": "2026-02-02",
            "ends_on": "2026-02-01",
        },
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "La date de fin doit être identique ou postérieure à la date de début." in html
    assert 'value="Salon des TIC de Niamey"' in html


PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture
def restricted_visit(db, staff) -> Visit:
    visit = services.save_visit(
        db.session,
        {
            "title": "Mission restreinte",
            "direction": "outgoing",
            "city": "Niamey",
            "country_code": "NE",
            "starts_on": date(2026, 3, 1),
            "ends_on": date(2026, 3, 2),
            "confidentiality": "restricted",
        },
        staff,
    )
    db.session.commit()
    return visit


def _attach(client, visit: Visit, content: bytes, name: str, description: str = ""):
    return client.post(
        f"/visits/{visit.id}/attachments",
        data={"file": (io.BytesIO(content), name), "description": description},
        content_type="multipart/form-data",
    )


def test_a_visit_document_is_listed_on_the_visit_and_served(client, db, restricted_visit):
    assert _attach(client, restricted_visit, PDF, "Note verbale.pdf", "Note verbale").status_code == 302
    assert "Note verbale.pdf" in client.get(f"/visits/{restricted_visit.id}").get_data(as_text=True)
    attachment = db.session.scalars(select(Attachment)).one()
    assert attachment.visit_id == restricted_visit.id and client.get(f"/attachments/{attachment.id}").data == PDF


def test_a_visit_document_whose_content_is_not_its_type_is_refused(client, db, restricted_visit):
    bad = _attach(client, restricted_visit, b"MZ...", "invitation.pdf")
    assert bad.status_code == 422
    assert "Ce type de fichier n’est pas accepté" in bad.get_data(as_text=True)
    assert db.session.scalar(select(Attachment.id)) is None


def test_a_visit_document_is_hidden_from_those_who_cannot_see_the_visit(client, db, login_as, restricted_visit):
    assert _attach(client, restricted_visit, PDF, "Note verbale.pdf").status_code == 302
    attachment = db.session.scalars(select(Attachment)).one()
    client.post("/logout")
    login_as(Role.OFFICER)
    assert client.get(f"/attachments/{attachment.id}").status_code == 404


def test_the_partner_timeline_shows_visits(client, db, login_as):
    staff = login_as(Role.STAFF)
    ministry = make_org("Ministère de la Transition digitale", country="BF", kind="ministry")
    minister = make_contact("Zerbo Sabané", "Aminata")
    db.session.add(Position(contact_id=minister.id, organisation_id=ministry.id, title="Ministre"))
    db.session.commit()
    visit = services.save_visit(
        db.session,
        {
            "title": "Délégation du Burkina Faso",
            "direction": "incoming",
            "city": "Bamako",
            "country_code": "ML",
            "starts_on": date(2026, 1, 28),
            "ends_on": date(2026, 2, 1),
        },
        staff,
    )
    services.add_member(db.session, visit, contact_id=minister.id, role="head")
    db.session.commit()
    html = client.get(f"/organisations/{ministry.id}/record", headers=htmx_headers()).get_data(as_text=True)
    assert "Délégation du Burkina Faso" in html and visit.reference in html
