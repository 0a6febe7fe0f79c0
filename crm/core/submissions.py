"""One record per form, however many times it is sent.

A creation form carries a random token. The first request to use it claims it (a row with a unique
key, in the same transaction as the record it creates) and notes where it sent the user; a second
click, a resent form or a replay finds the claim and is sent to the same place. On PostgreSQL a
concurrent duplicate waits on the unique key until the first commits; on SQLite writers queue.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, DbSession, UTCDateTime, utcnow

TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
KEPT_FOR = timedelta(days=2)


class FormSubmission(Base):
    __tablename__ = "form_submission"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    location: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


def new_token() -> str:
    return secrets.token_urlsafe(18)


def claim(session: DbSession, token: str, user_id: int | None) -> str | None:
    """Claim the token for this request. Returns None when it is ours to use, or where the first use went."""
    if not TOKEN.match(token or ""):
        return None  # no usable token (an old page): nothing to deduplicate against
    try:
        with session.begin_nested():
            session.execute(insert(FormSubmission).values(token=token, user_id=user_id, location=""))
    except IntegrityError:
        first = session.scalar(
            select(FormSubmission.location).where(FormSubmission.token == token, FormSubmission.user_id == user_id)
        )
        return first or ""
    return None


def record_location(session: DbSession, token: str, location: str) -> None:
    if TOKEN.match(token or ""):
        session.execute(update(FormSubmission).where(FormSubmission.token == token).values(location=location[:500]))


def purge(session: DbSession, now: datetime | None = None) -> None:
    """Forget claims older than a couple of days: a form left open that long gets a fresh start."""
    session.execute(delete(FormSubmission).where(FormSubmission.created_at < (now or utcnow()) - KEPT_FOR))
