"""Lists out: every list's current filtered view as CSV or XLSX, streamed, with what the list would show.

The rows come from the list's own query (``list_organisations``, ``list_meetings``…) with the same filters
and the same visibility clause, read page after page by its keyset (a partitioned query): 100,000 rows never
sit in memory at once. A cell that a spreadsheet would run as a formula is neutralised.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from crm.auth.models import User
from crm.commitments import services as commitments
from crm.commitments.models import Commitment
from crm.db import DbSession
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from crm.meetings import services as meetings
from crm.pagination import Page
from crm.partners import services as partners
from crm.partners.models import Contact
from crm.visits import services as visits

# Rows read per query: large enough to be quick, small enough that memory stays flat.
BATCH = 1000

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A spreadsheet cell holds at most this many characters.
XLSX_MAX_TEXT = 32_767
# Characters XML 1.0 cannot hold (an XLSX is XML): dropped.
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def neutralise(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe; other values pass."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


@dataclass(frozen=True)
class Column:
    header: Any  # a lazy msgid: translated when the file is written, in the reader's language
    value: Callable[[Any], Any]


@dataclass
class ExportContext:
    user: User
    today: date
    # Labels of coded values (kinds, statuses…) and country names, translated once per export, not per cell.
    _labels: dict[Any, str] = field(default_factory=dict)

    def label(self, member: Any) -> str:
        if member is None:
            return ""
        key = (type(member), member)  # coded values are strings: two enums may share a value
        if key not in self._labels:
            self._labels[key] = str(member.label)
        return self._labels[key]

    def country(self, country: Any) -> str:
        key = ("country", country.code)
        if key not in self._labels:
            self._labels[key] = country.name
        return self._labels[key]


def _join(parts: Any) -> str:
    return ", ".join(p for p in parts if p)


def _local(moment: datetime | None, zone: str) -> datetime | None:
    return meetings.to_local(moment, zone) if moment else None


def _org_columns(ctx: ExportContext) -> list[Column]:
    return [
        Column(_l("Name"), lambda o: o.name),
        Column(_l("Acronym"), lambda o: o.acronym),
        Column(_l("Kind"), lambda o: ctx.label(o.kind)),
        Column(_l("Country"), lambda o: ctx.country(o.country)),
        Column(_l("Belongs to"), lambda o: o.parent.name if o.parent else ""),
        Column(_l("Sectors"), lambda o: _join(ctx.label(s) for s in o.sector_list)),
        Column(_l("Email"), lambda o: o.email),
        Column(_l("Phone"), lambda o: o.phone),
        Column(_l("Website"), lambda o: o.website),
        Column(_l("Address"), lambda o: o.address),
        Column(_l("City"), lambda o: o.city),
        Column(_l("Notes"), lambda o: o.notes),
    ]


def _posts(contact: Contact) -> list:
    return partners.current_positions(contact)


def _contact_columns(ctx: ExportContext) -> list[Column]:
    return [
        Column(_l("Honorific"), lambda c: c.honorific),
        Column(_l("Given name"), lambda c: c.given_name),
        Column(_l("Family name"), lambda c: c.family_name),
        Column(_l("Name in own script"), lambda c: c.native_name),
        Column(_l("Email"), lambda c: c.email),
        Column(_l("Phone"), lambda c: c.phone),
        Column(_l("Position"), lambda c: "; ".join(p.title for p in _posts(c))),
        Column(_l("Organisation"), lambda c: "; ".join(p.organisation.name for p in _posts(c))),
        Column(_l("Notes"), lambda c: c.notes),
    ]


def _meeting_columns(ctx: ExportContext) -> list[Column]:
    zone = ctx.user.timezone or "Africa/Bamako"
    return [
        Column(_l("Reference"), lambda m: m.reference),
        Column(_l("Title"), lambda m: m.title),
        Column(_l("Kind"), lambda m: ctx.label(m.kind)),
        Column(_l("Starts"), lambda m: _local(m.starts_at, zone)),
        Column(_l("Ends"), lambda m: _local(m.ends_at, zone)),
        Column(_l("Place"), lambda m: m.place),
        Column(_l("Partners"), lambda m: _join(link.organisation.name for link in m.organisations)),
        Column(_l("Status"), lambda m: ctx.label(m.status)),
        Column(_l("Minutes"), lambda m: ctx.label(m.minutes_status) if m.minutes_status else ""),
        Column(_l("Confidentiality"), lambda m: ctx.label(m.confidentiality)),
    ]


def _owed_by(c: Commitment, ctx: ExportContext) -> str:
    if c.owed_by == "ours" and c.institution:
        return c.institution.short_name
    if c.organisation:
        return c.organisation.acronym or c.organisation.name
    return ctx.label(c.owed_by)


def _commitment_columns(ctx: ExportContext) -> list[Column]:
    yes = _("Yes")
    return [
        Column(_l("Reference"), lambda c: c.reference),
        Column(_l("Title"), lambda c: c.title),
        Column(_l("Owed by"), lambda c: _owed_by(c, ctx)),
        Column(_l("Organisation"), lambda c: c.organisation.name if c.organisation else ""),
        Column(_l("Partner contact"), lambda c: c.contact.display_name if c.contact else ""),
        Column(_l("Responsible"), lambda c: c.responsible.name if c.responsible else ""),
        Column(_l("Due"), lambda c: c.due_date),
        Column(_l("Priority"), lambda c: ctx.label(c.priority)),
        Column(_l("Status"), lambda c: ctx.label(c.status)),
        Column(_l("Overdue"), lambda c: yes if c.is_overdue(ctx.today) else ""),
        Column(_l("Completed on"), lambda c: c.completed_on),
    ]


def _visit_columns(ctx: ExportContext) -> list[Column]:
    return [
        Column(_l("Reference"), lambda v: v.reference),
        Column(_l("Title"), lambda v: v.title),
        Column(_l("Direction"), lambda v: ctx.label(v.direction_for(ctx.user.institution_id))),
        Column(_l("Event"), lambda v: v.event.display_name if v.event else ""),
        Column(_l("City"), lambda v: v.city),
        Column(_l("Country"), lambda v: ctx.country(v.country)),
        Column(_l("Starts on"), lambda v: v.starts_on),
        Column(_l("Ends on"), lambda v: v.ends_on),
        Column(_l("Status"), lambda v: ctx.label(v.status)),
        Column(_l("Confidentiality"), lambda v: ctx.label(v.confidentiality)),
    ]


Lister = Callable[[DbSession, ExportContext, Any, str | None, int], Page]


@dataclass(frozen=True)
class ExportKind:
    name: str  # the file name's stem and the audit's entity
    title: Any
    entity: str  # the audit's entity type: the table of the rows
    columns: Callable[[ExportContext], list[Column]]
    pages: Lister


# Each list is read by its own service, with its own filters and visibility.
EXPORTS: dict[str, ExportKind] = {
    "organisations": ExportKind(
        "organisations",
        _l("Organisations"),
        "organisation",
        _org_columns,
        lambda s, ctx, f, cursor, size: partners.list_organisations(s, f, cursor=cursor, size=size),
    ),
    "contacts": ExportKind(
        "contacts",
        _l("Contacts"),
        "contact",
        _contact_columns,
        lambda s, ctx, f, cursor, size: partners.list_contacts(s, f, cursor=cursor, size=size),
    ),
    "meetings": ExportKind(
        "meetings",
        _l("Meetings"),
        "meeting",
        _meeting_columns,
        lambda s, ctx, f, cursor, size: meetings.list_meetings(s, ctx.user, f, cursor=cursor, size=size),
    ),
    "commitments": ExportKind(
        "commitments",
        _l("Commitments"),
        "commitment",
        _commitment_columns,
        lambda s, ctx, f, cursor, size: commitments.list_commitments(
            s, ctx.user, f, cursor=cursor, size=size, today=ctx.today
        ),
    ),
    "visits": ExportKind(
        "visits",
        _l("Visits"),
        "visit",
        _visit_columns,
        lambda s, ctx, f, cursor, size: visits.list_visits(s, ctx.user, f, cursor=cursor, size=size, today=ctx.today),
    ),
}


def headers(kind: ExportKind, ctx: ExportContext) -> list[str]:
    return [str(column.header) for column in kind.columns(ctx)]


# Opens what reading one page needs: a database session and the reader (user, day), in the reader's language.
Opener = Callable[[], AbstractContextManager[tuple[DbSession, ExportContext]]]


def batches(kind: ExportKind, filters: Any, opener: Opener) -> Iterator[list[list[Any]]]:
    """Every row of the filtered list, in the list's order, one page of the list's own query at a time.

    Each page is read and turned into plain values (text, dates) inside its own short context, closed before
    the page is handed on: a download cut off half-way leaves no session or context open, and memory holds
    one page at most.
    """
    cursor: str | None = None
    while True:
        with opener() as (session, ctx):
            columns = kind.columns(ctx)
            page = kind.pages(session, ctx, filters, cursor, BATCH)
            values = [[column.value(record) for column in columns] for record in page.rows]
            cursor = page.next_cursor
            del page
        yield values
        if cursor is None:
            return


def rows(kind: ExportKind, filters: Any, opener: Opener) -> Iterator[list[Any]]:
    for batch in batches(kind, filters, opener):
        yield from batch


# --- CSV ------------------------------------------------------------------------------------------


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(neutralise(value)) if isinstance(value, str) else str(value)


def csv_chunks(header: list[str], body: Iterator[list[list[Any]]]) -> Iterator[bytes]:
    """UTF-8 with a byte-order mark (so that Excel shows the accents), a chunk per batch of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    yield "\ufeff".encode() + buffer.getvalue().encode()
    for batch in body:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([_csv_text(v) for v in row] for row in batch)
        if buffer.tell():
            yield buffer.getvalue().encode()


