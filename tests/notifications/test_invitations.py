"""Meeting invitations (iTIP), read back with icalendar: REQUEST, update with a higher SEQUENCE, CANCEL."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar

from crm.auth.models import Role
from crm.extensions import db as _db
from crm.meetings import services as meetings
from crm.meetings.models import Meeting
from tests.conftest import make_contact, make_meeting, make_org, make_user
from tests.notifications.conftest import deliver, parts


def _calendar(message) -> tuple[Calendar, object]:
    body = parts(message)
    assert set(body) == {"text/plain", "text/html", "text/calendar"}
    calendar = Calendar.from_ical(body["text/calendar"])
    [event] = calendar.walk("VEVENT")
    return calendar, event


def _edit(meeting: Meeting, actor, **changes):
    data = {
        "title": meeting.title,
        "kind": meeting.kind.value,
        "starts_at": meetings.to_local(meeting.starts_at, meeting.timezone).replace(tzinfo=None),
        "ends_at": meetings.to_local(meeting.ends_at, meeting.timezone).replace(tzinfo=None),
        "timezone": meeting.timezone,
        "place": meeting.place,
        "confidentiality": meeting.confidentiality.value,
        "status": meeting.status.value,
        "notes": "",
        **changes,
    }
    meetings.save_meeting(_db.session, data, actor, _db.session.get(Meeting, meeting.id), meeting.version)
    _db.session.commit()


def test_a_planned_meeting_invites_its_participants_then_updates_then_cancels(app, smtp):
    organiser = make_user(Role.OFFICER, email="organiser@mcenma.example", name="Awa Traoré")
    guest = make_user(Role.STAFF, email="guest@mcenma.example", name="Moussa Keita", locale="en")
    meeting = make_meeting(
        organiser, "Atelier fibre", starts=datetime(2027, 2, 10, 9, 0), tz="Africa/Niamey", status="planned"
    )
    meetings.add_participant(_db.session, meeting, user_id=guest.id)
    _db.session.commit()

    deliver()

    [invitation] = smtp.inbox.to("guest@mcenma.example")
    assert invitation["Subject"] == f"Invitation: {meeting.reference} — Atelier fibre"
    assert invitation.get_content_type() == "multipart/alternative"
    assert invitation["List-Unsubscribe"].startswith("<https://crm.example.org/notifications/unsubscribe/")
    calendar, event = _calendar(invitation)
    assert calendar["METHOD"] == "REQUEST"
    uid = str(event["UID"])
    assert uid == f"meeting-{meeting.id}@crm.example.org"
    assert int(event["SEQUENCE"]) == 0
    assert str(event["ORGANIZER"]) == "mailto:organiser@mcenma.example"
    assert event["ORGANIZER"].params["CN"] == "Awa Traoré"
    assert str(event["ATTENDEE"]) == "mailto:guest@mcenma.example"
    assert event["ATTENDEE"].params["PARTSTAT"] == "NEEDS-ACTION"
    assert event["DTSTART"].params["TZID"] == "Africa/Niamey"
    assert event.decoded("DTSTART").hour == 9
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Africa/Niamey"]
    text_calendar = next(p for p in invitation.walk() if p.get_content_type() == "text/calendar")
    assert text_calendar.get_param("method") == "REQUEST"
    assert smtp.inbox.to("organiser@mcenma.example") == []  # the organiser is not invited to their own meeting

    _edit(meeting, organiser, starts_at=datetime(2027, 2, 10, 11, 0), ends_at=datetime(2027, 2, 10, 12, 0))
    deliver()
    update = smtp.inbox.to("guest@mcenma.example")[-1]
    assert update["Subject"] == f"Updated invitation: {meeting.reference} — Atelier fibre"
    calendar, event = _calendar(update)
    assert (calendar["METHOD"], str(event["UID"]), int(event["SEQUENCE"])) == ("REQUEST", uid, 1)
    assert event.decoded("DTSTART").hour == 11

    _edit(meeting, organiser, notes="rien de neuf")  # nothing the invitation says changed: nothing sent
    deliver()
    assert len(smtp.inbox.to("guest@mcenma.example")) == 2

    _edit(meeting, organiser, status="cancelled")
    deliver()
    cancel = smtp.inbox.to("guest@mcenma.example")[-1]
    calendar, event = _calendar(cancel)
    assert (calendar["METHOD"], str(event["UID"]), int(event["SEQUENCE"])) == ("CANCEL", uid, 2)
    assert str(event["STATUS"]) == "CANCELLED"


def test_partner_contacts_are_invited_only_when_the_organiser_ticks_it(app, smtp):
    organiser = make_user(Role.OFFICER)
    org = make_org("Orange Mali")
    contact = make_contact("Diallo", "Fatou", email="fatou.diallo@orange.example")
    meeting = make_meeting(organiser, "Atelier", orgs=[org], starts=datetime(2027, 2, 10, 9, 0), status="planned")
    meetings.add_participant(_db.session, meeting, contact_id=contact.id, organisation_id=org.id)
    _db.session.commit()
    deliver()
    assert smtp.inbox.to("fatou.diallo@orange.example") == []

    _edit(meeting, organiser, invite_contacts=True)
    deliver()
    [invitation] = smtp.inbox.to("fatou.diallo@orange.example")
    _cal, event = _calendar(invitation)
    assert str(event["ATTENDEE"]) == "mailto:fatou.diallo@orange.example"
    assert invitation["List-Unsubscribe"] is None  # not a user: no preferences to change
    assert "/meetings/" not in parts(invitation)["text/plain"]  # no link into the CRM for outsiders


def test_a_confidential_meeting_invitation_says_only_its_reference(app, smtp):
    organiser = make_user(Role.OFFICER)
    guest = make_user(Role.STAFF, email="guest@mcenma.example")
    meeting = make_meeting(
        organiser,
        "Négociation secrète",
        confidentiality="confidential",
        starts=datetime(2027, 2, 10, 9, 0),
        status="planned",
        place="Salle secrète",
    )
    meetings.add_participant(_db.session, meeting, user_id=guest.id)
    _db.session.commit()
    deliver()
    [invitation] = smtp.inbox.to("guest@mcenma.example")
    for text in [invitation["Subject"], *parts(invitation).values()]:
        assert "secrète" not in text
    _cal, event = _calendar(invitation)
    assert str(event["SUMMARY"]) == meeting.reference


def test_a_participant_taken_off_a_planned_meeting_receives_a_cancellation(app, smtp):
    organiser = make_user(Role.OFFICER)
    guest = make_user(Role.STAFF, email="guest@mcenma.example")
    meeting = make_meeting(organiser, "Atelier", starts=datetime(2027, 2, 10, 9, 0), status="planned")
    participant = meetings.add_participant(_db.session, meeting, user_id=guest.id)
    _db.session.commit()
    meetings.remove_participant(_db.session, meeting, participant, organiser)
    _db.session.commit()
    deliver()
    methods = [_calendar(m)[0]["METHOD"] for m in smtp.inbox.to("guest@mcenma.example")]
    assert methods == ["REQUEST", "CANCEL"]


def test_a_meeting_already_over_invites_nobody(app, smtp):
    organiser = make_user(Role.OFFICER)
    guest = make_user(Role.STAFF, email="guest@mcenma.example")
    meeting = make_meeting(organiser, "Séance passée", starts=datetime(2025, 2, 10, 9, 0), status="planned")
    meetings.add_participant(_db.session, meeting, user_id=guest.id)
    _db.session.commit()
    deliver()
    assert smtp.inbox.to("guest@mcenma.example") == []


def test_a_user_who_turned_invitations_off_gets_them_on_the_bell_only(app, smtp):
    from crm.notifications import services
    from crm.notifications.models import Kind

    organiser = make_user(Role.OFFICER)
    guest = make_user(Role.STAFF, email="guest@mcenma.example")
    services.save_preferences(
        _db.session, guest, kinds=[k.value for k in Kind if k != Kind.INVITATION], digest="off", hour=7, weekday=0
    )
    meeting = make_meeting(organiser, "Atelier", starts=datetime(2027, 2, 10, 9, 0), status="planned")
    meetings.add_participant(_db.session, meeting, user_id=guest.id)
    _db.session.commit()
    deliver()
    assert smtp.inbox.to("guest@mcenma.example") == []
    assert services.unread_count(_db.session, guest.id) == 1
