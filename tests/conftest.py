"""Fixtures: a fresh database per test (SQLite in memory, or PostgreSQL with CRM_TEST_DATABASE_URL)."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cache

import flask_babel
import pytest
from flask import Flask, g, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

os.environ.setdefault("CRM_INSTANCE_PATH", tempfile.mkdtemp(prefix="crm-test-instance-"))
os.environ.setdefault("CRM_SECRET_KEY", "test-secret-key-not-for-production")

from crm import create_app
from crm.auth import services as auth_services
from crm.auth.models import Role, User, UserSession
from crm.commitments import services as commitments
from crm.commitments.models import Commitment
from crm.config import sqlalchemy_url
from crm.db import Base
from crm.extensions import db as _db
from crm.meetings import services as meetings
from crm.meetings.models import Meeting
from crm.partners import institutions
from crm.partners import services as partners
from crm.partners.models import Contact, Organisation, OrgKind

PASSWORD = "correct horse battery staple"
PG_URL = os.environ.get("CRM_TEST_DATABASE_URL", "")


def ensure_pg_database(url: str) -> None:
    """Create the test database on the server if it does not exist yet."""
    target = make_url(sqlalchemy_url(url))
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url() -> str:
    if not PG_URL:
        return "sqlite://"
    ensure_pg_database(PG_URL)
    url = sqlalchemy_url(PG_URL)
    engine = create_engine(url)
    with engine.begin() as conn:  # whatever an earlier version of the schema left there goes too
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    Base.metadata.create_all(engine)
    engine.dispose()
    return url


class FreshClient(FlaskClient):
    """A test client whose every request starts with empty per-request state.

    The tests hold an app context (for the database); Flask reuses it for client requests, so `g`
    (signed-in user, CSRF token) and Flask-Babel's cached locale would leak from one request to the next.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            for key in list(g):
                g.pop(key)
            flask_babel.refresh()
        return super().open(*args, **kwargs)


def _make_app(database_url: str, **overrides) -> Flask:
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": None,
        "CRM_PAGE_SIZE": 25,
    }
    config.update(overrides)
    app = create_app(config)
    app.test_client_class = FreshClient
    return app


@pytest.fixture
def app_config() -> dict:
    """Override to change the app's configuration for one test module."""
    return {}


@pytest.fixture
def app(database_url: str, app_config: dict) -> Iterator[Flask]:
    app = _make_app(database_url, **app_config)
    with app.app_context():
        if database_url.startswith("sqlite"):
            _db.create_all()
        else:
            tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            _db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            _db.session.commit()
        partners.seed_countries(_db.session)
        _db.session.commit()
        yield app
        _db.session.remove()
        if database_url.startswith("sqlite"):
            _db.drop_all()
        _db.engine.dispose()


@pytest.fixture
def db(app: Flask):
    return _db


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@cache
def _password_hash(password: str) -> str:
    """Argon2 is slow on purpose: each test password is hashed once per run, not once per user."""
    return auth_services.hash_password(password)


def make_user(role: Role | str = Role.STAFF, email: str | None = None, **kwargs) -> User:
    """An account, as the admin page would make it (the password hashed once per run)."""
    role = Role(role)
    institution_id = kwargs.pop("institution_id", None) or institutions.ensure_default(_db.session).id
    user = User(
        email=email or f"{role.value}-{os.urandom(3).hex()}@mcenma.example",
        name=kwargs.pop("name", f"Test {role.value.title()}"),
        role=role,
        password_hash=_password_hash(kwargs.pop("password", PASSWORD)),
        unit=kwargs.pop("unit", ""),
        locale=kwargs.pop("locale", ""),
        institution_id=institution_id,
        **kwargs,
    )
    user.refresh_search()
    _db.session.add(user)
    _db.session.commit()
    return user


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD):
    return client.post("/login", data={"email": email, "password": password})


def open_session(client: FlaskClient, user: User) -> None:
    """Give the client a live session for ``user`` as signing in would, without checking a password."""
    token = secrets.token_urlsafe(32)
    _db.session.add(UserSession(token_hash=auth_services._digest(token), user_id=user.id))
    _db.session.commit()
    with client.session_transaction() as session:
        session.clear()
        session["_user_id"] = token
        session["_fresh"] = True


@pytest.fixture
def login_as(client: FlaskClient) -> Callable[..., User]:
    """Sign the test client in with a new user of the given role (sign-in itself is tested in tests/auth)."""

    def _login(role: Role | str = Role.STAFF, **kwargs) -> User:
        kwargs.pop("password", None)
        user = make_user(role, **kwargs)
        open_session(client, user)
        return user

    return _login


