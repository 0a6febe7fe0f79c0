"""`make bench`, search: p95 of the header's search and of the meetings list's search box, at growing sizes.

Meetings (with a partner, a place, notes and, one in four, minutes) and three commitments each, written in bulk,
then indexed by `rebuild` (its rate is printed too), on a throwaway SQLite file and, if CRM_BENCH_PG_URL or a
local server answers, on PostgreSQL. Read by a viewer, so that visibility is applied as for everyone.
CRM_BENCH_SEARCH_SIZES sets the sizes (the issue's: 10000,1000000; building 1M takes a quarter of an hour per
engine). Prints figures and PASS/FAIL against the budget; never fails.
"""

from __future__ import annotations

import itertools
import os
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

SIZES = [int(n) for n in os.environ.get("CRM_BENCH_SEARCH_SIZES", "10000,100000").split(",")]
RUNS = 40
BUDGET_S = 6
BUDGET_MS = 30  # the issue: search p95 ≤ 30 ms at 1M meetings and 3M commitments, flat from 10k
GROWTH = 1.5
# A folder: the databases built are kept there (PostgreSQL: one database per size, PG_URL + "_<size>") and
# reused by the next run with the same sizes. Building a million meetings takes a quarter of an hour per engine.
KEEP = os.environ.get("CRM_BENCH_SEARCH_KEEP", "")
COMMITMENTS_PER_MEETING = 3  # the shape: 1M meetings, 3M commitments
PG_URL = os.environ.get("CRM_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/crm_search_bench")
PARTNERS = [
    "Huawei",
    "Orange",
    "Moov Africa",
    "ZTE",
    "Ericsson",
    "Banque mondiale",
    "UIT",
    "Smart Africa",
    "Sonatel",
    "Airtel",
    "Ecobank",
    "GIZ",
    "Enabel",
    "AFD",
    "PNUD",
    "Union africaine",
]
WORDS = [
    "fibre",
    "couverture",
    "rurale",
    "cybersécurité",
    "formation",
    "jeunes",
    "données",
    "protection",
    "identité",
    "numérique",
    "interconnexion",
    "backbone",
    "satellite",
    "spectre",
    "fréquences",
    "tarifs",
    "itinérance",
    "régulation",
    "start-up",
    "incubateur",
    "financement",
    "budget",
    "calendrier",
    "feuille",
    "route",
    "atelier",
    "conférence",
    "signature",
    "convention",
    "mémorandum",
    "entente",
    "partenariat",
    "visite",
    "délégation",
    "ministre",
    "directeur",
    "secrétaire",
    "général",
    "rapport",
    "synthèse",
    "Tillabéri",
    "Kayes",
    "Sikasso",
    "Bobo-Dioulasso",
    "Zinder",
    "Agadez",
    "Mopti",
    "Tombouctou",
    "Gao",
    "Koudougou",
    "Dosso",
    "Maradi",
]
QUERIES = {
    "a partner (1 in 16)": "huawei",
    "two words": "huawei fibre",
    "a place in minutes": "tillaberi",
    "a rare reference": "AUD-S-004242",
    "a common prefix": "reu",
}


FILLER = [f"w{i:05d}" for i in range(20_000)]  # a long tail of words, as real prose has
FILLER_WEIGHTS = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(FILLER))))  # Zipf-like


def _prose(rng: random.Random, count: int, named: float) -> str:
    """``count`` words of filler; each named word (WORDS) comes in with probability ``named`` per text."""
    words = rng.choices(FILLER, cum_weights=FILLER_WEIGHTS, k=count)
    words += [w for w in WORDS if rng.random() < named]
    rng.shuffle(words)
    return " ".join(words)


