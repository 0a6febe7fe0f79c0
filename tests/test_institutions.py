"""One installation, several ministries: who sees and changes what, across institutions.

Route × role × (own institution, another institution's record kept to itself, shared with all, restricted
and shared), id guessing across institutions, joint meetings held by each institution taking part.
"""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from crm.audit.models import AuditEvent
from crm.auth.models import Role, User
from crm.commitments import services as commitments
from crm.core.confidentiality import Sharing
from crm.errors import DomainError
from crm.meetings import services as meetings
from crm.meetings.models import Meeting, MinutesStatus, Participant
from crm.partners import institutions
from crm.partners.models import Institution, Position
from crm.visits import services as visits
from tests.conftest import htmx_headers, make_commitment, make_contact, make_meeting, make_org, make_user, open_session
from tests.test_security import _routes
from tests.test_security import records as records  # noqa: PLC0414 - the records of one institution (Mali's)

ROLES = [Role.VIEWER, Role.STAFF, Role.OFFICER, Role.ADMIN]
# Ids that name an institution's own records: meetings, visits, commitments and what hangs from them.
OWNED_IDS = {"meeting_id", "participant_id", "item_id", "attachment_id", "commitment_id", "visit_id", "member_id"}
# What differs from one request to the next without telling anything: the error's reference, tokens, and the
# address the language switch returns to (the one asked for).
VARYING = re.compile(
    r"Référence de l’erreur : [0-9a-f]+|\"X-CSRFToken\": \"[^\"]+\"|value=\"[\w.-]{40,}\""
    r"|name=\"next\" value=\"[^\"]*\""
)


def _add_institution(db, code: str, name: str, country: str) -> Institution:
    institutions.ensure_default(db.session)  # Mali's, the installation's first: default accounts belong to it
    org = make_org(name, country=country, kind="ministry")
    institution = institutions.save_institution(
        db.session,
        {
            "organisation_id": org.id,
            "code": code,
            "short_name": name.split(maxsplit=1)[0],
            "country": country,
            "authority": name,
        },
    )
    db.session.commit()
    return institution


@pytest.fixture
def burkina(db):
    return _add_institution(db, "BF", "MTDPCE Ministère de la Transition digitale", "BF")


@pytest.fixture
def niger(db):
    return _add_institution(db, "NE", "MCPEN Ministère de la Communication du Niger", "NE")


def _client(app, role: Role, institution: Institution):
    client = app.test_client()
    user = make_user(role, institution_id=institution.id)
    open_session(client, user)
    return client, user


def _the_answer(response) -> str:
    """What the reader gets, without the request id that differs from one request to the next."""
    return VARYING.sub("", response.get_data(as_text=True))


def _owned_routes(app, records):
    for rule, method in _routes(app):
        if rule.arguments & OWNED_IDS:
            yield rule, method, rule.build(records, append_unknown=False)[1]


def test_another_institutions_records_are_missing_everywhere(app, db, records, burkina):
    """Every page, fragment, PDF and form of Mali's private records answers Burkina's users as a missing id does."""
    checked = 0
    for role in ROLES:
        client, _user = _client(app, role, burkina)
        for rule, method, url in _owned_routes(app, records):
            view = app.view_functions[rule.endpoint]
            if not role.at_least(view.min_role):
                continue
            missing = re.sub(r"/(\d+)(?=/|\.|$)", lambda m: "/2147483000", url, count=1)
            for headers in ({}, htmx_headers()):
                theirs = client.open(url, method=method, headers=headers, data={"confirm": "yes"})
                nobody = client.open(missing, method=method, headers=headers, data={"confirm": "yes"})
                assert theirs.status_code == 404, (role, method, url, theirs.status_code)
                assert _the_answer(theirs) == _the_answer(nobody), (role, method, url)
                checked += 1
    assert checked > 100


