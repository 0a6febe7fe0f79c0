"""Stored files (attachments, approved PDFs, the letterhead logo), kept in the database.

The bytes live in ``stored_file``, written in the same transaction as the row that points to them: a
process killed mid-write leaves neither a file without its row nor a row without its file, every app
server reads the same files, and one database backup holds everything.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.db import Base, UTCDateTime, utcnow


class StoredFile(Base):
    __tablename__ = "stored_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(100))
    # Loaded only when the file itself is served or rendered, never with the row.
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Attachment(Base):
    __tablename__ = "attachment"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    # A file belongs to a meeting (signed minutes, a presentation) or to a visit (invitation, note verbale).
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id", ondelete="CASCADE"), index=True)
    original_name: Mapped[str] = mapped_column(String(255))
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_file.id", ondelete="RESTRICT"), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(300), default="")
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    uploaded_by: Mapped[User | None] = relationship(lazy="raise")

    __table_args__ = (
        Index("ix_attachment_meeting", "meeting_id", "id"),
        CheckConstraint("(meeting_id IS NULL) <> (visit_id IS NULL)", name="one_owner"),
    )

    @property
    def audit_owner(self) -> tuple[str, int | None]:
        return ("meeting", self.meeting_id) if self.meeting_id else ("visit", self.visit_id)

    @property
    def audit_label(self) -> str:
        return self.original_name


class FrozenDocument(Base):
    """A PDF rendered once at approval and served byte for byte ever after; its hash is what is verified."""

    __tablename__ = "frozen_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("minutes_revision.id", ondelete="RESTRICT"))
    lang: Mapped[str] = mapped_column(String(8))
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_file.id", ondelete="RESTRICT"), unique=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("revision_id", "lang"),)
