"""Settings read from CRM_* environment variables, with safe defaults for a laptop."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

# The Alembic scripts (Flask-Migrate's `flask db`; /healthz reads their heads; restores check an archive's revision).
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _instance_secret(instance_path: Path) -> str:
    """Return the secret key kept in instance/, creating it (mode 600) on first run."""
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def sqlalchemy_url(url: str) -> str:
    """A plain postgresql:// URL gets psycopg 3, the driver we ship."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


DEV_BASE_URL = "http://127.0.0.1:5000"
LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]"]


def _hosts(base_url: str, production: bool) -> list[str]:
    """Host names requests may carry: CRM_ALLOWED_HOSTS, else the base URL's host (and loopback in development)."""
    listed = [h.strip() for h in os.environ.get("CRM_ALLOWED_HOSTS", "").split(",") if h.strip()]
    if listed:
        return listed
    base_host = urlsplit(base_url).hostname or ""
    return [base_host] if production else [base_host, *LOCAL_HOSTS]


def load_config(instance_path: Path) -> dict:
    """Build the Flask config mapping from the environment."""
    database_url = os.environ.get("CRM_DATABASE_URL") or f"sqlite:///{instance_path / 'crm.sqlite3'}"
    database_url = sqlalchemy_url(database_url)
    production = os.environ.get("CRM_ENV", "development") == "production"
    # Absolute links (PDF footers and QR codes, calendar feeds, e-mails) come from here, never from Host.
    base_url = os.environ.get("CRM_BASE_URL", "" if production else DEV_BASE_URL).rstrip("/")
    return {
        "CRM_BASE_URL": base_url,
        "CRM_ALLOWED_HOSTS": _hosts(base_url, production),
        "SECRET_KEY": os.environ.get("CRM_SECRET_KEY") or _instance_secret(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url,
        # A pooled connection idle for a while is tested before use: crm/db.py (CRM_DB_PING_AFTER).
        # Bulk INSERTs (imports, the search index) in statements of 100 rows: psycopg parses a statement's
        # placeholders in Python and keeps the parse only for short statements (10,000 contacts: 9.9 → 8.6 s).
        "SQLALCHEMY_ENGINE_OPTIONS": {"insertmanyvalues_page_size": 100},
        "CRM_ENV": "production" if production else "development",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool("CRM_SECURE_COOKIES", production),
        "SESSION_COOKIE_NAME": "crm_session",
        # Idle and absolute session limits, enforced server-side on every request.
        "CRM_SESSION_IDLE": timedelta(minutes=int(os.environ.get("CRM_SESSION_IDLE_MINUTES", "120"))),
        "CRM_SESSION_ABSOLUTE": timedelta(hours=int(os.environ.get("CRM_SESSION_ABSOLUTE_HOURS", "12"))),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=int(os.environ.get("CRM_SESSION_ABSOLUTE_HOURS", "12"))),
        # Failed sign-ins allowed in the window, per account and per address.
        "CRM_LOGIN_MAX_FAILURES_ACCOUNT": int(os.environ.get("CRM_LOGIN_MAX_FAILURES_ACCOUNT", "5")),
        "CRM_LOGIN_MAX_FAILURES_ADDRESS": int(os.environ.get("CRM_LOGIN_MAX_FAILURES_ADDRESS", "20")),
        "CRM_LOGIN_WINDOW": timedelta(minutes=int(os.environ.get("CRM_LOGIN_WINDOW_MINUTES", "15"))),
        "BABEL_DEFAULT_LOCALE": "fr",
        "BABEL_DEFAULT_TIMEZONE": "Africa/Bamako",
        "CRM_LANGUAGES": ("fr", "en"),
        "CRM_PAGE_SIZE": 25,
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "SEND_FILE_MAX_AGE_DEFAULT": timedelta(days=365),  # static URLs carry a content hash
        "CRM_DOCUMENTS_DIR": os.environ.get("CRM_DOCUMENTS_DIR") or str(instance_path / "documents"),
        "CRM_PDF_TIMEOUT": float(os.environ.get("CRM_PDF_TIMEOUT", "20")),
        # The render server's socket, set by gunicorn's master when it starts the server (deploy/gunicorn.conf.py);
        # without one, PDFs are rendered in the process that asks.
        "CRM_PDF_SOCKET": os.environ.get("CRM_PDF_SOCKET") or None,
        "CRM_ATTACHMENTS_DIR": os.environ.get("CRM_ATTACHMENTS_DIR") or str(instance_path / "attachments"),
        # Attachments up to CRM_MAX_UPLOAD_MB; a request a little larger than that is cut off with a 413.
        "CRM_MAX_ATTACHMENT_BYTES": int(os.environ.get("CRM_MAX_UPLOAD_MB", "20")) * 1024 * 1024,
        # Files imported into the directory (CSV or XLSX), kept on the server between the steps of an import.
        "CRM_IMPORT_MAX_BYTES": int(os.environ.get("CRM_IMPORT_MAX_MB", "5")) * 1024 * 1024,
        "MAX_CONTENT_LENGTH": (int(os.environ.get("CRM_MAX_UPLOAD_MB", "20")) + 1) * 1024 * 1024,
        "COMPRESS_MIMETYPES": [
            "text/html",
            "text/css",
            "application/javascript",
            "text/javascript",
            "application/json",
            "image/svg+xml",
            "text/calendar",
        ],
        "COMPRESS_ALGORITHM": ["br", "gzip"],
        "COMPRESS_ALGORITHM_STREAMING": ["br", "gzip"],  # static files are streamed; gzip for old browsers
        "COMPRESS_MIN_SIZE": 300,
        # Pages are compressed as they are sent: brotli's quality 3 costs ~0.14 ms for a 20 KB list page where the
        # default 4 costs ~0.3-0.35 ms (it switches to a bigger hasher), for 5 % more bytes (3.96 instead of 3.76 KB).
        # Static files are compressed once, at the highest quality, by crm/ops/static.py.
        "COMPRESS_BR_LEVEL": 3,
        "COMPRESS_CACHE_BACKEND": None,
        # E-mail (crm/notifications): with no host, messages wait in the outbox until one is configured.
        "CRM_SMTP_HOST": os.environ.get("CRM_SMTP_HOST", ""),
        "CRM_SMTP_PORT": int(os.environ.get("CRM_SMTP_PORT", "587")),
        "CRM_SMTP_USER": os.environ.get("CRM_SMTP_USER", ""),
        "CRM_SMTP_PASSWORD": os.environ.get("CRM_SMTP_PASSWORD", ""),
        # starttls (the default), ssl (implicit TLS, port 465) or none (a relay on localhost)
        "CRM_SMTP_TLS": os.environ.get("CRM_SMTP_TLS", "starttls").strip().lower(),
        "CRM_SMTP_TIMEOUT": float(os.environ.get("CRM_SMTP_TIMEOUT", "30")),
        "CRM_MAIL_FROM": os.environ.get("CRM_MAIL_FROM", "Partenariats AES <noreply@localhost>"),
        "CRM_MAIL_BATCH": int(os.environ.get("CRM_MAIL_BATCH", "50")),
        "CRM_MAIL_MAX_ATTEMPTS": int(os.environ.get("CRM_MAIL_MAX_ATTEMPTS", "8")),
        # A sender killed mid-batch: the messages it claimed are taken up again after this many seconds.
        "CRM_MAIL_LEASE_SECONDS": int(os.environ.get("CRM_MAIL_LEASE_SECONDS", "300")),
        "CRM_WORKER_INTERVAL": float(os.environ.get("CRM_WORKER_INTERVAL", "60")),
        # Digests list the commitments due within this many days.
        "CRM_DIGEST_DUE_DAYS": int(os.environ.get("CRM_DIGEST_DUE_DAYS", "7")),
        # Overdue commitments are escalated after these many days, per priority: "high:3,14;normal:7,30;low:7,30"
        "CRM_ESCALATION_DAYS": parse_escalation(os.environ.get("CRM_ESCALATION_DAYS", "")),
    }


DEFAULT_ESCALATION: tuple[int, ...] = (7, 30)


def parse_escalation(value: str) -> dict[str, tuple[int, ...]]:
    """Days overdue of each escalation step, per priority; every priority defaults to 7 then 30 days."""
    steps: dict[str, tuple[int, ...]] = {
        "low": DEFAULT_ESCALATION,
        "normal": DEFAULT_ESCALATION,
        "high": DEFAULT_ESCALATION,
    }
    for part in value.split(";"):
        name, _sep, days = part.partition(":")
        if name.strip() in steps and days.strip():
            steps[name.strip()] = tuple(sorted(int(d) for d in days.split(",") if d.strip()))
    return steps