def test_lists_calendars_and_the_partner_record_leave_them_out(app, db, records, burkina):
    client, _user = _client(app, Role.ADMIN, burkina)
    reference = db.session.get(Meeting, records["meeting_id"]).reference
    for url in (
        "/meetings?when=past",
        "/meetings/month?m=2026-01",
        "/calendar/week?d=2026-01-22",
        "/commitments?status=all",
        f"/organisations/{records['org_id']}/record",
        "/visits?when=past",
        f"/events/{records['event_id']}",
        "/aes",
    ):
        html = client.get(url).get_data(as_text=True)
        assert reference not in html and "ML-ENG-" not in html and "ML-MIS-" not in html, url
    feed_page = client.post("/account/calendar", data={"confirm": "yes"}).get_data(as_text=True)
    token = feed_page.split("/calendar/feed/")[1].split(".ics")[0]
    assert reference not in client.get(f"/calendar/feed/{token}.ics").get_data(as_text=True)


def test_shared_records_are_read_by_the_others_and_changed_only_by_their_holders(app, db, records, burkina):
    meeting = db.session.get(Meeting, records["meeting_id"])
    meeting.sharing = Sharing.AES
    meetings.meeting_saved.send(meeting, session=db.session)
    visit = visits.visible_visit(db.session, records["visit_id"], make_user(Role.ADMIN))
    visit.sharing = Sharing.AES
    db.session.commit()
    viewer, _v = _client(app, Role.VIEWER, burkina)
    assert viewer.get(f"/meetings/{meeting.id}").status_code == 200
    assert viewer.get(f"/meetings/{meeting.id}/minutes").status_code == 200
    assert viewer.get(f"/commitments/{records['commitment_id']}").status_code == 200
    assert viewer.get(f"/visits/{records['visit_id']}").status_code == 200
    assert viewer.get(f"/meetings/{meeting.id}/minutes.pdf").status_code == 200
    page = viewer.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert "partagée avec votre institution en lecture" in page
    officer, _o = _client(app, Role.OFFICER, burkina)
    for url, data in [
        (f"/meetings/{meeting.id}/edit", {"title": "Changé", "version": meeting.version}),
        (f"/meetings/{meeting.id}/participants", {"person": f"user:{_o.id}"}),
        (f"/meetings/{meeting.id}/minutes/items", {}),
        (f"/commitments/{records['commitment_id']}/status", {"status": "done", "note": "fait", "version": 1}),
        (f"/visits/{records['visit_id']}/report", {"report": "Rapport", "version": visit.version}),
    ]:
        refused = officer.post(url, data=data)
        assert refused.status_code == 403, url
        assert "en lecture : seules les institutions" in refused.get_data(as_text=True), url
    assert db.session.get(Meeting, meeting.id).title != "Changé"


def test_a_restricted_shared_meeting_is_for_its_participants_only(app, db, records, burkina):
    staff = make_user(Role.STAFF)
    meeting = make_meeting(staff, "Négociation sensible", confidentiality="restricted", sharing="aes")
    admin, _a = _client(app, Role.ADMIN, burkina)
    assert admin.get(f"/meetings/{meeting.id}").status_code == 404  # another institution's admin: no exception
    taking_part, user = _client(app, Role.STAFF, burkina)
    meetings.add_participant(db.session, meeting, user_id=user.id)
    db.session.commit()
    assert taking_part.get(f"/meetings/{meeting.id}").status_code == 200
    own_admin = app.test_client()
    open_session(own_admin, make_user(Role.ADMIN))
    assert own_admin.get(f"/meetings/{meeting.id}").status_code == 200  # its own institution's admin sees it


