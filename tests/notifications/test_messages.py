"""Each kind of message, received by a real SMTP server and read back with the `email` package."""

from __future__ import annotations

from crm.auth.models import Role
from crm.extensions import db as _db
from crm.meetings import services as meetings
from crm.notifications.models import Kind, OutboxStatus
from tests.conftest import make_commitment, make_meeting, make_user
from tests.notifications.conftest import BASE_URL, deliver, outbox, parts


def _submitted_minutes(author, title="Audience avec le DG d’Orange Mali", **meeting_data):
    meeting = make_meeting(author, title, **meeting_data)
    revision = meetings.start_minutes(_db.session, meeting)
    _db.session.flush()
    revision = meetings.revision_with_items(_db.session, meeting.id)
    meetings.save_minutes(_db.session, revision, "Couverture rurale : accord de principe.", {}, revision.version)
    meetings.submit_minutes(_db.session, revision, author, revision.version)
    _db.session.commit()
    return meeting, revision


def test_minutes_submitted_reach_the_officers_who_approve_them_in_their_language(app, smtp):
    make_user(Role.OFFICER, email="officer@mcenma.example", name="Awa Traoré", locale="en")
    author = make_user(Role.STAFF, email="author@mcenma.example", name="Moussa Keita")
    make_user(Role.STAFF, email="other-staff@mcenma.example")  # staff do not approve
    meeting, _revision = _submitted_minutes(author)

    result = deliver()

    assert result.sent == 1
    [message] = smtp.inbox.to("officer@mcenma.example")
    assert message["Subject"] == f"Minutes to approve: {meeting.reference} — Audience avec le DG d’Orange Mali"
    assert message["Content-Language"] == "en"
    assert message["From"] == "CRM <crm@example.org>"
    body = parts(message)
    assert set(body) == {"text/plain", "text/html"}
    assert "Moussa Keita submitted the minutes of this meeting for approval" in body["text/plain"]
    assert f"{BASE_URL}/meetings/{meeting.id}" in body["text/plain"]
    assert f'href="{BASE_URL}/meetings/{meeting.id}"' in body["text/html"]
    assert "<img" not in body["text/html"] and "style=" in body["text/html"]
    assert message["List-Unsubscribe"].startswith(f"<{BASE_URL}/notifications/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert smtp.inbox.to("other-staff@mcenma.example") == []


def test_a_french_reader_gets_french(app, smtp):
    make_user(Role.OFFICER, email="officier@mcenma.example", locale="fr")
    author = make_user(Role.STAFF, name="Moussa Keita")
    meeting, _revision = _submitted_minutes(author)
    deliver()
    [message] = smtp.inbox.to("officier@mcenma.example")
    assert message["Content-Language"] == "fr"
    assert message["Subject"] == f"Compte rendu à approuver : {meeting.reference} — {meeting.title}"
    assert "Moussa Keita a soumis le compte rendu de cette réunion pour approbation" in parts(message)["text/plain"]
    assert "Ne plus recevoir ces messages" in parts(message)["text/html"]


def test_a_confidential_meeting_is_named_by_its_reference_only(app, smtp):
    officer = make_user(Role.OFFICER, email="officer@mcenma.example", locale="en")
    author = make_user(Role.STAFF)
    meeting = make_meeting(author, "Négociation secrète du câble sous-marin", confidentiality="confidential")
    meetings.add_participant(_db.session, meeting, user_id=officer.id)
    _db.session.commit()
    revision = meetings.start_minutes(_db.session, meeting)
    _db.session.flush()
    revision = meetings.revision_with_items(_db.session, meeting.id)
    meetings.save_minutes(_db.session, revision, "Le prix du câble est de 40 M.", {}, revision.version)
    meetings.submit_minutes(_db.session, revision, author, revision.version)
    _db.session.commit()

    deliver()

    [message] = smtp.inbox.to("officer@mcenma.example")
    assert message["Subject"] == f"Minutes to approve: {meeting.reference}"
    for text in parts(message).values():
        assert "secrète" not in text and "câble" not in text
        assert meeting.reference in text


def test_an_officer_who_cannot_see_a_confidential_meeting_is_not_told(app, smtp):
    make_user(Role.OFFICER, email="outsider@mcenma.example")
    author = make_user(Role.STAFF)
    _submitted_minutes(author, "Réunion restreinte", confidentiality="confidential")
    deliver()
    assert smtp.inbox.to("outsider@mcenma.example") == []


def test_approved_minutes_reach_the_author_and_the_participants_who_are_users(app, smtp):
    author = make_user(Role.STAFF, email="author@mcenma.example", locale="en")
    colleague = make_user(Role.STAFF, email="colleague@mcenma.example", locale="en")
    officer = make_user(Role.OFFICER, email="officer@mcenma.example", locale="en")
    meeting, revision = _submitted_minutes(author)
    meetings.add_participant(_db.session, meeting, user_id=colleague.id)
    _db.session.commit()
    revision = meetings.revision_with_items(_db.session, meeting.id)
    meetings.approve_minutes(_db.session, revision, officer, revision.version)
    _db.session.commit()

    deliver()

    for address in ("author@mcenma.example", "colleague@mcenma.example"):
        [message] = [m for m in smtp.inbox.to(address) if m["Subject"].startswith("Minutes approved")]
        assert meeting.reference in message["Subject"]
        assert "The minutes of this meeting are approved" in parts(message)["text/plain"]
    assert [m["Subject"] for m in smtp.inbox.to("officer@mcenma.example")] == [
        f"Minutes to approve: {meeting.reference} — {meeting.title}"
    ]  # the approver is not told what they just did


def test_a_commitment_assigned_or_reassigned_reaches_its_new_responsible_officer(app, smtp):
    boss = make_user(Role.OFFICER, name="Awa Traoré")
    first = make_user(Role.STAFF, email="first@mcenma.example", locale="en")
    second = make_user(Role.STAFF, email="second@mcenma.example", locale="en")
    commitment = make_commitment(boss, "Étendre la couverture rurale", responsible_id=first.id, due_date=None)
    from crm.commitments import services as commitments

    commitments.reassign(_db.session, first.id, second.id, boss)
    _db.session.commit()

    deliver()

    for address in ("first@mcenma.example", "second@mcenma.example"):
        [message] = smtp.inbox.to(address)
        assert message["Subject"] == f"A commitment is yours: {commitment.reference} — Étendre la couverture rurale"
        assert "Awa Traoré made you responsible for this commitment" in parts(message)["text/plain"]
    assert [m.kind for m in outbox()] == [Kind.COMMITMENT_ASSIGNED, Kind.COMMITMENT_ASSIGNED]


def test_a_recipient_the_server_refuses_fails_with_the_reason_and_the_others_go(app, smtp):
    make_user(Role.OFFICER, email="gone@mcenma.example")
    make_user(Role.OFFICER, email="here@mcenma.example")
    smtp.inbox.refuse.add("gone@mcenma.example")
    _submitted_minutes(make_user(Role.STAFF))

    result = deliver()

    assert (result.sent, result.failed) == (1, 1)
    assert len(smtp.inbox.to("here@mcenma.example")) == 1
    failed = [m for m in outbox() if m.status == OutboxStatus.FAILED]
    assert [m.recipient for m in failed] == ["gone@mcenma.example"]
    assert "550" in failed[0].last_error and "No such mailbox" in failed[0].last_error


def test_a_refused_change_writes_no_message(app, smtp):
    make_user(Role.OFFICER, email="officer@mcenma.example")
    author = make_user(Role.STAFF)
    meeting = make_meeting(author)
    revision = meetings.start_minutes(_db.session, meeting)
    _db.session.commit()
    revision = meetings.revision_with_items(_db.session, meeting.id)
    try:
        meetings.submit_minutes(_db.session, revision, author, revision.version)  # empty minutes: refused
    except Exception:
        _db.session.rollback()
    assert outbox() == []
