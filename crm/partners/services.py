"""Business rules of the partner directory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any, NamedTuple

import pycountry
from babel import Locale
from sqlalchemy import Date, Select, bindparam, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from crm.core import fulltext
from crm.db import DbSession, check_version, column_rows, search_key, utcnow
from crm.errors import DomainError, Duplicate
from crm.i18n import gettext as _
from crm.pagination import Page, filter_values, keyset_page
from crm.partners.models import Contact, Country, Organisation, OrgKind, PartnerFollow, Position

# The Confederation's members, flagged once when the country list is loaded; everything else reads
# Country.is_aes (filters, the AES view, templates), so that this list has one home.
AES_MEMBERS = ("ML", "BF", "NE")
AES_FILTER = "AES"


# --- countries -------------------------------------------------------------------------------


def seed_countries(session: DbSession) -> int:
    """Load the ISO 3166 list with French and English names; idempotent. Returns rows added."""
    existing = set(session.scalars(select(Country.code)))
    fr, en = Locale("fr"), Locale("en")
    added = 0
    for entry in pycountry.countries:
        code = entry.alpha_2
        if code in existing:
            continue
        session.add(
            Country(
                code=code,
                name_fr=fr.territories.get(code, entry.name),
                name_en=en.territories.get(code, entry.name),
                is_aes=code in AES_MEMBERS,
            )
        )
        added += 1
    session.flush()
    return added


_country_cache: dict[str, list[tuple[str, str]]] = {}


def country_choices(session: DbSession, locale: str) -> list[tuple[str, str]]:
    """AES members first, then every country by its name in the user's language.

    The ISO list only changes with a migration, so it is read once per process and language.
    """
    if locale not in _country_cache:
        _country_cache[locale] = _load_country_choices(session, locale)
    return _country_cache[locale]


def _load_country_choices(session: DbSession, locale: str) -> list[tuple[str, str]]:
    rows = session.execute(select(Country.code, Country.name_fr, Country.name_en, Country.is_aes)).all()
    named = [(code, en if locale == "en" else fr, aes) for code, fr, en, aes in rows]
    aes = sorted((c for c in named if c[2]), key=lambda c: search_key(c[1]))
    rest = sorted((c for c in named if not c[2]), key=lambda c: search_key(c[1]))
    return [(code, name) for code, name, _aes in aes + rest]


# --- listing ---------------------------------------------------------------------------------


def aes_codes():
    """The AES members' country codes, as a subquery on Country.is_aes."""
    return select(Country.code).where(Country.is_aes.is_(True))


def country_filter(column, country: str | None):
    """A clause for the country filter of a list: one country's code, or "AES" for the Confederation."""
    if not country:
        return None
    if country == AES_FILTER:
        return column.in_(aes_codes())
    return column == country.upper()[:2]


@dataclass
class OrgFilters:
    q: str = ""
    kind: str = ""
    country: str = ""
    sector: str = ""
    archived: bool = False
    sort: str = "name"


ORG_SORTS: dict[str, tuple[list[Any], bool]] = {
    "name": ([Organisation.name_key, Organisation.id], False),
    "-name": ([Organisation.name_key, Organisation.id], True),
    "country": ([Organisation.country_code, Organisation.name_key, Organisation.id], False),
    "recent": ([Organisation.id], True),
}


def list_organisations(session: DbSession, filters: OrgFilters, *, cursor: str | None, size: int) -> Page:
    capped = False
    ids: list[int] | None = None
    if filters.q.strip():
        ids, capped = fulltext.matching_ids(session, "organisation", filters.q)

    def build() -> Select[Any]:
        stmt = select(Organisation).options(joinedload(Organisation.country), joinedload(Organisation.parent))
        archived = Organisation.archived_at
        stmt = stmt.where(archived.is_not(None) if filters.archived else archived.is_(None))
        if ids is not None:
            stmt = stmt.where(Organisation.id.in_(ids))
        if filters.kind:
            stmt = stmt.where(Organisation.kind == filters.kind)
        country = country_filter(Organisation.country_code, filters.country)
        if country is not None:
            stmt = stmt.where(country)
        if filters.sector:
            stmt = stmt.where(Organisation.sectors.like(f"%,{filters.sector},%"))
        return stmt

    order, descending = ORG_SORTS.get(filters.sort, ORG_SORTS["name"])
    # The directory is the same for every reader: a statement per filters (a search's ids make each its own).
    shape = None if ids is not None else ("organisations", filter_values(filters))
    return keyset_page(
        session, build, order, cursor=cursor, size=size, descending=descending, capped=capped, shape=shape
    )


