"""Meetings (audiences), who took part on each side, and their minutes with revisions."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.core.confidentiality import Confidentiality, Sharing
from crm.core.enums import LabelledEnum, enum_type
from crm.db import Base, TimestampMixin, UTCDateTime, VersionMixin, loaded_name, search_key, utcnow
from crm.i18n import lazy_gettext as _l
from crm.partners.models import Contact, Institution, Organisation


class MeetingKind(LabelledEnum):
    AUDIENCE = "audience", _l("Audience")
    BILATERAL = "bilateral", _l("Bilateral meeting")
    MULTILATERAL = "multilateral", _l("Multilateral meeting")
    WORKING = "working", _l("Working session")
    COURTESY = "courtesy", _l("Courtesy visit")
    VIDEO = "video", _l("Video call")


class MeetingStatus(LabelledEnum):
    PLANNED = "planned", _l("Planned")
    HELD = "held", _l("Held")
    CANCELLED = "cancelled", _l("Cancelled")


class Side(LabelledEnum):
    OURS = "ours", _l("Our side")
    PARTNER = "partner", _l("Partner side")


class ParticipantRole(LabelledEnum):
    CHAIR = "chair", _l("Chair")
    MEMBER = "member", _l("Member")
    NOTE_TAKER = "note_taker", _l("Note-taker")
    INTERPRETER = "interpreter", _l("Interpreter")


class Attendance(LabelledEnum):
    INVITED = "invited", _l("Invited")
    PRESENT = "present", _l("Present")
    ABSENT = "absent", _l("Absent")
    EXCUSED = "excused", _l("Excused")


class MinutesStatus(LabelledEnum):
    DRAFT = "draft", _l("Draft")
    SUBMITTED = "submitted", _l("Submitted for approval")
    APPROVED = "approved", _l("Approved")


def lacks_minutes(minutes_status: MinutesStatus | None, status: MeetingStatus, ends_at: datetime) -> bool:
    """Over, not cancelled, and nobody has started its minutes."""
    return minutes_status is None and status != MeetingStatus.CANCELLED and ends_at < utcnow()


class Meeting(VersionMixin, TimestampMixin, Base):
    __tablename__ = "meeting"
    __audit__ = True
    __audit_exclude__ = frozenset({"search", "year", "created_by_id", "minutes_status"})

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[MeetingKind] = mapped_column(enum_type(MeetingKind, "kind"), default=MeetingKind.AUDIENCE)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The zone the meeting takes place in: times are typed and printed in it, and shown in the reader's.
    timezone: Mapped[str] = mapped_column(String(64), default="Africa/Bamako")
    place: Mapped[str] = mapped_column(String(300), default="")
    confidentiality: Mapped[Confidentiality] = mapped_column(
        enum_type(Confidentiality, "confidentiality"), default=Confidentiality.INTERNAL
    )
    status: Mapped[MeetingStatus] = mapped_column(enum_type(MeetingStatus, "status"), default=MeetingStatus.PLANNED)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    # Part of a delegation visit, or held during an event (a "Semaine du Numérique").
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id", ondelete="SET NULL"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id", ondelete="SET NULL"), index=True)
    search: Mapped[str] = mapped_column(String(700), default="")
    # The institution that created it (its letterhead prints the minutes, its code starts the reference);
    # every institution taking part co-owns it (meeting_institution), the host included.
    owner_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id", ondelete="RESTRICT"))
    sharing: Mapped[Sharing] = mapped_column(enum_type(Sharing, "sharing"), default=Sharing.INSTITUTION)
    # Where its latest minutes stand (None: no minutes yet), kept by the minutes services for lists and the
    # home page; written without bumping the meeting's version (someone editing the meeting is not stale).
    minutes_status: Mapped[MinutesStatus | None] = mapped_column(enum_type(MinutesStatus, "minutes_status"))

    owner_institution: Mapped[Institution] = relationship(lazy="raise")
    institutions: Mapped[list[MeetingInstitution]] = relationship(
        back_populates="meeting", lazy="raise", cascade="all, delete-orphan", order_by="MeetingInstitution.id"
    )
    organisations: Mapped[list[MeetingOrganisation]] = relationship(
        back_populates="meeting", lazy="raise", cascade="all, delete-orphan", order_by="MeetingOrganisation.id"
    )
    participants: Mapped[list[Participant]] = relationship(
        back_populates="meeting", lazy="raise", cascade="all, delete-orphan", order_by="Participant.id"
    )
    revisions: Mapped[list[MinutesRevision]] = relationship(
        back_populates="meeting", lazy="raise", cascade="all, delete-orphan", order_by="MinutesRevision.number"
    )

    __table_args__ = (
        CheckConstraint("ends_at >= starts_at", name="dates_in_order"),
        Index("ix_meeting_starts", "starts_at", "id"),
        Index("ix_meeting_confidentiality", "confidentiality", "starts_at"),
        Index("ix_meeting_sharing", "sharing", "starts_at"),
        Index("ix_meeting_minutes_status", "minutes_status", "starts_at"),
    )

    @property
    def is_limited(self) -> bool:
        return self.confidentiality.limited

    @property
    def lacks_minutes(self) -> bool:
        return lacks_minutes(self.minutes_status, self.status, self.ends_at)

    @property
    def local_date(self) -> date:
        """The meeting's day where it takes place: titles are looked up on this day."""
        return self.starts_at.astimezone(ZoneInfo(self.timezone)).date()

    @property
    def audit_label(self) -> str:
        return f"{self.reference} {self.title}"

    def refresh_search(self, organisation_names: list[str]) -> None:
        self.search = " ".join(
            part
            for part in (
                self.reference.lower(),
                search_key(self.title),
                search_key(self.place),
                *(search_key(n) for n in organisation_names),
            )
            if part
        )[:700]


