"""Organisations and contacts (with their posts) in from a CSV or XLSX file: read, map, preview, import.

The file is kept on the server between the steps (``ImportUpload``); each step reads it again, so what is
imported is what was previewed. Duplicates are found by the directory's own rules: an organisation is the
same when its folded name is in the same country (the 409 of ``partners.services.save_organisation``); a
contact is the same person when the e-mail is the same, or, without e-mail, when the folded name is the same
and (if the row names one) they held a post in that organisation. Duplicates are left as they are, so
importing the same file again creates nothing. The import is all or nothing: one row in error, nothing is
written.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from flask_babel import force_locale
from sqlalchemy import delete, func, select

from crm.db import DbSession, search_key, utcnow
from crm.errors import DomainError
from crm.exchange.models import ImportUpload
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from crm.partners import services as partners
from crm.partners.models import Contact, Country, Organisation, OrgKind, Position, Sector

MAX_ROWS = 20_000
# An XLSX is a zip: what it unpacks to is bounded too (a small file can unpack to gigabytes).
MAX_UNPACKED_BYTES = 50 * 1024 * 1024
KEEP_UPLOADS = timedelta(days=1)
KINDS = ("organisations", "contacts")


class FileRefused(DomainError):
    """A file that cannot be imported as it is: said plainly, nothing changed."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message, field="file")
        self.status = status


# --- reading a file ---------------------------------------------------------------------------------


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Any]]  # each as long as the headers
    first_line: int  # the line (or spreadsheet row) of the first data row, for messages


def too_big_message(max_bytes: int) -> str:
    return _(
        "This file is too large to import: %(mb)s MB at most, and %(rows)s rows. Split it into several files.",
        mb=f"{max_bytes / (1024 * 1024):.3g}",
        rows=f"{MAX_ROWS:,}".replace(",", "\u202f"),
    )


def read_table(data: bytes, filename: str, max_bytes: int) -> Table:
    if len(data) > max_bytes:
        raise FileRefused(too_big_message(max_bytes), status=413)
    if not data.strip():
        raise FileRefused(_("This file is empty."))
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith((".xlsx", ".xlsm")):
        table = _read_xlsx(data, max_bytes)
    else:
        table = _read_csv(data)
    if not any(h.strip() for h in table.headers):
        raise FileRefused(_("This file is empty."))
    if not table.rows:
        raise FileRefused(_("This file has column headings but no rows to import."))
    if len(table.rows) > MAX_ROWS:
        raise FileRefused(too_big_message(max_bytes), status=413)
    return table


def _not_a_table() -> FileRefused:
    return FileRefused(
        _(
            "This file could not be read: it is neither a CSV file nor an Excel (XLSX) workbook, or it is damaged. "
            "Save it from your spreadsheet as “CSV UTF-8” or as “Excel workbook (.xlsx)” and upload it again."
        )
    )


def _decode(data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise _not_a_table()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        raise _not_a_table() from None
    raise FileRefused(
        _(
            "This file is not in UTF-8: it looks like Windows-1252 (what Excel calls plain “CSV”), and its accents "
            "would be garbled. In Excel, choose “Save as” › “CSV UTF-8 (comma delimited)” or save it as an Excel "
            "workbook (.xlsx), then upload it again. Nothing was imported."
        ),
        status=415,
    )


def _read_csv(data: bytes) -> Table:
    text = _decode(data)
    sample = text[:8192]
    first_line = sample.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first_line.count)
    try:
        raw = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error:
        raise _not_a_table() from None
    return _table(raw, first_row=1)


