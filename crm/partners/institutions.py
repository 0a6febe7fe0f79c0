"""The institutions an installation serves: the ministries whose staff use it.

An institution is an organisation of the shared directory marked as ours. Its users belong to it; it owns
the meetings, visits and commitments they create; contacts holding a post there (or in one of its units)
sit on its side of a meeting. An installation with one institution works as a single-ministry one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm.db import DbSession, check_version, search_key
from crm.errors import DomainError
from crm.i18n import gettext as _
from crm.partners.models import Institution, Organisation, OrgKind

# An installation that was never told otherwise serves Mali's ministry (as before institutions existed).
DEFAULT = {
    "code": "ML",
    "short_name": "MCENMA",
    "organisation": "Ministère de la Communication, de l’Économie numérique et de la Modernisation de l’Administration",
    "country_code": "ML",
    "country": "République du Mali",
    "motto": "Un Peuple – Un But – Une Foi",
    "unit": "Secrétariat général",
    "city": "Bamako",
    "timezone": "Africa/Bamako",
}


def all_institutions(session: DbSession) -> list[Institution]:
    return list(session.scalars(select(Institution).order_by(Institution.id)))


def first_institution(session: DbSession) -> Institution | None:
    return session.scalars(select(Institution).order_by(Institution.id).limit(1)).first()


def by_code(session: DbSession, code: str) -> Institution | None:
    return session.scalars(select(Institution).where(Institution.code == code.strip().upper())).first()


def get(session: DbSession, institution_id: int) -> Institution:
    """An institution by id; they are few and often asked for, so the identity map usually answers."""
    institution = session.get(Institution, institution_id)
    if institution is None:  # pragma: no cover - foreign keys keep them
        raise DomainError(_("Unknown institution."))
    return institution


def ensure_default(session: DbSession) -> Institution:
    """The first institution, created as Mali's ministry when an installation has none (a fresh database)."""
    existing = first_institution(session)
    if existing is not None:
        return existing
    org = session.scalars(
        select(Organisation).where(
            Organisation.name_key == search_key(DEFAULT["organisation"]),
            Organisation.country_code == DEFAULT["country_code"],
        )
    ).first()
    if org is None:
        org = Organisation(
            name=DEFAULT["organisation"],
            acronym=DEFAULT["short_name"],
            kind=OrgKind.MINISTRY,
            country_code=DEFAULT["country_code"],
            city=DEFAULT["city"],
        )
        org.refresh_keys()
        session.add(org)
        session.flush()
    return save_institution(
        session,
        {
            "organisation_id": org.id,
            "code": DEFAULT["code"],
            "short_name": DEFAULT["short_name"],
            "timezone": DEFAULT["timezone"],
            "country": DEFAULT["country"],
            "motto": DEFAULT["motto"],
            "authority": org.name,
            "unit": DEFAULT["unit"],
            "city": DEFAULT["city"],
        },
    )


INSTITUTION_FIELDS = (
    "organisation_id",
    "code",
    "short_name",
    "timezone",
    "country",
    "motto",
    "authority",
    "unit",
    "city",
)


def save_institution(
    session: DbSession, data: dict[str, Any], institution: Institution | None = None, version: int | None = None
) -> Institution:
    """Mark a directory organisation as one of ours (an installation admin's act), or change it."""
    code = (data.get("code") or "").strip().upper()
    if not (2 <= len(code) <= 4 and code.isalpha() and code.isascii()):
        raise DomainError(_("The code is two to four letters, such as ML, BF or NE."), field="code")
    if session.get(Organisation, data.get("organisation_id") or 0) is None:
        raise DomainError(_("Unknown organisation."), field="organisation_id")
    if institution is not None:
        check_version(institution, version)
    else:
        institution = Institution()
        session.add(institution)
    for name in INSTITUTION_FIELDS:
        if name in data:
            value = data[name]
            setattr(institution, name, value.strip() if isinstance(value, str) else value)
    institution.code = code
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise DomainError(
            _("This organisation or this code is already one of the installation's institutions."), field="code"
        ) from None
    return institution


def delete_institution(session: DbSession, institution: Institution) -> None:
    """Only an institution that owns nothing may go: its records and users keep it (the database refuses)."""
    try:
        with session.begin_nested():
            session.delete(institution)
            session.flush()
    except IntegrityError:
        raise DomainError(_("This institution still has users or owns records: it cannot be deleted.")) from None


def institution_sides(session: DbSession) -> dict[int, int]:
    """Organisation id → the institution whose side its people sit on (the ministry itself, or one of its units)."""
    sides: dict[int, int] = {}
    for institution_id, organisation_id in session.execute(select(Institution.id, Institution.organisation_id)):
        sides[organisation_id] = institution_id
    for unit_id, parent_id in session.execute(
        select(Organisation.id, Organisation.parent_id).where(Organisation.parent_id.in_(list(sides)))
    ):
        sides.setdefault(unit_id, sides[parent_id])
    return sides


def institution_of_organisation(session: DbSession, organisation_id: int | None) -> int | None:
    return institution_sides(session).get(organisation_id) if organisation_id else None


def choices(session: DbSession) -> list[tuple[int, str]]:
    return [(i.id, f"{i.short_name} ({i.code})") for i in all_institutions(session)]
