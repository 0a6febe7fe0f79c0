"""Helpers for the operations tests: apps on their own instance folder and database, scratch PostgreSQL databases."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crm import create_app
from crm.config import sqlalchemy_url
from crm.extensions import db
from tests.conftest import PG_URL

needs_pg = pytest.mark.skipif(not PG_URL, reason="set CRM_TEST_DATABASE_URL to run the PostgreSQL tests")


def _admin_engine():
    return create_engine(make_url(sqlalchemy_url(PG_URL)).set(database="postgres"), isolation_level="AUTOCOMMIT")


def pg_database(name: str) -> str:
    """A new, empty database on the test server (dropped first if a previous run left it).

    Named `crm_ops_<name>_<the suite's database>`, so that two suites on one server never touch each other's.
    """
    assert PG_URL
    full = f"crm_ops_{name}_{make_url(sqlalchemy_url(PG_URL)).database}"[:63]
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{full}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{full}"'))
    admin.dispose()
    return make_url(sqlalchemy_url(PG_URL)).set(database=full).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def empty_database(engine: str, tmp: Path, name: str) -> str:
    """The URL of a database that does not exist yet (SQLite) or is empty (PostgreSQL)."""
    if engine == "sqlite":
        return f"sqlite:///{tmp / f'{name}.sqlite3'}"
    return pg_database(name)


def make_ops_app(monkeypatch, instance: Path, database_url: str, **config) -> Flask:
    """An app with its own instance folder, as a server or a command on another machine would have."""
    monkeypatch.setenv("CRM_INSTANCE_PATH", str(instance))
    return create_app({"SQLALCHEMY_DATABASE_URI": database_url, **config})


@contextmanager
def migrated(app: Flask) -> Iterator[Flask]:
    """Inside an app context, with the database at the migrations' head."""
    with app.app_context():
        upgrade()
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request) -> str:
    if request.param == "postgresql" and not PG_URL:
        pytest.skip("set CRM_TEST_DATABASE_URL to run the PostgreSQL variant")
    return request.param