def _read_xlsx(data: bytes, max_bytes: int) -> Table:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNPACKED_BYTES:
                raise FileRefused(too_big_message(max_bytes), status=413)
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except FileRefused:
        raise
    except Exception:  # openpyxl raises many kinds (zip, XML, keys) for a damaged workbook: all mean "unreadable"
        raise _not_a_table() from None
    try:
        sheet = workbook.worksheets[0]
        raw = []
        for row in sheet.iter_rows(values_only=True):
            raw.append(list(row))
            if len(raw) > MAX_ROWS + 50:
                break
    except Exception:
        raise _not_a_table() from None
    finally:
        workbook.close()
    return _table(raw, first_row=1)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _table(raw: list[list[Any]], first_row: int) -> Table:
    # The headings are the first row with something in it.
    while raw and not any(_cell(v) for v in raw[0]):
        raw.pop(0)
        first_row += 1
    if not raw:
        raise FileRefused(_("This file is empty."))
    headers = [str(_cell(v)) for v in raw[0]]
    while headers and not headers[-1]:
        headers.pop()
    width = len(headers)
    rows = []
    for values in raw[1:]:
        cells = [_cell(v) for v in values[:width]]
        cells += [""] * (width - len(cells))
        rows.append(cells)
    # Trailing empty rows (a spreadsheet's formatting) are not rows.
    while rows and not any(rows[-1]):
        rows.pop()
    return Table(headers=headers, rows=rows, first_line=first_row + 1)


# --- what a column can hold --------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    key: str
    label: Any
    required: bool = False
    max_length: int = 300
    aliases: tuple[str, ...] = ()


ORGANISATION_TARGETS = (
    Target("name", _l("Name"), True, 300, ("name", "nom", "organisation", "organization", "raison sociale")),
    Target("acronym", _l("Acronym"), False, 40, ("acronym", "sigle", "acronyme", "abbreviation")),
    Target("kind", _l("Kind"), False, 40, ("kind", "type", "category", "categorie")),
    Target("country", _l("Country"), True, 100, ("country", "pays", "country code", "code pays")),
    Target("parent", _l("Belongs to"), False, 300, ("parent", "belongs to", "rattachee a", "tutelle")),
    Target("sectors", _l("Sectors"), False, 400, ("sectors", "sector", "secteurs", "secteur")),
    Target("email", _l("Email"), False, 254, ("email", "e mail", "courriel", "mail", "adresse electronique")),
    Target("phone", _l("Phone"), False, 60, ("phone", "telephone", "tel")),
    Target("website", _l("Website"), False, 300, ("website", "site web", "site internet", "site")),
    Target("address", _l("Address"), False, 2000, ("address", "adresse")),
    Target("city", _l("City"), False, 120, ("city", "ville")),
    Target("notes", _l("Notes"), False, 10_000, ("notes", "remarques", "commentaires", "observations")),
)

CONTACT_TARGETS = (
    Target("honorific", _l("Honorific"), False, 20, ("honorific", "civilite", "title of courtesy")),
    Target("given_name", _l("Given name"), False, 150, ("given name", "first name", "prenom", "prenoms")),
    Target(
        "family_name", _l("Family name"), True, 150, ("family name", "last name", "surname", "nom", "nom de famille")
    ),
    Target("native_name", _l("Name in own script"), False, 300, ("native name", "nom dans son ecriture")),
    Target("email", _l("Email"), False, 254, ("email", "e mail", "courriel", "mail", "adresse electronique")),
    Target("phone", _l("Phone"), False, 60, ("phone", "telephone", "tel", "mobile")),
    Target("title", _l("Position"), False, 300, ("position", "title", "job title", "fonction", "poste", "titre")),
    Target("organisation", _l("Organisation"), False, 300, ("organisation", "organization", "structure", "employeur")),
    Target("start_date", _l("Start date"), False, 40, ("start date", "since", "date de debut", "depuis", "debut")),
    Target("end_date", _l("End date"), False, 40, ("end date", "until", "date de fin", "jusqu au", "fin")),
    Target("notes", _l("Notes"), False, 10_000, ("notes", "remarques", "commentaires", "observations")),
)

TARGETS = {"organisations": ORGANISATION_TARGETS, "contacts": CONTACT_TARGETS}


