"""Confidentiality levels, shared by meetings, visits, commitments and everything printed from them."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, or_

from crm.core.enums import LabelledEnum
from crm.i18n import lazy_gettext as _l


class Confidentiality(LabelledEnum):
    PUBLIC = "public", _l("Public")
    INTERNAL = "internal", _l("Internal")
    RESTRICTED = "restricted", _l("Restricted")
    CONFIDENTIAL = "confidential", _l("Confidential")

    @property
    def limited(self) -> bool:
        """Restricted and confidential records are seen only by the people taking part, and admins."""
        return self in LIMITED


LIMITED = frozenset({Confidentiality.RESTRICTED, Confidentiality.CONFIDENTIAL})


def visible_clause(
    *,
    owned: ColumnElement[bool],
    sharing: Any,
    limited: ColumnElement[bool],
    taking_part: ColumnElement[bool],
    admin: bool,
) -> ColumnElement[bool]:
    """The one rule of who sees a record, applied inside every query.

    Owned (or co-owned) by the reader's institution, or shared with every institution; and then, if the
    record is restricted or confidential, only if the reader takes part in it — or administers an institution
    that owns it. A record the reader may not see is missing from lists, counts and pages alike, and its id
    answers the same 404 as a missing one.
    """
    in_scope = or_(sharing == Sharing.AES.value, owned)
    allowed = or_(~limited, taking_part, owned) if admin else or_(~limited, taking_part)
    return and_(in_scope, allowed)


T = TypeVar("T")


def per_reader(build: Callable[..., T]) -> Callable[..., T]:
    """A visibility clause (or a statement holding one) built once per reader (user id, institution, admin or
    not, and any further hashable arguments: a kind…) instead of per request.

    Clauses and statements hold no state: statements may share them, and the key is all they depend on (a reader
    who changes institution or role gets another). Building one cost more than running its list's query."""
    return lru_cache(maxsize=1024)(build)


def is_limited(confidentiality: Any) -> ColumnElement[bool]:
    return confidentiality.in_([level.value for level in LIMITED])


class Sharing(LabelledEnum):
    """Who beyond the owning institution may read a record (confidentiality still applies inside)."""

    INSTITUTION = "institution", _l("Kept within my institution")
    AES = "aes", _l("Shared with the other AES institutions")