class MeetingInstitution(Base):
    """An institution of the installation that owns the meeting: the host, and each one taking part.

    Each co-owner sees the meeting, has its own side, and approves the minutes for its side.
    """

    __tablename__ = "meeting_institution"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id", ondelete="RESTRICT"))

    meeting: Mapped[Meeting] = relationship(back_populates="institutions", lazy="raise")
    institution: Mapped[Institution] = relationship(lazy="raise")

    __table_args__ = (
        UniqueConstraint("meeting_id", "institution_id"),
        Index("ix_meeting_institution_institution", "institution_id", "meeting_id"),
    )

    audit_name = ""

    @property
    def audit_owner(self) -> tuple[str, int]:
        return ("meeting", self.meeting_id)

    @property
    def audit_label(self) -> str:
        return self.audit_name or loaded_name(self, ("institution", "short_name")) or f"#{self.institution_id}"


class MeetingOrganisation(Base):
    """An organisation taking part in a meeting (the partner, or one of several)."""

    __tablename__ = "meeting_organisation"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"), index=True)

    meeting: Mapped[Meeting] = relationship(back_populates="organisations", lazy="raise")
    organisation: Mapped[Organisation] = relationship(lazy="raise")

    __table_args__ = (UniqueConstraint("meeting_id", "organisation_id"),)

    audit_name = ""

    @property
    def audit_owner(self) -> tuple[str, int]:
        return ("meeting", self.meeting_id)

    @property
    def audit_label(self) -> str:
        return self.audit_name or loaded_name(self, ("organisation", "name")) or f"#{self.organisation_id}"


class Participant(VersionMixin, Base):
    """Someone at the table: one of our users; a partner contact for one of the meeting's organisations;
    or, on our side, a contact of our own institution who is not a user (the minister, an adviser)."""

    __tablename__ = "participant"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    side: Mapped[Side] = mapped_column(enum_type(Side, "side", 10))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="RESTRICT"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    # On an institution's side (side "ours"): which one. A partner's contact has none.
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id", ondelete="RESTRICT"))
    role: Mapped[ParticipantRole] = mapped_column(enum_type(ParticipantRole, "role"), default=ParticipantRole.MEMBER)
    attendance: Mapped[Attendance] = mapped_column(enum_type(Attendance, "attendance"), default=Attendance.INVITED)

    meeting: Mapped[Meeting] = relationship(back_populates="participants", lazy="raise")
    user: Mapped[User | None] = relationship(lazy="raise")
    contact: Mapped[Contact | None] = relationship(lazy="raise")
    organisation: Mapped[Organisation | None] = relationship(lazy="raise")
    institution: Mapped[Institution | None] = relationship(lazy="raise")

    __table_args__ = (
        CheckConstraint(
            # One of our users; or a contact, on either side, for the organisation they represent.
            "(side = 'ours' AND user_id IS NOT NULL AND contact_id IS NULL) OR "
            "(contact_id IS NOT NULL AND user_id IS NULL AND organisation_id IS NOT NULL)",
            name="one_person",
        ),
        CheckConstraint("(side = 'ours') = (institution_id IS NOT NULL)", name="institution_side"),
        UniqueConstraint("meeting_id", "user_id"),
        UniqueConstraint("meeting_id", "contact_id"),
        Index("ix_participant_meeting", "meeting_id", "side"),
        Index("ix_participant_user", "user_id", "meeting_id"),  # the meetings a user takes part in
    )

    # Set by the service that adds the person, so that the history names them.
    audit_name = ""

    @property
    def audit_owner(self) -> tuple[str, int]:
        return ("meeting", self.meeting_id)

    @property
    def audit_label(self) -> str:
        name = loaded_name(self, ("user", "name"), ("contact", "full_name"))
        return self.audit_name or name or f"#{self.user_id or self.contact_id}"


