"""Confidentiality levels, shared by meetings, visits, commitments and everything printed from them."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, or_, true

from crm.core.enums import LabelledEnum


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


def visible_clause(confidentiality: Any, taking_part: ColumnElement[bool], *, sees_all: bool) -> ColumnElement[bool]:
    """The one rule for limited records: not restricted nor confidential, or the reader takes part.

    ``confidentiality`` is the record's column, ``taking_part`` an EXISTS on its participants or members;
    ``sees_all`` is for installation administrators. Applied inside every query, so that a hidden record
    is missing from lists, counts and pages alike, and its id answers the same 404 as a missing one.
    """
    if sees_all:
        return true()
    return or_(confidentiality.not_in([level.value for level in LIMITED]), taking_part)
