"""Delivering the outbox over SMTP: each message once, whatever the number of senders and their crashes.

A pass claims a batch of due messages (on PostgreSQL with FOR UPDATE SKIP LOCKED, so that two senders never
take the same row; on SQLite writers are serialised anyway) with a random token and a lease, and commits the
claim. Each message is then sent and marked sent in its own short transaction at once. A sender killed
mid-batch leaves its unsent rows claimed: when the lease runs out another pass takes them up. (A kill between
the SMTP server's acceptance and the mark, a few milliseconds, would send that message again: SMTP offers no
way to make that window empty; the message keeps its Message-ID, so mail clients show it once.)

A recipient the server refuses (5xx) marks that message failed with the server's answer, and the batch goes
on. A server that cannot be reached, or answers 4xx, leaves the messages queued for a later attempt, with
backoff (1, 2, 4 … minutes, at most 6 hours) and the error kept; after CRM_MAIL_MAX_ATTEMPTS they are failed.
"""

from __future__ import annotations

import contextlib
import secrets
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from crm.db import DbSession, utcnow
from crm.notifications import compose
from crm.notifications.models import OutboxMessage, OutboxStatus


@dataclass
class PassResult:
    sent: int = 0
    failed: int = 0
    retry: int = 0
    waiting: int = 0  # no SMTP server configured: left in the outbox


def backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 360))


def _due(now: datetime):
    return or_(
        (OutboxMessage.status == OutboxStatus.QUEUED) & (OutboxMessage.next_attempt_at <= now),
        (OutboxMessage.status == OutboxStatus.SENDING) & (OutboxMessage.claimed_until < now),
    )


def claim(session: DbSession, now: datetime, limit: int) -> tuple[str, list[int]]:
    """Take up to ``limit`` due messages for this pass, and commit the claim."""
    token = secrets.token_hex(16)
    lease = now + timedelta(seconds=current_app.config["CRM_MAIL_LEASE_SECONDS"])
    ids_stmt = select(OutboxMessage.id).where(_due(now)).order_by(OutboxMessage.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        ids = list(session.scalars(ids_stmt.with_for_update(skip_locked=True)))
    else:
        ids = list(session.scalars(ids_stmt))
    if ids:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), _due(now))  # re-checked: on SQLite this UPDATE is the claim
            .values(
                status=OutboxStatus.SENDING,
                claim_token=token,
                claimed_until=lease,
                attempts=OutboxMessage.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
    session.commit()
    claimed = list(
        session.scalars(select(OutboxMessage.id).where(OutboxMessage.claim_token == token).order_by(OutboxMessage.id))
    )
    session.commit()
    return token, claimed


def _finish(session: DbSession, message_id: int, token: str, **values) -> None:
    """Record the outcome of one message at once, in its own short transaction, if this pass still holds it."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.claim_token == token)
        .values(claim_token=None, claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def connect() -> smtplib.SMTP:
    config = current_app.config
    host, port, mode = config["CRM_SMTP_HOST"], config["CRM_SMTP_PORT"], config["CRM_SMTP_TLS"]
    timeout = config["CRM_SMTP_TIMEOUT"]
    smtp: smtplib.SMTP
    if mode == "ssl":
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
        if mode == "starttls":
            smtp.starttls(context=ssl.create_default_context())
    if config["CRM_SMTP_USER"]:
        smtp.login(config["CRM_SMTP_USER"], config["CRM_SMTP_PASSWORD"])
    return smtp


def _retry_or_fail(message: OutboxMessage, now: datetime, error: str) -> dict:
    if message.attempts >= current_app.config["CRM_MAIL_MAX_ATTEMPTS"]:
        return {"status": OutboxStatus.FAILED, "last_error": error[:2000]}
    return {
        "status": OutboxStatus.QUEUED,
        "last_error": error[:2000],
        "next_attempt_at": now + backoff(message.attempts),
    }


def send_pass(session: DbSession, now: datetime | None = None) -> PassResult:
    """Deliver what is due now, batch after batch, until nothing is left or the server is unreachable."""
    result = PassResult()
    if not current_app.config["CRM_SMTP_HOST"]:
        result.waiting = session.query(OutboxMessage).filter(OutboxMessage.status == OutboxStatus.QUEUED).count()
        session.commit()
        return result
    while True:
        moment = now or utcnow()
        token, ids = claim(session, moment, current_app.config["CRM_MAIL_BATCH"])
        if not ids:
            return result
        if not _send_batch(session, token, ids, moment, result):
            return result


def _send_batch(session: DbSession, token: str, ids: list[int], now: datetime, result: PassResult) -> bool:
    """Send one claimed batch; False when the server could not be reached (the rest waits for a later pass)."""
    sender = current_app.config["CRM_MAIL_FROM"]
    smtp: smtplib.SMTP | None = None
    try:
        # The batch read once and detached: each message then costs one short UPDATE after its sending.
        batch = {m.id: m for m in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))}
        for message in batch.values():
            session.expunge(message)
        session.commit()  # nothing held open while talking to the server
        for position, message_id in enumerate(ids):
            message = batch[message_id]
            mime = compose.email_message(
                sender=sender,
                recipient=message.recipient,
                recipient_name=message.recipient_name,
                subject=message.subject,
                text=message.body_text,
                html=message.body_html,
                message_id=message.message_id,
                unsubscribe=message.unsubscribe_url,
                ics=message.ics,
                ics_method=message.ics_method,
                locale=message.locale,
            )
            try:
                if smtp is None:
                    smtp = connect()
                smtp.send_message(mime, to_addrs=[message.recipient])
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [code for code, _text in exc.recipients.values()]
                reason = "; ".join(f"{addr}: {code} {text!r}" for addr, (code, text) in exc.recipients.items())
                _refused(session, message, token, now, min(codes), reason, result)
                continue
            except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
                _refused(session, message, token, now, exc.smtp_code, f"{exc.smtp_code} {exc.smtp_error!r}", result)
                continue
            except (OSError, smtplib.SMTPException) as exc:
                # The server is gone (or never answered): this message and the rest of the batch wait.
                reason = f"{type(exc).__name__}: {exc}"
                for waiting_id in ids[position:]:
                    _finish(session, waiting_id, token, **_retry_or_fail(batch[waiting_id], now, reason))
                    result.retry += 1
                smtp = None
                return False
            _finish(session, message_id, token, status=OutboxStatus.SENT, sent_at=utcnow(), last_error="")
            result.sent += 1
    finally:
        if smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.quit()
    return True


def _refused(
    session: DbSession, message: OutboxMessage, token: str, now: datetime, code: int, reason: str, result: PassResult
) -> None:
    """The server answered this message with an error: 4xx is tried again later, 5xx fails it for good."""
    if 400 <= code < 500:
        _finish(session, message.id, token, **_retry_or_fail(message, now, reason))
        result.retry += 1
    else:
        _finish(session, message.id, token, status=OutboxStatus.FAILED, last_error=reason[:2000])
        result.failed += 1


def retry(session: DbSession, message_id: int) -> bool:
    """The admin page's button: a failed message is queued again, its attempts counted from zero."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.FAILED)
        .values(status=OutboxStatus.QUEUED, attempts=0, next_attempt_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
