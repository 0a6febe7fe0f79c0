from datetime import timedelta

import pytest
from sqlalchemy import select, update

from crm.audit.models import AuditEvent
from crm.auth import services
from crm.auth.models import Role, UserSession
from crm.errors import DomainError
from tests.conftest import PASSWORD, make_user


def test_passwords_are_stored_as_argon2id(db):
    user = make_user()
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


@pytest.mark.parametrize(
    ("password", "accepted"),
    [
        ("short", False),  # under 8
        ("password1", False),  # in the common-passwords list
        ("aaaaaaaaaaaa", False),  # one repeated character
        ("x" * 129, False),  # over the maximum
        ("mali bamako 2026 numérique", True),  # a phrase: no composition rules
        ("é" * 3 + "ߒߞߏ" * 20, True),  # long and in any script
    ],
)
def test_password_policy_is_length_and_commonness_only(password, accepted):
    assert (services.password_problem(password) is None) is accepted


def test_password_may_not_be_the_email(db):
    with pytest.raises(DomainError):
        services.create_user(db.session, email="awa.traore@x.ml", name="Awa", role=Role.STAFF, password="awa.traore")


def test_duplicate_email_is_refused_whatever_the_case(db):
    make_user(email="awa@mcenma.example")
    with pytest.raises(DomainError) as err:
        services.create_user(db.session, email="  AWA@mcenma.example ", name="Awa", role=Role.STAFF, password=PASSWORD)
    assert err.value.field == "email" and "existe déjà" in err.value.message


def test_unknown_email_and_wrong_password_get_the_same_answer(app, db):
    user = make_user()
    with pytest.raises(DomainError) as wrong:
        services.sign_in(db.session, email=user.email, password="not it at all", ip="1.2.3.4", user_agent="t")
    with pytest.raises(DomainError) as unknown:
        services.sign_in(db.session, email="nobody@x.ml", password="not it at all", ip="1.2.3.4", user_agent="t")
    assert wrong.value.message == unknown.value.message == "Adresse e-mail inconnue ou mot de passe incorrect."
    assert wrong.value.status == unknown.value.status == 401


def test_failed_sign_ins_are_audited_and_throttled_per_account(app, db):
    user = make_user()
    limit = app.config["CRM_LOGIN_MAX_FAILURES_ACCOUNT"]
    for i in range(limit):
        with pytest.raises(DomainError):
            services.sign_in(db.session, email=user.email, password="wrong one", ip=f"10.0.0.{i}", user_agent="t")
        db.session.commit()
    # Even the right password is refused now, from any address.
    with pytest.raises(services.Throttled):
        services.sign_in(db.session, email=user.email, password=PASSWORD, ip="10.9.9.9", user_agent="t")
    failed = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "login_failed")).all()
    assert len(failed) == limit and {e.subject for e in failed} == {user.email}


def test_sign_ins_are_throttled_per_address(app, db):
    user = make_user()
    limit = app.config["CRM_LOGIN_MAX_FAILURES_ADDRESS"]
    for i in range(limit):
        with pytest.raises(DomainError):
            services.sign_in(db.session, email=f"guess{i}@x.ml", password="wrong", ip="10.1.1.1", user_agent="t")
        db.session.commit()
    with pytest.raises(services.Throttled):
        services.sign_in(db.session, email=user.email, password=PASSWORD, ip="10.1.1.1", user_agent="t")
    # Another address is not affected.
    assert services.sign_in(db.session, email=user.email, password=PASSWORD, ip="10.1.1.2", user_agent="t")


def test_throttle_window_passes(app, db):
    user = make_user()
    for _ in range(app.config["CRM_LOGIN_MAX_FAILURES_ACCOUNT"]):
        with pytest.raises(DomainError):
            services.sign_in(db.session, email=user.email, password="wrong", ip="10.0.0.1", user_agent="t")
    db.session.commit()
    app.config["CRM_LOGIN_WINDOW"] = timedelta(seconds=0)
    assert services.sign_in(db.session, email=user.email, password=PASSWORD, ip="10.0.0.1", user_agent="t")


def test_deactivated_account_cannot_sign_in_and_loses_its_sessions(app, db):
    user = make_user()
    result = services.sign_in(db.session, email=user.email, password=PASSWORD, ip="1.1.1.1", user_agent="t")
    db.session.commit()
    assert services.load_session_user(db.session, result.token) is not None
    services.update_user(db.session, user, actor=make_user(Role.ADMIN), version=user.version, active=False)
    db.session.commit()
    assert services.load_session_user(db.session, result.token) is None
    with pytest.raises(DomainError):
        services.sign_in(db.session, email=user.email, password=PASSWORD, ip="1.1.1.1", user_agent="t")


def test_password_change_revokes_other_sessions_only(app, db):
    user = make_user()
    first = services.sign_in(db.session, email=user.email, password=PASSWORD, ip="1.1.1.1", user_agent="a")
    second = services.sign_in(db.session, email=user.email, password=PASSWORD, ip="1.1.1.2", user_agent="b")
    db.session.commit()
    services.change_password(db.session, user, current=PASSWORD, new="a new long pass phrase", keep_token=first.token)
    db.session.commit()
    assert services.load_session_user(db.session, first.token) is not None
    assert services.load_session_user(db.session, second.token) is None


def test_idle_and_absolute_timeouts(app, db):
    user = make_user()
    idle = services.sign_in(db.session, email=user.email, password=PASSWORD, ip="1.1.1.1", user_agent="a")
    old = services.sign_in(db.session, email=user.email, password=PASSWORD, ip="1.1.1.1", user_agent="b")
    db.session.commit()
    now = services.utcnow()
    db.session.execute(
        update(UserSession)
        .where(UserSession.token_hash == services._digest(idle.token))
        .values(last_seen_at=now - app.config["CRM_SESSION_IDLE"] - timedelta(minutes=1))
    )
    db.session.execute(
        update(UserSession)
        .where(UserSession.token_hash == services._digest(old.token))
        .values(created_at=now - app.config["CRM_SESSION_ABSOLUTE"] - timedelta(minutes=1))
    )
    db.session.commit()
    assert services.load_session_user(db.session, idle.token) is None
    assert services.load_session_user(db.session, old.token) is None


def test_session_tokens_are_stored_hashed(app, db):
    user = make_user()
    result = services.sign_in(db.session, email=user.email, password=PASSWORD, ip="1.1.1.1", user_agent="a")
    db.session.commit()
    stored = db.session.scalars(select(UserSession.token_hash)).one()
    assert result.token not in stored and len(stored) == 64
