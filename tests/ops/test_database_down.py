"""A database that is down, or drops the connection in the middle of a request: the app's own 503 page, in the
reader's language, with Retry-After, and nothing half saved; never a 500."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from crm.partners import services as partner_services
from crm.partners.models import Organisation
from tests.conftest import _make_app
from tests.ops.conftest import needs_pg
from tests.partners.test_views import ORG_FORM

DOWN = [
    "sqlite:////nonexistent-folder/crm.sqlite3",
    "postgresql+psycopg://postgres@127.0.0.1:1/crm?connect_timeout=2",  # nothing listens on port 1
]


def _signed_in(app):
    """A client holding the cookie of a signed-in browser: every page then looks up its session."""
    client = app.test_client()
    cookie = app.session_interface.get_signing_serializer(app).dumps({"_user_id": "a-session-token"})
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    return client


@pytest.mark.parametrize("url", DOWN)
def test_pages_say_the_service_is_unavailable_when_the_database_is_down(url):
    app = _make_app(url)
    client = _signed_in(app)

    page = client.get("/meetings", headers={"Accept-Language": "fr"})
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "30"
    assert "Rien n’est perdu" in page.text
    assert "Traceback" not in page.text

    form = client.post("/organisations/new", data={"name": "Orange Mali"}, headers={"Accept-Language": "en"})
    assert form.status_code == 503
    assert "Nothing was lost" in form.text

    # htmx: a sentence in the notice bar; the form and what was typed stay on the page.
    partial = client.post("/organisations/new", data={"name": "Orange Mali"}, headers={"HX-Request": "true"})
    assert partial.status_code == 503
    assert partial.headers["HX-Retarget"] == "#notice"
    assert "<html" not in partial.text

    # Pages that need no database still work: the sign-in page is there for when the database is back.
    assert app.test_client().get("/login").status_code == 200


@needs_pg
def test_a_connection_lost_while_saving_saves_nothing_and_the_next_page_works(client, db, login_as, monkeypatch):
    login_as("officer")
    save = partner_services.save_organisation

    def save_then_lose_the_connection(session, *args, **kwargs):
        organisation = save(session, *args, **kwargs)
        session.flush()  # the new row is in the transaction when the server ends the connection
        session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return organisation

    monkeypatch.setattr(partner_services, "save_organisation", save_then_lose_the_connection)
    response = client.post("/organisations/new", data={**ORG_FORM, "name": "Smart Africa"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    monkeypatch.undo()

    db.session.rollback()
    assert db.session.scalar(select(Organisation).where(Organisation.name == "Smart Africa")) is None
    assert client.get("/organisations").status_code == 200
