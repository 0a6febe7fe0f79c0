"""Accounts, passwords, sign-in with throttling, and server-side sessions."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import ColumnElement, Select, bindparam, case, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import joinedload

from crm.audit import services as audit
from crm.audit.models import AuditEvent
from crm.auth.models import Role, User, UserSession
from crm.db import DbSession, check_version, like_pattern, utcnow
from crm.errors import DomainError, Forbidden
from crm.i18n import gettext as _
from crm.partners import institutions
from crm.partners.models import Institution

PASSWORD_MIN = 8
PASSWORD_MAX = 128
_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@cache
def _common() -> frozenset[str]:
    """zxcvbn's 30,000 common passwords, read when a password is first chosen: importing its lists costs every
    worker 12 MB, and most workers never see a new password."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


class AuthError(DomainError):
    """A refused sign-in."""

    status = 401


class Throttled(AuthError):
    status = 429


def normalize_email(email: str) -> str:
    return email.strip().lower()


def password_problem(password: str, *, email: str = "", name: str = "") -> str | None:
    """Why a new password is refused, or None. Length and commonness only: no composition rules."""
    if len(password) < PASSWORD_MIN:
        return _("The password must have at least %(n)d characters.", n=PASSWORD_MIN)
    if len(password) > PASSWORD_MAX:
        return _("The password may have at most %(n)d characters.", n=PASSWORD_MAX)
    lowered = password.lower()
    if lowered in _common() or len(set(lowered)) < 3:
        return _("This password is too common; choose a longer phrase of your own.")
    local = normalize_email(email).split("@")[0]
    if (local and lowered == local) or (name and lowered == name.strip().lower()):
        return _("The password must not be your name or email address.")
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    """Constant-work check: an unknown account still costs one argon2 verification."""
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    except (VerificationError, InvalidHashError):
        return False


def create_user(
    session: DbSession,
    *,
    email: str,
    name: str,
    role: Role,
    password: str,
    unit: str = "",
    locale: str = "",
    institution_id: int | None = None,
    actor: User | None = None,
) -> User:
    """A new account, in an institution (by default the installation's first, made if there is none yet).

    An institution's administrator makes accounts in their own institution only; only an installation
    administrator (or the command line, ``actor`` None) makes them elsewhere or makes installation admins.
    An empty locale follows the browser's language.
    """
    role = Role(role)
    if institution_id is None:
        institution_id = actor.institution_id if actor is not None else institutions.ensure_default(session).id
    elif session.get(Institution, institution_id) is None:
        raise DomainError(_("Unknown institution."), field="institution_id")
    if actor is not None and not actor.can(Role.INSTALLATION_ADMIN):
        if institution_id != actor.institution_id:
            raise Forbidden(_("You manage the accounts of your own institution only."))
        if role == Role.INSTALLATION_ADMIN:
            raise DomainError(_("Only an administrator of the installation can give this role."), field="role")
    email = normalize_email(email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise DomainError(_("An account with this email address already exists."), field="email")
    problem = password_problem(password, email=email, name=name)
    if problem:
        raise DomainError(problem, field="password")
    user = User(
        email=email,
        name=name.strip(),
        unit=unit.strip(),
        role=role,
        locale=locale,
        password_hash=hash_password(password),
        institution_id=institution_id,
        timezone=institutions.get(session, institution_id).timezone,  # their ministry's, until they change it
    )
    user.refresh_search()
    session.add(user)
    session.flush()
    return user


def manageable(actor: User, user: User) -> bool:
    """An institution's admin manages its own accounts; an installation admin manages every account."""
    return actor.can(Role.INSTALLATION_ADMIN) or (actor.can(Role.ADMIN) and user.institution_id == actor.institution_id)


def update_user(session: DbSession, user: User, *, actor: User, version: int | None, **fields) -> User:
    """Admin edits: role, name, unit, active (and, by an installation admin, the institution).
    Deactivation revokes every session."""
    check_version(user, version)
    role = Role(fields.get("role", user.role))
    if user.id == actor.id and (not role.at_least(actor.role) or not fields.get("active", True)):
        raise DomainError(_("You cannot remove your own administrator rights or deactivate yourself."), field="role")
    if not actor.can(Role.INSTALLATION_ADMIN):
        if role == Role.INSTALLATION_ADMIN and user.role != Role.INSTALLATION_ADMIN:
            raise DomainError(_("Only an administrator of the installation can give this role."), field="role")
        fields.pop("institution_id", None)
    for key, value in fields.items():
        setattr(user, key, value)
    user.refresh_search()
    if "active" in fields and not fields["active"]:
        revoke_sessions(session, user)
    session.flush()
    return user


def update_preferences(session: DbSession, user: User, *, locale: str, timezone: str) -> None:
    user.locale = locale
    user.timezone = timezone
    session.flush()


def change_password(session: DbSession, user: User, *, current: str, new: str, keep_token: str | None) -> None:
    if not verify_password(user, current):
        raise DomainError(_("The current password is not correct."), field="current")
    problem = password_problem(new, email=user.email, name=user.name)
    if problem:
        raise DomainError(problem, field="new")
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    revoke_sessions(session, user, except_token=keep_token)
    audit.record(session, "password_changed", entity_type="user_account", entity_id=user.id, label=user.audit_label)
    session.flush()


# --- sign-in ---------------------------------------------------------------------------------


@dataclass
class SignIn:
    user: User
    token: str


def _recent_failures(session: DbSession, column, value: str) -> int:
    since = utcnow() - current_app.config["CRM_LOGIN_WINDOW"]
    count = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "login_failed", column == value, AuditEvent.created_at >= since)
    )
    return count or 0


