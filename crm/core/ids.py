"""Record ids typed into URLs and forms: anything that is not a positive 32-bit integer is nobody.

PostgreSQL refuses integers above 2^31 - 1 in an INTEGER column and SQLite above 2^63: a huge id must
be a 404 or a 400 before it reaches the database, never a 500.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1


def parse_id(value: Any) -> int | None:
    """A positive id from user input, or None for anything else (empty, signs, letters, too large)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= MAX_ID else None
    text = str(value or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


class IdConverter(IntegerConverter):
    """``<int:…>`` in every route: positive and within the database's range, or the route does not match (404)."""

    def __init__(self, map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
