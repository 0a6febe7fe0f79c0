"""Calendars people already use: .ics parsed back with icalendar, vCards with vobject, private feeds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import vobject
from icalendar import Calendar

from crm.auth.models import Role
from crm.meetings import services as meetings
from crm.partners.models import Position
from tests.conftest import ERROR_FR, error_message, make_commitment, make_contact, make_meeting, make_org, make_user

FRENCH = "Semaine du Numérique; thème : « IA, souveraineté, inclusion », avec le Niger,\nle Burkina Faso et le Mali"


def _events(data: bytes) -> list:
    return [c for c in Calendar.from_ical(data).walk() if c.name == "VEVENT"]


def test_one_meeting_as_ics_keeps_its_zone_and_french_text(client, db, login_as):
    staff = login_as(Role.STAFF)
    meeting = make_meeting(
        staff,
        "Audience, avec le DG; suivi",
        tz="Africa/Niamey",
        starts=datetime(2026, 1, 29, 10, 0),
        notes=FRENCH,
        place="CICB, Bamako; salle 1",
    )
    response = client.get(f"/meetings/{meeting.id}.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert b"\\;" in response.data and b"\\," in response.data and b"\\n" in response.data  # RFC 5545 escaping
    cal = Calendar.from_ical(response.data)
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Africa/Niamey"]
    (event,) = _events(response.data)
    start = event.decoded("dtstart")
    assert start == datetime(2026, 1, 29, 10, 0, tzinfo=ZoneInfo("Africa/Niamey"))
    assert start.astimezone(UTC) == datetime(2026, 1, 29, 9, 0, tzinfo=UTC)
    assert str(event["summary"]) == "ML-AUD-2026-0001 — Audience, avec le DG; suivi"
    assert str(event["location"]) == "CICB, Bamako; salle 1"
    assert FRENCH in str(event["description"])


def test_contact_vcard_parses_back(client, db, login_as):
    login_as(Role.VIEWER)
    orange = make_org("Orange Mali")
    leyti = make_contact(
        "N’Diaye", "Leyti", honorific="M.", email="leyti.ndiaye@orange.example", phone="+223 20 00 00 00"
    )
    db.session.add(
        Position(
            contact_id=leyti.id,
            organisation_id=orange.id,
            title="Directeur général, Orange Mali; DG",
            start_date=date(2026, 1, 1),
        )
    )
    db.session.commit()
    response = client.get(f"/contacts/{leyti.id}.vcf")
    assert response.status_code == 200 and response.mimetype == "text/vcard"
    card = vobject.readOne(response.get_data(as_text=True))
    assert card.fn.value == "M. Leyti N’Diaye"
    assert card.n.value.family == "N’Diaye" and card.n.value.given == "Leyti"
    assert card.org.value == ["Orange Mali"] and card.title.value == "Directeur général, Orange Mali; DG"
    assert card.email.value == "leyti.ndiaye@orange.example" and card.tel.value == "+223 20 00 00 00"


def _new_feed_link(client) -> str:
    html = client.post("/account/calendar", data={"confirm": "yes", "action": "new"}).get_data(as_text=True)
    return "/calendar/feed/" + html.split("/calendar/feed/")[1].split('"')[0]


def test_a_feed_link_is_shown_once_when_it_is_made(client, db, login_as):
    login_as(Role.OFFICER)
    made = client.post("/account/calendar", data={"confirm": "yes", "action": "new"})
    assert made.status_code == 200 and "/calendar/feed/" in made.get_data(as_text=True)
    page = client.get("/account/calendar").get_data(as_text=True)
    assert "/calendar/feed/" not in page


def test_personal_feed_shows_only_what_its_owner_may_see(app, client, db, login_as):
    officer = login_as(Role.OFFICER)
    other = make_user(Role.STAFF)
    mine = make_meeting(officer, "Audience Orange", starts=datetime(2026, 12, 3, 10))
    meetings.add_participant(db.session, mine, user_id=other.id)
    db.session.commit()
    secret = make_meeting(
        other, "Négociation confidentielle", confidentiality="confidential", starts=datetime(2026, 12, 4, 10)
    )
    make_meeting(other, "Réunion d’un collègue", starts=datetime(2026, 12, 5, 10))
    make_commitment(officer, "Transmettre le plan", due_date=date(2026, 12, 10))
    make_commitment(other, "Engagement secret", origin_meeting_id=secret.id, due_date=date(2026, 12, 11))
    url = _new_feed_link(client)
    client.post("/logout")  # a calendar application has no session
    feed = client.get(url)
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    summaries = [str(e["summary"]) for e in _events(feed.data)]
    assert any("Audience Orange" in s for s in summaries)
    assert any("Transmettre le plan" in s for s in summaries)
    # a confidential meeting, its commitment, and a colleague's meeting the owner is not in are left out
    assert not any("confidentielle" in s or "secret" in s or "Réunion d’un collègue" in s for s in summaries), summaries
    due = next(e for e in _events(feed.data) if "Transmettre" in str(e["summary"]))
    assert due.decoded("dtstart") == date(2026, 12, 10)


def test_the_feed_carries_the_visits_of_their_members(client, db, login_as):
    from crm.visits import services as visits

    officer = login_as(Role.OFFICER)
    soon = date.today() + timedelta(days=10)
    visits.save_visit(
        db.session,
        {
            "title": "Délégation à Ouagadougou",
            "direction": "outgoing",
            "city": "Ouagadougou",
            "country_code": "BF",
            "starts_on": soon,
            "ends_on": soon + timedelta(days=3),
        },
        officer,
    )
    visits.save_visit(
        db.session,
        {
            "title": "Mission d’un autre",
            "direction": "outgoing",
            "city": "Niamey",
            "country_code": "NE",
            "starts_on": soon,
            "ends_on": soon + timedelta(days=1),
        },
        make_user(Role.STAFF),
    )
    db.session.commit()
    html = client.post("/account/calendar", data={"confirm": "yes", "action": "new"}).get_data(as_text=True)
    feed = client.get("/calendar/feed/" + html.split("/calendar/feed/")[1].split('"')[0])
    events = {str(e["summary"]): e for e in _events(feed.data)}
    (trip,) = [e for s, e in events.items() if "Ouagadougou" in s]
    assert trip.decoded("dtstart") == soon and trip.decoded("dtend") == soon + timedelta(days=4)
    assert not any("autre" in s for s in events)


def test_a_replaced_or_revoked_link_is_a_bare_404(client, db, login_as):
    login_as(Role.STAFF)
    first = client.post("/account/calendar", data={"confirm": "yes", "action": "new"}).get_data(as_text=True)
    first_url = "/calendar/feed/" + first.split("/calendar/feed/")[1].split('"')[0]
    second = client.post("/account/calendar", data={"confirm": "yes", "action": "new"}).get_data(as_text=True)
    second_url = "/calendar/feed/" + second.split("/calendar/feed/")[1].split('"')[0]
    assert client.get(first_url).status_code == 404
    assert client.get(second_url).status_code == 200
    client.post("/account/calendar", data={"confirm": "yes", "action": "revoke"})
    revoked = client.get(second_url)
    assert revoked.status_code == 404 and b"VCALENDAR" not in revoked.data
    assert client.get("/calendar/feed/not-a-token.ics").status_code == 404


def test_a_deactivated_users_feed_stops(client, db, login_as):
    staff = login_as(Role.STAFF)
    html = client.post("/account/calendar", data={"confirm": "yes", "action": "new"}).get_data(as_text=True)
    url = "/calendar/feed/" + html.split("/calendar/feed/")[1].split('"')[0]
    staff.active = False
    db.session.commit()
    assert client.get(url).status_code == 404


def test_ics_of_a_confidential_meeting_is_hidden(client, db, login_as):
    secret = make_meeting(make_user(Role.STAFF), confidentiality="restricted")
    login_as(Role.OFFICER)
    assert client.get(f"/meetings/{secret.id}.ics").status_code == 404


def test_week_view_shows_meetings_and_due_dates(client, db, login_as):
    staff = login_as(Role.STAFF)
    make_meeting(staff, "Audience Huawei", starts=datetime(2026, 1, 22, 11, 30))
    make_commitment(staff, "Désigner les points focaux", due_date=date(2026, 1, 23))
    html = client.get("/calendar/week?d=2026-01-21").get_data(as_text=True)
    assert "Audience Huawei" in html and "11:30" in html and "Désigner les points focaux" in html


def test_a_week_that_is_not_a_date_is_the_apps_own_400(client, login_as):
    login_as(Role.STAFF)
    response = client.get("/calendar/week?d=demain")
    assert response.status_code == 400 and error_message(response) == ERROR_FR[400]
