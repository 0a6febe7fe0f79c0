"""One search box over everything: folding, scripts, ranking, snippets, visibility, and the index in step."""

from __future__ import annotations

import html
import io

import pytest
from sqlalchemy import func, select, text

from crm.auth.models import Role, User
from crm.core.confidentiality import Sharing
from crm.core.fulltext import SearchEntry, matching_ids
from crm.documents import services as documents
from crm.meetings import services as meetings
from crm.meetings.models import Meeting
from crm.partners import services as partners
from crm.search import services as search
from tests.conftest import htmx_headers, make_commitment, make_contact, make_meeting, make_org, make_user
from tests.test_institutions import burkina  # noqa: F401 - a fixture: a second institution


def _titles(results) -> dict[str, list[str]]:
    """What the reader sees: each kind's titles, marks removed."""
    return {
        kind: [html.unescape(str(hit.title).replace("<mark>", "").replace("</mark>", "")) for hit in hits]
        for kind, hits in results.groups.items()
    }


def _found(db, user, q: str) -> dict[str, list[str]]:
    return _titles(search.overview(db.session, user, q))


def test_case_accents_and_apostrophes_are_ignored(db):
    user = make_user(Role.STAFF)
    make_contact("N’Diaye", "Leyti")
    make_contact("N'Diaye", "Awa")
    make_org("Agence de Sénégal Numérique", country="SN")
    assert sorted(_found(db, user, "ndiaye")["contact"]) == ["Awa N'Diaye", "Leyti N’Diaye"]
    assert _found(db, user, "N’DIAYE")["contact"]
    assert _found(db, user, "senegal numerique")["organisation"] == ["Agence de Sénégal Numérique"]
    assert _found(db, user, "SÉNÉ")["organisation"]  # the start of a word, as one types


def test_names_in_every_script_are_found(db):
    user = make_user(Role.STAFF)
    make_contact("Keita", "Souleymane", native_name="ߛߎߟߋߦߡߊ߲ ߞߋߦߌߕߊ")  # N'Ko
    make_contact("Ould Ahmed", "Mohamed", native_name="محمد ولد أحمد")  # Arabic
    make_contact("Ag Ghaly", "Iyad", native_name="ⵉⵢⴰⴷ ⴰⴳ ⵖⴰⵍⵉ")  # Tifinagh
    assert _found(db, user, "ߞߋߦߌߕߊ")["contact"] == ["Souleymane Keita"]
    assert _found(db, user, "محمد")["contact"] == ["Mohamed Ould Ahmed"]
    assert _found(db, user, "أحمد")["contact"] == ["Mohamed Ould Ahmed"]
    assert _found(db, user, "ⵖⴰⵍⵉ")["contact"] == ["Iyad Ag Ghaly"]
    assert _found(db, user, "keita") == {"contact": ["Souleymane Keita"]}


def test_a_title_match_ranks_above_a_mention_in_the_text(db):
    user = make_user(Role.STAFF)
    mention = make_meeting(user, "Point sur la fibre", notes="Huawei a présenté son offre.")
    title = make_meeting(user, "Audience avec Huawei")
    found = search.overview(db.session, user, "huawei").groups["meeting"]
    assert [hit.record_id for hit in found] == [title.id, mention.id]


def test_the_snippet_marks_the_match_and_keeps_stored_markup_as_text(db):
    user = make_user(Role.STAFF)
    make_meeting(user, "Réunion <script>alert(1)</script>", notes="Le <b>DG</b> de Huawei Mali est venu.")
    (hit,) = search.overview(db.session, user, "huawei").groups["meeting"]
    assert "Le &lt;b&gt;DG&lt;/b&gt; de <mark>Huawei</mark> Mali est venu." in str(hit.snippet)
    assert "&lt;script&gt;" in str(hit.title) and "<script>" not in str(hit.title)


def test_the_results_page_shows_stored_markup_as_text(client, login_as):
    user = login_as(Role.STAFF)
    make_meeting(user, "Huawei <script>alert(1)</script>")
    html = client.get("/search?q=huawei").get_data(as_text=True)
    assert "<mark>Huawei</mark> &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html


