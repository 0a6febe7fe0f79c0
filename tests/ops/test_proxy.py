"""Behind nginx (CRM_PROXY_FIX=1) the app sees the client's address; without it, forged headers are ignored."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.audit.models import AuditEvent
from crm.auth.models import Role
from tests.conftest import make_user

FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "crm.mcenma.gov.ml"}


def _failed_sign_in_address(client, db) -> str:
    user = make_user(Role.STAFF)
    client.post("/login", data={"email": user.email, "password": "wrong password"}, headers=FORWARDED).get_data()
    return db.session.scalars(select(AuditEvent.ip).where(AuditEvent.action == "login_failed")).one()


class TestBehindOneProxy:
    @pytest.fixture
    def app_config(self):
        return {"CRM_PROXY_FIX": 1, "CRM_ALLOWED_HOSTS": ["crm.mcenma.gov.ml"]}

    def test_the_throttle_and_the_trail_see_the_client_address(self, client, db):
        assert _failed_sign_in_address(client, db) == "203.0.113.7"


def test_without_a_proxy_forwarded_headers_are_not_believed(client, db):
    assert _failed_sign_in_address(client, db) == "127.0.0.1"