# --- XLSX -----------------------------------------------------------------------------------------


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, str):
        return neutralise(_ILLEGAL_XML.sub("", value))
    return value


def write_xlsx(title: str, header: list[str], body: Iterator[list[Any]]) -> str:
    """Write the rows to a temporary XLSX file and return its path; the caller streams it and removes it.

    XlsxWriter in constant-memory mode writes each row to disk as it comes, so memory stays flat whatever
    the number of rows; every text is written as text, never as a formula, a number or a link.
    """
    import xlsxwriter

    handle, path = tempfile.mkstemp(prefix="crm-export-", suffix=".xlsx")
    os.close(handle)
    options = {
        "constant_memory": True,
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
        "tmpdir": tempfile.gettempdir(),
    }
    try:
        workbook = xlsxwriter.Workbook(path, options)
        sheet = workbook.add_worksheet(re.sub(r"[\[\]:*?/\\]", " ", title)[:31] or "Export")
        bold = workbook.add_format({"bold": True})
        moment = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        day = workbook.add_format({"num_format": "yyyy-mm-dd"})
        sheet.freeze_panes(1, 0)
        for col, text in enumerate(header):
            sheet.write_string(0, col, _xlsx_value(text), bold)
        for number, row in enumerate(body, 1):
            for col, value in enumerate(row):
                if value is None or value == "":
                    continue
                if isinstance(value, str):
                    sheet.write_string(number, col, _xlsx_value(value)[:XLSX_MAX_TEXT])
                elif isinstance(value, datetime):
                    sheet.write_datetime(number, col, value, moment)
                elif isinstance(value, date):
                    sheet.write_datetime(number, col, datetime.combine(value, datetime.min.time()), day)
                else:
                    sheet.write_number(number, col, value)
        workbook.close()
    except BaseException:
        os.unlink(path)
        raise
    return path


def file_chunks(path: str, size: int = 64 * 1024) -> Iterator[bytes]:
    """The file's bytes, then the file is removed (also when the download is cut off)."""
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(size):
                yield chunk
    finally:
        os.unlink(path)


def file_name(kind: ExportKind, today: date, extension: str) -> str:
    return f"{kind.name}-{today.isoformat()}.{extension}"
