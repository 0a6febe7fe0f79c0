"""Events (a "Semaine du Numérique"), delegation visits, their members and day-by-day programme."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.core.confidentiality import Confidentiality, Sharing
from crm.core.enums import LabelledEnum, enum_type
from crm.db import Base, TimestampMixin, UTCDateTime, VersionMixin, loaded_name, search_key
from crm.i18n import lazy_gettext as _l
from crm.partners.models import Contact, Country, Institution, Organisation

# The zone of a visit's programme, from the host country (the Sahel has no daylight saving).
COUNTRY_ZONES = {
    "ML": "Africa/Bamako",
    "BF": "Africa/Ouagadougou",
    "NE": "Africa/Niamey",
    "GH": "Africa/Accra",
    "SN": "Africa/Dakar",
    "CI": "Africa/Abidjan",
    "FR": "Europe/Paris",
    "CN": "Asia/Shanghai",
}


class Direction(LabelledEnum):
    INCOMING = "incoming", _l("Incoming (we host)")
    OUTGOING = "outgoing", _l("Outgoing (we travel)")


class VisitStatus(LabelledEnum):
    PLANNED = "planned", _l("Planned")
    CONFIRMED = "confirmed", _l("Confirmed")
    ONGOING = "ongoing", _l("Ongoing")
    COMPLETED = "completed", _l("Completed")
    CANCELLED = "cancelled", _l("Cancelled")


class MemberRole(LabelledEnum):
    HEAD = "head", _l("Head of delegation")
    MEMBER = "member", _l("Member")
    PROTOCOL = "protocol", _l("Protocol")
    INTERPRETER = "interpreter", _l("Interpreter")
    PRESS = "press", _l("Press")
    SECURITY = "security", _l("Security")


class Event(VersionMixin, TimestampMixin, Base):
    __tablename__ = "event"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    edition: Mapped[str] = mapped_column(String(60), default="")
    theme: Mapped[str] = mapped_column(Text, default="")
    venue: Mapped[str] = mapped_column(String(300), default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    organiser_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="SET NULL"))
    notes: Mapped[str] = mapped_column(Text, default="")

    country: Mapped[Country] = relationship(lazy="raise")
    organiser: Mapped[Organisation | None] = relationship(lazy="raise")

    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="dates_in_order"),
        Index("ix_event_starts", "starts_on", "id"),
    )

    @property
    def display_name(self) -> str:
        return f"{self.name} ({self.edition})" if self.edition else self.name

    @property
    def audit_label(self) -> str:
        return self.display_name


def direction_seen_by(direction: Direction, owner_institution_id: int, institution_id: int) -> Direction:
    """Direction is the host's: a delegation coming to Bamako is outgoing for Ouagadougou."""
    if institution_id == owner_institution_id:
        return direction
    return Direction.OUTGOING if direction == Direction.INCOMING else Direction.INCOMING


class Visit(VersionMixin, TimestampMixin, Base):
    __tablename__ = "visit"
    __audit__ = True
    __audit_exclude__ = frozenset({"created_by_id", "year", "search"})

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    direction: Mapped[Direction] = mapped_column(enum_type(Direction, "direction", 10))
    purpose: Mapped[str] = mapped_column(Text, default="")
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id", ondelete="SET NULL"), index=True)
    city: Mapped[str] = mapped_column(String(120), default="")
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code"))
    timezone: Mapped[str] = mapped_column(String(64), default="Africa/Bamako")
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    status: Mapped[VisitStatus] = mapped_column(enum_type(VisitStatus, "status"), default=VisitStatus.PLANNED)
    confidentiality: Mapped[Confidentiality] = mapped_column(
        enum_type(Confidentiality, "confidentiality"), default=Confidentiality.INTERNAL
    )
    report: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    # Folded reference, title, city and purpose: the list's search box matches this like every other list.
    search: Mapped[str] = mapped_column(String(700), default="")
    # The institution that created it; its direction (incoming, outgoing) is the host's. Every institution with
    # people in the delegation co-owns it (visit_institution), the host included.
    owner_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id", ondelete="RESTRICT"))
    sharing: Mapped[Sharing] = mapped_column(enum_type(Sharing, "sharing"), default=Sharing.INSTITUTION)

    owner_institution: Mapped[Institution] = relationship(lazy="raise")
    institutions: Mapped[list[VisitInstitution]] = relationship(
        back_populates="visit", lazy="raise", cascade="all, delete-orphan", order_by="VisitInstitution.id"
    )
    event: Mapped[Event | None] = relationship(lazy="raise")
    country: Mapped[Country] = relationship(lazy="raise")
    members: Mapped[list[VisitMember]] = relationship(
        back_populates="visit", lazy="raise", cascade="all, delete-orphan", order_by="VisitMember.id"
    )
    items: Mapped[list[ProgrammeItem]] = relationship(
        back_populates="visit",
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="(ProgrammeItem.day, ProgrammeItem.position)",
    )

    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="dates_in_order"),
        Index("ix_visit_starts", "starts_on", "id"),
    )

    @property
    def is_limited(self) -> bool:
        return self.confidentiality.limited

    def direction_for(self, institution_id: int) -> Direction:
        return direction_seen_by(self.direction, self.owner_institution_id, institution_id)

    def refresh_search(self) -> None:
        self.search = " ".join(
            part
            for part in (
                self.reference.lower(),
                search_key(self.title),
                search_key(self.city),
                search_key(self.purpose),
            )
            if part
        )[:700]

    @property
    def days(self) -> list[date]:
        return [self.starts_on + timedelta(days=i) for i in range((self.ends_on - self.starts_on).days + 1)]

    @property
    def clashes(self) -> dict[int, list[ProgrammeItem]]:
        """For each programme line, the other lines of its day at the same time (the page and the PDF flag them)."""
        found: dict[int, list[ProgrammeItem]] = {}
        for item in self.items:
            if item.starts_at is None:
                continue
            until = item.until or item.starts_at
            others = [o for o in self.items if o.id != item.id and o.overlaps(item.day, item.starts_at, until)]
            if others:
                found[item.id] = others
        return found

    @property
    def audit_label(self) -> str:
        return f"{self.reference} {self.title}"


