"""gunicorn settings, for `make run` and for deploy/crm.service: gunicorn -c deploy/gunicorn.conf.py app:app

Environment: CRM_BIND (default 127.0.0.1:8000; `make run` passes --bind), CRM_WORKERS (default 2 × cores + 1,
at most 8: see crm/ops/server.py), CRM_PDF_SERVER (default 1; 0 renders PDFs in the web workers, as `make dev` does),
plus the app's own CRM_* variables. It sets CRM_WEB_SERVER=1 (crm/__init__.py).
"""

import gc
import os

import gunicorn.http.wsgi

from crm.ops.server import worker_count

# The app is built for serving only: no `flask db` commands (Flask-Migrate, Alembic and Mako: ~10 MB a process).
os.environ["CRM_WEB_SERVER"] = "1"

# Everything the app writes is private: the database, the secret key, backups (0600 files, 0700 folders).
os.umask(0o077)

# gunicorn names itself in every response ("Server: gunicorn") and has no setting to change it; its maintainers
# suggest overriding it. A neutral word tells a scanner nothing. Behind nginx, nginx replaces the header anyway.
gunicorn.http.wsgi.SERVER = "crm"

bind = os.environ.get("CRM_BIND", "127.0.0.1:8000")
workers = worker_count()
# Sync workers: one request at a time per process, the simplest model with SQLAlchemy sessions and the PDF
# renderer. Slow clients are nginx's business (it buffers whole requests and responses).
worker_class = "sync"
# Load the app once in the master, then fork: a broken configuration fails at start, not in every worker, and
# the workers share the loaded code's memory.
preload_app = True
# Above the PDF renderer's own limit (CRM_PDF_TIMEOUT, 20 s) so that it, not gunicorn, answers a slow render.
timeout = 60
graceful_timeout = 30
# Recycle a worker now and then, so that a slow leak (fonts, caches) cannot grow for weeks.
max_requests = 2000
max_requests_jitter = 200
# Heartbeat files in memory, not on a disk that may stall.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
proc_name = "crm"
# No control socket (gunicorn ≥ 25 opens one in $HOME or $XDG_RUNTIME_DIR): systemd and signals manage the server,
# and two servers on one machine would fight over the same path.
control_socket_disable = True
# The app logs one JSON line per request (crm/ops/requestlog.py); gunicorn's own access log would double it.
accesslog = None
errorlog = "-"
loglevel = "info"
# X-Forwarded-* are trusted in one place only: the app's ProxyFix, enabled by CRM_PROXY_FIX.
forwarded_allow_ips = ""


def pre_fork(server, worker):
    """Before each worker is forked: what the master loaded (the app and its libraries, some 120,000 objects) is
    moved out of the garbage collector's sight. A worker's collections then walk only what it made itself (a full
    collection took ~40 ms and came every few hundred requests; the collector's pauses fell from ~0.26 to ~0.07 ms
    a request of the meetings list), and do not copy the pages shared with the master just to update its counts."""
    gc.collect()
    gc.freeze()


def post_fork(server, worker):
    """Connections opened in the master before the fork must not be shared by the workers."""
    from crm.extensions import db

    app = server.app.wsgi()
    with app.app_context():
        db.engine.dispose(close=False)


# The PDF render server (crm/documents/renderserver.py): WeasyPrint in a process of its own, forked from the master
# before the workers, so that a worker that prints stays as small as one that does not (~96 MB instead of ~138 MB).
_render_servers: list = []


def on_starting(server):
    if os.environ.get("CRM_PDF_SERVER", "1") == "0":
        return
    from crm.documents import renderserver

    app = server.app.wsgi() if server.cfg.preload_app else None
    render = renderserver.start(getattr(app, "static_folder", None))
    _render_servers.append(render)
    os.environ["CRM_PDF_SOCKET"] = render.path  # for workers that load the app themselves
    if app is not None and hasattr(app, "config"):
        app.config["CRM_PDF_SOCKET"] = render.path
    server.log.info("PDF render server %s on %s", render.pid, render.path)


def on_exit(server):
    for render in _render_servers:
        render.stop()
