"""Commitments (engagements, suites à donner) and the timeline of their updates."""

from __future__ import annotations

import enum
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.db import Base, TimestampMixin, UTCDateTime, VersionMixin, search_key, utcnow
from crm.meetings.models import AgendaItem, Meeting
from crm.partners.models import Contact, Organisation

# Commitments without a due date sort after every dated one.
NO_DUE_DATE = date(9999, 12, 31)


class CommitmentStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    BLOCKED = "blocked"
    CANCELLED = "cancelled"

    @property
    def closed(self) -> bool:
        return self in (CommitmentStatus.DONE, CommitmentStatus.CANCELLED)


STATUS_LABELS = {
    CommitmentStatus.OPEN: _l("Open"),
    CommitmentStatus.IN_PROGRESS: _l("In progress"),
    CommitmentStatus.DONE: _l("Done"),
    CommitmentStatus.BLOCKED: _l("Blocked"),
    CommitmentStatus.CANCELLED: _l("Cancelled"),
}


class OwedBy(enum.StrEnum):
    OURS = "ours"
    PARTNER = "partner"


OWED_BY_LABELS = {OwedBy.OURS: _l("Us"), OwedBy.PARTNER: _l("The partner")}


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


PRIORITY_LABELS = {Priority.LOW: _l("Low"), Priority.NORMAL: _l("Normal"), Priority.HIGH: _l("High")}


class Commitment(VersionMixin, TimestampMixin, Base):
    __tablename__ = "commitment"
    __audit__ = True
    __audit_exclude__ = frozenset({"search", "due_key", "closed", "limited", "created_by_id"})

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    details: Mapped[str] = mapped_column(Text, default="")
    owed_by: Mapped[OwedBy] = mapped_column(String(10), default=OwedBy.OURS)
    responsible_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    due_date: Mapped[date | None] = mapped_column(Date)
    priority: Mapped[Priority] = mapped_column(String(10), default=Priority.NORMAL)
    status: Mapped[CommitmentStatus] = mapped_column(String(20), default=CommitmentStatus.OPEN)
    outcome: Mapped[str] = mapped_column(Text, default="")
    completed_on: Mapped[date | None] = mapped_column(Date)
    origin_meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meeting.id", ondelete="RESTRICT"), index=True)
    origin_item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_item.id", ondelete="SET NULL"))
    origin_visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id", ondelete="RESTRICT"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    # Kept by the service from status and due date, so that lists sort "open, soonest due first" on an index.
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Copied from the origin meeting: restricted and confidential commitments are filtered on their own row.
    limited: Mapped[bool] = mapped_column(Boolean, default=False)
    due_key: Mapped[date] = mapped_column(Date, default=NO_DUE_DATE)
    search: Mapped[str] = mapped_column(String(900), default="")

    responsible: Mapped[User | None] = relationship(foreign_keys=[responsible_id], lazy="raise")
    contact: Mapped[Contact | None] = relationship(lazy="raise")
    organisation: Mapped[Organisation | None] = relationship(lazy="raise")
    origin_meeting: Mapped[Meeting | None] = relationship(lazy="raise")
    origin_item: Mapped[AgendaItem | None] = relationship(lazy="raise")
    updates: Mapped[list[CommitmentUpdate]] = relationship(
        back_populates="commitment", lazy="raise", cascade="all, delete-orphan", order_by="CommitmentUpdate.id.desc()"
    )

    __table_args__ = (
        Index("ix_commitment_list", "closed", "due_key", "id"),
        Index("ix_commitment_responsible", "responsible_id", "closed", "due_key", "id"),
        Index("ix_commitment_organisation", "organisation_id", "closed", "due_key", "id"),
    )

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(CommitmentStatus(self.status), self.status))

    @property
    def owed_by_label(self) -> str:
        return str(OWED_BY_LABELS.get(OwedBy(self.owed_by), self.owed_by))

    @property
    def priority_label(self) -> str:
        return str(PRIORITY_LABELS.get(Priority(self.priority), self.priority))

    def is_overdue(self, today: date) -> bool:
        """Derived, never stored: still to do and past its due date."""
        return not self.closed and self.due_date is not None and self.due_date < today

    @property
    def audit_label(self) -> str:
        return f"{self.reference} {self.title[:80]}"

    def refresh_keys(self) -> None:
        self.closed = CommitmentStatus(self.status).closed
        self.due_key = self.due_date or NO_DUE_DATE
        self.search = f"{self.reference.lower()} {search_key(self.title)}"[:900]


class CommitmentUpdate(Base):
    """One step of the timeline: a note, with the status change it came with, if any. Never edited."""

    __tablename__ = "commitment_update"

    id: Mapped[int] = mapped_column(primary_key=True)
    commitment_id: Mapped[int] = mapped_column(ForeignKey("commitment.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    old_status: Mapped[str] = mapped_column(String(20), default="")
    new_status: Mapped[str] = mapped_column(String(20), default="")
    note: Mapped[str] = mapped_column(Text, default="")

    commitment: Mapped[Commitment] = relationship(back_populates="updates", lazy="raise")
    author: Mapped[User | None] = relationship(lazy="raise")

    @property
    def new_status_label(self) -> str:
        return str(STATUS_LABELS.get(CommitmentStatus(self.new_status), self.new_status)) if self.new_status else ""
