"""Composing messages: in the recipient's language and time zone, text and light inline-styled HTML, and the
signed one-click unsubscribe link of each kind."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from flask import current_app, render_template
from itsdangerous import BadSignature, URLSafeSerializer

from crm.auth.models import User
from crm.core.urls import absolute_url

SALT = "notifications-unsubscribe"


@dataclass
class Mail:
    """What a message says, before it is put in a template: written inside force_locale."""

    subject: str
    intro: str
    lines: list[str] = field(default_factory=list)
    link: str = ""
    link_label: str = ""
    sections: list[tuple[str, list[str]]] = field(default_factory=list)


def locale_of(user: User | None) -> str:
    if user is not None and user.locale in current_app.config["CRM_LANGUAGES"]:
        return user.locale
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def zone_of(user: User | None, default: str = "Africa/Bamako") -> ZoneInfo:
    try:
        return ZoneInfo((user.timezone if user else "") or default)
    except (KeyError, ValueError):
        return ZoneInfo(default)


def when(moment: datetime, user: User | None, locale: str) -> str:
    return format_datetime(moment, "EEEE d MMMM y, HH:mm zzzz", tzinfo=zone_of(user), locale=locale)


def day(value: date, locale: str) -> str:
    return format_date(value, "long", locale=locale)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def unsubscribe_token(user_id: int, kind: str) -> str:
    return str(_serializer().dumps({"u": user_id, "k": kind}))


def read_unsubscribe_token(token: str) -> tuple[int, str] | None:
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("k"), str):
        return None
    return data["u"], data["k"]


def unsubscribe_url(user_id: int, kind: str) -> str:
    return absolute_url("notifications.unsubscribe", token=unsubscribe_token(user_id, kind))


def bodies(mail: Mail, unsubscribe: str, locale: str) -> tuple[str, str]:
    """The text and HTML parts (templates/notifications/email.txt and .html); called inside force_locale."""
    context = {"mail": mail, "unsubscribe": unsubscribe, "locale": locale}
    return (
        render_template("notifications/email.txt", **context),
        render_template("notifications/email.html", **context),
    )


def new_message_id() -> str:
    domain = (current_app.config["CRM_BASE_URL"].split("//", 1)[-1].split("/", 1)[0] or "crm").split(":")[0]
    return make_msgid(idstring=secrets.token_hex(4), domain=domain)


def email_message(
    *,
    sender: str,
    recipient: str,
    recipient_name: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    unsubscribe: str,
    ics: str | None,
    ics_method: str,
    locale: str,
) -> EmailMessage:
    """The MIME message: multipart/alternative (text, HTML, and for an invitation text/calendar; method=…)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = formataddr((recipient_name, recipient)) if recipient_name else recipient
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    if unsubscribe:
        msg["List-Unsubscribe"] = f"<{unsubscribe}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    if ics:
        msg.add_alternative(ics, subtype="calendar", params={"method": ics_method})
    msg["Content-Language"] = locale  # after the parts: set_content() moves Content-* headers into them
    return msg