def _seed(db: Any, n: int) -> None:
    from sqlalchemy import insert

    from crm.commitments.models import Commitment
    from crm.meetings.models import Meeting, MeetingInstitution, MeetingOrganisation, MinutesRevision
    from crm.partners.models import Organisation

    rng = random.Random(42)
    orgs = len(PARTNERS) * 10
    db.session.execute(
        insert(Organisation),
        [
            {
                "name": f"{PARTNERS[i % len(PARTNERS)]} {i // len(PARTNERS)}",
                "name_key": f"org {i}",
                "search": "",
                "country_code": "ML",
                "kind": "operator",
                "sectors": "",
                "version": 1,
                "acronym": "",
                "email": "",
                "phone": "",
                "website": "",
                "address": "",
                "city": "",
                "notes": "",
            }
            for i in range(orgs)
        ],
    )
    start = datetime(2020, 1, 2, 8, tzinfo=UTC)
    for chunk in range(0, n, 20_000):
        ids = range(chunk, min(n, chunk + 20_000))
        db.session.execute(
            insert(Meeting),
            [
                {
                    "id": i + 1,
                    "reference": f"AUD-S-{i:06d}",
                    "year": 2020,
                    "title": f"Réunion {rng.choice(WORDS)} {i}",
                    "kind": "working",
                    "starts_at": start + timedelta(hours=i * 2),
                    "ends_at": start + timedelta(hours=i * 2 + 1),
                    "timezone": "Africa/Bamako",
                    "place": rng.choice(WORDS),
                    "confidentiality": "restricted" if i % 20 == 0 else "internal",
                    "status": "held",
                    "notes": _prose(rng, 30, 0.01),
                    "search": "",
                    "owner_institution_id": 1,
                    "sharing": "institution",
                    "version": 1,
                }
                for i in ids
            ],
        )
        db.session.execute(insert(MeetingInstitution), [{"meeting_id": i + 1, "institution_id": 1} for i in ids])
        db.session.execute(
            insert(MeetingOrganisation), [{"meeting_id": i + 1, "organisation_id": i % orgs + 1} for i in ids]
        )
        db.session.execute(
            insert(MinutesRevision),
            [
                {
                    "meeting_id": i + 1,
                    "number": 1,
                    "status": "draft",
                    "summary": _prose(rng, 150, 0.02),
                    "amendment_reason": "",
                    "version": 1,
                }
                for i in ids
                if i % 4 == 0
            ],
        )
        db.session.execute(
            insert(Commitment),
            [
                {
                    "reference": f"ENG-S-{i:06d}-{k}",
                    "title": f"Suivre {rng.choice(WORDS)} {rng.choice(WORDS)}",
                    "details": _prose(rng, 15, 0.005),
                    "owed_by": "partner",
                    "owner_institution_id": 1,
                    "sharing": "institution",
                    "organisation_id": i % orgs + 1,
                    "priority": "normal",
                    "status": "open",
                    "closed": False,
                    "limited": i % 20 == 0,
                    "outcome": "",
                    "origin_meeting_id": i + 1,
                    "search": "",
                    "version": 1,
                }
                for i in ids
                for k in range(COMMITMENTS_PER_MEETING)
            ],
        )
    db.session.commit()


def say(line: str) -> None:
    print("  " + line, flush=True)


def _p95(run: Callable[[], Any]) -> tuple[float, float]:
    """Median and p95 of up to RUNS calls (fewer if they take more than BUDGET_S together, at least 5)."""
    run()
    times: list[float] = []
    while len(times) < RUNS and (len(times) < 5 or sum(times) < BUDGET_S * 1000):
        began = time.perf_counter()
        run()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), statistics.quantiles(times, n=20)[18]


