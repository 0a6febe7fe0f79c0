"""Digests at each user's hour in their own zone, escalation steps once each, and unsubscribing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from crm.auth.models import Role
from crm.extensions import db as _db
from crm.notifications import services
from crm.notifications.cli import one_pass
from crm.notifications.models import Kind
from tests.conftest import make_commitment, make_meeting, make_user
from tests.notifications.conftest import deliver, outbox, parts


def _due_tomorrow(user, boss, title="Signer la convention"):
    return make_commitment(boss, title, responsible_id=user.id, due_date=date(2026, 3, 3))


def test_a_digest_fires_at_seven_in_niamey_then_an_hour_later_in_bamako(app, smtp):
    boss = make_user(Role.OFFICER)
    niamey = make_user(Role.STAFF, email="niamey@mcenma.example", timezone="Africa/Niamey", locale="en")
    bamako = make_user(Role.STAFF, email="bamako@mcenma.example", timezone="Africa/Bamako", locale="en")
    _due_tomorrow(niamey, boss)
    _due_tomorrow(bamako, boss)
    smtp.inbox.messages.clear()
    _db.session.execute(services.update(services.Notification).values(read_at=services.utcnow()))
    outbox_before = len(outbox())

    one_pass(datetime(2026, 3, 2, 5, 59, tzinfo=UTC))  # 06:59 in Niamey, 05:59 in Bamako
    assert smtp.inbox.messages == []

    one_pass(datetime(2026, 3, 2, 6, 0, tzinfo=UTC))  # 07:00 in Niamey
    assert [str(m["To"]) for m in smtp.inbox.messages] == ["Test Staff <niamey@mcenma.example>"]
    [digest] = smtp.inbox.messages
    assert digest["Subject"] == "Your follow-ups for March 2, 2026"
    assert "Signer la convention" in parts(digest)["text/plain"]
    assert "Commitments due soon" in parts(digest)["text/html"]

    one_pass(datetime(2026, 3, 2, 6, 30, tzinfo=UTC))  # still Niamey's hour: not twice
    assert len(smtp.inbox.messages) == 1

    one_pass(datetime(2026, 3, 2, 7, 0, tzinfo=UTC))  # 07:00 in Bamako
    assert [str(m["To"]).split("<")[1] for m in smtp.inbox.messages] == [
        "niamey@mcenma.example>",
        "bamako@mcenma.example>",
    ]
    assert len(outbox()) == outbox_before + 2


def test_no_digest_when_there_is_nothing(app, smtp):
    make_user(Role.STAFF, email="idle@mcenma.example")
    one_pass(datetime(2026, 3, 2, 7, 0, tzinfo=UTC))
    assert smtp.inbox.messages == []


def test_a_weekly_digest_comes_on_the_chosen_day_and_lists_overdue_and_tomorrow(app, smtp):
    boss = make_user(Role.OFFICER)
    me = make_user(Role.STAFF, email="weekly@mcenma.example", locale="en")
    services.save_preferences(_db.session, me, kinds=[k.value for k in Kind], digest="weekly", hour=8, weekday=2)
    _db.session.commit()
    make_commitment(boss, "Rapport en retard", responsible_id=me.id, due_date=date(2026, 2, 20))
    smtp.inbox.messages.clear()
    one_pass(datetime(2026, 3, 3, 8, 0, tzinfo=UTC))  # Tuesday
    assert [m for m in smtp.inbox.to("weekly@mcenma.example") if "follow-ups" in m["Subject"]] == []
    one_pass(datetime(2026, 3, 4, 8, 0, tzinfo=UTC))  # Wednesday
    [digest] = [m for m in smtp.inbox.to("weekly@mcenma.example") if "follow-ups" in m["Subject"]]
    assert "Overdue commitments" in parts(digest)["text/plain"]
    assert "Rapport en retard" in parts(digest)["text/plain"]


def test_unsubscribing_stops_that_kind_only(app, client, smtp):
    boss = make_user(Role.OFFICER)
    me = make_user(Role.STAFF, email="me@mcenma.example", locale="en")
    make_commitment(boss, "Premier", responsible_id=me.id)
    deliver()
    [message] = smtp.inbox.to("me@mcenma.example")
    link = message["List-Unsubscribe"].strip("<>").removeprefix("https://crm.example.org")

    page = client.get(link)
    assert "You will no longer receive “Commitments assigned to me” by e-mail" in page.get_data(as_text=True)
    response = client.post(link)  # RFC 8058 one-click: no session, no CSRF token
    assert response.status_code == 200
    assert "Done" in response.get_data(as_text=True)

    make_commitment(boss, "Second", responsible_id=me.id)
    deliver()
    assert len(smtp.inbox.to("me@mcenma.example")) == 1  # no second e-mail
    assert services.unread_count(_db.session, me.id) == 2  # the bell still says it
    assert services.preferences(_db.session, me.id).digest.value == "daily"  # other kinds untouched


def test_a_forged_unsubscribe_link_is_refused(app, client):
    assert client.post("/notifications/unsubscribe/not-a-token").status_code == 404


def test_escalation_steps_fire_once_each(app, smtp):
    officer = make_user(Role.OFFICER, email="chief@mcenma.example", locale="en")
    me = make_user(Role.STAFF, email="late@mcenma.example", locale="en", name="Moussa Keita")
    services.save_preferences(_db.session, me, kinds=[k.value for k in Kind], digest="off", hour=7, weekday=0)
    services.save_preferences(_db.session, officer, kinds=[k.value for k in Kind], digest="off", hour=7, weekday=0)
    _db.session.commit()
    commitment = make_commitment(officer, "Publier le décret", responsible_id=me.id, due_date=date(2026, 3, 1))
    smtp.inbox.messages.clear()

    def subjects(address):
        return [m["Subject"] for m in smtp.inbox.to(address) if "Overdue" in m["Subject"]]

    one_pass(datetime(2026, 3, 7, 12, 0, tzinfo=UTC))  # 6 days late
    assert subjects("late@mcenma.example") == []
    one_pass(datetime(2026, 3, 8, 12, 0, tzinfo=UTC))  # 7 days
    one_pass(datetime(2026, 3, 9, 12, 0, tzinfo=UTC))
    assert subjects("late@mcenma.example") == [f"Overdue by 7 days: {commitment.reference} — Publier le décret"]
    assert subjects("chief@mcenma.example") == []

    one_pass(datetime(2026, 3, 31, 12, 0, tzinfo=UTC))  # 30 days: the institution's officers too
    one_pass(datetime(2026, 4, 2, 12, 0, tzinfo=UTC))
    assert len(subjects("late@mcenma.example")) == 2
    [chief] = [m for m in smtp.inbox.to("chief@mcenma.example") if "Overdue" in m["Subject"]]
    assert "This commitment of Moussa Keita is 30 days overdue" in parts(chief)["text/plain"]


def test_escalation_days_are_set_per_priority(app, smtp):
    app.config["CRM_ESCALATION_DAYS"] = {"high": (2, 5), "normal": (7, 30), "low": (7, 30)}
    boss = make_user(Role.OFFICER)
    me = make_user(Role.STAFF, email="urgent@mcenma.example", locale="en")
    make_commitment(boss, "Urgent", responsible_id=me.id, due_date=date(2026, 3, 1), priority="high")
    services.enqueue_escalations(_db.session, date(2026, 3, 3))
    _db.session.commit()
    assert [m.subject[:17] for m in outbox() if m.kind == Kind.ESCALATION] == ["Overdue by 2 days"]


def test_a_closed_commitment_is_not_escalated(app, smtp):
    boss = make_user(Role.OFFICER)
    me = make_user(Role.STAFF)
    commitment = make_commitment(boss, responsible_id=me.id, due_date=date(2026, 3, 1))
    from crm.commitments import services as commitments

    commitments.change_status(_db.session, commitment, "done", "Fait.", boss, commitment.version)
    _db.session.commit()
    assert services.enqueue_escalations(_db.session, date(2026, 3, 1) + timedelta(days=40)) == 0


def test_a_confidential_commitment_is_named_by_its_reference_in_digests_and_escalations(app, smtp):
    officer = make_user(Role.OFFICER, email="chief@mcenma.example", locale="en", timezone="Africa/Bamako")
    meeting = make_meeting(officer, "Négociation secrète", confidentiality="confidential")
    commitment = make_commitment(
        officer,
        "Payer la rançon secrète",
        responsible_id=officer.id,
        due_date=date(2026, 2, 1),
        origin_meeting_id=meeting.id,
    )
    assert commitment.limited
    one_pass(datetime(2026, 3, 2, 7, 0, tzinfo=UTC))  # digest at 07:00 in Bamako, and 29 days overdue
    received = smtp.inbox.to("chief@mcenma.example")
    assert {m["Subject"].split(":")[0] for m in received} >= {"Overdue by 29 days", "Your follow-ups for March 2, 2026"}
    for message in received:
        for text in [message["Subject"], *parts(message).values()]:
            assert "secrète" not in text
        assert commitment.reference in parts(message)["text/plain"]
        html = parts(message)["text/html"]
        assert "<img" not in html and "src=" not in html and "<link" not in html  # nothing fetched from afar
