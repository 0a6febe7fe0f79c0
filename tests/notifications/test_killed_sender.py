"""A real sender process killed (SIGKILL) while it talks to the SMTP server: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from crm.auth.models import Role
from crm.extensions import db
from crm.notifications import sender
from crm.notifications.models import OutboxStatus
from crm.partners import services as partners
from tests.conftest import PG_URL, _make_app, make_commitment, make_user
from tests.notifications.conftest import Inbox, free_port, outbox

ROOT = Path(__file__).resolve().parents[2]


class StallingInbox(Inbox):
    """Hangs on one recipient, as a slow server would, until the test has killed the sender."""

    def __init__(self, stall_on: str) -> None:
        super().__init__()
        self.stall_on = stall_on
        self.stalled = threading.Event()
        self.release = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.stall_on and not self.release:
            self.stalled.set()
            await asyncio.sleep(5)
            return "451 4.3.0 Try again later"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


def _addresses(inbox: Inbox) -> list[str]:
    return sorted(m["To"].addresses[0].addr_spec for m in inbox.messages)


@pytest.mark.skipif(bool(PG_URL), reason="runs its own SQLite file database")
def test_a_sender_killed_mid_batch_loses_nothing_and_sends_nothing_twice(tmp_path):
    inbox = StallingInbox("officer3@mcenma.example")
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    database = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    settings = {"CRM_SMTP_HOST": "127.0.0.1", "CRM_SMTP_PORT": port, "CRM_SMTP_TLS": "none"}
    app = _make_app(database, **settings)
    try:
        with app.app_context():
            db.create_all()
            partners.seed_countries(db.session)
            boss = make_user(Role.OFFICER)
            for i in range(6):
                officer = make_user(Role.STAFF, email=f"officer{i}@mcenma.example")
                make_commitment(boss, f"Engagement {i}", responsible_id=officer.id)
            db.session.remove()

        env = {
            **os.environ,
            "CRM_DATABASE_URL": database,
            "CRM_INSTANCE_PATH": str(tmp_path),
            "CRM_SMTP_HOST": "127.0.0.1",
            "CRM_SMTP_PORT": str(port),
            "CRM_SMTP_TLS": "none",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "notifications", "send"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert inbox.stalled.wait(60), "the sender never reached the fourth message"
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        assert _addresses(inbox) == [f"officer{i}@mcenma.example" for i in range(3)]

        inbox.release = True
        with app.app_context():
            rows = outbox()
            assert [m.status for m in rows] == [OutboxStatus.SENT] * 3 + [OutboxStatus.SENDING] * 3
            assert sender.send_pass(db.session).sent == 0  # still claimed by the dead sender
            lease = timedelta(seconds=app.config["CRM_MAIL_LEASE_SECONDS"])
            result = sender.send_pass(db.session, sender.utcnow() + lease + timedelta(seconds=1))
            assert result.sent == 3
            assert [m.status for m in outbox()] == [OutboxStatus.SENT] * 6
            db.session.remove()
        assert _addresses(inbox) == [f"officer{i}@mcenma.example" for i in range(6)]
    finally:
        controller.stop()
        with app.app_context():
            db.engine.dispose()
