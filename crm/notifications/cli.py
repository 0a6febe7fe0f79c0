"""flask notifications send (one pass) and flask notifications worker (a loop)."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import AppGroup

from crm.extensions import db
from crm.notifications import sender, services

group = AppGroup("notifications", help="Deliver e-mails: digests, escalations, invitations and notifications.")


def one_pass(now: datetime | None = None) -> sender.PassResult:
    """Enqueue the digests and escalation steps due now (each once), then deliver what is due."""
    digests, escalations = services.enqueue_scheduled(db.session, now)
    db.session.commit()
    result = sender.send_pass(db.session, now)
    click.echo(
        f"digests {digests}, escalations {escalations}; sent {result.sent}, failed {result.failed}, "
        f"to retry {result.retry}"
        + (f"; no SMTP server configured (CRM_SMTP_HOST): {result.waiting} waiting" if result.waiting else "")
    )
    return result


@group.command("send")
@click.option("--now", default="", help="ISO date and time (UTC) to act as now, for tests and catching up.")
def send(now: str) -> None:
    """One pass: what is due now."""
    moment = datetime.fromisoformat(now).replace(tzinfo=UTC) if now else None
    one_pass(moment)


@group.command("worker")
@click.option("--interval", type=float, default=None, help="Seconds between passes (CRM_WORKER_INTERVAL).")
def worker(interval: float | None) -> None:
    """A loop of passes; SIGTERM and Ctrl-C stop it after the message being sent."""
    pause = interval if interval is not None else current_app.config["CRM_WORKER_INTERVAL"]
    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        try:
            one_pass()
        except Exception as exc:  # a database restart must not end the worker
            db.session.rollback()
            click.echo(f"pass failed: {type(exc).__name__}: {exc}", err=True)
        slept = 0.0
        while slept < pause and not stopping:
            time.sleep(0.5)
            slept += 0.5
    db.session.remove()