def is_throttled(session: DbSession, email: str, ip: str) -> bool:
    cfg = current_app.config
    return (
        _recent_failures(session, AuditEvent.subject, normalize_email(email)) >= cfg["CRM_LOGIN_MAX_FAILURES_ACCOUNT"]
        or _recent_failures(session, AuditEvent.ip, ip) >= cfg["CRM_LOGIN_MAX_FAILURES_ADDRESS"]
    )


def sign_in(session: DbSession, *, email: str, password: str, ip: str, user_agent: str) -> SignIn:
    """Check credentials and open a session. Unknown email and wrong password fail alike."""
    email = normalize_email(email)
    refused = _("Unknown email address or wrong password.")
    if is_throttled(session, email, ip):
        audit.record(session, "login_throttled", subject=email, actor_label="", ip=ip)
        raise Throttled(_("Too many failed attempts. Wait 15 minutes before trying again."))
    user = session.scalar(select(User).where(User.email == email))
    valid = verify_password(user, password)  # the same argon2 work whether the account exists or not
    if user is None or not valid or not user.active:
        audit.record(session, "login_failed", subject=email, actor_label="", label=email, ip=ip)
        raise AuthError(refused)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token = secrets.token_urlsafe(32)
    session.add(UserSession(token_hash=_digest(token), user_id=user.id, ip=ip, user_agent=user_agent[:300]))
    audit.record(
        session,
        "login",
        subject=email,
        entity_type="user_account",
        entity_id=user.id,
        actor_id=user.id,
        actor_label=user.audit_label,
        label=user.audit_label,
        ip=ip,
    )
    session.flush()
    return SignIn(user=user, token=token)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_session_user(session: DbSession, token: str, *, touch: bool = True) -> User | None:
    """The user behind a session cookie, if that session is still alive (idle and absolute limits).

    ``touch=False`` for requests the page makes by itself (the bell's refresh): they are not activity."""
    found = load_session(session, token, touch=touch)
    return found[0] if found else None


SessionExtra = Callable[[Any], ColumnElement[Any]]  # a scalar subquery on the session's user_id column


