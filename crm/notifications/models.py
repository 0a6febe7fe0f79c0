"""The outbox (e-mails waiting, sent or failed), in-app notifications, preferences and the marks that make
scheduled messages (digests, escalation steps) go out once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.core.enums import LabelledEnum, enum_type
from crm.db import Base, UTCDateTime, VersionMixin, utcnow
from crm.i18n import lazy_gettext as _l


class Kind(LabelledEnum):
    """What a message is about; a user may turn each kind off (except invitations to meetings)."""

    MINUTES_SUBMITTED = "minutes_submitted", _l("Minutes awaiting my approval")
    MINUTES_APPROVED = "minutes_approved", _l("Minutes approved")
    COMMITMENT_ASSIGNED = "commitment_assigned", _l("Commitments assigned to me")
    ESCALATION = "escalation", _l("Overdue commitments")
    DIGEST = "digest", _l("Digest")
    INVITATION = "invitation", _l("Meeting invitations")


class OutboxStatus(LabelledEnum):
    QUEUED = "queued", _l("Queued")
    SENDING = "sending", _l("Being sent")
    SENT = "sent", _l("Sent")
    FAILED = "failed", _l("Failed")


class DigestFrequency(LabelledEnum):
    OFF = "off", _l("Never")
    DAILY = "daily", _l("Every day")
    WEEKLY = "weekly", _l("Every week")


class OutboxMessage(Base):
    """One e-mail to one address, composed (in the recipient's language) in the transaction that caused it."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[Kind] = mapped_column(enum_type(Kind, "kind", 30))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    recipient: Mapped[str] = mapped_column(String(254))
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    locale: Mapped[str] = mapped_column(String(8), default="fr")
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    # An invitation's iCalendar part (iTIP) and its method (REQUEST, CANCEL).
    ics: Mapped[str | None] = mapped_column(Text)
    ics_method: Mapped[str] = mapped_column(String(10), default="")
    unsubscribe_url: Mapped[str] = mapped_column(String(600), default="")
    message_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[OutboxStatus] = mapped_column(enum_type(OutboxStatus, "status", 10), default=OutboxStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Who is sending it (a random token per pass) and until when: a sender killed mid-batch lets it go.
    claim_token: Mapped[str | None] = mapped_column(String(40))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User | None] = relationship(lazy="raise")

    __table_args__ = (Index("ix_outbox_message_due", "status", "next_attempt_at", "id"),)


class Notification(Base):
    """One line of the bell's list."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[Kind] = mapped_column(enum_type(Kind, "kind", 30))
    # The line in each language of the app ({"fr": …, "en": …}): shown in the reader's language of the day.
    texts: Mapped[dict[str, str]] = mapped_column(JSON)
    path: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # The bell's count is one COUNT on this index (user, unread).
    __table_args__ = (Index("ix_notification_unread", "user_id", "read_at", "id"),)

    def text_in(self, locale: str) -> str:
        return self.texts.get(locale) or next(iter(self.texts.values()), "")


class NotificationPreference(VersionMixin, Base):
    """What a user wants to receive. No row: everything, and a daily digest at 07:00 in their zone."""

    __tablename__ = "notification_preference"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    # Kinds turned off by e-mail, comma-separated values of Kind.
    muted: Mapped[str] = mapped_column(String(300), default="")
    digest: Mapped[DigestFrequency] = mapped_column(
        enum_type(DigestFrequency, "digest", 10), default=DigestFrequency.DAILY
    )
    digest_hour: Mapped[int] = mapped_column(Integer, default=7)
    digest_weekday: Mapped[int] = mapped_column(Integer, default=0)  # Monday

    def muted_kinds(self) -> set[str]:
        return {k for k in self.muted.split(",") if k}


class NotificationMark(Base):
    """A scheduled message already handled (a user's digest of a period, an escalation step): once only."""

    __tablename__ = "notification_mark"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MeetingInvitation(Base):
    """The iCalendar identity of a meeting's invitations: same UID, SEQUENCE raised at each change."""

    __tablename__ = "meeting_invitation"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), primary_key=True)
    uid: Mapped[str] = mapped_column(String(200))
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    # What the last invitation said (times, place, title): a save that changes none of it sends nothing.
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    invite_contacts: Mapped[bool] = mapped_column(Boolean, default=False)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