class MinutesRevision(VersionMixin, TimestampMixin, Base):
    """One version of a meeting's minutes. Approved revisions are locked; amending opens the next one."""

    __tablename__ = "minutes_revision"
    __audit__ = True
    # The text is saved as the user types; its history is the revisions themselves, not the audit trail.
    __audit_exclude__ = frozenset({"summary", "submitted_at", "approved_at", "submitted_by_id", "approved_by_id"})

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[MinutesStatus] = mapped_column(enum_type(MinutesStatus, "status"), default=MinutesStatus.DRAFT)
    summary: Mapped[str] = mapped_column(Text, default="")
    amendment_reason: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    meeting: Mapped[Meeting] = relationship(back_populates="revisions", lazy="raise")
    items: Mapped[list[AgendaItem]] = relationship(
        back_populates="revision", lazy="raise", cascade="all, delete-orphan", order_by="AgendaItem.position"
    )
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id], lazy="raise")
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id], lazy="raise")
    approvals: Mapped[list[MinutesApproval]] = relationship(
        back_populates="revision", lazy="raise", cascade="all, delete-orphan", order_by="MinutesApproval.id"
    )

    __table_args__ = (UniqueConstraint("meeting_id", "number"),)

    @property
    def editable(self) -> bool:
        return self.status == MinutesStatus.DRAFT

    @property
    def audit_owner(self) -> tuple[str, int]:
        return ("meeting", self.meeting_id)

    @property
    def audit_label(self) -> str:
        return f"rev. {self.number}"


class MinutesApproval(Base):
    """One institution's approval of a revision. Joint minutes are approved when every co-owner has approved."""

    __tablename__ = "minutes_approval"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("minutes_revision.id", ondelete="CASCADE"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id", ondelete="RESTRICT"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    revision: Mapped[MinutesRevision] = relationship(back_populates="approvals", lazy="raise")
    institution: Mapped[Institution] = relationship(lazy="raise")
    approved_by: Mapped[User | None] = relationship(lazy="raise")

    __table_args__ = (UniqueConstraint("revision_id", "institution_id"),)

    # Set by the service, so that the approval is listed in the meeting's history under the institution's name.
    __allow_unmapped__ = True
    audit_meeting_id: int | None = None
    audit_name = ""

    @property
    def audit_owner(self) -> tuple[str, int | None]:
        return ("meeting", self.audit_meeting_id) if self.audit_meeting_id else ("minutes_revision", self.revision_id)

    @property
    def audit_label(self) -> str:
        return self.audit_name or loaded_name(self, ("institution", "short_name")) or f"#{self.institution_id}"


class AgendaItem(Base):
    """A point of the agenda: what was discussed, what was decided (one decision per line)."""

    __tablename__ = "agenda_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("minutes_revision.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300), default="")
    discussion: Mapped[str] = mapped_column(Text, default="")
    decisions: Mapped[str] = mapped_column(Text, default="")
    # The item of an earlier revision this one was copied from at an amendment (the first one's id): its
    # decisions keep the commitments made from them whatever their wording becomes.
    origin_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_item.id", ondelete="SET NULL"))

    revision: Mapped[MinutesRevision] = relationship(back_populates="items", lazy="raise")

    __table_args__ = (Index("ix_agenda_item_revision", "revision_id", "position"),)

    @property
    def lineage(self) -> int:
        """The same for an item and all its amended copies."""
        return self.origin_id or self.id

    @property
    def decision_list(self) -> list[str]:
        return [line.strip(" -•*\t") for line in self.decisions.splitlines() if line.strip(" -•*\t")]