def load_session(
    session: DbSession, token: str, *, touch: bool = True, also: SessionExtra | None = None
) -> tuple[User, Any] | None:
    """As ``load_session_user``, with one more value read in the same statement: ``also(UserSession.user_id)``,
    a scalar subquery (the header's unread count: one statement less on every page)."""
    now = utcnow()
    row = session.execute(_session_statement(also), {"token_hash": _digest(token)}).first()
    if row is None:
        return None
    user_session, user = row[0], row[1]
    extra = row[2] if also is not None else None
    cfg = current_app.config
    expired = (
        now - user_session.created_at > cfg["CRM_SESSION_ABSOLUTE"]
        or now - user_session.last_seen_at > cfg["CRM_SESSION_IDLE"]
    )
    if expired or not user.active:
        return None
    if touch and (now - user_session.last_seen_at).total_seconds() > 60:
        # Touched at most once a minute, in a short transaction of its own (so that reads stay reads): one of
        # the two documented commits outside the unit of work (crm/cycle.py). A busy database skips it.
        try:
            session.execute(update(UserSession).where(UserSession.id == user_session.id).values(last_seen_at=now))
            session.commit()
        except OperationalError:
            session.rollback()
    return user, extra


@cache
def _session_statement(also: SessionExtra | None) -> Select[Any]:
    """Every request runs it: built once (the token is its parameter), not on every request."""
    columns = (UserSession, User) if also is None else (UserSession, User, also(UserSession.user_id))
    return (
        select(*columns)
        .join(User, User.id == UserSession.user_id)
        .options(joinedload(User.institution))
        .where(UserSession.token_hash == bindparam("token_hash"), UserSession.revoked_at.is_(None))
    )


def sign_out(session: DbSession, token: str) -> None:
    session.execute(
        update(UserSession)
        .where(UserSession.token_hash == _digest(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    audit.record(session, "logout")


def revoke_sessions(session: DbSession, user: User, except_token: str | None = None) -> None:
    stmt = update(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
    if except_token:
        stmt = stmt.where(UserSession.token_hash != _digest(except_token))
    session.execute(stmt.values(revoked_at=utcnow()))


def users_query(actor: User):
    """The accounts an admin manages: their institution's, or every one for an installation admin."""
    stmt = select(User).options(joinedload(User.institution)).order_by(User.active.desc(), User.name)
    if not actor.can(Role.INSTALLATION_ADMIN):
        stmt = stmt.where(User.institution_id == actor.institution_id)
    return stmt


def last_seen(session: DbSession) -> dict[int, datetime]:
    rows = session.execute(
        select(UserSession.user_id, func.max(UserSession.last_seen_at)).group_by(UserSession.user_id)
    )
    return {user_id: seen for user_id, seen in rows}


def find_users(session: DbSession, term: str, exclude, limit: int = 8, *, first_of: int | None = None) -> list[User]:
    """Active users of every institution whose name, email or unit contains ``term`` (folded), minus the
    ``exclude`` subquery; those of the institution ``first_of`` come first."""
    stmt = (
        select(User)
        .options(joinedload(User.institution))
        .where(User.active.is_(True), User.id.not_in(exclude), User.search.like(like_pattern(term), escape="\\"))
    )
    if first_of is not None:
        stmt = stmt.order_by(case((User.institution_id == first_of, 0), else_=1))
    return list(session.scalars(stmt.order_by(User.name, User.id).limit(limit)))


def user_choices(
    session: DbSession, *, inactive: bool = False, institution_ids: list[int] | None = None
) -> list[tuple[int, str]]:
    """Accounts to pick from (a responsible officer), of the given institutions; with ``inactive``, departed
    ones too, marked ✕."""
    stmt = select(User.id, User.name, User.active).order_by(User.name)
    if not inactive:
        stmt = stmt.where(User.active.is_(True))
    if institution_ids is not None:
        stmt = stmt.where(User.institution_id.in_(institution_ids))
    return [(row.id, row.name if row.active else f"{row.name} ✕") for row in session.execute(stmt)]


def user_with_institution(session: DbSession, user_id: int) -> User | None:
    return session.scalars(select(User).options(joinedload(User.institution)).where(User.id == user_id)).first()