def test_another_ministrys_confidential_meeting_never_appears(db, burkina):  # noqa: F811
    mine = make_user(Role.ADMIN)
    theirs = make_user(Role.STAFF, institution_id=burkina.id)
    make_meeting(theirs, "Huawei, négociation confidentielle", confidentiality="confidential", sharing=Sharing.AES)
    make_meeting(theirs, "Huawei, réunion interne")  # kept within Burkina
    shared = make_meeting(theirs, "Huawei, atelier régional", sharing=Sharing.AES)
    found = search.overview(db.session, mine, "huawei")
    assert [hit.record_id for hit in found.groups["meeting"]] == [shared.id]
    assert found.more == {"meeting": False}
    live = search.live(db.session, mine, "huawei")
    assert [hit.record_id for hit in live.groups["meeting"]] == [shared.id]
    assert len(search.overview(db.session, theirs, "huawei").groups["meeting"]) == 3


def test_a_restricted_meetings_files_and_commitments_follow_it(db):
    author = make_user(Role.STAFF)
    other = make_user(Role.STAFF)
    meeting = make_meeting(author, "Audience restreinte", confidentiality="restricted")
    documents.store(db.session, meeting, io.BytesIO(b"%PDF-1.4"), "Huawei-offre.pdf", "", author, max_bytes=1000)
    make_commitment(author, "Relancer Huawei", origin_meeting_id=meeting.id)
    db.session.commit()
    assert set(_found(db, author, "huawei")) == {"attachment", "commitment"}
    assert _found(db, other, "huawei") == {}


def test_archived_records_are_marked_and_come_last(db):
    user = make_user(Role.STAFF)
    old = make_org("Huawei Technologies Mali", country="ML")
    make_org("Huawei Burkina", country="BF")
    partners.set_archived(db.session, old, True, old.version)
    db.session.commit()
    hits = search.overview(db.session, user, "huawei").groups["organisation"]
    assert [(h.record_id == old.id, h.archived) for h in hits] == [(False, False), (True, True)]


def test_the_index_follows_create_edit_and_delete(db):
    user = make_user(Role.STAFF)
    meeting = make_meeting(user, "Audience avec Orange")
    assert _found(db, user, "orange")["meeting"]
    meetings.save_meeting(
        db.session,
        {
            "title": "Audience avec Moov Africa",
            "starts_at": meeting.starts_at.replace(tzinfo=None),
            "ends_at": meeting.ends_at.replace(tzinfo=None),
            "timezone": "UTC",
            "place": "Bamako",
            "kind": "audience",
            "confidentiality": "internal",
            "status": "held",
            "notes": "",
            "organisation_ids": [],
        },
        user,
        meeting,
        meeting.version,
    )
    db.session.commit()
    assert "meeting" not in _found(db, user, "orange")
    assert _found(db, user, "moov")["meeting"] == ["Audience avec Moov Africa"]
    db.session.delete(db.session.get(Meeting, meeting.id))
    db.session.commit()
    assert _found(db, user, "moov") == {}
    assert db.session.scalar(select(func.count()).select_from(SearchEntry).where(SearchEntry.kind == "meeting")) == 0


def test_minutes_text_and_decisions_are_found(db):
    user = make_user(Role.STAFF)
    meeting = make_meeting(user, "Comité de suivi")
    revision = meetings.start_minutes(db.session, meeting)
    item = meetings.add_item(db.session, revision, revision.version, "Couverture rurale")
    meetings.save_minutes(
        db.session,
        revision,
        "Synthèse",
        {item.id: {"decisions": "Déployer 40 sites en zone Tillabéri"}},
        revision.version,
    )
    db.session.commit()
    (hit,) = search.overview(db.session, user, "tillaberi").groups["meeting"]
    assert "<mark>Tillabéri</mark>" in str(hit.snippet)


def test_a_rolled_back_transaction_leaves_the_index_as_it_was(db):
    user = make_user(Role.STAFF)
    make_org("Orange Mali")
    partners.save_organisation(db.session, {"name": "Airtel Niger", "country_code": "NE", "kind": "operator"})
    db.session.flush()
    assert _found(db, user, "airtel")["organisation"] == ["Airtel Niger"]  # in step inside the transaction
    db.session.rollback()
    assert _found(db, user, "airtel") == {}
    assert _found(db, user, "orange")["organisation"] == ["Orange Mali"]


