"""How many gunicorn workers: one formula, read by deploy/gunicorn.conf.py and by `flask check-deploy`."""

from __future__ import annotations

import os

# Beyond this many sync workers a server gains little and loses memory (each worker holds its own copy of the
# app, WeasyPrint's fonts included, ~100 MB) and PostgreSQL connections (each worker keeps its own pool).
MAX_WORKERS = 8


def worker_count() -> int:
    """CRM_WORKERS if set; otherwise 2 × cores + 1, at most MAX_WORKERS.

    Sync workers spend much of a request waiting on the database or on PDF rendering, so about two per core
    keep the cores busy; the +1 covers a worker blocked on a slow client.
    """
    configured = os.environ.get("CRM_WORKERS", "").strip()
    if configured:
        return max(1, int(configured))
    return min(2 * (os.cpu_count() or 1) + 1, MAX_WORKERS)
