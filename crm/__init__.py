"""The application factory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask
from flask_sqlalchemy.session import Session as FlaskSession

from crm import cli, cycle, i18n, ops, web
from crm.audit import services as audit
from crm.auth.views import bp as auth_bp
from crm.calendars.views import bp as calendars_bp
from crm.commitments.views import bp as commitments_bp
from crm.config import MIGRATIONS, load_config
from crm.core.ids import IdConverter
from crm.documents.views import bp as documents_bp
from crm.exchange.views import bp as exchange_bp
from crm.extensions import babel, compress, csrf, htmx, login_manager
from crm.extensions import db as database  # not `db`: crm.db is the module of models' base
from crm.meetings.views import bp as meetings_bp
from crm.notifications.views import bp as notifications_bp
from crm.partners.views import bp as partners_bp
from crm.readmodels.views import bp as aes_bp
from crm.readmodels.views import home_bp
from crm.search import services as search
from crm.search.views import bp as search_bp
from crm.visits.views import bp as visits_bp

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=os.environ.get("CRM_INSTANCE_PATH") or str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.jinja_environment = i18n.TranslatedEnvironment  # before anything creates app.jinja_env
    app.config.from_mapping(load_config(Path(app.instance_path)))
    if config:
        app.config.from_mapping(config)

    database.init_app(app)
    audit.install_listener(FlaskSession)
    search.install_listener(FlaskSession)  # the search index, rewritten in each flush's transaction
    if os.environ.get("CRM_WEB_SERVER") != "1":
        # `flask db …` (Flask-Migrate, Alembic and Mako: ~10 MB) for commands and tests. The web server's processes
        # (deploy/gunicorn.conf.py sets CRM_WEB_SERVER) never migrate: their workers stay that much smaller.
        from flask_migrate import Migrate

        Migrate(app, database, directory=str(MIGRATIONS), render_as_batch=True)
    csrf.init_app(app)
    htmx.init_app(app)
    compress.init_app(app)
    babel.init_app(
        app,
        locale_selector=web.select_locale,
        timezone_selector=web.select_timezone,
        default_translation_directories=str(ROOT / "translations"),
    )
    login_manager.init_app(app)

    app.url_map.converters["int"] = IdConverter  # before the routes: every <int:…> id is bounded
    blueprints = (
        home_bp,
        auth_bp,
        partners_bp,
        meetings_bp,
        commitments_bp,
        documents_bp,
        calendars_bp,
        visits_bp,
        aes_bp,
        notifications_bp,
        search_bp,
        exchange_bp,
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    web.init_app(app)
    cli.init_app(app)
    ops.init_app(app)  # wraps the WSGI app (static files, proxy headers, request log); adds /healthz
    cycle.install(app)  # last: every view, whoever registered it, commits once or rolls back
    return app