def test_a_failed_request_changes_nothing_in_the_index(client, login_as, db):
    login_as(Role.STAFF)
    org = make_org("Orange Mali")
    # A stale version: the service refuses after nothing was kept.
    response = client.post(
        f"/organisations/{org.id}/edit",
        data={"name": "Orange Niger", "country_code": "NE", "kind": "operator", "version": org.version + 5},
    )
    assert response.status_code == 409
    entry = db.session.scalars(select(SearchEntry).where(SearchEntry.record_id == org.id)).one()
    assert entry.title == "Orange Mali"


def test_rebuild_writes_every_entry_again(app, db):
    user = make_user(Role.STAFF)
    make_meeting(user, "Audience avec Huawei")
    make_contact("Traoré", "Aminata")
    db.session.execute(text("DELETE FROM search_entry"))
    db.session.commit()
    assert _found(db, user, "huawei") == {}
    runner = app.test_cli_runner()
    result = runner.invoke(args=["search", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "Search index rebuilt" in result.output
    user_id = user.id
    db.session.remove()
    user = db.session.get(User, user_id)
    assert _found(db, user, "huawei") == {"meeting": ["Audience avec Huawei"]}
    assert _found(db, user, "traore") == {"contact": ["Aminata Traoré"]}


def test_the_meetings_list_search_uses_the_index(client, login_as, db):
    user = login_as(Role.STAFF)
    huawei = make_org("Huawei Technologies", country="CN")
    make_meeting(user, "Audience", orgs=[huawei], notes="")
    make_meeting(user, "Atelier régional", place="Ouagadougou")
    html = client.get("/meetings?when=past&q=huawei").get_data(as_text=True)
    assert "Audience" in html and "Atelier régional" not in html
    assert matching_ids(db.session, "meeting", "ouaga")[0]


def test_header_box_answers_as_you_type(client, login_as):
    user = login_as(Role.STAFF)
    make_meeting(user, "Audience avec Huawei")
    page = client.get("/meetings").get_data(as_text=True)
    assert 'hx-get="/search/live"' in page and 'role="search"' in page
    live = client.get("/search/live?q=huaw", headers=htmx_headers()).get_data(as_text=True)
    assert "<mark>Huawei</mark>" in live and "<html" not in live
    assert client.get("/search/live?q=h", headers=htmx_headers()).get_data(as_text=True) == ""


def test_as_you_type_a_partners_name_shows_the_partner_beside_its_many_records(client, login_as):
    user = login_as(Role.STAFF)
    make_org("Huawei Technologies Mali", country="ML")
    make_org("Huawei Niger", country="NE")
    for i in range(10):  # newer than the organisations, and more numerous
        make_commitment(user, f"Relancer Huawei, point {i}")
    live = client.get("/search/live?q=huawei", headers=htmx_headers()).get_data(as_text=True)
    assert "Technologies Mali" in live and "Niger" in live
    assert live.count("Relancer") >= 4  # the other places still go to the best of the rest


def test_the_full_page_pages_one_kind_after_another(client, login_as):
    user = login_as(Role.STAFF)
    for i in range(25):
        make_commitment(user, f"Relancer Huawei, point {i}")
    first = client.get("/search?q=huawei&kind=commitment")
    html = first.get_data(as_text=True)
    assert html.count('class="hit"') == 20
    after = html.split('rel="next" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    second = client.get(after).get_data(as_text=True)
    assert second.count('class="hit"') == 5 and 'rel="next"' not in second
    assert client.get("/search?q=huawei&kind=commitment&after=forged").status_code == 400
    assert client.get("/search?q=huawei&kind=nothing").status_code == 400


@pytest.mark.parametrize("q", ["", "a", "***", "\"'", "AND OR NOT", "huawei*", "x" * 500, "(", ":*"])
def test_odd_input_is_never_an_error(client, login_as, q):
    login_as(Role.VIEWER)
    assert client.get("/search", query_string={"q": q}).status_code == 200
    assert client.get("/search/live", query_string={"q": q}).status_code == 200


def test_a_renamed_partner_is_found_under_its_new_name_on_its_meetings_and_people(db):
    user = make_user(Role.STAFF)
    org = make_org("Telecel Faso", country="BF")
    make_meeting(user, "Audience", orgs=[org])
    contact = make_contact("Ouédraogo", "Issa")
    partners.save_position(db.session, contact, {"organisation_id": org.id, "title": "Directeur général"})
    db.session.commit()
    assert set(_found(db, user, "telecel")) == {"organisation", "meeting", "contact"}
    partners.save_organisation(
        db.session, {"name": "Moov Africa Burkina", "country_code": "BF", "kind": "operator"}, org, org.version
    )
    db.session.commit()
    assert _found(db, user, "telecel") == {}
    assert set(_found(db, user, "moov")) == {"organisation", "meeting", "contact"}


def test_a_deleted_file_leaves_the_index(db):
    user = make_user(Role.STAFF)
    meeting = make_meeting(user, "Audience")
    attachment = documents.store(db.session, meeting, io.BytesIO(b"%PDF-1.4"), "Offre-ZTE.pdf", "", user, max_bytes=99)
    db.session.commit()
    assert _found(db, user, "zte") == {"attachment": ["Offre-ZTE.pdf"]}
    documents.delete_attachment(db.session, attachment)
    db.session.commit()
    assert _found(db, user, "zte") == {}


def test_two_letters_match_a_whole_word_three_its_start(db):
    user = make_user(Role.STAFF)
    make_org("Réseau ZTE", country="CN")
    make_org("RE Partners", country="FR")
    assert _found(db, user, "re") == {"organisation": ["RE Partners"]}
    assert sorted(_found(db, user, "res")["organisation"]) == ["Réseau ZTE"]


def test_among_equal_matches_the_most_recently_written_comes_first(db):
    user = make_user(Role.STAFF)
    older = make_meeting(user, "Audience Huawei de janvier")
    newer = make_meeting(user, "Audience Huawei de mars")
    mention = make_meeting(user, "Point fibre", notes="Huawei a présenté son offre.")
    found = search.overview(db.session, user, "huawei").groups["meeting"]
    assert [hit.record_id for hit in found] == [newer.id, older.id, mention.id]
    older.notes = "Relu"  # an edit moves a record up: its entry is written again
    db.session.flush()
    found = search.overview(db.session, user, "huawei").groups["meeting"]
    assert [hit.record_id for hit in found] == [older.id, newer.id, mention.id]


def test_paging_walks_every_match_once_when_titles_crowd_the_mentions(db):
    """Mentions outside the title are read in batches that title matches may fill: the pages still reach the
    older mentions below them, each once, in order."""
    user = make_user(Role.STAFF)
    mentions = [make_commitment(user, f"Point {i}", details="Relancer Huawei") for i in range(3)]
    titles = [make_commitment(user, f"Relancer Huawei {i}") for i in range(6)]
    seen, cursor = [], None
    for _ in range(20):
        page = search.one_kind(db.session, user, "huawei", "commitment", cursor=cursor, size=2)
        seen += [hit.record_id for hit in page.groups.get("commitment", [])]
        cursor = page.next_cursor
        if not cursor:
            break
    expected = [c.id for c in reversed(titles)] + [c.id for c in reversed(mentions)]
    assert seen == expected


def test_a_list_search_matching_more_than_a_list_reads_says_so(client, login_as, monkeypatch):
    from crm.core import fulltext

    monkeypatch.setattr(fulltext, "LIST_CAP", 2)
    user = login_as(Role.STAFF)
    for title in ("Audience Huawei à Kayes", "Audience Huawei à Gao", "Audience Huawei à Mopti"):
        make_meeting(user, title)
    page = html.unescape(client.get("/meetings?when=past&q=huawei").get_data(as_text=True))
    assert "à Mopti" in page and "à Gao" in page and "à Kayes" not in page
    assert "seules les correspondances modifiées le plus récemment sont listées" in page
    narrowed = html.unescape(client.get("/meetings?when=past&q=huawei+kayes").get_data(as_text=True))
    assert "à Kayes" in narrowed and "seules les correspondances" not in narrowed


def test_an_elided_word_is_found_and_marked_and_a_name_with_an_apostrophe_still_whole(db):
    user = make_user(Role.STAFF)
    make_meeting(user, "Audience du Directeur général d’Orange Mali")
    make_meeting(user, "Visite de l’AGETIC")
    make_contact("N’Diaye", "Moussa")
    assert _found(db, user, "orange") == {"meeting": ["Audience du Directeur général d’Orange Mali"]}
    hit = search.overview(db.session, user, "agetic").groups["meeting"][0]
    assert "<mark>l’AGETIC</mark>" in str(hit.title)
    assert [str(h.title) for h in search.overview(db.session, user, "ndiaye").groups["contact"]] == [
        "Moussa <mark>N’Diaye</mark>"
    ]


def test_the_index_knows_every_kind_the_search_shows():
    from crm.core import fulltext

    assert tuple(search.KINDS) == fulltext.KINDS == tuple(search.BUILDERS)


def _everything(db, user, q: str) -> tuple:
    """All a reader gets for ``q``: the full page, the header's list, every page of commitments, a list's box."""
    pages, cursor = [], None
    for _ in range(30):
        page = search.one_kind(db.session, user, q, "commitment", cursor=cursor, size=4)
        pages.append([hit.record_id for hit in page.groups.get("commitment", [])])
        cursor = page.next_cursor
        if not cursor:
            break
    overview = search.overview(db.session, user, q)
    return (
        {kind: [hit.record_id for hit in hits] for kind, hits in overview.groups.items()},
        overview.more,
        {kind: [hit.record_id for hit in hits] for kind, hits in search.live(db.session, user, q).groups.items()},
        pages,
        matching_ids(db.session, "commitment", q),
    )


# (recent entries, ids read below them without the GIN index)
WINDOWS = [(6, 4), (10, 3), (10, 16), (10, 40), (10, 50), (10, 200), (4, 8), (3, 1), (20, 8)]


@pytest.mark.parametrize("windows", WINDOWS)
def test_reading_the_index_in_parts_finds_what_reading_it_whole_finds(db, monkeypatch, windows):
    """On PostgreSQL a kind is read in parts (its newest entries, the ids just below them, then the rest through
    the GIN index) whenever it holds more entries than the first part: whichever parts a query needs, the reader
    gets what one read of the whole index gives, in the same order (on SQLite the index is always read whole)."""
    from crm.core import fulltext

    user = make_user(Role.STAFF)
    made = []
    for i in range(48):
        details = "Relancer Huawei" + (" fibre" if i % 8 == 0 else "") + (" Zinder" if i == 1 else "")
        made.append(make_commitment(user, f"Point {i}", details=details).id)
    make_commitment(user, "Huawei fibre optique", details="Convention")  # a title match, the newest entry

    whole = {q: _everything(db, user, q) for q in ("huawei", "huawei fibre", "zinder", "relancer huawei fib")}
    assert whole["zinder"][0] == {"commitment": [made[1]]}
    assert whole["huawei fibre"][0]["commitment"][1:] == [made[40], made[32], made[24], made[16]]

    recent, wider = windows
    monkeypatch.setattr(fulltext, "RECENT_ENTRIES", recent)
    monkeypatch.setattr(fulltext, "WIDER_ENTRIES", wider)
    for q, expected in whole.items():
        assert _everything(db, user, q) == expected, q


def test_the_word_being_typed_matches_the_start_of_a_title_word_the_others_whole_words(db):
    user = make_user(Role.STAFF)
    make_meeting(user, "Huaweicloud et la fibre")
    make_meeting(user, "Huawei et la fibre optique")
    make_meeting(user, "Fibrer le réseau")
    assert _found(db, user, "huawei fib") == {"meeting": ["Huawei et la fibre optique"]}
    assert _found(db, user, "fibre huaw") == {"meeting": ["Huawei et la fibre optique", "Huaweicloud et la fibre"]}
    assert _found(db, user, "fibr") == {
        "meeting": ["Fibrer le réseau", "Huawei et la fibre optique", "Huaweicloud et la fibre"]
    }
    assert _found(db, user, "fibre le") == {}  # "fibre" whole: not "Fibrer"
    assert _found(db, user, "fibre optique et") == {"meeting": ["Huawei et la fibre optique"]}
