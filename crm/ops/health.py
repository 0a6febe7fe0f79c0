"""`/healthz`: may a load balancer send this server requests? Public, cheap, and says nothing but a status."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from crm.auth.permissions import public
from crm.extensions import db, real_app

bp = Blueprint("ops", __name__)


def migration_heads() -> set[str]:
    """The revisions the code expects (read from migrations/ once per process)."""
    app = real_app()
    if "crm_migration_heads" not in app.extensions:
        directory = app.extensions["migrate"].directory
        app.extensions["crm_migration_heads"] = set(ScriptDirectory(directory).get_heads())
    return app.extensions["crm_migration_heads"]


def database_status() -> str:
    """One of: ok, database unreachable, migrations pending."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return "database unreachable"
    try:
        current = set(db.session.scalars(text("SELECT version_num FROM alembic_version")))
    except SQLAlchemyError:  # no alembic_version table: never migrated
        db.session.rollback()
        return "migrations pending"
    return "ok" if current == migration_heads() else "migrations pending"


@bp.get("/healthz")
@public
def healthz():
    status = database_status()
    response = jsonify(status=status)
    response.status_code = 200 if status == "ok" else 503
    response.headers["Cache-Control"] = "no-store"
    return response
