"""Commitments (engagements, suites à donner) and the timeline of their updates."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.core.confidentiality import Sharing
from crm.core.enums import LabelledEnum, enum_type
from crm.db import Base, TimestampMixin, UTCDateTime, VersionMixin, search_key, utcnow
from crm.i18n import lazy_gettext as _l
from crm.meetings.models import AgendaItem, Meeting
from crm.partners.models import Contact, Institution, Organisation

# Commitments without a due date sort after every dated one.
NO_DUE_DATE = date(9999, 12, 31)


class CommitmentStatus(LabelledEnum):
    OPEN = "open", _l("Open")
    IN_PROGRESS = "in_progress", _l("In progress")
    DONE = "done", _l("Done")
    BLOCKED = "blocked", _l("Blocked")
    CANCELLED = "cancelled", _l("Cancelled")

    @property
    def closed(self) -> bool:
        return self in (CommitmentStatus.DONE, CommitmentStatus.CANCELLED)


class OwedBy(LabelledEnum):
    OURS = "ours", _l("Us")
    PARTNER = "partner", _l("The partner")


class Priority(LabelledEnum):
    LOW = "low", _l("Low")
    NORMAL = "normal", _l("Normal")
    HIGH = "high", _l("High")


class Commitment(VersionMixin, TimestampMixin, Base):
    __tablename__ = "commitment"
    __audit__ = True
    __audit_exclude__ = frozenset({"search", "due_key", "closed", "limited", "created_by_id"})

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    details: Mapped[str] = mapped_column(Text, default="")
    owed_by: Mapped[OwedBy] = mapped_column(enum_type(OwedBy, "owed_by", 10), default=OwedBy.OURS)
    responsible_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    due_date: Mapped[date | None] = mapped_column(Date)
    priority: Mapped[Priority] = mapped_column(enum_type(Priority, "priority", 10), default=Priority.NORMAL)
    status: Mapped[CommitmentStatus] = mapped_column(
        enum_type(CommitmentStatus, "status"), default=CommitmentStatus.OPEN
    )
    outcome: Mapped[str] = mapped_column(Text, default="")
    completed_on: Mapped[date | None] = mapped_column(Date)
    origin_meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meeting.id", ondelete="RESTRICT"), index=True)
    origin_item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_item.id", ondelete="SET NULL"))
    # The decision's wording when the commitment was made from it (the commitment's own title may differ).
    origin_decision: Mapped[str] = mapped_column(String(1000), default="")
    origin_visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id", ondelete="RESTRICT"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    # Kept by the service from status and due date, so that lists sort "open, soonest due first" on an index.
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Copied from the origin meeting: restricted and confidential commitments are filtered on their own row.
    limited: Mapped[bool] = mapped_column(Boolean, default=False)
    # The institution that tracks it (its origin's owner, or its author's) and, copied from the origin, how far
    # it is shared; co-owners of a joint origin see it too.
    owner_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id", ondelete="RESTRICT"))
    sharing: Mapped[Sharing] = mapped_column(enum_type(Sharing, "sharing"), default=Sharing.INSTITUTION)
    # When one of the institutions owes it (owed_by "ours"): which one; in joint minutes it may be another.
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id", ondelete="RESTRICT"))
    due_key: Mapped[date] = mapped_column(Date, default=NO_DUE_DATE)
    search: Mapped[str] = mapped_column(String(900), default="")

    responsible: Mapped[User | None] = relationship(foreign_keys=[responsible_id], lazy="raise")
    contact: Mapped[Contact | None] = relationship(lazy="raise")
    organisation: Mapped[Organisation | None] = relationship(lazy="raise")
    origin_meeting: Mapped[Meeting | None] = relationship(lazy="raise")
    origin_item: Mapped[AgendaItem | None] = relationship(lazy="raise")
    institution: Mapped[Institution | None] = relationship(foreign_keys=[institution_id], lazy="raise")
    updates: Mapped[list[CommitmentUpdate]] = relationship(
        back_populates="commitment", lazy="raise", cascade="all, delete-orphan", order_by="CommitmentUpdate.id.desc()"
    )

    __table_args__ = (
        Index("ix_commitment_list", "closed", "due_key", "id"),
        Index("ix_commitment_responsible", "responsible_id", "closed", "due_key", "id"),
        Index("ix_commitment_organisation", "organisation_id", "closed", "due_key", "id"),
        Index("ix_commitment_owner", "owner_institution_id", "closed", "due_key", "id"),
        CheckConstraint("(owed_by = 'ours') = (institution_id IS NOT NULL)", name="owing_institution"),
    )

    def is_overdue(self, today: date) -> bool:
        """Derived, never stored: still to do and past its due date."""
        return not self.closed and self.due_date is not None and self.due_date < today

    @property
    def audit_label(self) -> str:
        return f"{self.reference} {self.title[:80]}"

    def refresh_keys(self) -> None:
        self.closed = self.status.closed
        self.due_key = self.due_date or NO_DUE_DATE
        self.search = f"{self.reference.lower()} {search_key(self.title)}"[:900]


class CommitmentUpdate(Base):
    """One step of the timeline: a note, with the status change it came with, if any. Never edited."""

    __tablename__ = "commitment_update"

    id: Mapped[int] = mapped_column(primary_key=True)
    commitment_id: Mapped[int] = mapped_column(ForeignKey("commitment.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Both set when the status changed with this step; only the new one on the first step.
    old_status: Mapped[CommitmentStatus | None] = mapped_column(enum_type(CommitmentStatus, "old_status"))
    new_status: Mapped[CommitmentStatus | None] = mapped_column(enum_type(CommitmentStatus, "new_status"))
    note: Mapped[str] = mapped_column(Text, default="")

    commitment: Mapped[Commitment] = relationship(back_populates="updates", lazy="raise")
    author: Mapped[User | None] = relationship(lazy="raise")
