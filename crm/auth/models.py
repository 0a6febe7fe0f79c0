"""Users, roles and server-side sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.enums import LabelledEnum, enum_type
from crm.db import Base, TimestampMixin, UTCDateTime, VersionMixin, search_key, utcnow
from crm.i18n import lazy_gettext as _l
from crm.partners.models import Institution


class Role(LabelledEnum):
    """From the least to the most trusted: each role may do what the ones before it may."""

    VIEWER = "viewer", _l("Viewer (read only)")
    STAFF = "staff", _l("Staff")
    OFFICER = "officer", _l("Cooperation officer")
    ADMIN = "admin", _l("Administrator of the institution")
    INSTALLATION_ADMIN = "installation_admin", _l("Administrator of the installation")

    @property
    def level(self) -> int:
        return list(Role).index(self)

    def at_least(self, other: Role) -> bool:
        return self.level >= other.level


class User(VersionMixin, TimestampMixin, Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(enum_type(Role, "role"), default=Role.STAFF)
    # The ministry the account belongs to: what it owns, what it sees, whose letterhead it prints.
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id", ondelete="RESTRICT"), index=True)
    locale: Mapped[str] = mapped_column(String(8), default="")  # "" follows the browser
    timezone: Mapped[str] = mapped_column(String(64), default="Africa/Bamako")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Folded name, email and unit, for the people pickers of every institution.
    search: Mapped[str] = mapped_column(String(700), default="")

    __audit__ = True
    __audit_exclude__ = frozenset({"password_hash", "password_changed_at", "search"})

    # Always loaded with the account (a join on a small table): every page names the user's institution, even
    # after a refused form rolled the session back.
    institution: Mapped[Institution] = relationship(lazy="joined", innerjoin=True)

    # Flask-Login protocol (the session token, not the user id, is what the cookie carries).
    __allow_unmapped__ = True  # session_token below is a plain attribute of the request's object, not a column
    is_anonymous = False
    session_token: str | None = None  # set per request by the user loader

    def get_id(self) -> str | None:
        return self.session_token

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    def refresh_search(self) -> None:
        self.search = " ".join(
            part for part in (search_key(self.name), self.email.lower(), search_key(self.unit)) if part
        )

    def can(self, role: Role) -> bool:
        return self.active and self.role.at_least(role)

    @property
    def audit_label(self) -> str:
        """Who, as the history names them: the directory is shared, so the institution is said too."""
        return f"{self.name} ({self.institution.short_name}) <{self.email}>"

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class UserSession(Base):
    """One signed-in browser. The cookie holds a random token; we keep only its hash."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    user: Mapped[User] = relationship(lazy="raise")

    __table_args__ = (Index("ix_user_session_user_active", "user_id", "revoked_at"),)
