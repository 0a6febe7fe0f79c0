"""The bell in the header: unread count, the list, mark as read."""

from __future__ import annotations

from crm.auth.models import Role
from tests.conftest import make_commitment, make_user


def test_the_bell_counts_unread_notifications_and_the_list_marks_them_read(app, client, login_as):
    me = login_as(Role.STAFF, locale="en")
    boss = make_user(Role.OFFICER, name="Awa Traoré")
    first = make_commitment(boss, "Étendre la couverture rurale", responsible_id=me.id)
    make_commitment(boss, "Publier le décret", responsible_id=me.id)

    page = client.get("/commitments").get_data(as_text=True)
    assert 'class="bell-count">2<' in page

    inbox = client.get("/notifications").get_data(as_text=True)
    assert f"A commitment is yours: {first.reference} — Étendre la couverture rurale" in inbox

    from crm.extensions import db
    from crm.notifications import services

    [_newest, oldest] = services.recent(db.session, me.id)
    response = client.post(f"/notifications/{oldest.id}/read", data={"open": "1"})
    assert response.headers["Location"].endswith(f"/commitments/{first.id}")
    assert 'class="bell-count">1<' in client.get("/notifications").get_data(as_text=True)

    client.post("/notifications/read")
    page = client.get("/notifications").get_data(as_text=True)
    assert "bell-count" not in page


def test_the_bell_is_one_count(app, client, login_as, count_queries):
    login_as(Role.STAFF)
    with count_queries() as statements:
        client.get("/notifications/bell")
    assert statements() == 1  # the session lookup, which reads the count in the same statement


def test_nobody_reads_or_marks_another_users_notifications(app, client, login_as):
    other = make_user(Role.STAFF)
    boss = make_user(Role.OFFICER)
    make_commitment(boss, responsible_id=other.id)
    login_as(Role.STAFF)
    from crm.extensions import db
    from crm.notifications import services

    [row] = services.recent(db.session, other.id)
    client.post(f"/notifications/{row.id}/read")
    assert services.unread_count(db.session, other.id) == 1
    assert "couverture" not in client.get("/notifications").get_data(as_text=True)


def test_the_bells_refresh_does_not_keep_an_idle_session_alive(app, client, login_as):
    from datetime import timedelta

    from sqlalchemy import update

    from crm.auth.models import UserSession
    from crm.db import utcnow
    from crm.extensions import db

    me = login_as(Role.STAFF)
    earlier = utcnow() - timedelta(minutes=30)
    db.session.execute(update(UserSession).where(UserSession.user_id == me.id).values(last_seen_at=earlier))
    db.session.commit()
    assert client.get("/notifications/bell").status_code == 200
    db.session.expire_all()
    assert db.session.scalar(db.select(UserSession.last_seen_at).where(UserSession.user_id == me.id)) == earlier
    client.get("/notifications")  # a page the user opened is activity
    db.session.expire_all()
    assert db.session.scalar(db.select(UserSession.last_seen_at).where(UserSession.user_id == me.id)) > earlier