@dataclass
class ContactFilters:
    q: str = ""
    country: str = ""
    organisation_id: int | None = None
    archived: bool = False
    sort: str = "name"


CONTACT_SORTS: dict[str, tuple[list[Any], bool]] = {
    "name": ([Contact.sort_key, Contact.id], False),
    "-name": ([Contact.sort_key, Contact.id], True),
    "recent": ([Contact.id], True),
}


def _current_position_clause(today: Any):
    return or_(Position.end_date.is_(None), Position.end_date >= today)


class ContactRow(NamedTuple):
    """A contact as the list shows it (its posts come from ``current_posts``): a few columns, no ORM object."""

    id: int
    display_name: str  # as Contact.display_name
    native_name: str
    email: str


def _contact_row(row: Any) -> ContactRow:
    id_, honorific, given, family, native_name, email = row[:6]
    full = " ".join(part for part in (given, family) if part)
    return ContactRow(id_, " ".join(part for part in (honorific, full) if part), native_name, email)


def list_contacts(
    session: DbSession, filters: ContactFilters, *, cursor: str | None, size: int, list_rows: bool = False
) -> Page:
    """``list_rows``: the page's rows are ``ContactRow``s, without their positions (the list page reads them with
    ``current_posts``); exports read the contacts whole, with their positions."""
    capped = False
    ids: list[int] | None = None
    if filters.q.strip():
        ids, capped = fulltext.matching_ids(session, "contact", filters.q)

    def build() -> Select[Any]:
        stmt: Select[Any]
        if list_rows:
            columns = (Contact.honorific, Contact.given_name, Contact.family_name, Contact.native_name, Contact.email)
            stmt = select(Contact.id, *columns, Contact.sort_key)
        else:
            stmt = select(Contact).options(selectinload(Contact.positions).joinedload(Position.organisation))
        stmt = stmt.where(Contact.archived_at.is_not(None) if filters.archived else Contact.archived_at.is_(None))
        if ids is not None:
            stmt = stmt.where(Contact.id.in_(ids))
        country = country_filter(Organisation.country_code, filters.country)
        if country is not None or filters.organisation_id:
            held = (
                select(Position.id)
                .join(Organisation, Organisation.id == Position.organisation_id)
                .where(Position.contact_id == Contact.id, _current_position_clause(bindparam("today", type_=Date)))
            )
            if country is not None:
                held = held.where(country)
            if filters.organisation_id:
                held = held.where(Position.organisation_id == filters.organisation_id)
            stmt = stmt.where(exists(held))
        return stmt

    order, descending = CONTACT_SORTS.get(filters.sort, CONTACT_SORTS["name"])
    # The directory is the same for every reader: a statement per filters (a search's ids make each its own).
    shape = None if ids is not None else ("contacts", filter_values(filters), list_rows)
    return keyset_page(
        session,
        build,
        order,
        cursor=cursor,
        size=size,
        descending=descending,
        capped=capped,
        shape=shape,
        params={"today": date.today()},
        make=_contact_row if list_rows else None,
    )


class Post(NamedTuple):
    """A position as a list shows it."""

    title: str
    organisation_id: int
    organisation_label: str  # acronym, else name


def current_posts(session: DbSession, contact_ids: list[int]) -> dict[int, list[Post]]:
    """The posts each contact holds today, in ``current_positions``' order: a few columns in one statement
    instead of two ORM objects per position."""
    today = date.today()
    rows = column_rows(session, _posts_statement(), {"contact_ids": contact_ids})
    posts: dict[int, list[Post]] = {}
    for contact_id, title, start, end, org_id, acronym, name in rows:
        if (start is None or start <= today) and (end is None or today <= end):  # Position.held_on
            posts.setdefault(contact_id, []).append(Post(title, org_id, acronym or name))
    return posts


@cache
def _posts_statement() -> Select[Any]:
    """Built once (the contacts' ids a parameter), not on every request."""
    return (
        select(
            Position.contact_id,
            Position.title,
            Position.start_date,
            Position.end_date,
            Organisation.id,
            Organisation.acronym,
            Organisation.name,
        )
        .join(Organisation, Organisation.id == Position.organisation_id)
        .where(Position.contact_id.in_(bindparam("contact_ids", expanding=True)))
        .order_by(Position.start_date.desc())
    )


def current_positions(contact: Contact, on: date | None = None) -> list[Position]:
    """Posts held on a day (today by default), newest first; positions must be loaded."""
    day = on or date.today()
    return [p for p in contact.positions if p.held_on(day)]


