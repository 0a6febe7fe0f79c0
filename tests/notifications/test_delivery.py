"""The outbox: never lost, never twice — outages, refusals, crashes, and two senders at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import update

from crm.auth.models import Role
from crm.extensions import db as _db
from crm.notifications import sender
from crm.notifications.cli import one_pass
from crm.notifications.models import OutboxMessage, OutboxStatus
from tests.conftest import PG_URL, make_commitment, make_user
from tests.notifications.conftest import deliver, outbox


def _assign(count: int) -> list[str]:
    boss = make_user(Role.OFFICER)
    addresses = []
    for i in range(count):
        user = make_user(Role.STAFF, email=f"officer{i}@mcenma.example")
        make_commitment(boss, f"Engagement {i}", responsible_id=user.id)
        addresses.append(user.email)
    return addresses


def test_an_smtp_outage_then_recovery_delivers_each_message_once(app, smtp):
    addresses = _assign(3)
    smtp.stop()

    result = deliver()

    assert (result.sent, result.retry) == (0, 3)
    rows = outbox()
    assert {m.status for m in rows} == {OutboxStatus.QUEUED}
    assert all("ConnectionRefusedError" in m.last_error for m in rows)
    first_try = rows[0].next_attempt_at
    assert deliver().sent == 0  # not before the backoff

    smtp.start()
    result = deliver(first_try + timedelta(seconds=1))

    assert result.sent == 3
    assert sorted(str(m["To"]).split("<")[-1].rstrip(">") for m in smtp.inbox.messages) == sorted(addresses)
    assert deliver(first_try + timedelta(hours=1)).sent == 0
    assert len(smtp.inbox.messages) == 3
    assert {(m.status, m.last_error) for m in outbox()} == {(OutboxStatus.SENT, "")}


def test_a_sender_killed_mid_batch_loses_nothing_and_duplicates_nothing(app, smtp):
    _assign(3)
    # A first sender claims the batch, sends one message, marks it, and is killed.
    now = sender.utcnow()
    token, ids = sender.claim(_db.session, now, 50)
    assert len(ids) == 3
    smtp_conn = sender.connect()
    message = _db.session.get(OutboxMessage, ids[0])
    smtp_conn.sendmail("crm@example.org", [message.recipient], message.body_text.encode())
    smtp_conn.quit()
    sender._finish(_db.session, ids[0], token, status=OutboxStatus.SENT, sent_at=now)

    assert deliver().sent == 0  # the others are still claimed by the dead sender: nobody takes them yet

    lease = timedelta(seconds=app.config["CRM_MAIL_LEASE_SECONDS"])
    result = deliver(now + lease + timedelta(seconds=1))
    assert result.sent == 2
    assert len(smtp.inbox.messages) == 3
    assert [m.status for m in outbox()] == [OutboxStatus.SENT] * 3


def test_a_failed_message_is_kept_with_its_error_after_the_last_attempt(app, smtp):
    _assign(1)
    smtp.stop()
    moment = sender.utcnow()
    for _attempt in range(app.config["CRM_MAIL_MAX_ATTEMPTS"]):
        deliver(moment)
        moment += timedelta(hours=7)
    [row] = outbox()
    assert row.status == OutboxStatus.FAILED
    assert row.attempts == app.config["CRM_MAIL_MAX_ATTEMPTS"]
    assert "ConnectionRefusedError" in row.last_error


def test_without_smtp_messages_wait_in_the_outbox(app, smtp, capsys):
    _assign(2)
    app.config["CRM_SMTP_HOST"] = ""
    result = one_pass()
    assert result.waiting == 2
    assert "no SMTP server configured" in capsys.readouterr().out
    assert {m.status for m in outbox()} == {OutboxStatus.QUEUED}
    app.config["CRM_SMTP_HOST"] = "127.0.0.1"
    assert deliver().sent == 2


def test_the_admin_page_shows_the_outbox_and_retries_a_failed_message(app, client, smtp, login_as):
    [address] = _assign(1)
    smtp.inbox.refuse.add(address)
    deliver()
    login_as(Role.ADMIN, locale="en")
    page = client.get("/notifications/outbox?status=failed").get_data(as_text=True)
    assert address in page and "No such mailbox" in page
    [row] = outbox()
    smtp.inbox.refuse.clear()
    response = client.post(f"/notifications/outbox/{row.id}/retry")
    assert response.status_code == 302
    assert deliver().sent == 1
    assert len(smtp.inbox.to(address)) == 1


@pytest.mark.skipif(not PG_URL, reason="two senders at once need PostgreSQL (FOR UPDATE SKIP LOCKED)")
def test_two_senders_at_once_deliver_each_message_once(app, smtp):
    _assign(40)
    app.config["CRM_MAIL_BATCH"] = 5
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        with app.app_context():
            try:
                barrier.wait()
                sender.send_pass(_db.session)
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    recipients = [str(m["To"]) for m in smtp.inbox.messages]
    assert len(recipients) == 40
    assert len(set(recipients)) == 40
    assert {m.status for m in outbox()} == {OutboxStatus.SENT}


def test_sqlite_claims_do_not_overlap(app, smtp):
    """On SQLite the claim is the UPDATE itself: a second claim finds nothing left."""
    _assign(3)
    now = sender.utcnow()
    _token, first = sender.claim(_db.session, now, 50)
    _token2, second = sender.claim(_db.session, now, 50)
    assert len(first) == 3 and second == []
    _db.session.execute(update(OutboxMessage).values(claimed_until=now - timedelta(seconds=1)))
    _db.session.commit()
    _token3, third = sender.claim(_db.session, now, 50)
    assert third == first
