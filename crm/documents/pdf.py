"""PDF rendering with WeasyPrint, kept warm in the worker and fenced in.

The renderer fetches nothing but the project's own static files and the installation's letterhead logo:
no file://, no http(s)://, no ``..``, no redirects. Fonts and the stylesheet are parsed once per process.

WeasyPrint itself (about 26 MB once imported, more once fonts are loaded) lives in crm.documents.weasy, imported by
the first PDF a worker renders: a worker that only serves pages never loads it.
"""

from __future__ import annotations

from typing import Any

# Documents refer to their resources under this origin; nothing else is ever fetched.
ORIGIN = "https://crm.invalid"
STATIC_PREFIX = f"{ORIGIN}/static/"
LOGO_URL = f"{ORIGIN}/letterhead/logo"
QR_URL = f"{ORIGIN}/qr.png"


class RenderTimeout(Exception):
    """The document took longer than the limit to render."""


_LAZY = ("ARCHIVAL_VARIANT", "LocalOnlyFetcher", "PdfRenderer", "bare_render")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from crm.documents import weasy

        return getattr(weasy, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