def make_org(name: str = "Orange Mali", country: str = "ML", **data) -> Organisation:
    org = partners.save_organisation(
        _db.session, {"name": name, "country_code": country, "kind": data.pop("kind", OrgKind.OPERATOR), **data}
    )
    _db.session.commit()
    return org


def make_contact(family_name: str = "N’Diaye", given_name: str = "Leyti", **data) -> Contact:
    contact = partners.save_contact(_db.session, {"family_name": family_name, "given_name": given_name, **data})
    _db.session.commit()
    return contact


@pytest.fixture
def count_queries(app: Flask):
    """Count the SQL statements run inside the block: `with count_queries() as n: ...; n()`."""

    @contextmanager
    def _counter():
        statements: list[str] = []

        def _before(conn, cursor, statement, parameters, context, executemany):
            if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE", "COMMIT", "ROLLBACK")):
                statements.append(statement)

        engine = _db.engine
        event.listen(engine, "before_cursor_execute", _before)
        try:
            yield lambda: len(statements)
        finally:
            event.remove(engine, "before_cursor_execute", _before)

    return _counter


def htmx_headers(**extra) -> dict[str, str]:
    return {"HX-Request": "true", **extra}


# What French users read when a request is refused (msgstr of translations/fr for ERROR_MESSAGES in crm/web.py
# and for the common refusals), so that a test of a refusal asserts the sentence, not only the status.
ERROR_FR = {
    400: "La requête n’a pas pu être comprise. Veuillez vérifier votre saisie et réessayer.",
    401: (
        "Votre session a pris fin. Reconnectez-vous dans un nouvel onglet\u00a0; ce que vous avez saisi ici est "
        "conservé."
    ),
    403: "Vous n’avez pas l’autorisation de consulter cette page ou d’effectuer cette action.",
    404: "Cette page n’existe pas, ou la fiche a été supprimée.",
    413: "Le fichier est trop volumineux.",
}
CSRF_FR = (
    "Votre session a expiré ou le formulaire était trop ancien. Rien n’a été perdu\u00a0: copiez votre texte si "
    "nécessaire, rechargez la page et renvoyez-le."
)
STALE_FR = "Quelqu’un d’autre a enregistré cette fiche pendant que vous la modifiiez."  # how the message starts


def error_message(response) -> str:
    """The sentence of the app's own error page, or of the notice fragment an htmx request gets.

    Fails if the response is not one of them, or if the status it shows is not the response's.
    """
    html = response.get_data(as_text=True)
    opening = f'<p class="error-message" data-status="{response.status_code}">'
    assert opening in html, (response.status_code, html[:500])
    return html.split(opening, 1)[1].split(' <span class="error-reference">', 1)[0]


def make_meeting(
    actor: User,
    title: str = "Audience du ministre avec le DG d’Orange Mali",
    *,
    orgs: list[Organisation] | None = None,
    starts: datetime | None = None,
    hours: int = 1,
    confidentiality: str = "internal",
    tz: str = "Africa/Bamako",
    **data,
) -> Meeting:
    """A meeting typed as in the form: local times in the meeting's zone."""
    starts = starts or datetime(2026, 1, 22, 10, 0)
    meeting = meetings.save_meeting(
        _db.session,
        {
            "title": title,
            "kind": data.pop("kind", "audience"),
            "starts_at": starts,
            "ends_at": starts + timedelta(hours=hours),
            "timezone": tz,
            "place": data.pop("place", "Bamako"),
            "confidentiality": confidentiality,
            "status": data.pop("status", "held"),
            "notes": "",
            "organisation_ids": [o.id for o in orgs or []],
            **data,
        },
        actor,
    )
    _db.session.commit()
    return meeting


def make_commitment(actor: User, title: str = "Étendre la couverture rurale", **data) -> Commitment:
    commitment = commitments.create_commitment(
        _db.session,
        {
            "title": title,
            "owed_by": data.pop("owed_by", "ours"),
            "priority": "normal",
            "responsible_id": actor.id,
            **data,
        },
        actor,
    )
    _db.session.commit()
    return commitment


@pytest.fixture(autouse=True)
def _close_every_engine():
    """Apps made by a test (a second server, a migration target) close their pooled connections with it.

    Otherwise a connection left to the garbage collector warns (ResourceWarning) in whichever test runs next.
    """
    yield
    for engines in list(_db._app_engines.values()):
        for engine in engines.values():
            engine.dispose()