def ends_an_hour_later(day: date, starts: time) -> time:
    """A line given only a start lasts an hour (to the end of the day at most)."""
    end = datetime.combine(day, starts) + timedelta(hours=1)
    return end.time() if end.date() == day else time.max


class VisitInstitution(Base):
    """An institution of the installation that owns the visit: the host, and each one with people in it."""

    __tablename__ = "visit_institution"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id", ondelete="CASCADE"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id", ondelete="RESTRICT"))

    visit: Mapped[Visit] = relationship(back_populates="institutions", lazy="raise")
    institution: Mapped[Institution] = relationship(lazy="raise")

    __table_args__ = (
        UniqueConstraint("visit_id", "institution_id"),
        Index("ix_visit_institution_institution", "institution_id", "visit_id"),
    )

    audit_name = ""

    @property
    def audit_owner(self) -> tuple[str, int]:
        return ("visit", self.visit_id)

    @property
    def audit_label(self) -> str:
        return self.audit_name or loaded_name(self, ("institution", "short_name")) or f"#{self.institution_id}"


class VisitMember(VersionMixin, Base):
    """Someone in the delegation (one of our users, or a contact), with their role and logistics."""

    __tablename__ = "visit_member"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="RESTRICT"), index=True)
    # The institution the person travels for (a user's, or the one where a contact holds a post), if any.
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id", ondelete="RESTRICT"))
    role: Mapped[MemberRole] = mapped_column(enum_type(MemberRole, "role"), default=MemberRole.MEMBER)
    arrival_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    departure_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accommodation: Mapped[str] = mapped_column(String(300), default="")

    visit: Mapped[Visit] = relationship(back_populates="members", lazy="raise")
    user: Mapped[User | None] = relationship(lazy="raise")
    contact: Mapped[Contact | None] = relationship(lazy="raise")
    institution: Mapped[Institution | None] = relationship(lazy="raise")

    audit_name = ""

    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (contact_id IS NULL)", name="one_person"),
        CheckConstraint("departure_at IS NULL OR arrival_at IS NULL OR departure_at >= arrival_at", name="logistics"),
        UniqueConstraint("visit_id", "user_id"),
        UniqueConstraint("visit_id", "contact_id"),
    )

    @property
    def name(self) -> str:
        if self.user is not None:
            return self.user.name
        return self.contact.display_name if self.contact is not None else ""

    @property
    def audit_owner(self) -> tuple[str, int]:
        return ("visit", self.visit_id)

    @property
    def audit_label(self) -> str:
        name = loaded_name(self, ("user", "name"), ("contact", "display_name"))
        return self.audit_name or name or f"#{self.user_id or self.contact_id}"


class ProgrammeItem(Base):
    """One line of the programme: a day, a time, a place, an activity, perhaps a meeting."""

    __tablename__ = "programme_item"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    position: Mapped[int] = mapped_column(Integer, default=1)
    starts_at: Mapped[time | None] = mapped_column(Time)
    ends_at: Mapped[time | None] = mapped_column(Time)
    place: Mapped[str] = mapped_column(String(300), default="")
    activity: Mapped[str] = mapped_column(String(500))
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meeting.id", ondelete="SET NULL"))

    visit: Mapped[Visit] = relationship(back_populates="items", lazy="raise")

    __table_args__ = (Index("ix_programme_item_visit", "visit_id", "day", "position"),)

    @property
    def until(self) -> time | None:
        """When the line ends: its end, or an hour after its start."""
        if self.starts_at is None:
            return None
        return self.ends_at or ends_an_hour_later(self.day, self.starts_at)

    def overlaps(self, day: date, starts: time, until: time) -> bool:
        """Does this line take place on ``day`` at some time between ``starts`` and ``until``?"""
        mine = self.until
        return (
            self.day == day
            and self.starts_at is not None
            and mine is not None
            and starts < mine
            and self.starts_at < until
        )

    @property
    def audit_owner(self) -> tuple[str, int]:
        return ("visit", self.visit_id)

    @property
    def audit_label(self) -> str:
        return self.activity[:80]