def title_on(contact: Contact, organisation_id: int | None, day: date) -> str:
    """The title a contact held on a given day, in that organisation if given: meetings show this."""
    for position in current_positions(contact, day):
        if organisation_id is None or position.organisation_id == organisation_id:
            return position.title
    return ""


# --- organisations -----------------------------------------------------------------------------


ORG_FIELDS = (
    "name",
    "acronym",
    "kind",
    "country_code",
    "parent_id",
    "email",
    "phone",
    "website",
    "address",
    "city",
    "notes",
)


def _check_parent(session: DbSession, org: Organisation | None, parent_id: int | None) -> None:
    if parent_id is None:
        return
    seen = {org.id} if org is not None and org.id else set()
    current = parent_id
    while current is not None:
        if current in seen:
            raise DomainError(
                _("An organisation cannot belong to itself or to one of its own units."), field="parent_id"
            )
        seen.add(current)
        current_row = session.execute(
            select(Organisation.id, Organisation.parent_id).where(Organisation.id == current)
        ).first()
        if current_row is None:
            raise DomainError(_("The parent organisation does not exist."), field="parent_id")
        current = current_row.parent_id


def organisation_key(name: str, country_code: str | None) -> tuple[str, str]:
    """What makes two organisations the same one (the 409 on saving, and imports): the folded name, one country."""
    return search_key(name), (country_code or "")


