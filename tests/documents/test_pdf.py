"""Printed minutes: what the PDF says, in which fonts, frozen at approval, verifiable, fenced in."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import socket
import subprocess
import sys
import threading
from datetime import date, datetime, time
from pathlib import Path
from xml.etree import ElementTree

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from crm.auth.models import Role
from crm.documents.models import FrozenDocument
from crm.documents.pdf import STATIC_PREFIX, LocalOnlyFetcher, PdfRenderer
from crm.meetings import services
from crm.meetings.models import Participant
from crm.partners import institutions
from crm.partners.models import Contact, Position
from crm.visits import services as visits
from tests.conftest import (
    ERROR_FR,
    error_message,
    make_commitment,
    make_contact,
    make_meeting,
    make_org,
    make_user,
    sign_in,
)

NKO = "ߝߊߕߎߡߊߕߊ ߞߋߕߊ"
ARABIC = "مريم ولد أحمد"


def _text(data: bytes) -> str:
    """The words of the PDF, whitespace folded (lines wrap wherever the layout puts them)."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def _fonts(data: bytes) -> set[str]:
    names = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            names.add(str(font.get_object()["/BaseFont"]).split("+")[-1])
    return names


@pytest.fixture
def audience(db):
    """An audience with names in Latin (accents, apostrophes), N'Ko and Arabic, minutes and a commitment."""
    note_taker = make_user(Role.STAFF, name="Ibrahim Maïga")
    orange = make_org("Orange Mali")
    ministry = make_org("Ministère de la Transition digitale", country="BF", kind="ministry")
    leyti = make_contact("N’Diaye", "Leyti", honorific="M.")
    aminata = make_contact("Zerbo Sabané", "Aminata", honorific="S.E.")
    fatoumata = make_contact("Keïta", "Fatoumata", native_name=NKO)
    mariam = make_contact("Ould Ahmed", "Mariam", native_name=ARABIC)
    for contact, org, title in [
        (leyti, orange, "Directeur général"),
        (aminata, ministry, "Ministre de la Transition digitale"),
        (fatoumata, orange, "Cheffe de projet"),
        (mariam, orange, "Conseillère"),
    ]:
        db.session.add(
            Position(contact_id=contact.id, organisation_id=org.id, title=title, start_date=date(2025, 1, 1))
        )
    db.session.commit()
    meeting = make_meeting(note_taker, orgs=[orange, ministry])
    for contact, org in [(leyti, orange), (aminata, ministry), (fatoumata, orange), (mariam, orange)]:
        services.add_participant(db.session, meeting, contact_id=contact.id, organisation_id=org.id, role="member")
    revision = services.start_minutes(db.session, meeting)
    item = services.add_item(db.session, revision, revision.version, "Couverture des zones rurales")
    services.save_minutes(
        db.session,
        revision,
        "Le Ministre a reçu M. Leyti N’Diaye.\n" + "Échanges nourris sur la connectivité. " * 120,
        {item.id: {"discussion": "Qualité de service.", "decisions": "Orange Mali transmettra son plan"}},
        revision.version,
    )
    db.session.commit()
    make_commitment(
        note_taker,
        "Orange Mali transmettra son plan",
        owed_by="partner",
        origin_meeting_id=meeting.id,
        organisation_id=orange.id,
        due_date=date(2026, 3, 31),
    )
    return meeting, note_taker


