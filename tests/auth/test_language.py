"""Language: the switch in the header saves the account's language; the one chosen on the sign-in page carries
over to the account; English dates are British (23 Nov 2026, 18:05)."""

from __future__ import annotations

from datetime import datetime

from crm.auth.models import Role, User
from tests.conftest import make_meeting, make_user, sign_in


def test_the_header_switch_saves_the_language_and_comes_back_to_the_same_page(client, login_as, db):
    user = login_as(Role.STAFF, locale="fr")
    page = client.get("/organisations?q=orange").get_data(as_text=True)
    assert 'name="lang" value="en"' in page and ">English</button>" in page

    response = client.post("/language", data={"lang": "en", "next": "/organisations?q=orange"})

    assert response.status_code == 302 and response.headers["Location"] == "/organisations?q=orange"
    english = client.get("/organisations?q=orange").get_data(as_text=True)
    assert 'lang="en"' in english and ">Français</button>" in english
    assert db.session.get(User, user.id).locale == "en"


def test_the_switch_refuses_an_unknown_language_and_a_foreign_address(client, login_as, db):
    user = login_as(Role.STAFF, locale="fr")
    assert client.post("/language", data={"lang": "xx"}).status_code == 400
    response = client.post("/language", data={"lang": "en", "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"
    assert db.session.get(User, user.id).locale == "en"


def test_the_language_chosen_on_the_sign_in_page_becomes_the_accounts(client, db):
    user = make_user(locale="fr")
    client.get("/language/en")
    sign_in(client, user.email)
    assert 'lang="en"' in client.get("/").get_data(as_text=True)
    assert db.session.get(User, user.id).locale == "en"

    client.post("/logout")
    sign_in(client, user.email)  # another day, from a French browser: still English
    assert 'lang="en"' in client.get("/", headers={"Accept-Language": "fr"}).get_data(as_text=True)


def test_english_dates_are_british_and_french_ones_stay_french(client, login_as, db):
    user = login_as(Role.STAFF, locale="en")  # Bamako: UTC all year
    make_meeting(user, starts=datetime(2030, 11, 23, 18, 5))
    english = client.get("/meetings").get_data(as_text=True)
    assert "23 Nov 2030, 18:05" in english and "11/23/30" not in english and "6:05 PM" not in english
    client.post("/language", data={"lang": "fr"})
    assert "23/11/2030 18:05" in client.get("/meetings").get_data(as_text=True)


def test_the_page_carries_the_session_sentences_in_its_own_language(client, login_as, db):
    login_as(Role.STAFF, locale="fr")
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'data-msg-signed-out="Votre session' in page
