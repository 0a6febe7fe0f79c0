"""Labelled enums: one class gives the stored value, the member and its translated label.

    class MeetingKind(LabelledEnum):
        AUDIENCE = "audience", _l("Audience")

    MeetingKind.AUDIENCE.label        # "Audience" in the reader's language
    mapped_column(enum_type(MeetingKind, "kind"))   # VARCHAR + CHECK, reads back members

Assigning a plain string to an enum column gives the member at once (see ``_coerce_on_set``), so a
record freshly filled from a form answers ``.label`` like one read from the database.
"""

from __future__ import annotations

import enum
from typing import Any, Self

from sqlalchemy import Enum, event
from sqlalchemy.orm import Mapper


class LabelledEnum(enum.StrEnum):
    """A string enum whose members carry a translatable label (a lazy string, translated when shown)."""

    _label: Any

    def __new__(cls, value: str, label: Any = None) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member._label = label if label is not None else value
        return member

    @property
    def label(self) -> str:
        return str(self._label)

    @classmethod
    def parse(cls, value: Any) -> Self | None:
        """The member for a submitted value, or None when it is not one of ours."""
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except ValueError:
            return None


def enum_type(enum_class: type[LabelledEnum], name: str, length: int = 20) -> Enum:
    """A VARCHAR column holding the members' values, with a CHECK constraint named after the column."""
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        validate_strings=True,
        values_callable=lambda members: [m.value for m in members],
    )


def _coerce_on_set(enum_class: type[LabelledEnum]):
    def coerce(target: Any, value: Any, oldvalue: Any, initiator: Any) -> Any:
        if value is None or isinstance(value, enum_class):
            return value
        return enum_class(value)  # a value that is not a member is a programming error: services check first

    return coerce


@event.listens_for(Mapper, "mapper_configured")
def _install_coercion(mapper: Mapper, class_: type) -> None:
    for prop in mapper.column_attrs:
        for column in prop.columns:
            enum_class = getattr(column.type, "enum_class", None)
            if enum_class is not None and issubclass(enum_class, LabelledEnum):
                event.listen(getattr(class_, prop.key), "set", _coerce_on_set(enum_class), retval=True)
