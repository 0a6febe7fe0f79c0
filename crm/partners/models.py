"""Countries, organisations, contacts, and positions (who held which post when)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import i18n
from crm.core.enums import LabelledEnum, enum_type
from crm.db import Base, TimestampMixin, UTCDateTime, VersionMixin, search_key, utcnow
from crm.i18n import lazy_gettext as _l


class OrgKind(LabelledEnum):
    MINISTRY = "ministry", _l("Ministry")
    AGENCY = "agency", _l("Public agency")
    OPERATOR = "operator", _l("Telecom operator")
    VENDOR = "vendor", _l("Vendor")
    INTERNATIONAL = "international", _l("International organisation")
    NGO = "ngo", _l("NGO / civil society")
    ACADEMIC = "academic", _l("University / research")
    EMBASSY = "embassy", _l("Embassy")
    OTHER = "other", _l("Other")


class Sector(LabelledEnum):
    """Kept as a comma-framed list of values on the organisation (",telecom,egov,")."""

    TELECOM = "telecom", _l("Telecommunications")
    DIGITAL_ECONOMY = "digital_economy", _l("Digital economy")
    EGOV = "egov", _l("E-government")
    CYBERSECURITY = "cybersecurity", _l("Cybersecurity")
    AI = "ai", _l("Artificial intelligence")
    INFRASTRUCTURE = "infrastructure", _l("Infrastructure and connectivity")
    TRAINING = "training", _l("Training and skills")
    STARTUPS = "startups", _l("Start-ups and innovation")
    MEDIA = "media", _l("Media and communication")
    CULTURE = "culture", _l("Culture")
    POSTAL = "postal", _l("Postal services")
    DATA_PROTECTION = "data_protection", _l("Data protection")
    EVENTS = "events", _l("Events and conferences")


HONORIFICS = ["", "S.E.", "M.", "Mme", "Dr", "Pr"]

# Languages our partners speak, most common first (ISO 639 codes).
LANGUAGE_CODES = ["fr", "en", "bm", "ar", "ff", "son", "tmh", "mos", "ha", "dyu", "wo", "zh"]


class Country(Base):
    __tablename__ = "country"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name_fr: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    is_aes: Mapped[bool] = mapped_column(Boolean, default=False)

    @property
    def name(self) -> str:
        return self.name_en if str(i18n.locale() or "fr") == "en" else self.name_fr


class Organisation(VersionMixin, TimestampMixin, Base):
    __tablename__ = "organisation"
    __audit__ = True
    __audit_exclude__ = frozenset({"name_key", "search"})

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    acronym: Mapped[str] = mapped_column(String(40), default="")
    kind: Mapped[OrgKind] = mapped_column(enum_type(OrgKind, "kind"), default=OrgKind.OTHER)
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="SET NULL"), index=True)
    # Sector codes, comma-framed (",telecom,egov,") so that one LIKE finds a sector.
    sectors: Mapped[str] = mapped_column(String(400), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(60), default="")
    website: Mapped[str] = mapped_column(String(300), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Folded name (case, accents, apostrophes): duplicates and search compare this.
    name_key: Mapped[str] = mapped_column(String(300))
    search: Mapped[str] = mapped_column(String(400))

    country: Mapped[Country] = relationship(lazy="raise")
    parent: Mapped[Organisation | None] = relationship(remote_side=[id], lazy="raise")

    __table_args__ = (
        UniqueConstraint("name_key", "country_code"),
        Index("ix_organisation_list", "archived_at", "name_key", "id"),
        Index("ix_organisation_country", "country_code", "name_key", "id"),
    )

    @property
    def sector_list(self) -> list[Sector]:
        return [sector for code in self.sectors.split(",") if (sector := Sector.parse(code))]

    @sector_list.setter
    def sector_list(self, codes: list[str]) -> None:
        kept = [sector.value for code in codes if (sector := Sector.parse(code))]
        self.sectors = "," + ",".join(kept) + "," if kept else ""

    @property
    def display_name(self) -> str:
        return f"{self.name} ({self.acronym})" if self.acronym and self.acronym not in self.name else self.name

    @property
    def audit_label(self) -> str:
        return self.name

    def refresh_keys(self) -> None:
        self.name_key = search_key(self.name)
        self.search = f"{self.name_key} {search_key(self.acronym)}".strip()


class Contact(VersionMixin, TimestampMixin, Base):
    __tablename__ = "contact"
    __audit__ = True
    __audit_exclude__ = frozenset({"sort_key", "search"})

    id: Mapped[int] = mapped_column(primary_key=True)
    honorific: Mapped[str] = mapped_column(String(20), default="")
    given_name: Mapped[str] = mapped_column(String(150), default="")
    family_name: Mapped[str] = mapped_column(String(150))
    # The name as written in the person's own script (N'Ko, Arabic, Tifinagh…), shown beside it.
    native_name: Mapped[str] = mapped_column(String(300), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(60), default="")
    languages: Mapped[str] = mapped_column(String(120), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sort_key: Mapped[str] = mapped_column(String(300))
    search: Mapped[str] = mapped_column(String(700))

    positions: Mapped[list[Position]] = relationship(
        back_populates="contact", lazy="raise", order_by="Position.start_date.desc()"
    )

    __table_args__ = (Index("ix_contact_list", "archived_at", "sort_key", "id"),)

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.given_name, self.family_name) if part)

    @property
    def display_name(self) -> str:
        return " ".join(part for part in (self.honorific, self.full_name) if part)

    @property
    def language_list(self) -> list[str]:
        return [code for code in self.languages.split(",") if code]

    @language_list.setter
    def language_list(self, codes: list[str]) -> None:
        self.languages = ",".join(codes)

    @property
    def audit_label(self) -> str:
        return self.full_name

    def refresh_keys(self) -> None:
        self.sort_key = search_key(f"{self.family_name} {self.given_name}")
        self.search = " ".join(
            part
            for part in (search_key(self.full_name), search_key(self.native_name), (self.email or "").lower())
            if part
        )


class Position(VersionMixin, TimestampMixin, Base):
    """A post held by a contact in an organisation, from start to end (open-ended while held)."""

    __tablename__ = "position"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(300))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")

    contact: Mapped[Contact] = relationship(back_populates="positions", lazy="raise")
    organisation: Mapped[Organisation] = relationship(lazy="raise")

    __table_args__ = (
        CheckConstraint("end_date IS NULL OR start_date IS NULL OR end_date >= start_date", name="dates_in_order"),
        Index("ix_position_contact", "contact_id", "end_date"),
        Index("ix_position_organisation", "organisation_id", "end_date"),
    )

    def held_on(self, day: date) -> bool:
        return (self.start_date is None or self.start_date <= day) and (self.end_date is None or day <= self.end_date)

    @property
    def audit_owner(self) -> tuple[str, int]:
        return ("contact", self.contact_id)

    @property
    def audit_label(self) -> str:
        return self.title


class Institution(VersionMixin, TimestampMixin, Base):
    """One of the ministries this installation serves: an organisation of the directory marked as ours.

    It owns meetings, visits and commitments, its users belong to it, and it prints with its own letterhead.
    """

    __tablename__ = "institution"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"), unique=True)
    # Two or three letters that start its references (ML-AUD-2026-0007) and name it in short.
    code: Mapped[str] = mapped_column(String(4), unique=True)
    short_name: Mapped[str] = mapped_column(String(40))
    timezone: Mapped[str] = mapped_column(String(64), default="Africa/Bamako")
    # The letterhead of its printed documents.
    country: Mapped[str] = mapped_column(String(200), default="")
    motto: Mapped[str] = mapped_column(String(200), default="")
    authority: Mapped[str] = mapped_column(String(300), default="")
    unit: Mapped[str] = mapped_column(String(300), default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    logo_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_file.id", ondelete="SET NULL"))

    organisation: Mapped[Organisation] = relationship(lazy="raise")

    @property
    def audit_label(self) -> str:
        return self.short_name


class PartnerFollow(Base):
    """A user follows a partner: its news comes to their home page. A personal choice, not audited."""

    __tablename__ = "partner_follow"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("user_id", "organisation_id"),)
