"""The app as `make bench` serves it: the production app and gunicorn settings, plus two bench-only probes.

- every response carries ``X-Bench-SQL``: the SQL statements the request ran (counted on the engine);
- the HTML of the first minutes PDF rendered is written to $CRM_BENCH_DIR/minutes.html, so that the floor
  renders exactly the same document with WeasyPrint alone;
- $CRM_BENCH_DIR/static/ is served under /bench-static/ by the app's own static-file layer (WhiteNoise), the
  reference an approved-PDF download is compared with.

Nothing here is imported by the app itself: production never counts statements.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import event

from crm import create_app
from crm.extensions import db

BENCH_DIR = Path(os.environ["CRM_BENCH_DIR"])
_count = [0]


def _counted(_conn, _cursor, statement, *_args) -> None:
    """As tests/conftest.py counts: transaction control (BEGIN, COMMIT …) is not a statement of the page."""
    if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE", "COMMIT", "ROLLBACK")):
        _count[0] += 1


class SqlHeader:
    """Outermost WSGI layer: one sync worker serves one request at a time, so a process-wide counter is exact."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        _count[0] = 0
        if environ.get("HTTP_X_BENCH_FRESH"):  # the draft PDF's first render, measured again and again
            app.extensions.get("crm_pdf_drafts", {}).clear()

        def counted_start(status, headers, exc_info=None):
            return start_response(status, [*headers, ("X-Bench-SQL", str(_count[0]))], exc_info)

        return self.application(environ, counted_start)


def _keep_pdf_html() -> None:
    """Wraps the draft path of crm.documents.printing (without importing WeasyPrint: memory is measured too)."""
    from crm.documents import printing

    cached_draft = printing._cached_draft

    def keep_then_render(key, html, stamp, logo):
        target = BENCH_DIR / "minutes.html"
        if not target.exists():
            target.write_text(html, encoding="utf-8")
        return cached_draft(key, html, stamp, logo)

    printing._cached_draft = keep_then_render


app = create_app()
with app.app_context():
    event.listen(db.engine, "before_cursor_execute", _counted)
static = app.extensions.get("crm_static")
if static is not None and (BENCH_DIR / "static").is_dir():
    static.add_files(str(BENCH_DIR / "static"), prefix="bench-static/")
if os.environ.get("CRM_BENCH_KEEP_HTML"):
    _keep_pdf_html()
app.wsgi_app = SqlHeader(app.wsgi_app)  # type: ignore[method-assign]
