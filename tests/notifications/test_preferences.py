"""The preferences page: which e-mails, digest frequency and hour."""

from __future__ import annotations

from datetime import UTC, date, datetime

from crm.auth.models import Role
from crm.extensions import db as _db
from crm.meetings import services as meetings
from crm.notifications import services
from crm.notifications.cli import one_pass
from tests.conftest import make_commitment, make_meeting, make_user
from tests.notifications.conftest import deliver, parts


def test_a_user_turns_a_kind_off_and_chooses_a_weekly_digest(app, client, smtp, login_as):
    me = login_as(Role.OFFICER, email="me@mcenma.example", locale="en")
    page = client.get("/notifications/preferences").get_data(as_text=True)
    assert "Minutes awaiting my approval" in page and "Every week" in page

    response = client.post(
        "/notifications/preferences",
        data={
            "kinds": ["minutes_approved", "commitment_assigned", "escalation"],
            "digest": "weekly",
            "digest_hour": "8",
            "digest_weekday": "2",
        },
    )
    assert response.status_code == 302
    prefs = services.preferences(_db.session, me.id)
    assert (prefs.digest.value, prefs.digest_hour, prefs.digest_weekday) == ("weekly", 8, 2)
    assert "minutes_submitted" in prefs.muted_kinds()
    assert services.digest_key(me, prefs, datetime(2026, 3, 4, 8, 0, tzinfo=UTC)) == f"digest:{me.id}:2026-W10"

    author = make_user(Role.STAFF)
    meeting = make_meeting(author)
    meetings.start_minutes(_db.session, meeting)
    _db.session.flush()
    revision = meetings.revision_with_items(_db.session, meeting.id)
    meetings.save_minutes(_db.session, revision, "Résumé.", {}, revision.version)
    meetings.submit_minutes(_db.session, revision, author, revision.version)
    _db.session.commit()
    deliver()
    assert smtp.inbox.to("me@mcenma.example") == []  # turned off by e-mail…
    assert services.unread_count(_db.session, me.id) == 1  # …still on the bell


def test_bad_preferences_are_refused_with_a_message(app, client, login_as):
    login_as(Role.STAFF, locale="en")
    response = client.post(
        "/notifications/preferences", data={"digest": "hourly", "digest_hour": "25", "digest_weekday": "9"}
    )
    assert response.status_code == 422
    assert "Not a valid choice" in response.get_data(as_text=True)


def test_the_digest_lists_minutes_to_approve_and_tomorrows_meetings(app, smtp):
    officer = make_user(Role.OFFICER, email="officer@mcenma.example", locale="en", timezone="Africa/Niamey")
    author = make_user(Role.STAFF)
    held = make_meeting(author, "Audience passée")
    meetings.start_minutes(_db.session, held)
    _db.session.flush()
    revision = meetings.revision_with_items(_db.session, held.id)
    meetings.save_minutes(_db.session, revision, "Résumé.", {}, revision.version)
    meetings.submit_minutes(_db.session, revision, author, revision.version)
    _db.session.commit()
    make_meeting(officer, "Atelier de demain", starts=datetime(2026, 3, 3, 9, 0), tz="Africa/Niamey", status="planned")
    make_commitment(officer, "Sans échéance", responsible_id=author.id, due_date=date(2026, 9, 1))
    smtp.inbox.messages.clear()

    one_pass(datetime(2026, 3, 2, 6, 0, tzinfo=UTC))  # 07:00 in Niamey

    [digest] = [m for m in smtp.inbox.to("officer@mcenma.example") if "follow-ups" in m["Subject"]]
    text = parts(digest)["text/plain"]
    assert "Minutes awaiting your approval" in text and "Audience passée" in text
    assert "Tomorrow" in text and "Atelier de demain" in text and "09:00" in text
    assert "Sans échéance" not in text
