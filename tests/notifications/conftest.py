"""A real SMTP server on localhost (aiosmtpd), started by the tests, and helpers to read what it received."""

from __future__ import annotations

import email
import socket
import threading
import time
from email.message import EmailMessage
from email.policy import default

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from crm.extensions import db as _db
from crm.notifications import sender
from crm.notifications.models import OutboxMessage

BASE_URL = "https://crm.example.org"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """What the server received: one parsed message per accepted recipient."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: set[str] = set()
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=default)
        with self.lock:
            for _rcpt in envelope.rcpt_tos:
                self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


class SmtpServer:
    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
            time.sleep(0.05)


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app_config(smtp) -> dict:
    return {
        "CRM_SMTP_HOST": "127.0.0.1",
        "CRM_SMTP_PORT": smtp.port,
        "CRM_SMTP_TLS": "none",
        "CRM_SMTP_TIMEOUT": 5.0,
        "CRM_MAIL_FROM": "CRM <crm@example.org>",
        "CRM_BASE_URL": BASE_URL,
    }


def deliver(now=None) -> sender.PassResult:
    result = sender.send_pass(_db.session, now)
    return result


def outbox() -> list[OutboxMessage]:
    _db.session.expire_all()
    return list(_db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def parts(message: EmailMessage) -> dict[str, str]:
    """Each part's text by content type (text/plain, text/html, text/calendar)."""
    found = {}
    for part in message.walk():
        if not part.is_multipart():
            found[part.get_content_type()] = part.get_content()
    return found
