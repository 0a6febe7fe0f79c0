"""Headers, CSRF, and the route × role matrix built from the app's URL map."""

from __future__ import annotations

import io
from datetime import date

import pytest
from sqlalchemy import func, select

from crm import create_app
from crm.audit.models import AuditEvent
from crm.auth.models import Role
from crm.documents import services as documents
from crm.meetings import services as meetings
from crm.partners.models import Organisation, Position
from crm.visits import services as visits
from tests.conftest import (
    CSRF_FR,
    ERROR_FR,
    PASSWORD,
    error_message,
    htmx_headers,
    make_commitment,
    make_contact,
    make_meeting,
    make_org,
    make_user,
    open_session,
    sign_in,
)

ROLES = list(Role)


def signed_in_client(app, db, role: Role):
    """A client with a live session for a new user of this role."""
    client = app.test_client()
    open_session(client, make_user(role))
    return client


@pytest.fixture
def records(app, db):
    org = make_org()
    contact = make_contact()
    position = Position(contact_id=contact.id, organisation_id=org.id, title="DG", start_date=date(2026, 1, 1))
    db.session.add(position)
    target = make_user(Role.STAFF)
    db.session.commit()
    meeting = make_meeting(target, orgs=[org])
    participant = meetings.add_participant(db.session, meeting, contact_id=contact.id, organisation_id=org.id)
    revision = meetings.start_minutes(db.session, meeting)
    item = meetings.add_item(db.session, revision, revision.version, "Couverture rurale")
    attachment = documents.store(
        db.session,
        meeting,
        io.BytesIO(b"%PDF-1.4\n%%EOF\n"),
        "compte rendu.pdf",
        "",
        target,
        max_bytes=1024,
    )
    db.session.commit()
    commitment = make_commitment(target, origin_meeting_id=meeting.id, organisation_id=org.id)
    event = visits.save_event(
        db.session,
        {
            "name": "Semaine du Numérique",
            "country_code": "ML",
            "starts_on": date(2026, 1, 29),
            "ends_on": date(2026, 1, 31),
        },
    )
    visit = visits.save_visit(
        db.session,
        {
            "title": "Délégation",
            "direction": "incoming",
            "city": "Bamako",
            "country_code": "ML",
            "starts_on": date(2026, 1, 28),
            "ends_on": date(2026, 2, 1),
            "event_id": event.id,
        },
        target,
    )
    member = visits.add_member(db.session, visit, contact_id=contact.id)
    db.session.commit()
    revision = meetings.revision_with_items(db.session, meeting.id)
    meetings.submit_minutes(db.session, revision, target, revision.version)
    meetings.approve_minutes(db.session, revision, make_user(Role.OFFICER), revision.version)
    db.session.commit()
    return {
        "org_id": org.id,
        "contact_id": contact.id,
        "position_id": position.id,
        "user_id": target.id,
        "code": "en",
        "meeting_id": meeting.id,
        "participant_id": participant.id,
        "organisation_id": org.id,
        "item_id": item.id,
        "number": 1,
        "attachment_id": attachment.id,
        "commitment_id": commitment.id,
        "reference": meeting.reference,
        "token": "not-a-token",
        "event_id": event.id,
        "visit_id": visit.id,
        "member_id": member.id,
        "institution_id": target.institution_id,
        "notification_id": 1,
        "message_id": 1,
        "kind": "organisations",
        "fmt": "csv",
    }


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_view_declares_who_may_use_it(app):
    undeclared = [r.endpoint for r, _ in _routes(app) if not hasattr(app.view_functions[r.endpoint], "min_role")]
    assert undeclared == []