def test_the_minutes_show_every_section_and_every_script(client, audience, login_as):
    meeting, _staff = audience
    login_as(Role.VIEWER)
    response = client.get(f"/meetings/{meeting.id}/minutes.pdf")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/pdf"
    assert "no-store" in response.headers["Cache-Control"]
    text = _text(response.data)
    for expected in (
        "COMPTE RENDU",
        "PARTICIPANTS",
        "SYNTHÈSE",
        "ORDRE DU JOUR",
        "ENGAGEMENTS",
        "Décisions",
        "ML-AUD-2026-0001",
        "Couverture des zones rurales",
        "ML-ENG-2026-0001",
        "INTERNE",
        "N’Diaye",
        "Zerbo Sabané",
        "Directeur général",
        "Keïta",
    ):
        assert expected in text, expected
    pages = len(PdfReader(io.BytesIO(response.data)).pages)
    assert pages == 3 and f"Page 1 / {pages}" in text and f"Page {pages} / {pages}" in text
    assert NKO.split(maxsplit=1)[0] in text
    assert text.count("PROJET") == pages  # the watermark, on every page of a draft
    fonts = _fonts(response.data)
    assert {"Noto-Sans", "Noto-Sans-NKo", "Noto-Naskh-Arabic"} <= fonts, fonts
    meta = PdfReader(io.BytesIO(response.data)).metadata
    assert meeting.title in meta.title and meta.author and "ML-AUD-2026-0001" in meta.subject


def test_an_unchanged_draft_is_not_rendered_again_and_a_change_is(app, client, audience, login_as, monkeypatch):
    meeting, staff = audience
    login_as(Role.VIEWER)
    first = client.get(f"/meetings/{meeting.id}/minutes.pdf").data
    renders = []
    render = PdfRenderer.render
    monkeypatch.setattr(PdfRenderer, "render", lambda self, *a: renders.append(1) or render(self, *a))
    assert client.get(f"/meetings/{meeting.id}/minutes.pdf").data == first and renders == []
    assert "DRAFT" in _text(client.get(f"/meetings/{meeting.id}/minutes.pdf?lang=en").data) and len(renders) == 1
    make_commitment(staff, "Transmettre la note sur le roaming", origin_meeting_id=meeting.id)  # not the minutes
    assert "Transmettre la note sur le roaming" in _text(client.get(f"/meetings/{meeting.id}/minutes.pdf").data)
    assert len(renders) == 2


def test_english_on_request(client, audience, login_as):
    meeting, _staff = audience
    login_as(Role.VIEWER)
    text = _text(client.get(f"/meetings/{meeting.id}/minutes.pdf?lang=en").data)
    assert "MINUTES" in text and "DRAFT" in text and "PROJET" not in text and "Page 1 / " in text


def test_an_unknown_language_is_the_apps_own_400(client, audience, login_as):
    meeting, _staff = audience
    login_as(Role.VIEWER)
    response = client.get(f"/meetings/{meeting.id}/minutes.pdf?lang=xx")
    assert response.status_code == 400 and error_message(response) == ERROR_FR[400]


@pytest.fixture
def frozen(client, db, audience, login_as):
    """The audience's minutes submitted, then approved over HTTP by the officer who stays signed in.

    Returns the meeting, the frozen French document and the bytes served after approval.
    """
    meeting, staff = audience
    revision = services.revision_with_items(db.session, meeting.id)
    services.submit_minutes(db.session, revision, staff, revision.version)
    db.session.commit()
    login_as(Role.OFFICER)
    assert client.post(f"/meetings/{meeting.id}/minutes/approve", data={"version": revision.version}).status_code == 302
    document = db.session.scalars(select(FrozenDocument).where(FrozenDocument.lang == "fr")).one()
    return meeting, document, client.get(f"/meetings/{meeting.id}/minutes.pdf").data


def _verify(client, data: bytes):
    return client.post(
        "/verify/ML-AUD-2026-0001/1", data={"file": (io.BytesIO(data), "cr.pdf")}, content_type="multipart/form-data"
    )


def test_approval_freezes_the_pdf_served_from_then_on(client, frozen):
    meeting, document, first = frozen
    second = client.get(f"/meetings/{meeting.id}/minutes.pdf").data
    assert first == second and hashlib.sha256(first).hexdigest() == document.sha256
    text = _text(first)
    assert "PROJET" not in text and "/verify/ML-AUD-2026-0001/1" in text