def test_a_joint_meeting_is_held_and_approved_by_each_institution_taking_part(app, db, burkina, niger):
    host = make_user(Role.STAFF)
    guest_officer = make_user(Role.OFFICER, institution_id=burkina.id)
    minister = make_contact("Zerbo Sabané", "Aminata", honorific="S.E.")
    db.session.add(
        Position(
            contact_id=minister.id,
            organisation_id=burkina.organisation_id,
            title="Ministre",
            start_date=date(2025, 1, 1),
        )
    )
    db.session.commit()
    meeting = make_meeting(host, "Réunion tripartite", starts=datetime(2026, 1, 29, 15))
    participant = meetings.add_participant(
        db.session, meeting, contact_id=minister.id, organisation_id=burkina.organisation_id, role="chair"
    )
    db.session.commit()
    assert participant.side == "ours" and participant.institution_id == burkina.id
    assert meetings.co_owners(db.session, meeting.id) == [host.institution_id, burkina.id]
    # Burkina's staff change it; Niger's do not even see it.
    bf_client = app.test_client()
    open_session(bf_client, guest_officer)
    assert bf_client.get(f"/meetings/{meeting.id}/edit").status_code == 200
    ne_client, _n = _client(app, Role.ADMIN, niger)
    assert ne_client.get(f"/meetings/{meeting.id}").status_code == 404
    # Minutes: each institution approves its side; only then are they approved and locked.
    revision = meetings.start_minutes(db.session, meeting)
    meetings.save_minutes(db.session, revision, "Défis partagés", {}, revision.version)
    meetings.submit_minutes(db.session, revision, host, revision.version)
    db.session.commit()
    assert meetings.approve_minutes(db.session, revision, guest_officer, revision.version) is False
    assert revision.status == MinutesStatus.SUBMITTED
    with pytest.raises(DomainError) as twice:
        meetings.approve_minutes(
            db.session, revision, make_user(Role.OFFICER, institution_id=burkina.id), revision.version
        )
    assert "a déjà approuvé" in twice.value.message
    outsider = make_user(Role.OFFICER, institution_id=niger.id)
    with pytest.raises(DomainError) as refused:
        meetings.approve_minutes(db.session, revision, outsider, revision.version)
    assert refused.value.status == 403
    assert meetings.approve_minutes(db.session, revision, make_user(Role.OFFICER), revision.version) is True
    assert revision.status == MinutesStatus.APPROVED


def test_commitments_in_joint_minutes_name_the_institution_that_owes_them(app, db, burkina):
    host = make_user(Role.STAFF)
    guest = make_user(Role.STAFF, institution_id=burkina.id)
    meeting = make_meeting(host, "Réunion conjointe")
    meetings.add_participant(db.session, meeting, user_id=guest.id)
    db.session.commit()
    owed = make_commitment(
        guest, "Partager l’expérience burkinabè", origin_meeting_id=meeting.id, institution_id=burkina.id
    )
    assert owed.institution_id == burkina.id and owed.reference.startswith("BF-ENG-")
    with pytest.raises(DomainError) as refused:
        make_commitment(host, "Pour le Niger", origin_meeting_id=meeting.id, institution_id=burkina.id + 1)
    assert refused.value.field == "institution_id"
    figures = commitments.promise_figures_by_institution(db.session, owed.organisation_id or 0, host, date.today())
    assert figures == {}  # no partner organisation: nothing to count


def test_references_say_whose_they_are(app, db, burkina):
    mali = make_meeting(make_user(Role.STAFF))
    faso = make_meeting(make_user(Role.STAFF, institution_id=burkina.id), "Audience à Ouagadougou")
    assert mali.reference == "ML-AUD-2026-0001" and faso.reference == "BF-AUD-2026-0001"


def test_an_institution_owning_records_cannot_be_deleted(app, db, client, burkina):
    make_meeting(make_user(Role.STAFF, institution_id=burkina.id))
    open_session(client, make_user(Role.INSTALLATION_ADMIN))
    refused = client.post(f"/admin/institutions/{burkina.id}/delete", data={"confirm": "yes"})
    assert refused.status_code == 302
    assert "ne peut pas être supprimée" in client.get(refused.headers["Location"]).get_data(as_text=True)
    assert db.session.get(Institution, burkina.id) is not None


def test_an_institutions_admin_manages_its_own_accounts_only(app, db, client, burkina):
    admin = make_user(Role.ADMIN)
    open_session(client, admin)
    theirs = make_user(Role.STAFF, institution_id=burkina.id)
    assert client.get(f"/admin/users/{theirs.id}").status_code == 404
    assert theirs.email not in client.get("/admin/users").get_data(as_text=True)
    assert client.get("/admin/institutions").status_code == 403


