import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from crm.audit.models import AuditEvent
from crm.auth.models import Role
from crm.partners import services
from tests.conftest import make_org, sign_in
from tests.partners.test_views import ORG_FORM


def test_create_and_update_record_who_and_which_fields_old_to_new(client, db, login_as):
    officer = login_as(Role.OFFICER, name="Awa Traoré")
    org = make_org("Orange Mali", city="Bamako")
    client.post(
        f"/organisations/{org.id}/edit",
        data={
            "name": "Orange Mali",
            "kind": "operator",
            "country_code": "ML",
            "city": "Kayes",
            "notes": "Nouveau DG installé",
            "version": org.version,
        },
    )
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "organisation", AuditEvent.entity_id == org.id)
    ).all()
    created, updated = events
    assert created.action == "create" and created.changes["name"] == [None, "Orange Mali"]
    assert updated.action == "update" and updated.actor_id == officer.id
    assert updated.changes == {"city": ["Bamako", "Kayes"], "notes": ["", "Nouveau DG installé"]}
    page = client.get(f"/organisations/{org.id}").get_data(as_text=True)
    assert "Historique" in page and "Awa Traoré" in page and "Bamako" in page and "Kayes" in page


def test_position_changes_show_on_the_contacts_page(client, db, login_as):
    login_as(Role.STAFF)
    org = make_org()
    contact_id = (
        client.post("/contacts/new", data={"family_name": "Sun Wei", "given_name": "Jean", "honorific": "M."})
        .headers["Location"]
        .rsplit("/", 1)[1]
    )
    client.post(f"/contacts/{contact_id}/positions/new", data={"organisation_id": org.id, "title": "Directeur général"})
    page = client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert "fonction « Directeur général »" in page


def test_failed_sign_in_is_in_the_trail_without_the_password(client, db):
    sign_in(client, "inconnu@mcenma.example", "mot de passe secret")
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "login_failed")).one()
    assert event.subject == "inconnu@mcenma.example"
    assert "secret" not in str(event.changes) and "secret" not in event.label


def test_trail_is_append_only_in_the_database(db):
    make_org()
    with pytest.raises(DBAPIError):
        db.session.execute(update(AuditEvent).values(label="forged"))
    db.session.rollback()
    with pytest.raises(DBAPIError):
        db.session.execute(delete(AuditEvent))
    db.session.rollback()
    assert db.session.scalar(text("SELECT count(*) FROM audit_event")) == 1


def test_archiving_is_recorded(db):
    org = make_org()
    services.set_archived(db.session, org, True, org.version)
    db.session.commit()
    last = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert last.action == "update" and last.changes["archived_at"][0] is None


def test_the_history_names_the_records_a_change_points_to(client, db, login_as):
    group = make_org("Huawei Technologies")
    other = make_org("Orange Mali")
    unit = make_org("Huawei Mali")
    login_as(Role.STAFF)
    for parent in (other, group):  # attached to the wrong group, then corrected
        db.session.refresh(unit)
        form = {**ORG_FORM, "name": "Huawei Mali", "parent_id": str(parent.id), "version": unit.version}
        assert client.post(f"/organisations/{unit.id}/edit", data=form).status_code == 302
    history = client.get(f"/organisations/{unit.id}").get_data(as_text=True).split('id="history-title"')[1]
    assert '<del dir="auto">Orange Mali</del> → <ins dir="auto">Huawei Technologies</ins>' in history
    assert '<del dir="auto">∅</del> → <ins dir="auto">Orange Mali</ins>' in history
    assert f">{other.id}</del>" not in history and f">{group.id}</ins>" not in history
