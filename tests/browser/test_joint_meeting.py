"""A joint meeting of two AES ministries in Chromium: the Mali officer and the Burkina Faso officer each
approve their side, both print the minutes with two signature blocks; Niger's officer sees nothing of the
meeting until Mali shares it, and then only reads it."""

from __future__ import annotations

import io
from datetime import datetime

from playwright.sync_api import expect
from pypdf import PdfReader

from crm.auth.models import Role
from crm.extensions import db
from crm.meetings import services as meetings
from tests.browser.conftest import shot, sign_in
from tests.conftest import ERROR_FR, make_meeting, make_user
from tests.test_institutions import _add_institution

TITLE = "Séance de travail MCENMA–MTDPCE sur la coordination numérique"


def _joint_meeting(app, host_staff) -> dict:
    with app.app_context():
        burkina = _add_institution(db, "BF", "MTDPCE Ministère de la Transition digitale", "BF")
        niger = _add_institution(db, "NE", "MCPEN Ministère de la Communication du Niger", "NE")
        bf_officer = make_user(
            Role.OFFICER, email="salif@mtdpce.example", name="Salif Ouédraogo", institution_id=burkina.id
        )
        make_user(Role.OFFICER, email="hadiza@mcpen.example", name="Hadiza Moussa", institution_id=niger.id)
        host = db.session.merge(host_staff)
        meeting = make_meeting(host, TITLE, starts=datetime(2026, 1, 29, 15))
        meetings.add_participant(db.session, meeting, user_id=bf_officer.id)
        revision = meetings.start_minutes(db.session, meeting)
        meetings.save_minutes(
            db.session, revision, "Les deux ministères coordonnent leurs points focaux.", {}, revision.version
        )
        meetings.submit_minutes(db.session, revision, host, revision.version)
        db.session.commit()
        ids = {"meeting": meeting.id, "bf_authority": burkina.authority}
        db.session.remove()
    return ids


def _pdf_text(page, url: str) -> str:
    response = page.request.get(url)
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.body())).pages)


def test_two_ministries_approve_their_sides_and_a_third_sees_nothing_until_shared(live_server, page_for):
    base = live_server["url"]
    ids = _joint_meeting(live_server["app"], live_server["users"][Role.STAFF])
    meeting_url = f"{base}/meetings/{ids['meeting']}"

    # Niger's officer: the meeting is nowhere, and its address is the same 404 as a missing one.
    niger = page_for("fr-FR")
    sign_in(niger, base, "hadiza@mcpen.example")
    niger.goto(f"{base}/meetings?when=past")
    expect(niger.locator("main")).not_to_contain_text(TITLE)
    assert niger.goto(meeting_url).status == 404
    expect(niger.locator("main")).to_contain_text(ERROR_FR[404])

    # Mali's officer approves Mali's side; the page says Burkina Faso has still to approve.
    mali = page_for("fr-FR")
    sign_in(mali, base, "officer@mcenma.example")
    mali.goto(f"{meeting_url}/minutes")
    expect(mali.locator("main")).to_contain_text("MTDPCE")
    mali.get_by_role("button", name="Approuver pour MCENMA").click()
    expect(mali.locator("main")).to_contain_text("Approuvé pour MCENMA.")
    expect(mali.locator("main")).not_to_contain_text("verrouillée")
    expect(mali.locator("main")).to_contain_text("Votre institution a approuvé ; en attente des autres.")
    expect(mali.locator("main")).to_contain_text("à approuver")
    shot(mali, "joint-1-mali-approved-its-side-fr")

    # Burkina Faso's officer approves theirs: the minutes are approved.
    burkina = page_for("fr-FR")
    sign_in(burkina, base, "salif@mtdpce.example")
    burkina.goto(f"{meeting_url}/minutes")
    burkina.get_by_role("button", name="Approuver pour MTDPCE").click()
    expect(burkina.locator("main")).to_contain_text("Compte rendu approuvé. Cette version est désormais verrouillée.")
    expect(burkina.locator("main")).not_to_contain_text("à approuver")
    shot(burkina, "joint-2-burkina-approved-fr")

    # Both print the same approved minutes, one signature block per ministry and no partner's block.
    texts = [_pdf_text(p, f"{meeting_url}/minutes.pdf") for p in (mali, burkina)]
    assert texts[0] == texts[1]
    flat = " ".join(texts[0].split())
    assert flat.count("Approuvé le") == 2
    assert "Pour Ministère de la Communication" in flat or "Pour le Ministère" in flat or "Pour MCENMA" in flat
    assert f"Pour {ids['bf_authority']}" in flat
    assert "Pour le partenaire" not in flat and "PROJET" not in flat

    # Still nothing for Niger; then Mali shares the meeting with the AES institutions.
    assert niger.goto(meeting_url).status == 404
    mali.goto(f"{meeting_url}/edit")
    mali.select_option("select[name=sharing]", "aes")
    mali.locator("form button.primary").click()
    expect(mali).to_have_url(meeting_url)  # saved, back on the meeting's page
    expect(mali.locator("main")).to_contain_text("Rencontre enregistrée.")
    expect(mali.locator("main")).to_contain_text("Partagé avec les autres institutions de l’AES")

    # Niger reads it, with nothing to approve or change.
    assert niger.goto(meeting_url).status == 200
    expect(niger.locator("h1")).to_contain_text(TITLE)
    expect(niger.get_by_role("link", name="Modifier")).to_have_count(0)
    niger.goto(f"{meeting_url}/minutes")
    expect(niger.get_by_role("button", name="Approuver pour MCPEN")).to_have_count(0)
    shot(niger, "joint-3-niger-reads-the-shared-meeting-fr")
