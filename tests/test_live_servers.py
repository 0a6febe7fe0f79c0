"""The app under a real multi-process server: many writers at once, and a worker killed mid-approval.

On SQLite (a file, WAL) and on PostgreSQL, as in production: nothing here is simulated in-process.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import random
import re
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from crm.auth.models import Role
from crm.commitments.models import Commitment
from crm.documents.models import FrozenDocument, StoredFile
from crm.extensions import db
from crm.meetings import services as meetings
from crm.meetings.models import MinutesRevision, MinutesStatus
from tests.conftest import PG_URL, make_commitment, make_meeting, make_org, make_user
from tests.live import Client, fresh_database, gunicorn, migrated_app

ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(not PG_URL, reason="no PostgreSQL"))]
WRITERS = int(os.environ.get("CRM_LIVE_WRITERS", "10"))
ROUNDS = int(os.environ.get("CRM_LIVE_ROUNDS", "8"))
VERSION = re.compile(r'name="version"[^>]*value="(\d+)"')
CURRENT_STATUS = re.compile(r'<option selected value="([a-z_]+)"')


def _setup_writers(database_url: str):
    app = migrated_app(database_url)
    with app.app_context():
        author = make_user(Role.STAFF, email="auteur@mcenma.example")
        writers = [make_user(Role.STAFF, email=f"agent{i}@mcenma.example") for i in range(WRITERS)]
        meeting = make_meeting(author, orgs=[make_org()])
        for writer in writers:
            meetings.add_participant(db.session, meeting, user_id=writer.id)
        revision = meetings.start_minutes(db.session, meeting)
        meetings.add_item(db.session, revision, revision.version, "Couverture rurale")
        commitment = make_commitment(author, "Transmettre le plan d’extension")
        db.session.commit()
        ids = {
            "meeting": meeting.id,
            "commitment": commitment.id,
            "commitment_version": commitment.version,
            "revision_version": meetings.revision_with_items(db.session, meeting.id).version,
        }
        emails = [w.email for w in writers]
        db.session.remove()
    return app, ids, emails


@pytest.mark.parametrize("engine", ENGINES)
def test_many_writers_on_one_record_lose_nothing_and_never_fail(engine, tmp_path):
    database_url = fresh_database(engine, tmp_path, "writers")
    app, ids, emails = _setup_writers(database_url)
    outcomes: Counter[tuple[str, int]] = Counter()
    lock = threading.Lock()
    clients = []

    with gunicorn(database_url, tmp_path / "instance", workers=4) as server:
        for email in emails:
            client = Client(server.url)
            client.sign_in(email)
            clients.append(client)

        def write(n: int, client: Client) -> None:
            for round_ in range(ROUNDS):
                page = client.get(f"/commitments/{ids['commitment']}")
                # Always a real change, so that each accepted save moves the version by exactly one.
                status = "blocked" if CURRENT_STATUS.search(page.body)[1] != "blocked" else "in_progress"
                answer = client.post(
                    f"/commitments/{ids['commitment']}/status",
                    {"status": status, "note": f"point {n}.{round_}", "version": VERSION.search(page.body)[1]},
                    htmx=True,
                )
                minutes = client.get(f"/meetings/{ids['meeting']}/minutes")
                saved = client.post(
                    f"/meetings/{ids['meeting']}/minutes/autosave",
                    {"summary": f"Texte de l’agent {n}, passage {round_}", "version": VERSION.search(minutes.body)[1]},
                    htmx=True,
                )
                with lock:
                    outcomes["commitment", answer.status] += 1
                    outcomes["minutes", saved.status] += 1

        threads = [threading.Thread(target=write, args=(n, c)) for n, c in enumerate(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        log = server.log.read_text()

    assert not [key for key in outcomes if key[1] >= 500], (outcomes, log[-3000:])
    assert set(status for _kind, status in outcomes) <= {200, 409}, outcomes
    with app.app_context():
        commitment = db.session.get(Commitment, ids["commitment"])
        revision = meetings.revision_with_items(db.session, ids["meeting"])
        # Every accepted save is there, and nothing else: no update was lost, none was applied twice.
        assert commitment.version == ids["commitment_version"] + outcomes["commitment", 200]
        assert revision.version == ids["revision_version"] + outcomes["minutes", 200]
        assert outcomes["commitment", 200] >= 1 and outcomes["minutes", 200] >= 1
        db.session.remove()
        db.engine.dispose()


def _submitted_minutes(count: int) -> list[int]:
    staff = make_user(Role.STAFF)
    ids = []
    for i in range(count):
        meeting = make_meeting(staff, f"Audience numéro {i}", orgs=[make_org(f"Partenaire {i}")])
        revision = meetings.start_minutes(db.session, meeting)
        meetings.save_minutes(db.session, revision, "Le Ministre a reçu le partenaire.", {}, revision.version)
        meetings.submit_minutes(db.session, revision, staff, revision.version)
        db.session.commit()
        ids.append(meeting.id)
    return ids


def _approve(client: Client, meeting_id: int, version: str) -> None:
    # The worker is killed under the request: the connection drops, as it would for a user.
    with contextlib.suppress(OSError, http.client.HTTPException):
        client.post(f"/meetings/{meeting_id}/minutes/approve", {"version": version})


@pytest.mark.parametrize("engine", ENGINES)
def test_a_worker_killed_during_approvals_leaves_no_half_approved_minutes(engine, tmp_path):
    database_url = fresh_database(engine, tmp_path, "killed")
    app = migrated_app(database_url)
    with app.app_context():
        make_user(Role.OFFICER, email="officer@mcenma.example")
        meeting_ids = _submitted_minutes(6)
        db.session.remove()
    instance = tmp_path / "instance"
    random.seed(7)
    with gunicorn(database_url, instance, workers=1) as server:
        client = Client(server.url)
        client.sign_in("officer@mcenma.example")
        for meeting_id in meeting_ids:
            page = client.get(f"/meetings/{meeting_id}/minutes")
            version = VERSION.search(page.body)[1]
            before = set(server.workers())
            thread = threading.Thread(target=_approve, args=(client, meeting_id, version))
            thread.start()
            time.sleep(random.uniform(0.02, 0.6))  # somewhere in the rendering, the storing or the commit
            server.kill_worker()
            thread.join()
            server.wait_for_workers(1, besides=before)
            client.sign_in("officer@mcenma.example")  # the session survives, but the page's token is reread

    with app.app_context():
        revisions = db.session.scalars(select(MinutesRevision)).all()
        for revision in revisions:
            frozen = db.session.scalar(
                select(func.count()).select_from(FrozenDocument).where(FrozenDocument.revision_id == revision.id)
            )
            if revision.status == MinutesStatus.APPROVED:
                assert frozen == 2, "an approved revision has its two printed copies"
            else:
                assert revision.status == MinutesStatus.SUBMITTED and frozen == 0, "no printed copy without approval"
        # No stored bytes without their row, and no row without its bytes.
        assert db.session.scalar(select(func.count()).select_from(StoredFile)) == db.session.scalar(
            select(func.count()).select_from(FrozenDocument)
        )
        db.session.remove()
        db.engine.dispose()
    # Nothing is written beside the database any more.
    leftovers = [p for p in instance.rglob("*") if p.is_file() and p.suffix in (".pdf", ".png", ".jpg")]
    assert leftovers == []