def guess_mapping(kind: str, headers: list[str]) -> list[str]:
    """For each column, the field it most likely holds (French or English headings), or "" to leave it out."""
    known: dict[str, str] = {}
    for target in TARGETS[kind]:
        for alias in target.aliases:
            known.setdefault(search_key(alias), target.key)
        for locale in ("fr", "en"):  # the headings of our own exports, in either language
            with force_locale(locale):
                known.setdefault(search_key(str(target.label)), target.key)
    mapping: list[str] = []
    for header in headers:
        key = known.get(search_key(header), "")
        mapping.append(key if key not in mapping else "")
    return mapping


def clean_mapping(kind: str, values: Iterable[str], width: int) -> list[str]:
    """The mapping the user chose: a known field per column at most once; anything else leaves it out."""
    allowed = {t.key for t in TARGETS[kind]}
    mapping: list[str] = []
    for value in list(values)[:width]:
        mapping.append(value if value in allowed and value not in mapping else "")
    return mapping + [""] * (width - len(mapping))


# --- checking the rows -----------------------------------------------------------------------------


NEW, DUPLICATE, NEW_POST, ERROR = "new", "duplicate", "new_post", "error"


@dataclass
class RowCheck:
    line: int
    values: dict[str, Any]
    status: str = NEW
    errors: list[str] = field(default_factory=list)
    existing_id: int | None = None  # the record it duplicates
    note: str = ""
    data: dict[str, Any] = field(default_factory=dict)  # what will be written


@dataclass
class Preview:
    kind: str
    headers: list[str]
    mapping: list[str]
    rows: list[RowCheck]
    missing: list[str]  # required fields no column is mapped to

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    @property
    def errors(self) -> list[RowCheck]:
        return [r for r in self.rows if r.status == ERROR]

    @property
    def ready(self) -> bool:
        return not self.missing and not self.errors


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _text(row: RowCheck, target: Target) -> str:
    value = row.values.get(target.key, "")
    if isinstance(value, datetime | date):
        value = value.isoformat()
    text = str(value).strip()
    if target.required and not text:
        row.errors.append(_("“%(field)s” is required.", field=str(target.label)))
    if len(text) > target.max_length:
        row.errors.append(
            _("“%(field)s” is too long (%(max)s characters at most).", field=str(target.label), max=target.max_length)
        )
    if target.key == "email" and text and not EMAIL.match(text):
        row.errors.append(_("“%(value)s” is not an e-mail address.", value=text[:100]))
    return text


