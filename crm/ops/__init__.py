"""Running as a service: private files, precompressed static files, proxy headers, request log, `/healthz`,
and the operator's commands (`check-deploy`, `backup`, `restore`). See docs/deploy.md."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from crm.ops import cli, files, health, requestlog
from crm.ops.static import StaticFiles

ROOT = Path(__file__).resolve().parents[2]


def settings() -> dict:
    """The operations settings, from CRM_* environment variables (config passed to create_app wins)."""
    return {
        # Number of reverse proxies in front of the app (nginx: 1): their X-Forwarded-For/Proto/Host are trusted.
        "CRM_PROXY_FIX": int(os.environ.get("CRM_PROXY_FIX", "0") or 0),
        # Where the brotli/gzip copies of static/ are written at startup (must be writable by the app's user).
        "CRM_STATIC_BUILD_DIR": os.environ.get("CRM_STATIC_BUILD_DIR") or str(ROOT / "build" / "static"),
    }


def init_app(app: Flask) -> None:
    for key, value in settings().items():
        app.config.setdefault(key, value)
    files.init_app(app)
    app.register_blueprint(health.bp)
    requestlog.init_app(app)
    cli.init_app(app)

    # WSGI layers, innermost first. The debug server (`make dev`) keeps Flask's own static route, always fresh.
    if not app.debug:
        app.wsgi_app = StaticFiles(  # type: ignore[method-assign]  # Flask's documented way to add middleware
            app.wsgi_app,
            Path(app.static_folder or "static"),
            Path(app.config["CRM_STATIC_BUILD_DIR"]),
            prefix="static/",
        )
        app.extensions["crm_static"] = app.wsgi_app
    proxies = app.config["CRM_PROXY_FIX"]
    if proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )
    app.wsgi_app = requestlog.RequestLog(app.wsgi_app)  # type: ignore[method-assign]
