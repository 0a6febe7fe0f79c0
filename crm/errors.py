"""Refusals raised by services and shown to the user as they are."""

from __future__ import annotations

from typing import Any


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
