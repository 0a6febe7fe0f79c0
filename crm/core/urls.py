"""Absolute links, built from CRM_BASE_URL: never from a request's Host header, and usable outside requests."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app


def absolute_url(endpoint: str, **values: Any) -> str:
    """The full address of a page (PDF footers and QR codes, calendar feeds, e-mails)."""
    base = urlsplit(current_app.config["CRM_BASE_URL"] or "http://localhost")
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)
