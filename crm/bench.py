"""`make bench`: server time, SQL statements and transferred weight of the directory pages, printed.

Runs on a throwaway SQLite file filled with 20,000 contacts and 5,000 organisations. Prints figures; never fails.
"""

from __future__ import annotations

import gzip
import io
import os
import secrets
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from flask import g
from sqlalchemy import event, insert

ORGS, CONTACTS, MEETINGS, COMMITMENTS, VISITS, RUNS = 5_000, 20_000, 100_000, 300_000, 5_000, 60


def _meetings(db, insert) -> None:
    """Meetings every few hours since 2023, two people each, 5 % restricted; three commitments per meeting."""
    from datetime import UTC, datetime, timedelta

    from crm.commitments.models import Commitment
    from crm.meetings.models import Meeting, MeetingInstitution, MeetingOrganisation, Participant

    start = datetime(2023, 1, 2, 8, tzinfo=UTC)
    db.session.execute(
        insert(Meeting),
        [
            {
                "reference": f"AUD-B-{i:06d}",
                "year": 2023 + i // 35_000,
                "title": f"Réunion de travail {i}",
                "kind": "working",
                "starts_at": start + timedelta(hours=i // 2 * 3),
                "ends_at": start + timedelta(hours=i // 2 * 3 + 1),
                "timezone": "Africa/Bamako",
                "place": "Bamako",
                "confidentiality": "restricted" if i % 20 == 0 else "internal",
                "status": "held",
                "notes": "",
                "search": f"reunion de travail {i}",
                "owner_institution_id": 1,
                "sharing": "institution",
                "version": 1,
            }
            for i in range(MEETINGS)
        ],
    )
    db.session.execute(
        insert(MeetingOrganisation), [{"meeting_id": i + 1, "organisation_id": i % ORGS + 1} for i in range(MEETINGS)]
    )
    db.session.execute(
        insert(MeetingInstitution), [{"meeting_id": i + 1, "institution_id": 1} for i in range(MEETINGS)]
    )
    db.session.execute(
        insert(Participant),
        [
            {
                "meeting_id": i + 1,
                "side": "partner",
                "contact_id": i % CONTACTS + 1,
                "organisation_id": i % ORGS + 1,
                "role": "member",
                "attendance": "present",
                "version": 1,
            }
            for i in range(MEETINGS)
        ],
    )
    db.session.execute(
        insert(Commitment),
        [
            {
                "reference": f"ENG-B-{i:06d}",
                "title": f"Engagement {i}",
                "details": "",
                "owed_by": "ours" if i % 2 else "partner",
                "institution_id": 1 if i % 2 else None,
                "owner_institution_id": 1,
                "sharing": "institution",
                "responsible_id": 1,
                "organisation_id": (i // 3) % ORGS + 1,
                "due_date": date(2023, 1, 1) + timedelta(days=i // 300),
                "due_key": date(2023, 1, 1) + timedelta(days=i // 300),
                "priority": "normal",
                "status": "done" if i % 4 == 0 else "open",
                "closed": i % 4 == 0,
                "limited": (i // 3) % 20 == 0,
                "outcome": "",
                "origin_meeting_id": i // 3 + 1,
                "search": f"engagement {i}",
                "version": 1,
            }
            for i in range(COMMITMENTS)
        ],
    )


def _time_page(client, statements: list[str], label: str, url: str) -> None:
    """Median and p95 of RUNS requests, the SQL statements of the last one and its compressed size."""

    headers = {"HX-Request": "true"} if "htmx" in label else {}
    client.get(url, headers=headers)
    times = []
    for _ in range(RUNS):
        for key in list(g):  # each request starts as in production: no user cached yet
            g.pop(key)
        statements.clear()
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
    size = len(gzip.compress(response.data))
    p95 = statistics.quantiles(times, n=20)[18]
    print(f"{label:32} {statistics.median(times):10.2f} {p95:8.2f} {len(statements):4d} {size / 1024:7.1f}K")


def _visits(db, insert) -> None:
    """5,000 visits since 2023, three contacts and five programme lines each."""
    from datetime import date, timedelta

    from crm.visits.models import ProgrammeItem, Visit, VisitInstitution, VisitMember

    db.session.execute(
        insert(Visit),
        [
            {
                "reference": f"MIS-B-{i:05d}",
                "year": 2023 + i // 2000,
                "title": f"Mission {i}",
                "direction": "outgoing" if i % 2 else "incoming",
                "purpose": "",
                "city": "Ouagadougou",
                "country_code": "BF",
                "timezone": "Africa/Ouagadougou",
                "starts_on": date(2023, 1, 2) + timedelta(days=i // 5),
                "ends_on": date(2023, 1, 4) + timedelta(days=i // 5),
                "status": "completed",
                "confidentiality": "restricted" if i % 20 == 0 else "internal",
                "report": "",
                "owner_institution_id": 1,
                "sharing": "institution",
                "version": 1,
            }
            for i in range(VISITS)
        ],
    )
    db.session.execute(insert(VisitInstitution), [{"visit_id": i + 1, "institution_id": 1} for i in range(VISITS)])
    db.session.execute(
        insert(VisitMember),
        [
            {
                "visit_id": i // 3 + 1,
                "contact_id": i % CONTACTS + 1,
                "role": "member",
                "accommodation": "",
                "version": 1,
            }
            for i in range(VISITS * 3)
        ],
    )
    db.session.execute(
        insert(ProgrammeItem),
        [
            {
                "visit_id": i // 5 + 1,
                "day": date(2023, 1, 2) + timedelta(days=(i // 5) // 5),
                "position": i % 5 + 1,
                "activity": f"Activité {i % 5 + 1}",
                "place": "Ouagadougou",
            }
            for i in range(VISITS * 5)
        ],
    )


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    os.environ["CRM_INSTANCE_PATH"] = str(tmp)
    os.environ.setdefault("CRM_SECRET_KEY", secrets.token_urlsafe(16))
    from crm import create_app
    from crm.auth import services as auth
    from crm.auth.models import Role, UserSession
    from crm.extensions import db
    from crm.partners import services as partners
    from crm.partners.models import Contact, Organisation, Position

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.sqlite3'}"})
    with app.app_context():
        db.create_all()
        partners.seed_countries(db.session)
        user = auth.create_user(
            db.session, email="bench@x.ml", name="Bench", role=Role.VIEWER, password="bench pass phrase"
        )
        token = secrets.token_urlsafe(32)
        db.session.add(UserSession(token_hash=auth._digest(token), user_id=user.id))
        countries = ["ML", "BF", "NE", "GH", "SN", "CI", "FR", "CN"]
        db.session.execute(
            insert(Organisation),
            [
                {
                    "name": f"Organisation {i}",
                    "name_key": f"organisation {i:05d}",
                    "search": f"organisation {i:05d}",
                    "country_code": countries[i % 8],
                    "kind": "operator",
                    "sectors": ",telecom,",
                    "version": 1,
                    "acronym": "",
                    "email": "",
                    "phone": "",
                    "website": "",
                    "address": "",
                    "city": "",
                    "notes": "",
                }
                for i in range(ORGS)
            ],
        )
        db.session.execute(
            insert(Contact),
            [
                {
                    "family_name": f"Traoré {i}",
                    "given_name": "Awa",
                    "sort_key": f"traore {i:05d} awa",
                    "search": f"awa traore {i:05d}",
                    "version": 1,
                    "honorific": "",
                    "native_name": "",
                    "email": "",
                    "phone": "",
                    "languages": "",
                    "notes": "",
                }
                for i in range(CONTACTS)
            ],
        )
        db.session.execute(
            insert(Position),
            [
                {
                    "contact_id": i + 1,
                    "organisation_id": i % ORGS + 1,
                    "title": "Chargé de mission",
                    "start_date": date(2024, 1, 1),
                    "version": 1,
                    "notes": "",
                }
                for i in range(CONTACTS)
            ],
        )
        _meetings(db, insert)
        _visits(db, insert)
        db.session.commit()
        from crm.search import services as search  # rows written in bulk: the search index is written after

        search.rebuild(db.session)
        db.session.commit()

        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = token
        statements: list[str] = []
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

        pages = {
            "organisations list": "/organisations",
            "organisations, AES + sector": "/organisations?country=AES&sector=telecom",
            "organisations search": "/organisations?q=organisation%2004",
            "contacts list": "/contacts",
            "contacts search (htmx)": "/contacts?q=traore%2019",
            "organisation page": "/organisations/42",
            "contact page": "/contacts/4242",
            "meetings, past": "/meetings?when=past",
            "meetings, one partner": "/meetings?when=past&organisation=42",
            "meetings, month": "/meetings/month?m=2026-03",
            "meeting page": "/meetings/50000",
            "minutes page": "/meetings/50000/minutes",
            "commitments, to do": "/commitments",
            "commitments, one partner, overdue": "/commitments?organisation=42&overdue=1",
            "commitment page": "/commitments/150000",
            "partner record (htmx)": "/organisations/42/record",
            "visits, past": "/visits?when=past",
            "visit page": "/visits/2500",
            "week view": "/calendar/week?d=2025-06-02",
        }
        print(
            f"{ORGS:,} organisations, {CONTACTS:,} contacts, {MEETINGS:,} meetings, {COMMITMENTS:,} commitments, "
            f"{VISITS:,} visits on SQLite, read by a viewer; {RUNS} runs each, in process."
        )
        print(f"{'page':32} {'median ms':>10} {'p95 ms':>8} {'SQL':>4} {'HTML gz':>8}")
        for label, url in pages.items():
            _time_page(client, statements, label, url)

        html = client.get("/organisations").get_data(as_text=True)
        assets = [part.split('"')[0] for part in html.split('src="')[1:]] + [
            html.split('stylesheet" href="')[1].split('"')[0]
        ]
        total = len(gzip.compress(client.get("/organisations").data))
        print("\nFirst load of the organisations page (gzip):")
        for asset in assets:
            body = client.get(asset, headers={"Accept-Encoding": "gzip"}).data
            print(f"  {asset.split('?')[0]:40} {len(body) / 1024:6.1f}K")
            total += len(body)
        print(
            f"  total {total / 1024:.1f}K in {len(assets) + 1} requests; repeat visits fetch only the HTML "
            "(assets are fingerprinted and cached for a year)"
        )
        _pdf_figures(app, db, user)


def _pdf_figures(app, db, user) -> None:
    """A 3-page minutes PDF: warm renders in this worker, beside the same HTML through bare WeasyPrint."""
    from flask import render_template
    from flask_babel import force_locale
    from pypdf import PdfReader

    from crm.documents import pdf, printing
    from crm.meetings import services as meetings

    with app.test_request_context("/"):
        found = meetings.meeting_detail(db.session, 50_000, user) or meetings.meeting_detail(db.session, 50_001, user)
        assert found is not None, "the bench's data holds meetings 50,000 and 50,001"
        meeting = found
        revision = meetings.start_minutes(db.session, meeting)
        text = "Le Ministre a rappelé les attentes de l’État vis-à-vis des acteurs du numérique. " * 6
        for n in range(7):
            item = meetings.add_item(db.session, revision, revision.version, f"Point {n + 1} de l’ordre du jour")
            meetings.save_minutes(
                db.session,
                revision,
                text,
                {item.id: {"discussion": text, "decisions": "Décision A\nDécision B"}},
                revision.version,
            )
        db.session.commit()
        meeting = meetings.meeting_detail(db.session, meeting.id, user) or meeting
        revision = meetings.revision_with_items(db.session, meeting.id) or revision
        data = printing.minutes_pdf(db.session, meeting, revision, user, "fr")  # first render: fonts, stylesheet
        pages = len(PdfReader(io.BytesIO(data)).pages)
        warm = []
        for _ in range(15):
            start = time.perf_counter()
            printing.minutes_pdf(db.session, meeting, revision, user, "fr")
            warm.append((time.perf_counter() - start) * 1000)
        head = printing.letterhead(db.session, meeting.owner_institution_id)
        with force_locale("fr"):
            html = render_template(
                "pdf/minutes.html",
                lang="fr",
                logo=None,
                meeting=meeting,
                revision=revision,
                letterhead=head,
                draft=True,
                marking="INTERNE",
                running_head=meeting.reference,
                footer=meeting.reference,
                doc_title=meeting.title,
                doc_subject="",
                signatures=[],
                commitments=[],
                verify_url=None,
                qr=None,
            )
        # An approved revision is printed as tagged PDF/A-3b; a draft as a tagged PDF.
        tagged, archival = [], []
        for _ in range(7):
            start = time.perf_counter()
            printing.renderer().render(html)
            tagged.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            printing.renderer().render(html, archival=True)
            archival.append((time.perf_counter() - start) * 1000)
        css = (printing.TEMPLATES / "print.css").read_text(encoding="utf-8")
        bare = []
        for _ in range(5):
            start = time.perf_counter()
            pdf.bare_render(html, css)
            bare.append((time.perf_counter() - start) * 1000)
    print(f"\nMinutes PDF ({pages} pages, {len(data) / 1024:.0f} KB):")
    print(f"  warm, in this worker (fonts and stylesheet kept)   median {statistics.median(warm):7.1f} ms")
    print(f"  the same HTML through bare WeasyPrint each time     median {statistics.median(bare):7.1f} ms")
    print(f"  that HTML as a draft (tagged PDF)                   median {statistics.median(tagged):7.1f} ms")
    print(f"  that HTML as approved (tagged PDF/A-3b)             median {statistics.median(archival):7.1f} ms")


if __name__ == "__main__":
    main()
    from crm.search.bench import search_figures

    search_figures()
