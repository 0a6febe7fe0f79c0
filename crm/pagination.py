"""Keyset pagination: the next page starts after the last row seen, never at an OFFSET."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import abort
from sqlalchemy import Select, tuple_
from sqlalchemy.orm import Session


@dataclass
class Page:
    rows: list[Any]
    next_cursor: str | None
    first: bool


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values), ensure_ascii=False).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        abort(400)
    if not isinstance(values, list) or len(values) != width or not all(isinstance(v, str | int) for v in values):
        abort(400)
    return values


def keyset_page(
    session: Session, stmt: Select, order: Sequence[Any], *, cursor: str | None, size: int, descending: bool = False
) -> Page:
    """Rows of ``stmt`` ordered by ``order`` (ending with a unique column), after ``cursor``.

    ``order`` holds the ORM attributes; each row's values for them make the next cursor.
    """
    if cursor:
        values = decode_cursor(cursor, len(order))
        key = tuple_(*order)
        stmt = stmt.where(key < tuple_(*values) if descending else key > tuple_(*values))
    stmt = stmt.order_by(*[col.desc() if descending else col.asc() for col in order]).limit(size + 1)
    rows = list(session.scalars(stmt).unique().all())
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        next_cursor = encode_cursor([getattr(last, col.key) for col in order])
    return Page(rows=rows, next_cursor=next_cursor, first=not cursor)