def test_a_sharing_change_is_in_the_history(app, db, client):
    staff = make_user(Role.STAFF)
    meeting = make_meeting(staff)
    open_session(client, staff)
    form = {
        "title": meeting.title,
        "kind": "audience",
        "status": "held",
        "confidentiality": "internal",
        "sharing": "aes",
        "starts_at": "2026-01-22T10:00",
        "ends_at": "2026-01-22T11:00",
        "timezone": "Africa/Bamako",
        "version": meeting.version,
    }
    assert client.post(f"/meetings/{meeting.id}/edit", data=form).status_code == 302
    change = db.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "meeting", AuditEvent.action == "update")
    ).one()
    assert change.changes["sharing"] == ["institution", "aes"]
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.actor_id == staff.id)) >= 1


def test_the_aes_view_against_a_hand_counted_set(app, db, burkina, niger):
    """Huawei's group met by the three ministries; Niger keeps its meeting to itself; Orange met by Mali alone."""
    ml = {"staff": make_user(Role.STAFF), "viewer": make_user(Role.VIEWER)}
    bf = make_user(Role.STAFF, institution_id=burkina.id)
    ne = {
        "staff": make_user(Role.STAFF, institution_id=niger.id),
        "viewer": make_user(Role.VIEWER, institution_id=niger.id),
    }
    group = make_org("Huawei Technologies", country="CN", kind="vendor")
    huawei = {
        code: make_org(f"Huawei {code}", country=code, kind="vendor", parent_id=group.id) for code in ("ML", "BF", "NE")
    }
    orange = make_org("Orange Mali")
    first = make_meeting(ml["staff"], "Huawei 1", orgs=[huawei["ML"]], sharing="aes", starts=datetime(2026, 1, 22, 11))
    make_meeting(ml["staff"], "Huawei 2", orgs=[huawei["ML"]], sharing="aes", starts=datetime(2026, 3, 2, 10))
    make_meeting(ml["staff"], "Orange", orgs=[orange], sharing="aes")
    make_meeting(bf, "Huawei Ouaga", orgs=[huawei["BF"]], sharing="aes", tz="Africa/Ouagadougou")
    kept = make_meeting(ne["staff"], "Huawei Niamey", orgs=[huawei["NE"]], tz="Africa/Niamey")  # not shared
    for author, meeting, org, due in [
        (ml["staff"], first, huawei["ML"], date(2026, 2, 1)),  # overdue
        (ml["staff"], first, huawei["ML"], date(2099, 1, 1)),
        (bf, None, huawei["BF"], date(2099, 1, 1)),
        (ne["staff"], kept, huawei["NE"], date(2099, 1, 1)),
    ]:
        make_commitment(
            author,
            "Former les jeunes",
            owed_by="partner",
            organisation_id=org.id,
            origin_meeting_id=meeting.id if meeting else None,
            sharing="aes",
            due_date=due,
        )
    from crm.readmodels import aes

    seen_from_mali = aes.partners_in_common(db.session, ml["viewer"], None)
    assert [p.group.name for p in seen_from_mali] == ["Huawei Technologies"]
    sides = seen_from_mali[0].sides
    ml_id, bf_id = ml["viewer"].institution_id, burkina.id
    assert set(sides) == {ml_id, bf_id}  # Niger's meeting is its own
    assert (sides[ml_id].meetings, sides[ml_id].open_theirs, sides[ml_id].overdue_theirs) == (2, 2, 1)
    assert sides[ml_id].last_meeting.title == "Huawei 2"
    assert (sides[bf_id].meetings, sides[bf_id].open_theirs) == (1, 1)
    assert [p.group.name for p in aes.promises_to_several(seen_from_mali)] == ["Huawei Technologies"]
    seen_from_niger = aes.partners_in_common(db.session, ne["viewer"], None)
    assert set(seen_from_niger[0].sides) == {ml_id, bf_id, niger.id}
    assert seen_from_niger[0].sides[niger.id].open_theirs == 1
    page = app.test_client()
    open_session(page, ml["viewer"])
    html = page.get("/aes").get_data(as_text=True)
    assert "Huawei Technologies" in html and "Orange" not in html and "2 rencontres" in html


