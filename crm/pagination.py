"""Keyset pagination: the next page starts after the last row seen, never at an OFFSET."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from flask import abort
from sqlalchemy import Select, bindparam, tuple_

from crm.db import DbSession, column_rows


@dataclass
class Page:
    rows: list[Any]
    next_cursor: str | None
    first: bool
    capped: bool = False  # a search matched more records than a list reads (core.fulltext.LIST_CAP)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    return value


def _typed(value: Any) -> Any:
    """Back from JSON: a dated value, or a string or number; anything else is a forged cursor."""
    if isinstance(value, dict) and len(value) == 1:
        ((kind, text),) = value.items()
        if isinstance(text, str) and kind in ("t", "d"):
            try:
                return datetime.fromisoformat(text) if kind == "t" else date.fromisoformat(text)
            except ValueError:
                abort(400)
    if isinstance(value, str | int | bool):
        return value
    abort(400)


def filter_values(filters: Any) -> tuple[Any, ...]:
    """A list's filters (a dataclass of plain values) as part of a statement's shape: ``dataclasses.astuple``
    without its deep copy of every value (~15 µs a page)."""
    return tuple(getattr(filters, field.name) for field in fields(filters))


def encode_cursor(values: Sequence[Any]) -> str:
    data = json.dumps([_plain(v) for v in values], ensure_ascii=False)
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        abort(400)
    if not isinstance(values, list) or len(values) != width:
        abort(400)
    return [_typed(v) for v in values]


SHAPES_KEPT = 1024  # statements kept (lists × readers × filter combinations in use)
_SHAPES: dict[Hashable, Select] = {}


def keyset_page(
    session: DbSession,
    stmt: Select | Callable[[], Select],
    order: Sequence[Any],
    *,
    cursor: str | None,
    size: int,
    descending: bool = False,
    capped: bool = False,
    shape: Hashable | None = None,
    params: dict[str, Any] | None = None,
    make: Callable[[Any], Any] | None = None,
) -> Page:
    """Rows of ``stmt`` ordered by ``order`` (ending with a unique column), after ``cursor``.

    ``order`` holds the ORM attributes; each row's values for them make the next cursor.

    With ``shape`` (everything the statement depends on besides ``params``: the list, the reader, the filters),
    ``stmt`` is a function and the finished statement (order, limit, the cursor's clause with the cursor's values
    as parameters) is built once per shape and kept: SQLAlchemy finds its compiled form by a key it computed
    once, instead of walking the whole statement (visibility clause included) on every request.

    With ``make``, ``stmt`` selects columns (among them those of ``order``, under their own names) rather than
    an entity: the page's rows are ``make(row)`` for each, and no ORM object is built.
    """
    key = (shape, bool(cursor), tuple(order), descending, size) if shape is not None else None
    finished = _SHAPES.get(key) if key is not None else None
    if finished is None:
        base = stmt() if callable(stmt) else stmt
        if cursor:
            after = tuple_(*[bindparam(f"after_{i}", type_=col.type) for i, col in enumerate(order)])
            base = base.where(tuple_(*order) < after if descending else tuple_(*order) > after)
        finished = base.order_by(*[col.desc() if descending else col.asc() for col in order]).limit(size + 1)
        if key is not None:
            if len(_SHAPES) >= SHAPES_KEPT:
                _SHAPES.pop(next(iter(_SHAPES), None), None)  # the oldest
            _SHAPES[key] = finished
    values = dict(params or {})
    if cursor:
        values.update((f"after_{i}", v) for i, v in enumerate(decode_cursor(cursor, len(order))))
    rows: list[Any] = (
        list(column_rows(session, finished, values))
        if make is not None
        else list(session.scalars(finished, values).unique().all())
    )
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        next_cursor = encode_cursor([getattr(last, col.key) for col in order])
    if make is not None:
        rows = [make(row) for row in rows]
    return Page(rows=rows, next_cursor=next_cursor, first=not cursor, capped=capped)
