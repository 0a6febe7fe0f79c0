"""Delegation visits: planning, members and logistics, the programme and its conflicts, report, access."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import select

from crm.auth.models import Role
from crm.commitments.models import Commitment
from crm.meetings.models import Meeting, Participant
from crm.visits import services
from crm.visits.models import ProgrammeItem, Visit
from tests.conftest import htmx_headers, make_contact, make_user


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


def test_dates_out_of_order_are_refused_and_the_text_kept(client, db, login_as):
    login_as(Role.STAFF)
    response = client.post("/visits/new", data=_visit_form(ends_on="2025-11-10", purpose="Texte à garder"))
    assert response.status_code == 422 and "Texte à garder" in response.get_data(as_text=True)
    assert db.session.scalar(select(Visit.id)) is None


def test_a_visit_from_plan_to_report(client, db, login_as):
    staff = login_as(Role.STAFF)
    minister = make_contact("Ag Ilyène", "Alhamdou", honorific="S.E.")
    visit = _new_visit(client, db)
    assert visit.reference == "ML-MIS-2025-0001" and visit.timezone == "Africa/Ouagadougou"
    v = visit.id
    # members: the minister heads the delegation; a second head is refused
    assert (
        client.post(
            f"/visits/{v}/members", data={"person": f"contact:{minister.id}:0", "role": "head"}, headers=htmx_headers()
        ).status_code
        == 200
    )
    colleague = make_user(Role.STAFF, name="Ibrahim Maïga")
    refused = client.post(
        f"/visits/{v}/members", data={"person": f"user:{colleague.id}", "role": "head"}, headers=htmx_headers()
    )
    assert refused.status_code == 422
    assert client.post(f"/visits/{v}/members", data={"person": "user:999999", "role": "member"}).status_code == 422
    member = next(m for m in services.visit_detail(db.session, v, staff).members if m.contact_id == minister.id)
    bad = client.post(
        f"/visits/{v}/members/{member.id}",
        data={
            "role": "head",
            "version": member.version,
            "arrival_at": "2025-11-18T10:00",
            "departure_at": "2025-11-17T10:00",
        },
        headers=htmx_headers(),
    )
    assert bad.status_code == 422
    ok = client.post(
        f"/visits/{v}/members/{member.id}",
        data={
            "role": "head",
            "version": member.version,
            "arrival_at": "2025-11-17T16:00",
            "departure_at": "2025-11-20T11:00",
            "accommodation": "Hôtel Laico, Ouagadougou",
        },
        headers=htmx_headers(),
    )
    assert ok.status_code == 200 and "Hôtel Laico" in ok.get_data(as_text=True)
    # programme: a line outside the visit is refused; overlapping lines are flagged as the user types
    outside = client.post(
        f"/visits/{v}/programme", data={"day": "2025-11-25", "activity": "Visite"}, headers=htmx_headers()
    )
    assert outside.status_code == 422
    for day, start, end, activity in [
        ("2025-11-18", "09:00", "12:00", "Cérémonie d’ouverture"),
        ("2025-11-18", "15:00", "16:30", "Séance de travail avec la ministre"),
        ("2025-11-19", "10:00", "", "Visite des stands"),
    ]:
        assert (
            client.post(
                f"/visits/{v}/programme",
                data={"day": day, "starts_at": start, "ends_at": end, "activity": activity, "place": "Ouagadougou"},
                headers=htmx_headers(),
            ).status_code
            == 200
        )
    check = client.post(
        f"/visits/{v}/programme/check",
        data={"day": "2025-11-18", "starts_at": "11:00", "activity": "Interview"},
        headers=htmx_headers(),
    ).get_data(as_text=True)
    assert "Cérémonie d’ouverture" in check and "warning" in check
    check = client.post(
        f"/visits/{v}/programme/check",
        data={"day": "2025-12-01", "starts_at": "15:00", "ends_at": "14:00", "activity": "x"},
        headers=htmx_headers(),
    ).get_data(as_text=True)
    assert 'data-field="day"' in check and 'data-field="ends_at"' in check
    items = db.session.scalars(
        select(ProgrammeItem)
        .where(ProgrammeItem.visit_id == v, ProgrammeItem.day == date(2025, 11, 18))
        .order_by(ProgrammeItem.position)
    ).all()
    client.post(f"/visits/{v}/programme/{items[1].id}/move?direction=up", data={"confirm": "yes"})
    db.session.expire_all()
    order = db.session.scalars(
        select(ProgrammeItem.activity).where(ProgrammeItem.day == date(2025, 11, 18)).order_by(ProgrammeItem.position)
    ).all()
    assert order == ["Séance de travail avec la ministre", "Cérémonie d’ouverture"]
    # one click: the line becomes a meeting of the visit, with our delegation at the table
    assert client.post(f"/visits/{v}/programme/{items[1].id}/meeting", data={"confirm": "yes"}).status_code == 302
    meeting = db.session.scalars(select(Meeting).where(Meeting.visit_id == v)).one()
    assert meeting.title == "Séance de travail avec la ministre" and meeting.timezone == "Africa/Ouagadougou"
    assert meeting.starts_at.hour == 15  # Ouagadougou is UTC
    assert (
        db.session.scalar(
            select(Participant.id).where(Participant.meeting_id == meeting.id, Participant.user_id == staff.id)
        )
        is not None
    )
    # shrinking the dates past the programme is refused
    visit = db.session.get(Visit, v)
    shrink = client.post(f"/visits/{v}/edit", data=_visit_form(starts_on="2025-11-19", version=visit.version))
    assert shrink.status_code == 422
    # report, then a commitment from the visit
    assert (
        client.post(
            f"/visits/{v}/report",
            data={"report": "Le Mali, invité spécial, a porté la vision de l’AES.", "version": visit.version},
        ).status_code
        == 302
    )
    response = client.post(
        f"/commitments/new?visit={v}",
        data={
            "title": "Proposer un cadre d’échanges AES",
            "owed_by": "ours",
            "priority": "high",
            "origin_visit_id": str(v),
            "back": "visit",
        },
    )
    assert response.status_code == 302 and f"/visits/{v}" in response.headers["Location"]
    assert db.session.scalars(select(Commitment)).one().origin_visit_id == v
    page = client.get(f"/visits/{v}").get_data(as_text=True)
    assert "Proposer un cadre d’échanges AES" in page and "Hôtel Laico" in page and "S.E. Alhamdou Ag Ilyène" in page


def test_a_member_in_two_places_at_once_is_flagged(client, db, login_as):
    staff = login_as(Role.STAFF)
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
    assert first.reference in html and "⚠" in html  # the author is in both
    assert staff.id


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
    assert (
        client.post(
            "/events/new", data={"name": "x", "country_code": "ML", "starts_on": "2026-02-02", "ends_on": "2026-02-01"}
        ).status_code
        == 422
    )


def test_visit_documents_follow_the_visit(app, client, db, login_as):
    import io

    author = login_as(Role.STAFF)
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
        author,
    )
    db.session.commit()
    pdf = b"%PDF-1.4\n%%EOF\n"
    response = client.post(
        f"/visits/{visit.id}/attachments",
        data={"file": (io.BytesIO(pdf), "Note verbale.pdf"), "description": "Note verbale"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    page = client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "Note verbale.pdf" in page
    from crm.documents.models import Attachment

    attachment = db.session.scalars(select(Attachment)).one()
    assert attachment.visit_id == visit.id and client.get(f"/attachments/{attachment.id}").data == pdf
    bad = client.post(
        f"/visits/{visit.id}/attachments",
        data={"file": (io.BytesIO(b"MZ..."), "invitation.pdf")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    client.post("/logout")
    login_as(Role.OFFICER)
    assert client.get(f"/attachments/{attachment.id}").status_code == 404


def test_the_partner_timeline_shows_visits(client, db, login_as):
    from crm.partners.models import Position
    from tests.conftest import make_org

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