def test_list_pages_run_as_many_statements_with_three_institutions_as_with_one(
    app, client, db, burkina, niger, count_queries
):
    viewer = make_user(Role.VIEWER)
    own = make_meeting(make_user(Role.STAFF), "Audience à Bamako")
    make_commitment(viewer, origin_meeting_id=own.id)
    open_session(client, viewer)
    urls = ["/meetings?when=past", "/commitments", "/visits?when=past", "/aes", "/meetings/month?m=2026-01"]
    counts = []
    for extra in (False, True):
        if extra:  # the other ministries' own and shared records, and a joint meeting
            for institution in (burkina, niger):
                author = make_user(Role.STAFF, institution_id=institution.id)
                for sharing in ("institution", "aes"):
                    meeting = make_meeting(author, f"Audience {institution.code} {sharing}", sharing=sharing)
                    make_commitment(author, origin_meeting_id=meeting.id)
                meetings.add_participant(db.session, meeting, user_id=viewer.id)
                db.session.commit()
        row = []
        for url in urls:
            client.get(url)
            with count_queries() as statements:
                assert client.get(url).status_code == 200
            row.append(statements())
        counts.append(row)
    assert counts[0] == counts[1], dict(zip(urls, zip(*counts, strict=True), strict=True))


def test_users_create_puts_the_account_in_the_institution_named_by_its_code(app, db, burkina, monkeypatch):
    monkeypatch.setenv("CRM_PASSWORD", "une phrase de passe solide")
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "users",
            "create",
            "a.sawadogo@mtdpce.example",
            "--name",
            "Aminata Sawadogo",
            "--role",
            "officer",
            "--institution",
            "bf",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "BF" in result.output
    default = runner.invoke(args=["users", "create", "b.traore@mcenma.example", "--name", "Bakary Traoré"])
    assert default.exit_code == 0, default.output
    by_email = {u.email: u for u in db.session.scalars(select(User))}
    assert by_email["a.sawadogo@mtdpce.example"].institution_id == burkina.id
    assert by_email["b.traore@mcenma.example"].institution_id == institutions.first_institution(db.session).id
    listed = runner.invoke(args=["users", "list"]).output
    assert "a.sawadogo@mtdpce.example\tofficer\tBF" in listed


def test_users_create_refuses_an_unknown_institution_and_makes_no_account(app, db, burkina, monkeypatch):
    monkeypatch.setenv("CRM_PASSWORD", "une phrase de passe solide")
    result = app.test_cli_runner().invoke(args=["users", "create", "x@y.example", "--name", "X", "--institution", "TD"])
    assert result.exit_code != 0
    assert "'TD'" in result.output and "BF" in result.output and "ML" in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_the_history_says_changes_in_words_not_codes(app, db, client):
    staff = make_user(Role.STAFF, name="Ibrahim Maïga")
    meeting = make_meeting(staff)
    open_session(client, staff)
    form = {
        "title": meeting.title,
        "kind": "audience",
        "status": "cancelled",
        "confidentiality": "internal",
        "sharing": "aes",
        "starts_at": "2026-01-22T10:00",
        "ends_at": "2026-01-22T11:00",
        "timezone": "Africa/Bamako",
        "version": meeting.version,
    }
    client.post(f"/meetings/{meeting.id}/edit", data=form)
    participant = db.session.scalars(select(Participant).where(Participant.meeting_id == meeting.id)).first()
    client.post(
        f"/meetings/{meeting.id}/participants/{participant.id}",
        data={"role": "chair", "attendance": "present", "version": participant.version},
        headers=htmx_headers(),
    )
    history = client.get(f"/meetings/{meeting.id}").get_data(as_text=True).split('id="history-title"')[1]
    assert '<del dir="auto">Gardé au sein de mon institution</del> → <ins dir="auto">Partagé' in history
    assert '<del dir="auto">Tenue</del> → <ins dir="auto">Annulé(e)</ins>' in history
    assert "participant « Ibrahim Maïga »" in history and "Président(e) de séance" in history
    for code in (">institution</del>", ">aes<", ">cancelled<", ">chair<", ">present<"):
        assert code not in history


