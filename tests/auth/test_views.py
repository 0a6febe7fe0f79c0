import re

import pytest
from sqlalchemy import select

from crm.auth.models import Role, User
from tests.conftest import ERROR_FR, PASSWORD, STALE_FR, error_message, make_user, sign_in


def test_sign_in_page_is_french_by_default_and_english_on_request(client):
    assert "Se connecter" in client.get("/login").get_data(as_text=True)
    english = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert "Sign in" in english and 'lang="en"' in english
    client.get("/language/en")
    assert 'lang="en"' in client.get("/login").get_data(as_text=True)


def test_pages_need_a_session(client):
    response = client.get("/organisations")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_an_htmx_request_without_a_session_says_so_in_the_notice_bar(client):
    # htmx requests get a 401 with a message, so the page (and typed text) stays in place.
    fragment = client.get("/organisations", headers={"HX-Request": "true"})
    assert fragment.status_code == 401 and error_message(fragment) == ERROR_FR[401]
    assert fragment.headers["HX-Retarget"] == "#notice"


def test_wrong_password_keeps_the_email_and_says_so(client, db):
    user = make_user()
    response = sign_in(client, user.email, "wrong password here")
    page = response.get_data(as_text=True)
    assert response.status_code == 401
    assert user.email in page and "Adresse e-mail inconnue ou mot de passe incorrect" in page


def test_session_identifier_changes_at_sign_in_and_old_cookie_is_refused_after_logout(app, client, db):
    user = make_user()
    client.get("/login")
    before = client.get_cookie("crm_session")
    sign_in(client, user.email)
    after = client.get_cookie("crm_session")
    assert after is not None and (before is None or before.value != after.value)
    stolen = after.value
    assert client.get("/organisations").status_code == 200
    client.post("/logout")
    thief = app.test_client()
    thief.set_cookie("crm_session", stolen)
    assert thief.get("/organisations").status_code == 302


@pytest.fixture
def signed_in(client, db) -> User:
    user = make_user()
    sign_in(client, user.email)
    return user


def test_a_common_password_is_refused_under_the_new_password(client, signed_in):
    weak = client.post("/account", data={"pw-current": PASSWORD, "pw-new": "password"})
    assert weak.status_code == 422
    assert (
        '<small id="pw-new-err" class="error">Ce mot de passe est trop courant\u00a0; choisissez une phrase plus '
        "longue et personnelle.</small>" in weak.get_data(as_text=True)
    )


def test_a_wrong_current_password_is_refused_under_it(client, signed_in):
    wrong = client.post("/account", data={"pw-current": "not mine", "pw-new": "une phrase assez longue"})
    assert wrong.status_code == 422
    assert '<small id="pw-current-err" class="error">Le mot de passe actuel est incorrect.</small>' in wrong.get_data(
        as_text=True
    )
    client.post("/logout")
    assert sign_in(client, signed_in.email, PASSWORD).status_code == 302  # the old one still works


def test_password_change_from_the_account_page(client, signed_in):
    ok = client.post("/account", data={"pw-current": PASSWORD, "pw-new": "une phrase assez longue"})
    assert ok.status_code == 302
    client.post("/logout")
    assert sign_in(client, signed_in.email, "une phrase assez longue").status_code == 302


def test_user_switches_interface_to_english(client, db):
    user = make_user()
    sign_in(client, user.email)
    client.post("/account", data={"prefs-locale": "en", "prefs-timezone": "Africa/Niamey"})
    page = client.get("/organisations").get_data(as_text=True)
    assert "New organisation" in page and 'lang="en"' in page
    assert db.session.get(User, user.id).timezone == "Africa/Niamey"


def test_an_admin_creates_an_account_with_its_role(client, db, login_as):
    login_as(Role.ADMIN)
    created = client.post(
        "/admin/users/new",
        data={
            "email": "awa.traore@mcenma.example",
            "name": "Awa Traoré",
            "unit": "Coopération",
            "role": "officer",
            "locale": "fr",
            "password": "bamako ouaga niamey",
        },
    )
    assert created.status_code == 302
    awa = db.session.scalars(select(User).where(User.email == "awa.traore@mcenma.example")).one()
    assert awa.role == Role.OFFICER
    assert "Compte créé pour Awa Traoré." in client.get(created.headers["Location"]).get_data(as_text=True)


def test_an_admin_changes_an_accounts_role_and_the_unchecked_box_deactivates_it(client, db, login_as):
    login_as(Role.ADMIN)
    awa = make_user(Role.OFFICER, name="Awa Traoré")
    response = client.post(
        f"/admin/users/{awa.id}", data={"name": "Awa Traoré", "unit": "", "role": "viewer", "version": awa.version}
    )
    assert response.status_code == 302
    db.session.expire_all()
    awa = db.session.get(User, awa.id)
    assert awa.role == Role.VIEWER and not awa.active  # the unchecked box deactivates
    assert "Désactivé" in client.get("/admin/users").get_data(as_text=True)


def test_admin_cannot_demote_themselves(client, db, login_as):
    admin = login_as(Role.ADMIN)
    response = client.post(
        f"/admin/users/{admin.id}", data={"name": admin.name, "role": "staff", "active": "y", "version": admin.version}
    )
    assert response.status_code == 422
    assert (
        '<small id="role-err" class="error">Vous ne pouvez ni retirer vos propres droits d’administrateur ni '
        "désactiver votre propre compte.</small>" in response.get_data(as_text=True)
    )
    assert db.session.get(User, admin.id).role == Role.ADMIN


def test_stale_user_edit_is_refused_and_input_kept(client, db, login_as):
    login_as(Role.ADMIN)
    other = make_user(Role.STAFF)
    response = client.post(
        f"/admin/users/{other.id}",
        data={"name": "Nom tapé par l’admin", "role": "staff", "active": "y", "version": other.version - 1},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert f'<div class="form-error" role="alert">\n    <p>{STALE_FR}' in page
    assert 'value="Nom tapé par l’admin"' in page
    assert db.session.get(User, other.id).name == "Test Staff"


def test_duplicate_account_email_is_refused(client, db, login_as):
    login_as(Role.ADMIN)
    existing = make_user(Role.STAFF)
    response = client.post(
        "/admin/users/new",
        data={"email": existing.email, "name": "X", "role": "staff", "locale": "fr", "password": "bamako ouaga niamey"},
    )
    assert response.status_code == 422
    assert '<small id="email-err" class="error">Un compte existe déjà avec cette adresse e-mail.</small>' in (
        response.get_data(as_text=True)
    )


def test_open_redirect_after_login_is_refused(client, db):
    user = make_user()
    response = client.post("/login?next=//evil.example/x", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302 and not re.match(r"^(https?:)?//", response.headers["Location"])


def test_signing_in_leads_back_to_the_page_asked_for(client, app):
    user = make_user("officer")
    asked = client.get("/meetings")
    assert asked.status_code == 302
    assert asked.headers["Location"].endswith("/login?next=/meetings")  # no stray "?" after the path
    with_query = client.get("/meetings?when=past")
    assert with_query.headers["Location"].endswith("/login?next=/meetings?when%3Dpast")
    signed_in = client.post("/login?next=/meetings?when%3Dpast", data={"email": user.email, "password": PASSWORD})
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/meetings?when=past")