def _lookup(enum: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for member in enum:
        found[search_key(member.value)] = member
        for locale in ("fr", "en"):
            with force_locale(locale):
                found[search_key(str(member.label))] = member
    return found


def _countries(session: DbSession) -> dict[str, str]:
    found: dict[str, str] = {}
    for code, name_fr, name_en in session.execute(select(Country.code, Country.name_fr, Country.name_en)):
        found[search_key(code)] = code
        found[search_key(name_fr)] = code
        found[search_key(name_en)] = code
    return found


def _organisations_named(session: DbSession, names: set[str]) -> dict[str, list[tuple[int, str]]]:
    """Organisations of the directory by folded name or acronym: {folded: [(id, name)]}."""
    found: dict[str, list[tuple[int, str]]] = {}
    keys = sorted(names)
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        stmt = select(Organisation.id, Organisation.name, Organisation.name_key, Organisation.acronym).where(
            (Organisation.name_key.in_(chunk)) | (func.lower(Organisation.acronym).in_(chunk))
        )
        for org_id, name, name_key, acronym in session.execute(stmt):
            for key in {name_key, search_key(acronym)} & set(chunk):
                found.setdefault(key, []).append((org_id, name))
    return found


def _one_organisation(row: RowCheck, named: dict[str, list[tuple[int, str]]], text: str) -> int | None:
    matches = named.get(search_key(text), [])
    if not matches:
        row.errors.append(_("No organisation “%(name)s” in the directory: import or create it first.", name=text))
        return None
    if len({m[0] for m in matches}) > 1:
        row.errors.append(_("Several organisations are called “%(name)s”: use its full name.", name=text))
        return None
    return matches[0][0]


def _mapped_rows(table: Table, mapping: list[str]) -> list[RowCheck]:
    checks = []
    for offset, cells in enumerate(table.rows):
        if not any(cells):
            continue
        values = {key: cells[i] for i, key in enumerate(mapping) if key}
        checks.append(RowCheck(line=table.first_line + offset, values=values))
    return checks


def preview(session: DbSession, kind: str, table: Table, mapping: list[str]) -> Preview:
    targets = TARGETS[kind]
    missing = [str(t.label) for t in targets if t.required and t.key not in mapping]
    rows = _mapped_rows(table, mapping)
    result = Preview(kind=kind, headers=table.headers, mapping=mapping, rows=rows, missing=missing)
    if missing:
        return result
    if kind == "organisations":
        _check_organisations(session, rows)
    else:
        _check_contacts(session, rows)
    for row in rows:
        if row.errors:
            row.status = ERROR
    return result


def _check_organisations(session: DbSession, rows: list[RowCheck]) -> None:
    targets = {t.key: t for t in ORGANISATION_TARGETS}
    fold = lru_cache(maxsize=4096)(search_key)  # countries, kinds and sectors repeat from row to row
    countries = _countries(session)
    kinds = _lookup(OrgKind)
    sectors = _lookup(Sector)
    parents = _organisations_named(
        session, {search_key(str(r.values.get("parent", ""))) for r in rows if r.values.get("parent")}
    )
    for row in rows:
        data = {key: _text(row, target) for key, target in targets.items()}
        country_text = data.pop("country")
        code = countries.get(fold(country_text)) if country_text else None
        if country_text and code is None:
            row.errors.append(_("Unknown country “%(value)s”.", value=country_text[:100]))
        kind_text = data.pop("kind")
        kind = kinds.get(fold(kind_text)) if kind_text else OrgKind.OTHER
        if kind is None:
            row.errors.append(_("Unknown kind of organisation “%(value)s”.", value=kind_text[:100]))
        sector_codes = []
        for part in re.split(r"[,;|]", data.pop("sectors")):
            if part.strip():
                sector = sectors.get(fold(part))
                if sector is None:
                    row.errors.append(_("Unknown sector “%(value)s”.", value=part.strip()[:100]))
                else:
                    sector_codes.append(sector.value)
        parent_text = data.pop("parent")
        parent_id = _one_organisation(row, parents, parent_text) if parent_text else None
        row.data = {**data, "country_code": code, "kind": kind, "sectors": sector_codes, "parent_id": parent_id}
    # Duplicates: the same rule as the 409 when saving an organisation by hand.
    keyed = [(r, partners.organisation_key(r.data["name"], r.data["country_code"])) for r in rows if not r.errors]
    existing = partners.organisations_by_key(session, {key for _row, key in keyed})
    seen: dict[tuple[str, str], int] = {}
    for row, key in keyed:
        if key in existing:
            row.status, row.existing_id = DUPLICATE, existing[key]
            row.note = _("Already in the directory: left as it is.")
        elif key in seen:
            row.status = DUPLICATE
            row.note = _("Same organisation as line %(line)s of this file.", line=seen[key])
        else:
            seen[key] = row.line


def _parse_date(row: RowCheck, value: Any, label: str) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    row.errors.append(_("“%(value)s” is not a date (%(field)s): write it as 2026-01-31.", value=text[:40], field=label))
    return None


def _check_contacts(session: DbSession, rows: list[RowCheck]) -> None:
    targets = {t.key: t for t in CONTACT_TARGETS}
    organisations = _organisations_named(
        session, {search_key(str(r.values.get("organisation", ""))) for r in rows if r.values.get("organisation")}
    )
    for row in rows:
        data = {key: _text(row, t) for key, t in targets.items() if key not in ("start_date", "end_date")}
        data["email"] = data["email"].lower()
        start = _parse_date(row, row.values.get("start_date", ""), str(targets["start_date"].label))
        end = _parse_date(row, row.values.get("end_date", ""), str(targets["end_date"].label))
        if start and end and end < start:
            row.errors.append(_("The end date must be on or after the start date."))
        org_text = data.pop("organisation")
        organisation_id = _one_organisation(row, organisations, org_text) if org_text else None
        if data["title"] and not org_text:
            row.errors.append(_("A position needs its organisation."))
        if org_text and not data["title"]:
            row.errors.append(_("Give the position held in “%(name)s”.", name=org_text[:100]))
        row.data = {**data, "organisation_id": organisation_id, "start_date": start, "end_date": end}
        row.data["sort_key"] = search_key(f"{data['family_name']} {data['given_name']}")
    _find_same_people(session, [r for r in rows if not r.errors])


@dataclass
class Directory:
    """What the directory already holds about the people of a file."""

    by_email: dict[str, int] = field(default_factory=dict)
    by_name: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    posts: dict[int, set[tuple[int, str]]] = field(default_factory=dict)  # contact → (organisation, title)
    held_in: dict[int, set[int]] = field(default_factory=dict)  # contact → organisations


def _chunks(values: list[Any], size: int = 500) -> Iterable[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _load_people(session: DbSession, rows: list[RowCheck]) -> Directory:
    known = Directory()
    emails = sorted({r.data["email"] for r in rows if r.data["email"]})
    names = sorted({r.data["sort_key"] for r in rows if not r.data["email"]})
    for chunk in _chunks(emails):
        for email, contact_id in session.execute(select(Contact.email, Contact.id).where(Contact.email.in_(chunk))):
            known.by_email[email] = contact_id
    for chunk in _chunks(names):
        stmt = select(Contact.sort_key, Contact.id, Contact.email).where(Contact.sort_key.in_(chunk))
        for key, contact_id, email in session.execute(stmt):
            known.by_name.setdefault(key, []).append((contact_id, email))
    ids = set(known.by_email.values()) | {cid for found in known.by_name.values() for cid, _email in found}
    for chunk in _chunks(sorted(ids)):
        posts = select(Position.contact_id, Position.organisation_id, Position.title).where(
            Position.contact_id.in_(chunk)
        )
        for contact_id, organisation_id, title in session.execute(posts):
            known.posts.setdefault(contact_id, set()).add((organisation_id, title.casefold()))
            known.held_in.setdefault(contact_id, set()).add(organisation_id)
    return known


def person_key(data: dict[str, Any]) -> tuple[str, str, int | None]:
    """Who a row names: the e-mail, or without one the folded name in the organisation of the row."""
    if data["email"]:
        return (data["email"], "", None)
    return ("", data["sort_key"], data["organisation_id"])


def _existing_person(known: Directory, data: dict[str, Any]) -> int | None:
    if data["email"]:
        return known.by_email.get(data["email"])
    org_id = data["organisation_id"]
    for contact_id, email in known.by_name.get(data["sort_key"], []):
        if (org_id is None and not email) or (org_id is not None and org_id in known.held_in.get(contact_id, set())):
            return contact_id
    return None


def _find_same_people(session: DbSession, rows: list[RowCheck]) -> None:
    known = _load_people(session, rows)
    seen: dict[tuple[str, str, int | None], int] = {}
    seen_posts: set[tuple[tuple[str, str, int | None], int, str]] = set()
    for row in rows:
        org_id, title = row.data["organisation_id"], row.data["title"].casefold()
        person = person_key(row.data)
        existing = _existing_person(known, row.data)
        if existing is not None:
            row.existing_id = existing
            if org_id is not None and (org_id, title) not in known.posts.get(existing, set()):
                row.status, row.note = NEW_POST, _("Already in the directory: the position will be added.")
            else:
                row.status, row.note = DUPLICATE, _("Already in the directory: left as it is.")
        elif person in seen:
            if org_id is not None and (person, org_id, title) not in seen_posts:
                row.status = NEW_POST
                row.note = _(
                    "Same person as line %(line)s of this file: the position will be added.", line=seen[person]
                )
            else:
                row.status = DUPLICATE
                row.note = _("Same person as line %(line)s of this file.", line=seen[person])
        else:
            seen[person] = row.line
        seen_posts.add((person, org_id or 0, title))


# --- importing ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    created: int
    posts: int
    skipped: int


def run_import(session: DbSession, result: Preview) -> Outcome:
    """Write every new row, or nothing: a row in error refuses the whole file."""
    if result.missing:
        raise DomainError(
            _("Choose the column that holds: %(fields)s. Nothing was imported.", fields=", ".join(result.missing))
        )
    if result.errors:
        raise DomainError(
            _(
                "%(count)s rows have errors: correct them in the file and upload it again. Nothing was imported.",
                count=len(result.errors),
            )
        )
    if result.kind == "organisations":
        return _import_organisations(session, result.rows)
    return _import_contacts(session, result.rows)


def _import_organisations(session: DbSession, rows: list[RowCheck]) -> Outcome:
    created = 0
    for row in rows:
        if row.status != NEW:
            continue
        data = row.data
        org = Organisation(
            name=data["name"],
            acronym=data["acronym"],
            kind=data["kind"],
            country_code=data["country_code"],
            parent_id=data["parent_id"],
            email=data["email"],
            phone=data["phone"],
            website=data["website"],
            address=data["address"],
            city=data["city"],
            notes=data["notes"],
        )
        org.sector_list = data["sectors"]
        org.refresh_keys()
        session.add(org)
        created += 1
        if created % 1000 == 0:
            session.flush()
    session.flush()
    return Outcome(created=created, posts=0, skipped=len(rows) - created)


def _import_contacts(session: DbSession, rows: list[RowCheck]) -> Outcome:
    """Contacts and their posts in one flush (one pass of the search index and the audit trail)."""
    created = posts = 0
    people: dict[int, Contact] = {}  # line → the contact made from it
    first_line: dict[tuple[str, str, int | None], int] = {}
    for row in rows:
        data = row.data
        person = person_key(data)
        holder: Contact | int | None = None
        if row.status == NEW:
            contact = Contact(
                honorific=data["honorific"],
                given_name=data["given_name"],
                family_name=data["family_name"],
                native_name=data["native_name"],
                email=data["email"],
                phone=data["phone"],
                notes=data["notes"],
            )
            contact.refresh_keys()
            session.add(contact)
            people[row.line] = contact
            first_line.setdefault(person, row.line)
            created += 1
            holder = contact if data["organisation_id"] else None
        elif row.status == NEW_POST:
            holder = people.get(first_line.get(person, -1)) or row.existing_id
        if holder is None:
            continue
        post = Position(
            organisation_id=data["organisation_id"],
            title=data["title"],
            start_date=data["start_date"],
            end_date=data["end_date"],
        )
        if isinstance(holder, Contact):
            post.contact = holder
        else:
            post.contact_id = holder
        session.add(post)
        posts += 1
    session.flush()
    return Outcome(created=created, posts=posts, skipped=sum(1 for r in rows if r.status == DUPLICATE))


# --- the uploaded file between the steps -------------------------------------------------------------


def store_upload(session: DbSession, user_id: int, kind: str, filename: str, data: bytes) -> ImportUpload:
    """Keep the file under a random token; files older than a day go."""
    session.execute(delete(ImportUpload).where(ImportUpload.created_at < utcnow() - KEEP_UPLOADS))
    upload = ImportUpload(
        token=secrets.token_urlsafe(32),
        user_id=user_id,
        kind=kind,
        filename=(filename or "import")[:255],
        size=len(data),
        data=data,
    )
    session.add(upload)
    session.flush()
    return upload


def find_upload(session: DbSession, token: str, user_id: int) -> ImportUpload | None:
    """The user's own upload; another person's token, or an expired one, is nobody's."""
    if not token or len(token) > 64:
        return None
    return session.scalars(
        select(ImportUpload).where(
            ImportUpload.token == token,
            ImportUpload.user_id == user_id,
            ImportUpload.created_at >= utcnow() - KEEP_UPLOADS,
        )
    ).first()
