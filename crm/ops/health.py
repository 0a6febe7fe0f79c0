"""`/healthz`: may a load balancer send this server requests? Public, cheap, and says nothing but a status."""

from __future__ import annotations

import ast
from functools import cache

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from crm.auth.permissions import public
from crm.config import MIGRATIONS
from crm.extensions import db

bp = Blueprint("ops", __name__)


@cache
def migration_heads() -> frozenset[str]:
    """The revisions the code expects: those no other script names as its ``down_revision`` (read once per process).

    Read from the scripts' two assignments rather than through Alembic: a web worker would otherwise load Alembic
    and Mako (~10 MB) for this alone. tests/ops/test_health.py checks the result against Alembic's own."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        values = _assignments(script.read_text("utf-8"), {"revision", "down_revision"})
        revisions.add(values["revision"])
        down = values.get("down_revision")
        parents.update([down] if isinstance(down, str) else down or ())
    return frozenset(revisions - parents)


def _assignments(source: str, names: set[str]) -> dict:
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in names:
            found[target.id] = ast.literal_eval(value)
    return found


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
