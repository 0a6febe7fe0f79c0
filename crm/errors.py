"""Refusals raised by services and shown to the user as they are."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from crm.i18n import gettext as _


class DomainError(Exception):
    """A business rule said no; ``message`` is already translated. ``field`` names the form field, if any."""

    status = 422

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class StaleEdit(DomainError):
    """Someone saved the record after this form was loaded: refuse, keep the user's input."""

    status = 409


class Duplicate(DomainError):
    """The record already exists; ``existing`` is shown with a link."""

    status = 409

    def __init__(self, message: str, existing: Any, field: str | None = None):
        super().__init__(message, field)
        self.existing = existing


class Conflict(DomainError):
    """Two people saved at the same instant and the database kept the first: nothing of this save was kept."""

    status = 409


class Forbidden(DomainError):
    """The rule depends on who asks (approving needs an officer): a 403 with the reason."""

    status = 403


def stale_message() -> str:
    return _(
        "Someone else saved this record while you were editing it. Your input is kept below: "
        "open the record in a new tab to see the current version, then save again."
    )


def as_refusal(exc: Exception) -> DomainError:
    """A conflict found by the database (two saves at the same instant) as the refusal a user reads.

    A version check that passed in Python can still lose the race at the UPDATE (StaleDataError), and a
    uniqueness check can lose it at the INSERT (IntegrityError): both are the usual 409, input kept.
    """
    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, StaleDataError):
        return StaleEdit(stale_message())
    if isinstance(exc, IntegrityError) and "foreign key" in str(exc.orig).lower():
        return Conflict(_("Other records depend on this one, or it depends on one that was just removed."))
    if isinstance(exc, IntegrityError):
        return Conflict(
            _(
                "Someone saved the same record at the same moment, so yours was not saved. "
                "Your input is kept below: check the record, then save again if needed."
            )
        )
    raise TypeError(exc)  # pragma: no cover - only the three kinds above are refusals


REFUSALS = (DomainError, StaleDataError, IntegrityError)
