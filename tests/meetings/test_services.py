"""Meetings and minutes: references, time zones, participants, the minutes lifecycle and revisions."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from crm.auth.models import Role
from crm.errors import DomainError, StaleEdit
from crm.meetings import services
from crm.meetings.models import MinutesStatus
from crm.partners import institutions
from crm.partners.models import Position
from tests.conftest import make_commitment, make_contact, make_meeting, make_org, make_user


def test_references_are_numbered_per_year(db):
    staff = make_user(Role.STAFF)
    first = make_meeting(staff, starts=datetime(2026, 1, 22, 10))
    second = make_meeting(staff, starts=datetime(2026, 3, 2, 9))
    next_year = make_meeting(staff, starts=datetime(2027, 1, 5, 9))
    assert [first.reference, second.reference, next_year.reference] == [
        "ML-AUD-2026-0001",
        "ML-AUD-2026-0002",
        "ML-AUD-2027-0001",
    ]


def test_times_are_typed_in_the_meeting_zone_and_stored_in_utc(db):
    staff = make_user(Role.STAFF)
    niamey = make_meeting(staff, starts=datetime(2026, 1, 29, 10, 0), tz="Africa/Niamey")
    # Niamey is UTC+1: 10:00 there is 09:00 UTC, and 09:00 in Bamako.
    assert niamey.starts_at == datetime(2026, 1, 29, 9, 0, tzinfo=UTC)
    assert services.to_local(niamey.starts_at, "Africa/Bamako") == datetime(2026, 1, 29, 9, 0)
    assert services.to_local(niamey.starts_at, "Africa/Niamey") == datetime(2026, 1, 29, 10, 0)


def test_end_before_start_is_refused(db):
    staff = make_user(Role.STAFF)
    with pytest.raises(DomainError) as refused:
        make_meeting(staff, hours=-1)
    assert refused.value.field == "ends_at"


def test_the_author_takes_part(db):
    staff = make_user(Role.STAFF)
    meeting = make_meeting(staff, confidentiality="confidential")
    assert services.visible_meeting(db.session, meeting.id, staff) is not None
    assert services.visible_meeting(db.session, meeting.id, make_user(Role.OFFICER)) is None
    assert services.visible_meeting(db.session, meeting.id, make_user(Role.ADMIN)) is not None


def test_a_partner_participant_must_represent_an_organisation_of_the_meeting(db):
    staff = make_user(Role.STAFF)
    orange, huawei = make_org("Orange Mali"), make_org("Huawei Technologies Mali", kind="vendor")
    meeting = make_meeting(staff, orgs=[orange])
    contact = make_contact()
    with pytest.raises(DomainError):
        services.add_participant(db.session, meeting, contact_id=contact.id, organisation_id=huawei.id)
    services.add_participant(db.session, meeting, contact_id=contact.id, organisation_id=orange.id)
    with pytest.raises(DomainError):
        services.add_participant(db.session, meeting, contact_id=contact.id, organisation_id=orange.id)


def test_our_side_contact_needs_a_post_on_the_meeting_day(db):
    staff = make_user(Role.STAFF)
    ministry_id = institutions.get(db.session, staff.institution_id).organisation_id
    minister = make_contact("Ag Ilyène", "Alhamdou")
    meeting = make_meeting(staff, starts=datetime(2026, 1, 22, 10))
    with pytest.raises(DomainError) as refused:
        services.add_participant(db.session, meeting, contact_id=minister.id, organisation_id=ministry_id)
    assert "n’occupait aucune fonction dans cette organisation" in refused.value.message
    db.session.add(
        Position(contact_id=minister.id, organisation_id=ministry_id, title="Ministre", start_date=date(2024, 1, 1))
    )
    db.session.flush()
    participant = services.add_participant(
        db.session, meeting, contact_id=minister.id, organisation_id=ministry_id, role="chair"
    )
    # A post in the institution's own ministry puts the minister on its side: never guessed from elsewhere.
    assert participant.side == "ours" and participant.institution_id == staff.institution_id


def _draft(db, staff):
    meeting = make_meeting(staff)
    revision = services.start_minutes(db.session, meeting)
    item = services.add_item(db.session, revision, revision.version, "Couverture rurale")
    services.save_minutes(
        db.session,
        revision,
        "Résumé",
        {item.id: {"discussion": "Échanges", "decisions": "Plan\nRéunion"}},
        revision.version,
    )
    db.session.commit()
    revision = services.revision_with_items(db.session, meeting.id)
    return meeting, revision, revision.items[0]


def test_minutes_lifecycle_locks_the_approved_revision(db):
    staff, officer = make_user(Role.STAFF), make_user(Role.OFFICER)
    meeting, revision, item = _draft(db, staff)
    assert item.decision_list == ["Plan", "Réunion"]
    services.submit_minutes(db.session, revision, staff, revision.version)
    with pytest.raises(DomainError, match="Ce compte rendu a été soumis pour approbation"):
        services.save_minutes(db.session, revision, "Autre", {}, revision.version)
    with pytest.raises(DomainError) as refused:
        services.approve_minutes(db.session, revision, staff, revision.version)
    assert refused.value.status == 403
    assert refused.value.message == (
        "Seuls les chargé(e)s de coopération et les administrateurs peuvent approuver un compte rendu."
    )
    services.approve_minutes(db.session, revision, officer, revision.version)
    assert revision.status == MinutesStatus.APPROVED and revision.approved_by_id == officer.id
    with pytest.raises(DomainError, match="Ce compte rendu est approuvé et verrouillé"):
        services.save_minutes(db.session, revision, "Changé", {}, revision.version)
    with pytest.raises(DomainError, match="Ce compte rendu est approuvé et verrouillé"):
        services.add_item(db.session, revision, revision.version)

    second = services.amend_minutes(db.session, meeting, staff, "Coquille dans le nom du DG")
    assert second.number == 2 and second.status == MinutesStatus.DRAFT
    assert [i.title for i in second.items] == ["Couverture rurale"]
    services.save_minutes(db.session, second, "Résumé corrigé", {}, second.version)
    db.session.commit()
    first = services.revision_with_items(db.session, meeting.id, 1)
    assert first.summary == "Résumé" and first.status == MinutesStatus.APPROVED


def test_amending_needs_an_approved_revision(db):
    staff = make_user(Role.STAFF)
    meeting, _revision, _item = _draft(db, staff)
    with pytest.raises(DomainError) as refused:
        services.amend_minutes(db.session, meeting, staff, "raison")
    assert refused.value.message == (
        "Seul un compte rendu approuvé peut être amendé\u00a0; modifiez plutôt le brouillon en cours."
    )


def test_amending_needs_a_reason(db):
    staff, officer = make_user(Role.STAFF), make_user(Role.OFFICER)
    meeting, revision, _item = _draft(db, staff)
    services.submit_minutes(db.session, revision, staff, revision.version)
    services.approve_minutes(db.session, revision, officer, revision.version)
    with pytest.raises(DomainError) as refused:
        services.amend_minutes(db.session, meeting, staff, "  ")
    assert refused.value.field == "reason"
    assert refused.value.message == "Indiquez pourquoi le compte rendu est amendé."


def test_a_stale_autosave_is_refused(db):
    staff = make_user(Role.STAFF)
    _meeting, revision, _item = _draft(db, staff)
    loaded_version = revision.version
    services.save_minutes(db.session, revision, "Tab A", {}, loaded_version)
    with pytest.raises(StaleEdit):
        services.save_minutes(db.session, revision, "Tab B", {}, loaded_version)


def test_items_reorder_and_removal(db):
    staff = make_user(Role.STAFF)
    meeting, revision, first = _draft(db, staff)
    second = services.add_item(db.session, revision, revision.version, "Cybersécurité")
    services.move_item(db.session, revision, second.id, -1, revision.version)
    assert [i.title for i in revision.items] == ["Cybersécurité", "Couverture rurale"]
    make_commitment(staff, origin_meeting_id=meeting.id, origin_item_id=first.id)
    revision = services.revision_with_items(db.session, meeting.id)
    with pytest.raises(DomainError, match="Un engagement découle de ce point"):
        services.remove_item(db.session, revision, first.id, revision.version)
    services.remove_item(db.session, revision, second.id, revision.version)
    assert [(i.position, i.title) for i in revision.items] == [(1, "Couverture rurale")]


def test_revision_diff_shows_what_changed(db):
    staff, officer = make_user(Role.STAFF), make_user(Role.OFFICER)
    meeting, revision, _item = _draft(db, staff)
    services.submit_minutes(db.session, revision, staff, revision.version)
    services.approve_minutes(db.session, revision, officer, revision.version)
    second = services.amend_minutes(db.session, meeting, staff, "Précision")
    new_item = second.items[0]
    services.save_minutes(
        db.session, second, "Résumé", {new_item.id: {"discussion": "Échanges nourris"}}, second.version
    )
    lines = services.revision_diff(revision, second)
    assert [line.text for line in lines if line.kind == "removed"] == ["Échanges"]
    assert [line.text for line in lines if line.kind == "added"] == ["Échanges nourris"]
    assert any(line.kind == "same" and line.text == "1. Couverture rurale" for line in lines)