def organisations_by_key(session: DbSession, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The ids of the organisations already in the directory under these keys (``organisation_key``)."""
    found: dict[tuple[str, str], int] = {}
    names = sorted({name for name, _country in keys})
    for start in range(0, len(names), 500):
        stmt = select(Organisation.name_key, Organisation.country_code, Organisation.id).where(
            Organisation.name_key.in_(names[start : start + 500])
        )
        for name_key, country_code, org_id in session.execute(stmt):
            if (name_key, country_code) in keys:
                found[(name_key, country_code)] = org_id
    return found


def _check_duplicate(session: DbSession, org: Organisation) -> None:
    stmt = select(Organisation).where(
        Organisation.name_key == org.name_key, Organisation.country_code == org.country_code
    )
    if org.id:
        stmt = stmt.where(Organisation.id != org.id)
    existing = session.scalars(stmt.limit(1)).first()
    if existing is not None:
        raise Duplicate(
            _("An organisation with this name already exists in this country."), existing=existing, field="name"
        )


def _check_country(session: DbSession, code: str) -> None:
    if session.get(Country, code) is None:
        raise DomainError(_("Unknown country."), field="country_code")


def _apply(obj: Any, data: dict[str, Any], fields: tuple[str, ...]) -> None:
    for field in fields:
        if field in data:
            value = data[field]
            setattr(obj, field, value.strip() if isinstance(value, str) else value)


def save_organisation(
    session: DbSession, data: dict[str, Any], org: Organisation | None = None, version: int | None = None
) -> Organisation:
    """Create (org None) or update an organisation; refuses duplicates, cycles and stale versions."""
    if org is not None:
        check_version(org, version)
    else:
        org = Organisation(kind=OrgKind.OTHER)
    _check_country(session, data["country_code"])
    _check_parent(session, org, data.get("parent_id"))
    with session.no_autoflush:
        _apply(org, data, ORG_FIELDS)
        org.sector_list = list(data.get("sectors", []))
        org.refresh_keys()
        _check_duplicate(session, org)
    session.add(org)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # Someone saved the same name at the same moment: the unique index caught it.
        existing = session.scalars(
            select(Organisation).where(
                Organisation.name_key == org.name_key, Organisation.country_code == org.country_code
            )
        ).first()
        raise Duplicate(
            _("An organisation with this name already exists in this country."), existing=existing, field="name"
        ) from None
    return org


def set_archived(session: DbSession, obj: Organisation | Contact, archived: bool, version: int | None) -> None:
    check_version(obj, version)
    obj.archived_at = utcnow() if archived else None
    session.flush()


def organisation_detail(session: DbSession, org_id: int) -> Organisation | None:
    return session.scalars(
        select(Organisation)
        .options(joinedload(Organisation.country), joinedload(Organisation.parent))
        .where(Organisation.id == org_id)
    ).first()


def organisation_people(session: DbSession, org_id: int) -> list[Position]:
    """Everyone who held a post in the organisation, current holders first."""
    return list(
        session.scalars(
            select(Position)
            .options(joinedload(Position.contact))
            .where(Position.organisation_id == org_id)
            .order_by(Position.end_date.is_not(None), Position.end_date.desc(), Position.start_date.desc(), Position.id)
        )
    )


def organisation_units(session: DbSession, org_id: int) -> list[Organisation]:
    return list(
        session.scalars(select(Organisation).where(Organisation.parent_id == org_id).order_by(Organisation.name_key))
    )


def organisation_choices(session: DbSession, exclude_id: int | None = None) -> list[tuple[int, str]]:
    stmt = (
        select(Organisation.id, Organisation.name, Organisation.acronym, Organisation.country_code)
        .where(Organisation.archived_at.is_(None))
        .order_by(Organisation.name_key)
    )
    if exclude_id:
        stmt = stmt.where(Organisation.id != exclude_id)
    return [(row.id, f"{row.name} ({row.acronym or row.country_code})") for row in session.execute(stmt)]


# --- contacts and positions ------------------------------------------------------------------


CONTACT_FIELDS = ("honorific", "given_name", "family_name", "native_name", "email", "phone", "notes")


def save_contact(
    session: DbSession, data: dict[str, Any], contact: Contact | None = None, version: int | None = None
) -> Contact:
    if contact is not None:
        check_version(contact, version)
    else:
        contact = Contact()
    _apply(contact, data, CONTACT_FIELDS)
    contact.email = (contact.email or "").lower()
    contact.language_list = list(data.get("languages", []))
    contact.refresh_keys()
    session.add(contact)
    session.flush()
    return contact


def contact_detail(session: DbSession, contact_id: int) -> Contact | None:
    return session.scalars(
        select(Contact)
        .options(selectinload(Contact.positions).joinedload(Position.organisation))
        .where(Contact.id == contact_id)
    ).first()


POSITION_FIELDS = ("organisation_id", "title", "start_date", "end_date", "notes")


def save_position(
    session: DbSession,
    contact: Contact,
    data: dict[str, Any],
    position: Position | None = None,
    version: int | None = None,
    *,
    succeeds_holder: bool = False,
) -> Position:
    """Record a post. With ``succeeds_holder``, whoever holds the same title there leaves the day before."""
    start, end = data.get("start_date"), data.get("end_date")
    if start and end and end < start:
        raise DomainError(_("The end date must be on or after the start date."), field="end_date")
    org = session.get(Organisation, data["organisation_id"])
    if org is None:
        raise DomainError(_("Unknown organisation."), field="organisation_id")
    if position is not None:
        check_version(position, version)
    else:
        position = Position(contact_id=contact.id)
    _apply(position, data, POSITION_FIELDS)
    session.add(position)
    if succeeds_holder:
        if not start:
            raise DomainError(_("Give the start date to end the predecessor's position."), field="start_date")
        predecessors = session.scalars(
            select(Position).where(
                Position.organisation_id == org.id,
                func.lower(Position.title) == position.title.lower(),
                Position.contact_id != contact.id,
                or_(Position.end_date.is_(None), Position.end_date >= start),
                or_(Position.start_date.is_(None), Position.start_date < start),
            )
        ).all()
        for previous in predecessors:
            previous.end_date = start - timedelta(days=1)
    session.flush()
    return position


def delete_position(session: DbSession, position: Position, version: int | None) -> None:
    check_version(position, version)
    session.delete(position)
    session.flush()


def organisations_by_id(session: DbSession, ids: list[int]) -> list[Organisation]:
    """The organisations with these ids, in the order given; unknown ids are left out."""
    ids = [i for i in ids if isinstance(i, int)]
    if not ids:
        return []
    found = {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(ids)))}
    return [found[i] for i in dict.fromkeys(ids) if i in found]


# --- following a partner ---------------------------------------------------------------------------


def follows(session: DbSession, user_id: int, organisation_id: int) -> bool:
    stmt = select(PartnerFollow.id).where(
        PartnerFollow.user_id == user_id, PartnerFollow.organisation_id == organisation_id
    )
    return session.scalar(stmt) is not None


def set_follow(session: DbSession, user_id: int, organisation_id: int, *, follow: bool) -> bool:
    """Follow or stop following a partner; saying it twice changes nothing. Returns whether the user follows."""
    if session.get(Organisation, organisation_id) is None:
        raise DomainError(_("This organisation no longer exists."))
    existing = session.scalars(
        select(PartnerFollow).where(PartnerFollow.user_id == user_id, PartnerFollow.organisation_id == organisation_id)
    ).first()
    if follow and existing is None:
        session.add(PartnerFollow(user_id=user_id, organisation_id=organisation_id))
    elif not follow and existing is not None:
        session.delete(existing)
    session.flush()
    return follow


def followed_ids(user_id: int):
    """The partners a user follows, as a subquery."""
    return select(PartnerFollow.organisation_id).where(PartnerFollow.user_id == user_id)
