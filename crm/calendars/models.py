"""Private calendar feeds: a phone or Outlook subscribes with a secret URL that its owner can revoke."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, UTCDateTime, utcnow


class CalendarFeed(Base):
    __tablename__ = "calendar_feed"
    __audit__ = True
    __audit_exclude__ = frozenset({"token_hash"})

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    # Only the token's SHA-256 is kept: the URL itself is shown once, to its owner.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def audit_owner(self) -> tuple[str, int]:
        return ("user_account", self.user_id)

    @property
    def audit_label(self) -> str:
        return "calendar feed"
