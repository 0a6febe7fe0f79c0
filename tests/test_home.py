"""The home page ("Aujourd'hui"): each block against hand-made data, for each role, across institutions."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm.auth.models import Role
from crm.commitments import services as commitments
from crm.meetings import services as meetings
from crm.partners.models import PartnerFollow
from crm.readmodels import today as home
from tests.conftest import htmx_headers, make_commitment, make_meeting, make_org, make_user, open_session
from tests.test_institutions import _add_institution

TODAY = date.today()


def _block(page: str, heading_id: str) -> str:
    """The text of one block of the home page (from its heading to the next block)."""
    start = page.index(f'id="{heading_id}"')
    end = page.find('<section class="block', start)
    return page[start : end if end != -1 else None]


def _submitted(actor, title: str, **meeting):
    record = make_meeting(actor, title, **meeting)
    revision = meetings.start_minutes(meetings_session(), record)
    meetings.save_minutes(meetings_session(), revision, "Points abordés.", {}, revision.version)
    meetings.submit_minutes(meetings_session(), revision, actor, revision.version)
    meetings_session().commit()
    return record, revision


def meetings_session():
    from crm.extensions import db

    return db.session


@pytest.fixture
def burkina(db):
    return _add_institution(db, "BF", "MTDPCE Ministère de la Transition digitale", "BF")


# --- minutes awaiting approval ----------------------------------------------------------------------


def test_an_officer_sees_the_minutes_waiting_for_their_institution_only(client, db, burkina):
    officer = make_user(Role.OFFICER, name="Awa Traoré")
    staff = make_user(Role.STAFF)
    _submitted(staff, "Audience Huawei Mali")
    joint, revision = _submitted(staff, "Réunion conjointe MCENMA–MTDPCE")
    meetings.add_participant(db.session, joint, user_id=make_user(Role.STAFF, institution_id=burkina.id).id)
    db.session.commit()
    bf_staff = make_user(Role.STAFF, institution_id=burkina.id)
    _submitted(bf_staff, "Audience burkinabè non partagée")
    _submitted(staff, "Audience confidentielle", confidentiality="confidential")
    open_session(client, officer)

    waiting = _block(client.get("/").get_data(as_text=True), "b-approve")
    assert "Audience Huawei Mali" in waiting and "Réunion conjointe MCENMA–MTDPCE" in waiting
    assert "Audience burkinabè non partagée" not in waiting  # another institution's, kept to itself
    assert "Audience confidentielle" not in waiting  # not a participant
    assert waiting.count("Approuver pour MCENMA") == 2

    # once Mali has approved its side of the joint minutes, they wait for Burkina Faso, not for Mali
    meetings.approve_minutes(db.session, revision, make_user(Role.OFFICER), revision.version)
    db.session.commit()
    waiting = _block(client.get("/").get_data(as_text=True), "b-approve")
    assert "Réunion conjointe" not in waiting and "Audience Huawei Mali" in waiting


def test_staff_have_no_approval_block(client, db, login_as):
    staff = login_as(Role.STAFF)
    _submitted(staff, "Audience Huawei Mali")
    page = client.get("/").get_data(as_text=True)
    assert 'id="b-approve"' not in page and "Approuver" not in page


def test_an_officer_approves_from_the_home_page_and_comes_back_to_it(client, db, login_as):
    officer = login_as(Role.OFFICER)
    record, revision = _submitted(officer, "Audience Huawei Mali")
    page = client.get("/").get_data(as_text=True)
    assert f'action="/meetings/{record.id}/minutes/approve"' in page
    response = client.post(f"/meetings/{record.id}/minutes/approve", data={"version": revision.version, "from": "home"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    after = client.get("/").get_data(as_text=True)
    assert "Compte rendu approuvé. Cette version est désormais verrouillée." in after
    assert "Aucun compte rendu n’attend votre approbation." in _block(after, "b-approve")


# --- commitments due --------------------------------------------------------------------------------


def test_my_commitments_due_within_two_weeks_or_overdue(client, db, login_as):
    me = login_as(Role.STAFF, name="Ibrahim Maïga")
    colleague = make_user(Role.OFFICER)
    orange = make_org("Orange Mali")
    make_commitment(me, "Envoyer la note verbale", due_date=TODAY + timedelta(days=3))
    make_commitment(me, "Relancer l’ARPT", due_date=TODAY - timedelta(days=10))
    make_commitment(me, "Préparer la revue annuelle", due_date=TODAY + timedelta(days=30))
    done = make_commitment(me, "Désigner le point focal", due_date=TODAY - timedelta(days=2))
    commitments.change_status(db.session, done, "done", "Fait.", me, done.version)
    make_commitment(colleague, "Engagement d’un collègue", due_date=TODAY + timedelta(days=1))
    make_commitment(
        colleague, "Orange étendra la couverture", owed_by="partner", organisation_id=orange.id, due_date=TODAY
    )
    db.session.commit()

    due = _block(client.get("/").get_data(as_text=True), "b-due")
    assert "Envoyer la note verbale" in due and "Relancer l’ARPT" in due
    assert due.count("en retard") == 1
    for absent in ("Préparer la revue annuelle", "Désigner le point focal", "Engagement d’un collègue"):
        assert absent not in due
    assert "Orange étendra la couverture" not in due  # not followed yet

    client.post(f"/organisations/{orange.id}/follow", data={"follow": "1"})
    due = _block(client.get("/").get_data(as_text=True), "b-due")
    assert "Orange étendra la couverture" in due  # a partner I follow


def test_nothing_due_says_so(client, db, login_as):
    login_as(Role.VIEWER)
    due = _block(client.get("/").get_data(as_text=True), "b-due")
    assert "Rien à échéance dans les 14 prochains jours, rien en retard." in due


# --- minutes to write --------------------------------------------------------------------------------


def test_meetings_i_took_part_in_without_minutes_and_my_drafts(client, db, login_as):
    me = login_as(Role.STAFF)
    colleague = make_user(Role.STAFF)
    past = datetime.combine(TODAY - timedelta(days=5), datetime.min.time()).replace(hour=10)
    make_meeting(me, "Audience sans compte rendu", starts=past)
    drafted = make_meeting(me, "Audience en brouillon", starts=past)
    meetings.start_minutes(db.session, drafted)
    make_meeting(me, "Audience annulée", starts=past, status="cancelled")
    make_meeting(me, "Audience à venir", starts=past + timedelta(days=30), status="planned")
    make_meeting(colleague, "Audience d’un collègue", starts=past)
    db.session.commit()

    block = _block(client.get("/").get_data(as_text=True), "b-write")
    held, drafts = block.split("Brouillons en cours")
    assert "Audience sans compte rendu" in held and "Audience en brouillon" not in held
    assert "Audience en brouillon" in drafts
    for absent in ("Audience annulée", "Audience à venir", "Audience d’un collègue"):
        assert absent not in block


# --- the week ------------------------------------------------------------------------------------------


def test_this_weeks_meetings_of_my_institution_with_mine_marked(client, db, burkina):
    me = make_user(Role.STAFF)
    colleague = make_user(Role.STAFF)
    monday, _next = home.week_bounds(TODAY)
    at = datetime.combine(monday + timedelta(days=2), datetime.min.time()).replace(hour=10)
    make_meeting(me, "Séance de travail avec l’AGETIC", starts=at)
    make_meeting(colleague, "Audience du Secrétaire général", starts=at + timedelta(hours=2))
    make_meeting(colleague, "La semaine suivante", starts=at + timedelta(days=7))
    make_meeting(make_user(Role.STAFF, institution_id=burkina.id), "Audience à Ouagadougou", starts=at)
    open_session(client, me)

    week = _block(client.get("/").get_data(as_text=True), "b-week")
    assert "Séance de travail avec l’AGETIC" in week and "Audience du Secrétaire général" in week
    assert "La semaine suivante" not in week and "Audience à Ouagadougou" not in week
    assert week.count("vous y participez") == 1


# --- followed partners ---------------------------------------------------------------------------------


def test_following_is_one_click_and_twice_changes_nothing(client, db, login_as):
    me = login_as(Role.VIEWER)
    orange = make_org("Orange Mali")
    page = client.get(f"/organisations/{orange.id}").get_data(as_text=True)
    assert 'aria-pressed="false"' in page and "☆ Suivre" in page
    for _ in range(2):
        answer = client.post(f"/organisations/{orange.id}/follow", data={"follow": "1"}, headers=htmx_headers())
        assert answer.status_code == 200 and 'aria-pressed="true"' in answer.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(PartnerFollow).where(PartnerFollow.user_id == me.id)) == 1
    stop = client.post(f"/organisations/{orange.id}/follow", data={"follow": "0"})
    assert stop.status_code == 302
    assert "☆ Suivre" in client.get(f"/organisations/{orange.id}").get_data(as_text=True)


def test_a_forged_follow_is_refused(client, db, login_as):
    login_as(Role.VIEWER)
    orange = make_org("Orange Mali")
    assert client.post(f"/organisations/{orange.id}/follow", data={"follow": "maybe"}).status_code == 400
    assert client.post("/organisations/999999/follow", data={"follow": "1"}).status_code == 404


def test_news_of_followed_partners_respects_who_sees_what(client, db, burkina):
    me = make_user(Role.STAFF)
    huawei = make_org("Huawei Technologies Mali")
    recent = datetime.combine(TODAY - timedelta(days=3), datetime.min.time()).replace(hour=10)
    make_meeting(make_user(Role.STAFF), "Audience avec Huawei Mali", orgs=[huawei], starts=recent)
    make_meeting(
        make_user(Role.STAFF),
        "Audience confidentielle Huawei",
        orgs=[huawei],
        starts=recent,
        confidentiality="confidential",
    )
    make_meeting(
        make_user(Role.STAFF, institution_id=burkina.id), "Audience Huawei à Ouagadougou", orgs=[huawei], starts=recent
    )
    open_session(client, me)
    assert "Vous ne suivez encore aucun partenaire." in _block(client.get("/").get_data(as_text=True), "b-follow")
    client.post(f"/organisations/{huawei.id}/follow", data={"follow": "1"})

    news = _block(client.get("/").get_data(as_text=True), "b-follow")
    assert "Audience avec Huawei Mali" in news
    assert "Audience confidentielle Huawei" not in news and "Audience Huawei à Ouagadougou" not in news


# --- figures -------------------------------------------------------------------------------------------


def test_promises_kept_per_quarter_and_the_most_overdue_partners_counted_by_hand(client, db, login_as):
    me = login_as(Role.OFFICER)
    orange, huawei = make_org("Orange Mali"), make_org("Huawei Technologies Mali")
    quarter = home.quarters(TODAY)[-1]
    day = quarter.first + timedelta(days=2)
    # this quarter, ours: 2 due, 1 kept on time (the other kept late); partners': 1 due, none kept
    on_time = make_commitment(me, "Tenu à temps", due_date=day)
    late = make_commitment(me, "Tenu en retard", due_date=day)
    make_commitment(me, "Orange étendra la couverture", owed_by="partner", organisation_id=orange.id, due_date=day)
    cancelled = make_commitment(me, "Annulé", due_date=day)
    commitments.change_status(db.session, on_time, "done", "Fait.", me, on_time.version, today=day)
    commitments.change_status(db.session, late, "done", "Fait.", me, late.version, today=day + timedelta(days=40))
    commitments.change_status(db.session, cancelled, "cancelled", "Abandonné.", me, cancelled.version)
    # overdue: Huawei 2, Orange 1 (the partner's above, if its day has passed) — counted below
    for title in ("Former des jeunes", "Transférer des compétences"):
        make_commitment(me, title, owed_by="partner", organisation_id=huawei.id, due_date=TODAY - timedelta(days=9))
    db.session.commit()

    kept = home.promises_kept(db.session, me, TODAY)[-1]
    assert (kept.due["ours"], kept.kept["ours"], kept.rate("ours")) == (2, 1, 50)
    partner_due = 1 + sum(1 for d in [TODAY - timedelta(days=9)] * 2 if d >= quarter.first)
    assert kept.due["partner"] == partner_due and kept.kept["partner"] == 0

    figures = client.get("/today/figures", headers=htmx_headers()).get_data(as_text=True)
    assert "<svg" in figures and "<html" not in figures
    assert re.search(r"<desc id=\"kept-desc\">[^<]*nous 50 % \(1/2\)", figures)
    overdue = dict(home.most_overdue(db.session, me, TODAY))
    assert {o.name: n for o, n in overdue.items()}["Huawei Technologies Mali"] == 2
    assert "Huawei Technologies Mali : 2" in figures


def test_the_figures_page_works_without_javascript(client, db, login_as):
    login_as(Role.VIEWER)
    page = client.get("/today/figures").get_data(as_text=True)
    assert "<html" in page and "Part des promesses tenues à temps" in page


# --- the meetings list: where the minutes stand ------------------------------------------------------


def test_the_meetings_list_shows_and_filters_where_the_minutes_stand(client, db, login_as):
    me = login_as(Role.OFFICER)
    past = datetime.combine(TODAY - timedelta(days=5), datetime.min.time()).replace(hour=10)
    make_meeting(me, "Sans compte rendu", starts=past)
    _submitted(me, "En attente d’approbation", starts=past)
    page = client.get("/meetings?when=past").get_data(as_text=True)
    assert "Pas encore de compte rendu" in page and "Soumis pour approbation" in page
    waiting = client.get("/meetings?when=past&minutes=submitted").get_data(as_text=True)
    assert "En attente d’approbation" in waiting and "Sans compte rendu" not in waiting
    none = client.get("/meetings?when=past&minutes=none").get_data(as_text=True)
    assert "Sans compte rendu" in none and "En attente d’approbation" not in none
    assert "Sans compte rendu" in client.get("/meetings?when=past&minutes=bogus").get_data(as_text=True)


def test_a_minutes_change_does_not_make_the_meeting_form_stale(client, db, login_as):
    me = login_as(Role.STAFF)
    record = make_meeting(me, "Audience Huawei Mali")
    version = record.version
    meetings.start_minutes(db.session, record)
    db.session.commit()
    db.session.expire_all()
    assert meetings.visible_meeting(db.session, record.id, me).version == version


def _fill_for(db, me, n: int, tag: str) -> None:
    """n meetings of this week and of last month that ``me`` took part in, half with submitted minutes,
    n commitments coming due, a followed partner in each meeting."""
    from crm.commitments.models import Commitment
    from crm.meetings.models import Meeting, MeetingInstitution, MeetingOrganisation, MinutesRevision, Participant
    from crm.partners.models import Organisation

    org = Organisation(name=f"Partenaire {tag}", name_key=f"partenaire {tag}", search=tag, country_code="ML")
    db.session.add(org)
    db.session.flush()
    db.session.add(PartnerFollow(user_id=me.id, organisation_id=org.id))
    now = datetime.now().astimezone()
    rows = [
        Meeting(
            reference=f"ML-AUD-{tag}-{i:05d}",
            year=2026,
            title=f"Réunion {tag} {i}",
            starts_at=now - timedelta(days=20 if i % 2 else 0, minutes=i),
            ends_at=now - timedelta(days=20 if i % 2 else 0, minutes=i) + timedelta(minutes=30),
            search=f"reunion {i}",
            status="held",
            minutes_status="submitted" if i % 4 == 1 else None,
            owner_institution_id=me.institution_id,
        )
        for i in range(n)
    ]
    db.session.add_all(rows)
    db.session.flush()
    for m in rows:
        db.session.add(MeetingOrganisation(meeting_id=m.id, organisation_id=org.id))
        db.session.add(MeetingInstitution(meeting_id=m.id, institution_id=me.institution_id))
        db.session.add(Participant(meeting_id=m.id, side="ours", user_id=me.id, institution_id=me.institution_id))
        if m.minutes_status:
            db.session.add(MinutesRevision(meeting_id=m.id, number=1, summary="x", status="submitted"))
    db.session.add_all(
        Commitment(
            reference=f"ML-ENG-{tag}-{i:05d}",
            title=f"Engagement {i}",
            responsible_id=me.id,
            organisation_id=org.id,
            due_date=TODAY + timedelta(days=i % 20 - 5),
            due_key=TODAY + timedelta(days=i % 20 - 5),
            search=f"engagement {i}",
            owner_institution_id=me.institution_id,
            institution_id=me.institution_id,
        )
        for i in range(n)
    )
    db.session.commit()


@pytest.mark.parametrize("url", ["/", "/today/figures"])
def test_the_home_page_reads_as_many_statements_at_10_and_1000_rows(client, db, login_as, count_queries, url):
    me = login_as(Role.OFFICER)
    counts = []
    for n, tag in ((10, "a"), (1000, "b")):
        _fill_for(db, me, n, tag)
        client.get(url)
        with count_queries() as statements:
            assert client.get(url).status_code == 200
        counts.append(statements())
    assert counts[0] == counts[1], counts
    # the session, the bell's unread count, then one statement a block (figures: one a chart)
    assert counts[0] <= (11 if url == "/" else 4), counts
