"""The commands, and who sees the outbox."""

from __future__ import annotations

from crm.auth.models import Role
from tests.conftest import make_commitment, make_user
from tests.notifications.conftest import outbox
from tests.test_institutions import _add_institution


def test_flask_notifications_send_delivers_and_says_what_it_did(app, smtp):
    boss = make_user(Role.OFFICER)
    make_commitment(boss, responsible_id=make_user(Role.STAFF, email="x@mcenma.example").id)
    result = app.test_cli_runner().invoke(args=["notifications", "send"])
    assert result.exit_code == 0, result.output
    assert "sent 1, failed 0" in result.output
    assert len(smtp.inbox.to("x@mcenma.example")) == 1


def test_an_admin_sees_only_the_messages_of_their_institution(app, client, db, smtp, login_as):
    burkina = _add_institution(db, "BF", "MTDPCE Ministère de la Transition digitale", "BF")
    boss = make_user(Role.OFFICER)
    make_commitment(boss, responsible_id=make_user(Role.STAFF, email="mali@mcenma.example").id)
    bf_boss = make_user(Role.OFFICER, institution_id=burkina.id)
    make_commitment(
        bf_boss, responsible_id=make_user(Role.STAFF, email="bf@mtdpce.example", institution_id=burkina.id).id
    )

    login_as(Role.ADMIN, institution_id=burkina.id)
    page = client.get("/notifications/outbox").get_data(as_text=True)
    assert "bf@mtdpce.example" in page and "mali@mcenma.example" not in page
    mali_message = next(m for m in outbox() if m.recipient == "mali@mcenma.example")
    assert client.post(f"/notifications/outbox/{mali_message.id}/retry").status_code == 404


def test_the_outbox_is_for_administrators(app, client, login_as):
    login_as(Role.OFFICER)
    assert client.get("/notifications/outbox").status_code == 403