def _one(url: str, n: int, figures: dict[tuple[str, int, str], float]) -> None:
    from crm import create_app
    from crm.core.fulltext import count_matching
    from crm.extensions import db
    from crm.meetings import services as meetings
    from crm.search import services as search

    if url.startswith("postgresql"):
        from crm.config import sqlalchemy_url

        url = sqlalchemy_url(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        name = db.engine.dialect.name
        user = _kept(db, n) if KEEP else None
        if user is None:
            user = _build(db, n)
        else:
            say(f"{name:10} {n:>9,} meetings: the database built by an earlier run (CRM_BENCH_SEARCH_KEEP)")
        for label, q in QUERIES.items():
            found = count_matching(db.session, q)
            filters = meetings.MeetingFilters(when="past", q=q)
            _page_median, page_p95 = _p95(partial(search.overview, db.session, user, q))
            _live_median, live_p95 = _p95(partial(search.live, db.session, user, q))
            _list_median, list_p95 = _p95(
                partial(meetings.list_meetings, db.session, user, filters, cursor=None, size=25)
            )
            figures[(name, n, label)] = max(page_p95, live_p95, list_p95)
            say(
                f"{name:10} {n:>9,} {label:20} {found:>9,} found · p95: results page {page_p95:6.1f} ms"
                f" · as you type {live_p95:6.1f} ms · meetings list {list_p95:6.1f} ms"
            )
            db.session.rollback()
        db.session.remove()
        if name == "sqlite" and not KEEP:
            db.drop_all()
        db.engine.dispose()


def _build(db: Any, n: int) -> Any:
    """A fresh schema, the data and the index written by `rebuild` (its rate said); the bench's reader."""
    from sqlalchemy import text

    from crm.auth import services as auth
    from crm.auth.models import Role
    from crm.db import Base
    from crm.partners import institutions
    from crm.partners import services as partners
    from crm.search import services as search

    name = db.engine.dialect.name
    if name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    Base.metadata.create_all(db.engine)
    partners.seed_countries(db.session)
    institutions.ensure_default(db.session)
    user = auth.create_user(db.session, email="s@x.ml", name="Bench", role=Role.VIEWER, password="bench pass 1234")
    db.session.commit()
    _seed(db, n)
    began = time.perf_counter()
    counts = search.rebuild(db.session)
    db.session.commit()
    if name == "postgresql":  # what autovacuum does after a bulk load: statistics, and the visibility map
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    took = time.perf_counter() - began
    total = sum(counts.values())
    say(
        f"{name:10} {n:>9,} meetings, {counts['commitment']:,} commitments: index rebuilt, {total:,} records "
        f"in {took:.1f} s ({total / took:,.0f}/s)"
    )
    return user


def _kept(db: Any, n: int) -> Any:
    """The bench's reader in a database an earlier run built with ``n`` meetings (none: build it)."""
    from sqlalchemy import func, inspect, select

    from crm.auth.models import User
    from crm.meetings.models import Meeting

    if not inspect(db.engine).has_table("search_entry"):
        return None
    if db.session.scalar(select(func.count()).select_from(Meeting)) != n:
        return None
    return db.session.scalar(select(User).where(User.email == "s@x.ml"))


def search_figures() -> None:
    tmp = Path(KEEP or tempfile.mkdtemp(prefix="crm-bench-search-"))
    tmp.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("CRM_INSTANCE_PATH", str(tmp))
    os.environ.setdefault("CRM_SECRET_KEY", secrets.token_urlsafe(16))
    print(f"\nSearch (viewer; {RUNS} runs each; p95 of the service call, in process):")
    engines = [d.strip().lower() for d in (os.environ.get("DBS") or "sqlite,postgresql").split(",") if d.strip()]
    targets: list[tuple[str, Any]] = []
    if "sqlite" in engines:
        targets.append(("sqlite", lambda n: f"sqlite:///{tmp / f'search-{n}.sqlite3'}"))

    def pg_url(n: int) -> str:
        return f"{PG_URL}_{n}" if KEEP else PG_URL

    if "postgresql" in engines:
        if _pg_answers([pg_url(n) for n in SIZES]):
            targets.append(("postgresql", pg_url))
        else:
            print(f"  (PostgreSQL skipped: nothing answers at {PG_URL})")
    figures: dict[tuple[str, int, str], float] = {}
    for _name, url_for in targets:
        for n in SIZES:
            _one(url_for(n), n, figures)
    small, large = min(SIZES), max(SIZES)
    print(f"\n  Search budget: p95 ≤ {BUDGET_MS} ms at {large:,} meetings; flat: at {large:,} ≤ {GROWTH}× at {small:,}")
    for name in dict.fromkeys(key[0] for key in figures):
        for label in QUERIES:
            slowest = figures[(name, large, label)]
            line = f"  {name:10} {label:20} slowest p95 {slowest:6.1f} ms  {verdict(slowest <= BUDGET_MS)}"
            if large != small:
                growth = slowest / figures[(name, small, label)]
                line += f" · {large:,} ÷ {small:,}: {growth:4.2f}×  {verdict(growth <= GROWTH)}"
            print(line)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _pg_answers(urls: list[str]) -> bool:
    """Whether the server answers; the databases are made if missing."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from crm.config import sqlalchemy_url

    targets = [make_url(sqlalchemy_url(url)) for url in urls]
    try:
        admin = create_engine(targets[0].set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for target in targets:
                if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}):
                    conn.execute(text(f'CREATE DATABASE "{target.database}"'))
        admin.dispose()
    except Exception:
        return False
    return True


if __name__ == "__main__":
    search_figures()