def test_a_client_holding_the_approved_copy_is_told_it_is_unchanged(client, frozen):
    meeting, document, _first = frozen
    again = client.get(f"/meetings/{meeting.id}/minutes.pdf")
    assert again.headers["ETag"] == f'"{document.sha256}"' and again.headers["Last-Modified"]
    unchanged = client.get(f"/meetings/{meeting.id}/minutes.pdf", headers={"If-None-Match": again.headers["ETag"]})
    assert unchanged.status_code == 304 and unchanged.data == b""
    since = client.get(
        f"/meetings/{meeting.id}/minutes.pdf", headers={"If-Modified-Since": again.headers["Last-Modified"]}
    )
    assert since.status_code == 304 and since.data == b""


def test_an_outdated_copy_gets_the_approved_file_with_the_usual_protections(client, frozen):
    meeting, document, first = frozen
    fresh = client.get(f"/meetings/{meeting.id}/minutes.pdf", headers={"If-None-Match": '"0123"'})
    assert fresh.status_code == 200 and fresh.data == first
    plain = client.get(f"/meetings/{meeting.id}/minutes.pdf")
    for response in (fresh, plain):
        assert response.headers["ETag"] == f'"{document.sha256}"'
        assert response.headers["Content-Type"] == "application/pdf"
        assert response.headers["Content-Length"] == str(len(first))
        assert response.headers["Cache-Control"] == "no-store"  # never kept on a shared office computer
        assert "Cookie" in response.headers["Vary"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_the_approved_copy_is_refused_to_a_reader_who_may_not_see_the_meeting(client, db, frozen, login_as):
    meeting, document, _first = frozen
    meeting.confidentiality = "confidential"
    services.meeting_saved.send(meeting, session=db.session)
    db.session.commit()
    login_as(Role.OFFICER)  # another officer, not among the meeting's participants
    assert client.get(f"/meetings/{meeting.id}/minutes.pdf").status_code == 404
    held = client.get(f"/meetings/{meeting.id}/minutes.pdf", headers={"If-None-Match": f'"{document.sha256}"'})
    assert held.status_code == 404  # holding the fingerprint tells nothing either


def test_the_approved_copy_is_served_without_loading_the_meeting(client, frozen, count_queries):
    meeting, _document, first = frozen
    with count_queries() as statements:
        assert client.get(f"/meetings/{meeting.id}/minutes.pdf").data == first
    # the user, then the revision with its frozen document and its bytes (one statement): no participants, no items
    assert statements() <= 2


def test_the_approved_copy_is_authentic_and_its_fingerprint_is_not_shown(client, frozen):
    _meeting, document, first = frozen
    ok = _verify(client, first)
    assert ok.status_code == 200 and "Authentique" in ok.get_data(as_text=True)
    assert document.sha256 not in ok.get_data(as_text=True)  # fingerprints are never listed


def test_an_altered_copy_is_not_authentic(client, frozen):
    _meeting, _document, first = frozen
    bad = _verify(client, first + b"\n% a changed copy\n")
    assert "Aucun document approuvé ne porte cette empreinte" in bad.get_data(as_text=True)
    assert "Authentique" not in bad.get_data(as_text=True)


def test_a_malformed_fingerprint_is_refused_next_to_its_field(client, frozen):
    refused = client.post("/verify/ML-AUD-2026-0001/1", data={"sha256": "zz"})
    assert refused.status_code == 422
    assert (
        '<small id="sha256-err" class="error">Une empreinte compte 64 caractères hexadécimaux.</small>'
        in refused.get_data(as_text=True)
    )


def test_a_later_amendment_leaves_the_frozen_pdf_as_it_was(client, frozen):
    meeting, _document, first = frozen
    assert client.post(f"/meetings/{meeting.id}/minutes/amend", data={"reason": "Précision"}).status_code == 302
    assert client.get(f"/meetings/{meeting.id}/minutes.pdf?rev=1").data == first
    assert "PROJET" in _text(client.get(f"/meetings/{meeting.id}/minutes.pdf").data)


class Listener:
    """A TCP listener on 127.0.0.1 that counts who connects to it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


def test_hostile_minutes_come_out_as_text_and_fetch_nothing(client, db, login_as):
    staff = login_as(Role.STAFF)
    listener = Listener()
    try:
        url = f"http://127.0.0.1:{listener.port}/x"
        hostile = [
            '<img src="file:///etc/passwd">',
            f'<link rel="stylesheet" href="{url}.css">',
            f"<style>@import url({url}.css); body {{ background: url({url}.png) }}</style>",
            "<script>document.write('pwned')</script>",
            f'<div style="background-image:url({url}.svg)">x</div>',
        ]
        meeting = make_meeting(staff, title=f'Titre "hostile" </style><img src="{url}">', place=hostile[0])
        revision = services.start_minutes(db.session, meeting)
        item = services.add_item(db.session, revision, revision.version, hostile[1])
        services.save_minutes(
            db.session, revision, "\n".join(hostile), {item.id: {"decisions": hostile[4]}}, revision.version
        )
        db.session.commit()
        response = client.get(f"/meetings/{meeting.id}/minutes.pdf")
        assert response.status_code == 200
        text = _text(response.data).replace("\n", "")
        assert '<img src="file:///etc/passwd">' in text and "<script>document.write('pwned')</script>" in text
        assert "root:x:0:0" not in text
    finally:
        listener.close()
    assert listener.connections == 0


def test_the_fetcher_serves_only_the_projects_static_files(tmp_path):
    static = Path(__file__).resolve().parents[2] / "static"
    fetcher = LocalOnlyFetcher(static)
    assert fetcher.fetch(STATIC_PREFIX + "fonts/NotoSans-Regular.ttf").read()[:4] == b"\x00\x01\x00\x00"
    for url in [
        "file:///etc/passwd",
        "http://127.0.0.1:9/x.css",
        "https://example.org/logo.png",
        STATIC_PREFIX + "../crm/config.py",
        STATIC_PREFIX + "%2e%2e/crm/config.py",
        STATIC_PREFIX + "fonts/../../app.py",
        STATIC_PREFIX + "fonts/NotoSans-Regular.ttf?redirect=http://x",
        "data:text/css,body{}",
    ]:
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    assert len(fetcher.refused) == 8


def test_pdf_access_follows_the_meeting(client, db, login_as):
    author = make_user(Role.STAFF)
    secret = make_meeting(author, "Négociation confidentielle", confidentiality="confidential")
    services.start_minutes(db.session, secret)
    db.session.commit()
    login_as(Role.OFFICER)
    assert client.get(f"/meetings/{secret.id}/minutes.pdf").status_code == 404
    assert client.get("/meetings/999/minutes.pdf").status_code == 404
    client.post("/logout")
    sign_in(client, author.email)
    assert "CONFIDENTIEL" in _text(client.get(f"/meetings/{secret.id}/minutes.pdf").data)


def test_partner_commitments_report(client, db, login_as):
    staff = login_as(Role.STAFF)
    huawei = make_org("Huawei Technologies Mali", kind="vendor")
    insider = make_user(Role.STAFF)
    hidden = make_meeting(insider, "Restreinte", confidentiality="restricted")
    make_commitment(
        staff,
        "Programme de formation des jeunes",
        owed_by="partner",
        organisation_id=huawei.id,
        due_date=date(2020, 4, 30),
    )
    make_commitment(staff, "Désigner les points focaux", organisation_id=huawei.id)
    make_commitment(insider, "Engagement restreint", organisation_id=huawei.id, origin_meeting_id=hidden.id)
    response = client.get(f"/organisations/{huawei.id}/commitments.pdf")
    text = _text(response.data)
    assert response.status_code == 200 and len(PdfReader(io.BytesIO(response.data)).pages) == 1
    assert "Programme de formation des jeunes" in text and "Désigner les points focaux" in text
    assert "en retard" in text and "Engagement restreint" not in text


LETTERHEAD = {
    "country": "Burkina Faso",
    "motto": "Unité – Progrès – Justice",
    "authority": "Ministère de la Transition digitale, des Postes et des Communications électroniques",
    "unit": "Direction de la coopération",
    "city": "Ouagadougou",
}


def _letterhead(client, logo: bytes, name: str):
    return client.post(
        "/admin/letterhead",
        data={**LETTERHEAD, "logo": (io.BytesIO(logo), name)},
        content_type="multipart/form-data",
    )


def test_a_logo_that_is_not_an_image_is_refused_and_the_letterhead_kept_in_the_form(client, db, login_as):
    login_as(Role.ADMIN)
    bad_logo = _letterhead(client, b"not an image", "logo.png")
    html = bad_logo.get_data(as_text=True)
    assert bad_logo.status_code == 422
    assert "<p>Le logo doit être une image PNG ou JPEG.</p>" in html
    assert "Unité – Progrès – Justice" in html and "Direction de la coopération" in html


def test_the_letterhead_set_by_an_admin_heads_the_minutes(client, db, login_as, audience):
    meeting, _staff = audience
    login_as(Role.ADMIN)
    assert client.get("/admin/letterhead").status_code == 200
    assert _images(client.get(f"/meetings/{meeting.id}/minutes.pdf").data) == 0  # no logo yet
    png = (Path(__file__).resolve().parents[2] / "tests" / "documents" / "logo.png").read_bytes()
    assert _letterhead(client, png, "armoiries.png").status_code == 302
    data = client.get(f"/meetings/{meeting.id}/minutes.pdf").data
    text = _text(data)
    assert "Unité – Progrès – Justice" in text and "BURKINA FASO" in text.upper()
    assert _images(data) >= 1  # the logo


def _images(data: bytes) -> int:
    """How many images the pages draw (every page has an /XObject entry, often empty: count the images in it)."""
    count = 0
    for page in PdfReader(io.BytesIO(data)).pages:
        for xobject in (page["/Resources"].get("/XObject") or {}).values():
            count += xobject.get_object().get("/Subtype") == "/Image"
    return count


def test_rendering_has_a_time_limit(app, client, db, audience, login_as):
    meeting, _staff = audience
    login_as(Role.VIEWER)
    app.extensions.pop("crm_pdf", None)
    app.config["CRM_PDF_TIMEOUT"] = 0.001  # nothing renders that fast: the request gives up, cleanly
    try:
        response = client.get(f"/meetings/{meeting.id}/minutes.pdf")
    finally:
        app.extensions.pop("crm_pdf", None)
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert error_message(response) == "Le service est occupé. Rien n’est perdu : réessayez dans un instant."


@pytest.fixture
def programme_visit(db):
    """An incoming visit whose head, a minister, arrives on the 28th and meets the AES ministers on the 29th."""
    officer = make_user(Role.OFFICER)
    minister = make_contact("Zerbo Sabané", "Aminata", honorific="S.E.")
    visit = visits.save_visit(
        db.session,
        {
            "title": "Délégation du Burkina Faso",
            "direction": "incoming",
            "city": "Bamako",
            "country_code": "ML",
            "starts_on": date(2026, 1, 28),
            "ends_on": date(2026, 2, 1),
        },
        officer,
    )
    member = visits.add_member(db.session, visit, contact_id=minister.id, role="head")
    visits.update_member(
        db.session,
        visit,
        member,
        {"role": "head", "arrival_at": datetime(2026, 1, 28, 18, 0), "accommodation": "Hôtel à Bamako"},
        member.version,
    )
    db.session.commit()
    visit = visits.visit_detail(db.session, visit.id, officer)
    visits.add_item(
        db.session,
        visit,
        {
            "day": date(2026, 1, 29),
            "starts_at": time(15),
            "place": "CICB",
            "activity": "Réunion tripartite des ministres de l’AES",
        },
    )
    db.session.commit()
    return visit


def test_the_visit_programme_pdf_shows_the_delegation_and_the_programme(client, login_as, programme_visit):
    login_as(Role.OFFICER)
    response = client.get(f"/visits/{programme_visit.id}/programme.pdf")
    text = _text(response.data)
    assert response.status_code == 200
    for expected in (
        "PROGRAMME DE LA VISITE",
        "ML-MIS-2026-0001",
        "Zerbo Sabané",
        "Chef de délégation",
        "18:00",
        "Hôtel à Bamako",
        "Réunion tripartite des ministres de l’AES",
        "CICB",
        "Page 1 /",
    ):
        assert expected in text, expected


def test_a_viewer_can_print_the_visit_programme(client, login_as, programme_visit):
    login_as(Role.VIEWER)
    response = client.get(f"/visits/{programme_visit.id}/programme.pdf")
    assert response.status_code == 200 and "Réunion tripartite des ministres de l’AES" in _text(response.data)


def _delegation(db, visit):
    """The minister heading the visit holds a post at her ministry; one of our officers joins the delegation."""
    aminata = db.session.scalars(select(Contact).where(Contact.family_name == "Zerbo Sabané")).one()
    ministry = make_org("Ministère de la Transition digitale, des Postes", country="BF", kind="ministry")
    db.session.add(
        Position(
            contact_id=aminata.id,
            organisation_id=ministry.id,
            title="Ministre de la Transition digitale",
            start_date=date(2025, 1, 1),
        )
    )
    colleague = make_user(Role.STAFF, name="Awa Traoré", unit="Direction de la coopération")
    visits.add_member(db.session, visit, user_id=colleague.id, role="member")
    db.session.commit()


def test_the_programme_says_the_time_zone_of_its_times(client, login_as, programme_visit):
    login_as(Role.VIEWER)
    fr = _text(client.get(f"/visits/{programme_visit.id}/programme.pdf").data)
    assert "Fuseau horaire Africa/Bamako (UTC+00:00) : toutes les heures de ce programme sont des heures locales." in fr
    assert "Arrivée (UTC+00:00)" in fr and "Heure (UTC+00:00) Activité Lieu 15:00" in fr
    en = _text(client.get(f"/visits/{programme_visit.id}/programme.pdf?lang=en").data)
    assert "Africa/Bamako (GMT+00:00): every time in this programme is local time." in en
    assert "Time (GMT+00:00)" in en


def test_the_programme_shows_each_members_title_and_side(client, db, login_as, programme_visit):
    _delegation(db, programme_visit)
    login_as(Role.VIEWER)
    data = client.get(f"/visits/{programme_visit.id}/programme.pdf").data
    text = _text(data)
    assert "Nom Côté Rôle" in text
    assert "S.E. Aminata Zerbo Sabané Ministre de la Transition digitale" in text
    assert "Awa Traoré Direction de la coopération" in text
    lines = _layout_lines(data)
    assert "Ministère de la" in next(line for line in lines if "Aminata" in line)  # her side: her ministry
    assert "MCENMA" in next(line for line in lines if "Awa Traoré" in line)  # his: our institution


def test_the_programme_is_signed_by_the_minister_of_the_issuing_ministry(client, db, login_as, programme_visit):
    officer = login_as(Role.VIEWER)
    ours = institutions.get(db.session, officer.institution_id)
    minister = make_contact("Ag Ilyène", "Alhamdou", honorific="S.E.")
    db.session.add(
        Position(
            contact_id=minister.id,
            organisation_id=ours.organisation_id,
            title="Ministre de la Communication",
            start_date=date(2024, 7, 1),
        )
    )
    db.session.commit()
    fr = _text(client.get(f"/visits/{programme_visit.id}/programme.pdf").data)
    assert f"Pour le {ours.authority} S.E. Alhamdou Ag Ilyène Ministre de la Communication ML-MIS" in fr
    en = _text(client.get(f"/visits/{programme_visit.id}/programme.pdf?lang=en").data)
    assert f"For the {ours.authority} S.E. Alhamdou Ag Ilyène" in en


def test_without_a_minister_in_the_directory_the_programme_names_who_drew_it_up(client, login_as, programme_visit):
    login_as(Role.VIEWER)
    text = _text(client.get(f"/visits/{programme_visit.id}/programme.pdf").data)
    assert "Pour le Ministère de la Communication" in text and "Test Officer" in text


# --- what the printed minutes say about people, signatures, commitments and amendments -------------------------


def _layout_lines(data: bytes) -> list[str]:
    """The lines of the PDF as laid out on the page (columns stay apart)."""
    reader = PdfReader(io.BytesIO(data))
    return [line for page in reader.pages for line in page.extract_text(extraction_mode="layout").splitlines()]


def test_a_title_that_already_names_the_ministry_is_not_followed_by_it(client, audience, login_as):
    meeting, _staff = audience
    login_as(Role.VIEWER)
    text = _text(client.get(f"/meetings/{meeting.id}/minutes.pdf").data)
    assert "Ministre de la Transition digitale" in text
    assert "Ministre de la Transition digitale, Ministère de la Transition digitale" not in text
    assert "Directeur général, Orange Mali" in text  # a title that does not name it keeps the organisation


def test_signature_captions_name_the_ministry_with_its_article_and_the_signatory(client, db, audience, login_as):
    meeting, _staff = audience
    chair = db.session.scalars(select(Contact).where(Contact.family_name == "N’Diaye")).one()
    participant = db.session.scalars(select(Participant).where(Participant.contact_id == chair.id)).one()
    services.update_participant(db.session, participant, "chair", "present")
    db.session.commit()
    login_as(Role.VIEWER)
    fr = _text(client.get(f"/meetings/{meeting.id}/minutes.pdf").data)
    assert "Pour le Ministère" in fr and "Pour Ministère" not in fr
    assert "Pour Orange Mali, Ministère de la Transition digitale M. Leyti N’Diaye Directeur général" in fr
    en = _text(client.get(f"/meetings/{meeting.id}/minutes.pdf?lang=en").data)
    assert "For the Ministère" in en and "For Orange Mali" in en
    assert "Partner side" in en and "Côté partenaire" not in en


def test_the_commitments_table_separates_our_officer_from_the_partner_contact(client, db, audience, login_as):
    meeting, staff = audience
    leyti = db.session.scalars(select(Contact).where(Contact.family_name == "N’Diaye")).one()
    make_commitment(staff, "Partager la carte de couverture", origin_meeting_id=meeting.id, contact_id=leyti.id)
    login_as(Role.VIEWER)
    data = client.get(f"/meetings/{meeting.id}/minutes.pdf").data
    text = _text(data)
    assert "Chargé(e) de suivi" in text and "Contact partenaire" in text
    row = next(line for line in _layout_lines(data) if "Partager la carte" in line)
    officer, contact = row.index("Ibrahim Maïga"), row.index("M. Leyti")
    assert contact - officer > len("Ibrahim Maïga")  # two columns on one line, not one cell of two names


def test_an_amended_revision_says_which_revision_it_amends_and_why(client, frozen):
    meeting, _document, _first = frozen
    reason = "Correction du nom de l’opérateur"
    assert client.post(f"/meetings/{meeting.id}/minutes/amend", data={"reason": reason}).status_code == 302
    fr = _text(client.get(f"/meetings/{meeting.id}/minutes.pdf").data)
    assert f"Modifie version 1 — Motif de l’amendement : {reason}" in fr
    en = _text(client.get(f"/meetings/{meeting.id}/minutes.pdf?lang=en").data)
    assert f"Amends revision 1 — Amended because: {reason}" in en
    assert "Modifie" not in _text(client.get(f"/meetings/{meeting.id}/minutes.pdf?rev=1").data)


# --- approved minutes are archived as tagged PDF/A-3b ------------------------------------------------------------

PDFAID = "{http://www.aiim.org/pdfa/ns/id/}"
XMP = "{http://ns.adobe.com/xap/1.0/}"


def _xmp(reader: PdfReader) -> ElementTree.Element:
    return ElementTree.fromstring(reader.trailer["/Root"]["/Metadata"].get_object().get_data())


def _pdfa_claim(reader: PdfReader) -> dict[str, str]:
    """The PDF/A identification the file declares in its XMP metadata (part, conformance)."""
    claim = {}
    for element in _xmp(reader).iter():
        for name, value in element.attrib.items():
            if name.startswith(PDFAID):
                claim[name.removeprefix(PDFAID)] = value
        if element.tag.startswith(PDFAID) and element.text:
            claim[element.tag.removeprefix(PDFAID)] = element.text
    return claim


def _unembedded_fonts(reader: PdfReader) -> list[str]:
    missing = []
    for page in reader.pages:
        for ref in (page["/Resources"].get("/Font") or {}).values():
            font = ref.get_object()
            for part in [font, *(f.get_object() for f in font.get("/DescendantFonts", []))]:
                descriptor = part.get("/FontDescriptor")
                if descriptor is None:
                    continue
                if not {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor.get_object().keys()):
                    missing.append(str(part["/BaseFont"]))
    return missing


def test_approved_minutes_are_archived_as_pdf_a_3b(db, frozen):
    meeting, _document, first = frozen
    reader = PdfReader(io.BytesIO(first))
    assert _pdfa_claim(reader) == {"part": "3", "conformance": "B"}
    intent = reader.trailer["/Root"]["/OutputIntents"][0].get_object()
    assert intent["/S"] == "/GTS_PDFA1" and intent["/DestOutputProfile"].get_object().get_data()
    approved = services.revision_with_items(db.session, meeting.id, 1).approved_at
    created = next(e.text for e in _xmp(reader).iter(f"{XMP}CreateDate"))
    assert created == approved.replace(microsecond=0).isoformat()  # created on the day it was approved
    assert reader.metadata["/CreationDate"].startswith("D:" + approved.strftime("%Y%m%d%H%M%S"))
    assert "/ID" in reader.trailer and not reader.is_encrypted
    assert _unembedded_fonts(reader) == []


def test_approved_minutes_are_tagged_for_screen_readers(frozen):
    _meeting, _document, first = frozen
    catalog = PdfReader(io.BytesIO(first)).trailer["/Root"]
    assert catalog["/MarkInfo"]["/Marked"] and catalog["/Lang"] == "fr"
    tree = catalog["/StructTreeRoot"].get_object()
    tags: set[str] = set()

    def walk(node, depth=0):
        node = node.get_object()
        if depth > 40 or not hasattr(node, "get"):
            return
        if "/S" in node:
            tags.add(str(node["/S"]))
        kids = node.get("/K")
        for kid in kids if isinstance(kids, list) else [kids] if kids is not None else []:
            walk(kid, depth + 1)

    walk(tree)
    assert {"/H1", "/H2", "/Table", "/TH", "/TD", "/L", "/LI", "/P"} <= tags, tags


@pytest.mark.skipif(not shutil.which("qpdf"), reason="qpdf not installed (scripts/setup.sh --test installs it)")
def test_qpdf_finds_no_error_in_the_approved_minutes(tmp_path, frozen):
    _meeting, _document, first = frozen
    path = tmp_path / "approved.pdf"
    path.write_bytes(first)
    check = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No syntax or stream encoding errors found" in check.stdout


def test_a_draft_is_tagged_but_does_not_claim_to_be_an_archive(client, audience, login_as):
    meeting, _staff = audience
    login_as(Role.VIEWER)
    reader = PdfReader(io.BytesIO(client.get(f"/meetings/{meeting.id}/minutes.pdf").data))
    assert "/StructTreeRoot" in reader.trailer["/Root"]
    assert "/Metadata" not in reader.trailer["/Root"] or not _pdfa_claim(reader)


def test_a_worker_that_prints_nothing_never_loads_weasyprint(tmp_path):
    """WeasyPrint (and zxcvbn's word lists) cost each worker tens of MB: loaded by the first PDF (or password)."""
    code = (
        "import sys; from crm import create_app; create_app(); "
        "print(sorted(m for m in ('weasyprint', 'zxcvbn.frequency_lists') if m in sys.modules))"
    )
    env = {**os.environ, "CRM_INSTANCE_PATH": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