def test_route_role_matrix(app, db, records):
    clients = {role: signed_in_client(app, db, role) for role in ROLES}
    anonymous = app.test_client()
    changes_before = db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action.in_(["create", "update", "delete"]))
    )
    checked = 0
    for rule, method in _routes(app):
        view = app.view_functions[rule.endpoint]
        url = rule.build(records, append_unknown=False)[1]
        if getattr(view, "is_public", False):
            continue
        response = anonymous.open(url, method=method)
        assert response.status_code == 302 and "/login" in response.headers["Location"], (method, url)
        for role in ROLES:
            if method == "POST" and rule.endpoint == "auth.logout":
                continue
            response = clients[role].open(url, method=method)
            allowed = role.at_least(view.min_role)
            assert (response.status_code == 403) is not allowed, (role, method, url, response.status_code)
            assert response.status_code < 500, (role, method, url)
            if method == "GET":
                fragment = clients[role].get(url, headers=htmx_headers())
                assert (fragment.status_code == 403) is not allowed, (role, "htmx", url)
                if allowed:
                    assert fragment.status_code == 200, url
                    if fragment.mimetype == "text/html":  # a PDF is a PDF, htmx or not
                        assert "<html" not in fragment.get_data(as_text=True), url
            checked += 1
    assert checked > 60
    # Empty POSTs were refused, and no GET changed anything.
    changes_after = db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action.in_(["create", "update", "delete"]))
    )
    assert changes_after == changes_before


def test_refused_access_is_audited(app, db, records):
    client = signed_in_client(app, db, Role.VIEWER)
    refused = client.get("/admin/users")
    assert refused.status_code == 403 and error_message(refused) == ERROR_FR[403]
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "access_denied")).one()
    assert event.label == "/admin/users" and event.actor_id is not None


def test_security_headers(client, db, login_as):
    login_as(Role.VIEWER)
    response = client.get("/organisations")
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "no-store" in response.headers["Cache-Control"]
    html = response.get_data(as_text=True)
    assert "<script>" not in html and " style=" not in html and "hx-on" not in html
    assert '"historyCacheSize":0' in html


def test_session_cookie_flags(client, db):
    user = make_user()
    response = sign_in(client, user.email)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookies_in_production(monkeypatch, database_url):
    monkeypatch.setenv("CRM_ENV", "production")
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_static_files_are_fingerprinted_compressed_and_cached(client, db, login_as):
    login_as(Role.VIEWER)
    html = client.get("/organisations").get_data(as_text=True)
    css_url = html.split('rel="stylesheet" href="')[1].split('"')[0]
    assert "?v=" in css_url
    response = client.get(css_url, headers={"Accept-Encoding": "br, gzip"})
    assert response.headers["Content-Encoding"] in {"br", "gzip"}
    assert "max-age=31536000" in response.headers["Cache-Control"]


ORGANISATION = {"name": "Orange Mali", "country_code": "ML", "kind": "operator"}


class TestCsrf:
    @pytest.fixture
    def app_config(self):
        return {"WTF_CSRF_ENABLED": True}

    @pytest.mark.parametrize("token", [None, "IjEyMyI.forged.token"])
    def test_a_form_without_a_valid_token_is_refused_and_says_why(self, client, db, token):
        user = make_user(Role.STAFF)
        client.get("/login")  # the session holds a real token; the form sends none, or another
        form = {"email": user.email, "password": PASSWORD, **({"csrf_token": token} if token else {})}
        refused = client.post("/login", data=form)
        assert refused.status_code == 400 and error_message(refused) == CSRF_FR

    def test_a_form_with_its_token_is_accepted(self, client, db):
        user = make_user(Role.STAFF)
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        accepted = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
        assert accepted.status_code == 302

    def test_an_htmx_post_without_the_header_token_is_refused_in_the_notice_bar(self, client, db):
        open_session(client, make_user(Role.STAFF))
        refused = client.post("/organisations/new", data=ORGANISATION, headers=htmx_headers())
        assert refused.status_code == 400 and error_message(refused) == CSRF_FR
        assert refused.headers["HX-Retarget"] == "#notice"
        named = select(func.count()).select_from(Organisation).where(Organisation.name == ORGANISATION["name"])
        assert db.session.scalar(named) == 0

    def test_an_htmx_post_with_the_header_token_is_accepted(self, client, db):
        open_session(client, make_user(Role.STAFF))
        html = client.get("/organisations").get_data(as_text=True)
        header_token = html.split('"X-CSRFToken": "')[1].split('"')[0]
        accepted = client.post(
            "/organisations/new", data=ORGANISATION, headers=htmx_headers(**{"X-CSRFToken": header_token})
        )
        assert accepted.status_code == 200 and accepted.headers.get("HX-Redirect")