def test_a_programme_line_of_a_joint_visit_seats_each_member_on_their_side(app, db, burkina):
    """The Burkinabè minister travels with Mali's delegation to meet Huawei: three parties, each on its side."""
    host = make_user(Role.STAFF, name="Awa Traoré")
    colleague = make_user(Role.STAFF, name="Ibrahim Maïga")
    minister = make_contact("Zerbo Sabané", "Aminata", honorific="S.E.")
    huawei = make_org("Huawei Technologies Mali")
    partner = make_contact("Zhang", "Wei")
    for contact, organisation, title in ((minister, burkina.organisation_id, "Ministre"), (partner, huawei.id, "DG")):
        db.session.add(
            Position(contact_id=contact.id, organisation_id=organisation, title=title, start_date=date(2025, 1, 1))
        )
    visit = visits.save_visit(
        db.session,
        {
            "title": "Délégation à Shenzhen",
            "direction": "outgoing",
            "purpose": "Rencontrer Huawei",
            "city": "Bamako",
            "country_code": "ML",
            "starts_on": date(2026, 3, 2),
            "ends_on": date(2026, 3, 4),
            "status": "planned",
            "confidentiality": "internal",
        },
        host,
    )
    visits.add_member(db.session, visit, user_id=colleague.id)
    visits.add_member(db.session, visit, contact_id=minister.id, role="head")
    visits.add_member(db.session, visit, contact_id=partner.id)
    db.session.commit()
    visit = visits.visit_detail(db.session, visit.id, host)
    item = visits.add_item(db.session, visit, {"day": date(2026, 3, 3), "activity": "Séance avec Huawei"})

    meeting = visits.meeting_from_item(db.session, visit, item, host)
    db.session.commit()

    seats = {
        (("user", p.user_id) if p.user_id else ("contact", p.contact_id)): (
            p.side,
            p.institution_id,
            p.organisation_id,
            p.role,
        )
        for p in db.session.scalars(select(Participant).where(Participant.meeting_id == meeting.id))
    }
    ml = host.institution_id
    assert seats[("user", host.id)][:2] == ("ours", ml)
    assert seats[("user", colleague.id)] == ("ours", ml, None, "member")
    assert seats[("contact", minister.id)] == ("ours", burkina.id, burkina.organisation_id, "chair")
    assert seats[("contact", partner.id)] == ("partner", None, huawei.id, "member")
    assert meeting.kind == "multilateral"
    assert meetings.co_owners(db.session, meeting.id) == [ml, burkina.id]


def test_the_shared_directory_says_which_institution_changed_a_record(app, db, burkina):
    orange = make_org("Orange Mali", city="Bamako")
    editor = app.test_client()
    open_session(editor, make_user(Role.STAFF, name="Aïcha Kaboré", institution_id=burkina.id))
    form = {"name": "Orange Mali", "kind": "operator", "country_code": "ML", "city": "Kayes", "version": orange.version}
    assert editor.post(f"/organisations/{orange.id}/edit", data=form).status_code == 302
    reader, _u = _client(app, Role.VIEWER, institutions.first_institution(db.session))
    history = reader.get(f"/organisations/{orange.id}").get_data(as_text=True).split('id="history-title"')[1]
    assert "<strong>Aïcha Kaboré (MTDPCE)</strong>" in history and "Kayes" in history


def test_a_new_account_reads_times_in_its_ministrys_time_zone(app, db, niger):
    from crm.auth import services as auth

    institutions.get(db.session, niger.id).timezone = "Africa/Niamey"
    user = auth.create_user(
        db.session,
        email="m.hama@mcpen.example",
        name="Mariama Hama",
        role=Role.STAFF,
        password="une phrase de passe solide",
        institution_id=niger.id,
    )
    mali = auth.create_user(
        db.session, email="b@mcenma.example", name="B", role=Role.STAFF, password="une phrase de passe solide"
    )
    assert (user.timezone, mali.timezone) == ("Africa/Niamey", "Africa/Bamako")
