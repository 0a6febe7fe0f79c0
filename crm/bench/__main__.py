"""`make bench` (python -m crm.bench): the app over HTTP under gunicorn, beside its floor, on SQLite and PostgreSQL.

Options (environment, or `make bench SIZES=10k,100k,1m DBS=sqlite ROUNDS=6`):
  SIZES   meetings in the database, comma-separated (10k, 100k, 1m); the growth table compares each with the first
  DBS     sqlite,postgresql (PostgreSQL: CRM_BENCH_PG, default postgresql://postgres@127.0.0.1:5432/crm_bench)
  ROUNDS  interleaved rounds per page (each round: N app requests, then N floor requests); PER_ROUND is N
  BENCH_PORT  the app's port, 5106 (the floor listens on the next one)
  PAGES   only these, comma-separated keys: meetings, commitments, organisations, contacts, visits, search, meeting,
          week, month, draft, approved (the draft and approved PDFs); memory, first load and the search part are
          then left out. Unset: everything.
Prints figures and PASS/FAIL against the budgets of issue 15; never fails itself.
"""

from __future__ import annotations

import os
import pickle
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from crm.bench import client
from crm.bench.data import Built, build

ROOT = Path(__file__).resolve().parents[2]
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/crm_bench"
SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}


@dataclass
class Page:
    label: str
    path: str
    kind: str  # list, meeting, calendar, search (every page here is in the growth budget: none is one partner's)
    key: str  # what PAGES names it by


def pages(built: Built) -> list[Page]:
    m = built.meeting_id
    return [
        Page("meetings, past", "/meetings?when=past", "list", "meetings"),
        Page("commitments", "/commitments", "list", "commitments"),
        Page("organisations", "/organisations", "list", "organisations"),
        Page("contacts", "/contacts", "list", "contacts"),
        Page("visits, past", "/visits?when=past", "list", "visits"),
        Page("meetings search", "/meetings?when=past&q=reunion%20de%20travail%2099", "search", "search"),
        Page("meeting page", f"/meetings/{m}", "meeting", "meeting"),
        Page("week view", f"/calendar/week?d={built.week.isoformat()}", "calendar", "week"),
        Page("month view", f"/meetings/month?m={built.month}", "calendar", "month"),
    ]


PDF_KEYS = ("draft", "approved")


def chosen() -> set[str] | None:
    """The keys named by PAGES, or None for everything."""
    named = {k.strip().lower() for k in (os.environ.get("PAGES") or "").split(",") if k.strip()}
    return named or None


def _url(db: str, tmp: Path) -> str:
    if db == "sqlite":
        return f"sqlite:///{tmp / 'bench.sqlite3'}"
    return os.environ.get("CRM_BENCH_PG", PG_DEFAULT)


def _fresh_pg(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _capture(app, built: Built, cookie: str, page_list: list[Page]) -> dict[str, list[tuple[str, object]]]:
    """Each page once in process: the SELECTs it runs, as sent to the driver (the floor replays them)."""
    from sqlalchemy import event

    from crm.extensions import db

    plans: dict[str, list[tuple[str, object]]] = {}
    seen: list[tuple[str, object]] = []
    with app.app_context():
        engine = db.engine

        def keep(_conn, _cursor, statement, parameters, _context, _many):
            if statement.lstrip().upper().startswith(("SELECT", "WITH")):
                seen.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", keep)
        test = app.test_client()
        test.set_cookie("crm_session", cookie, domain="localhost")
        for page in page_list:
            seen.clear()
            response = test.get(page.path, headers={"Accept-Language": "fr"})
            assert response.status_code == 200, (page.path, response.status_code)
            plans[page.label] = list(seen)
        event.remove(engine, "before_cursor_execute", keep)
        db.engine.dispose()
    return plans


class Server:
    def __init__(self, args: list[str], env: dict[str, str], log: Path, port: int):
        self.port = port
        self.log = log.open("ab")
        self.process = subprocess.Popen(args, env=env, cwd=ROOT, stdout=self.log, stderr=self.log)
        time.sleep(1)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                client.get(port, "/healthz")
                return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"server on port {port} did not start: see {log}")

    def children(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def workers(self) -> list[int]:
        return [pid for pid in self.children() if not _is_render_server(pid)]

    def render_server(self) -> int | None:
        """The PDF render server gunicorn's master started (crm/documents/renderserver.py), if any."""
        return next((pid for pid in self.children() if _is_render_server(pid)), None)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def _is_render_server(pid: int) -> bool:
    from crm.documents.renderserver import SERVER_NAME

    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == SERVER_NAME
    except OSError:
        return False


def _memory(server: Server) -> dict[int, tuple[float, float]]:
    return {pid: _rss(pid) for pid in server.workers()}


def _rss(pid: int) -> tuple[float, float]:
    """RSS and PSS in MB (PSS shares the pages inherited from the preloaded master among the processes)."""
    rss = pss = 0.0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1]) / 1024
        elif line.startswith("Pss:"):
            pss = int(line.split()[1]) / 1024
    return rss, pss


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def first_load(port: int, cookie: str, path: str) -> tuple[int, int, list[str]]:
    """Bytes on the wire (compressed) and requests of a first visit: the HTML, then its stylesheets and scripts."""
    html = client.get(port, path, {"Cookie": f"crm_session={cookie}"})
    text = html.body
    if html.headers.get("content-encoding") == "br":
        import brotli

        text = brotli.decompress(text)
    elif html.headers.get("content-encoding") == "gzip":
        import gzip

        text = gzip.decompress(text)
    decoded = text.decode()
    assets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', decoded) + re.findall(
        r'<script src="([^"]+)"', decoded
    )
    total = len(html.body)
    lines = [f"    {path:40} {len(html.body) / 1024:6.1f} KB"]
    for asset in assets:
        reply = client.get(port, asset.replace("&amp;", "&"))
        total += len(reply.body)
        encoding = reply.headers.get("content-encoding", "identity")
        lines.append(f"    {asset.split('?')[0]:40} {len(reply.body) / 1024:6.1f} KB ({encoding})")
    return total, 1 + len(assets), lines


def run(db: str, size_name: str, rounds: int, per_round: int, port: int, results: dict) -> None:  # noqa: PLR0915
    from crm import create_app

    size = SIZES[size_name]
    tmp = Path(tempfile.mkdtemp(prefix=f"crm-bench-{db}-{size_name}-"))
    url = _url(db, tmp)
    if db == "postgresql":
        _fresh_pg(url)
    secret = secrets.token_urlsafe(16)
    env = {
        **os.environ,
        "CRM_INSTANCE_PATH": str(tmp),
        "CRM_DATABASE_URL": url,
        "CRM_SECRET_KEY": secret,
        "CRM_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CRM_WORKERS": "2",
        "CRM_BENCH_DIR": str(tmp),
        "CRM_BENCH_KEEP_HTML": "1",
        "CRM_BENCH_PLAN": str(tmp / "plan.pickle"),
    }
    os.environ.update(
        {k: env[k] for k in ("CRM_INSTANCE_PATH", "CRM_DATABASE_URL", "CRM_SECRET_KEY", "CRM_ALLOWED_HOSTS")}
    )
    started = time.perf_counter()
    app = create_app({"SQLALCHEMY_DATABASE_URI": url} if db == "sqlite" else None)
    built = build(app, size)
    # The session cookie of a browser that has already been served a page: it holds the CSRF token that page's
    # forms were given (without one, every request would make a token and send a new cookie, as only a first
    # visit does).
    signer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    cookie = signer.dumps({"_user_id": built.token, "csrf_token": secrets.token_hex(20)})
    only = chosen()
    page_list = [page for page in pages(built) if only is None or page.key in only]
    plans = _capture(app, built, cookie, page_list)
    frozen_size = _frozen_size(app, built)
    (tmp / "static").mkdir()
    (tmp / "static" / "same-size.pdf").write_bytes(os.urandom(frozen_size))
    dsn = str(tmp / "bench.sqlite3") if db == "sqlite" else url
    (tmp / "plan.pickle").write_bytes(
        pickle.dumps({"driver": db, "dsn": dsn, "pages": plans, "html": str(tmp / "minutes.html")})
    )
    print(f"\n=== {db}, {size:,} meetings (built in {time.perf_counter() - started:.0f} s) ===", flush=True)

    gunicorn = str(ROOT / ".venv" / "bin" / "gunicorn")
    server = Server(
        [gunicorn, "-c", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "crm.bench.wsgi:app"],
        env,
        tmp / "app.log",
        port,
    )
    floor = Server(
        [gunicorn, "-w", "2", "--preload", "--bind", f"127.0.0.1:{port + 1}", "crm.bench.floor:app"],
        env,
        tmp / "floor.log",
        port + 1,
    )
    auth = {"Cookie": f"crm_session={cookie}"}
    rows = results.setdefault((db, size_name), {})
    try:
        print(
            f"{'page':22} {'app ms':>7} {'p95':>7} {'req/s':>6} | {'floor':>7} {'p95':>7} {'req/s':>6} | "
            f"{'ratio':>5} {'SQL':>4} {'KB':>6}  budget"
        )
        for page in page_list:
            a, b = client.interleaved(
                (port, page.path), (port + 1, "/page/" + quote(page.label)), rounds, per_round, auth
            )
            sql = int((a.last.headers.get("x-bench-sql") if a.last else None) or -1)
            ratio = a.median / b.median
            size_kb = len(a.last.body) / 1024 if a.last else 0
            budget = ""
            if page.kind == "list":
                budget = f"≤ 1.5× floor {verdict(ratio <= 1.5)}"
            elif page.kind == "meeting":
                budget = f"≤ 6 SQL {verdict(sql <= 6)}, ≤ 2× floor {verdict(ratio <= 2)}"
            elif page.kind == "calendar":
                budget = f"≤ 3× floor {verdict(ratio <= 3)}"
            errors = f" ({a.errors} errors)" if a.errors else ""
            print(f"{_sides(page.label, a, b)} {ratio:5.2f} {sql:4d} {size_kb:6.1f}  {budget}{errors}", flush=True)
            rows[page.label] = (a.median, ratio)
        pages_only = _memory(server)
        _pdfs(port, built, auth, rounds, rows, only)
        if only is None:
            _print_memory(server, pages_only)
            _first_load(port, cookie)
    finally:
        server.stop()
        floor.stop()
    if os.environ.get("CRM_BENCH_KEEP") != "1":
        shutil.rmtree(tmp, ignore_errors=True)


def _sides(label: str, a: client.Series, b: client.Series) -> str:
    return f"{label:22} {a.median:7.1f} {a.p95:7.1f} {a.rps:6.1f} | {b.median:7.1f} {b.p95:7.1f} {b.rps:6.1f} |"


def _frozen_size(app, built: Built) -> int:
    from sqlalchemy import select

    from crm.documents.models import FrozenDocument
    from crm.extensions import db
    from crm.meetings.models import MinutesRevision

    with app.app_context():
        size = db.session.scalar(
            select(FrozenDocument.size)
            .join(MinutesRevision, MinutesRevision.id == FrozenDocument.revision_id)
            .where(MinutesRevision.meeting_id == built.approved_id, FrozenDocument.lang == "fr")
        )
        db.engine.dispose()
    return int(size or 0)


def _pdfs(port: int, built: Built, auth: dict, rounds: int, rows: dict, only: set[str] | None) -> None:
    draft = f"/meetings/{built.meeting_id}/minutes.pdf?lang=fr"
    approved = f"/meetings/{built.approved_id}/minutes.pdf?lang=fr"
    if only is not None and "draft" not in only:
        if "approved" in only:
            _approved(port, approved, auth, rounds)
        return
    client.get(port, draft, auth)  # the app's first render writes its HTML for the floor
    n = max(2, rounds // 2)
    fresh = {**auth, "X-Bench-Fresh": "1"}  # bench mode only: skip the draft cache, a first render each time
    a, b = client.interleaved((port, draft), (port + 1, "/pdf"), n, 2, fresh)
    ratio = a.median / b.median
    print(
        f"{_sides('draft PDF, 1st render', a, b)} "
        f"{ratio:5.2f} {'':>4} {len(a.last.body) / 1024 if a.last else 0:6.1f}  ≤ 1.1× WeasyPrint alone, same HTML "
        f"{verdict(ratio <= 1.1)}"
    )
    c, _ = client.interleaved((port, draft), (port + 1, "/pdf"), 1, 8, auth)
    print(
        f"{'draft PDF, unchanged':22} {c.median:7.1f} {c.p95:7.1f} {c.rps:6.1f} | {'':>7} {'':>7} {'':>6} | "
        f"{c.median / b.median:5.2f} {'':>4} {'':>6}  served from cache {verdict(c.median < 0.25 * b.median)}"
    )
    if only is None or "approved" in only:
        _approved(port, approved, auth, rounds)
    rows["draft PDF"] = (a.median, ratio)


def _approved(port: int, approved: str, auth: dict, rounds: int) -> None:
    d, e = client.interleaved((port, approved), (port, "/bench-static/same-size.pdf"), rounds, 8, auth)
    ratio = d.median / e.median
    print(
        f"{_sides('approved PDF', d, e)} "
        f"{ratio:5.2f} {int(d.last.headers.get('x-bench-sql', -1)) if d.last else -1:4d} "
        f"{len(d.last.body) / 1024 if d.last else 0:6.1f}  ≤ 3× static file of the same size {verdict(ratio <= 3)}"
    )


def _print_memory(server: Server, pages_only: dict[int, tuple[float, float]]) -> None:
    print("\nMemory per worker (RSS; PSS counts the pages shared with the preloaded master once):")
    for when, figures in (("every page served", pages_only), ("and both PDFs too", _memory(server))):
        for pid, (rss, pss) in figures.items():
            print(
                f"    worker {pid}, {when}: RSS {rss:6.1f} MB, PSS {pss:6.1f} MB   ≤ 100 MB RSS {verdict(rss <= 100)}"
            )
    rss, pss = _rss(server.process.pid)
    print(f"    master {server.process.pid}:                    RSS {rss:6.1f} MB, PSS {pss:6.1f} MB")
    render = server.render_server()
    if render is not None:
        rss, pss = _rss(render)
        print(f"    PDF render server {render}:         RSS {rss:6.1f} MB, PSS {pss:6.1f} MB  (WeasyPrint)")


def _first_load(port: int, cookie: str) -> None:
    total, requests, lines = first_load(port, cookie, "/meetings?when=past")
    print("\nFirst load, cold cache (compressed bytes on the wire):")
    print("\n".join(lines))
    print(
        f"    total {total / 1024:.1f} KB in {requests} requests   ≤ 25 KB in ≤ 3 requests "
        f"{verdict(total <= 25 * 1024 and requests <= 3)}"
    )


def main() -> None:
    sizes = [s.strip().lower() for s in (os.environ.get("SIZES") or "10k").split(",") if s.strip()]
    dbs = [d.strip().lower() for d in (os.environ.get("DBS") or "sqlite,postgresql").split(",") if d.strip()]
    rounds = int(os.environ.get("ROUNDS") or "5")
    per_round = int(os.environ.get("PER_ROUND", "6"))
    port = int(os.environ.get("BENCH_PORT", "5106"))
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        sys.exit(f"unknown size {unknown}: use {', '.join(SIZES)}")
    print(
        f"make bench: gunicorn (deploy/gunicorn.conf.py, 2 sync workers) on 127.0.0.1:{port}, floor on {port + 1}; "
        f"{rounds} interleaved rounds of {per_round} requests per side, {client.THREADS} client threads; "
        f"latencies in ms, warm (after {client.WARM} per page and side, two at a time, so both workers served it)."
    )
    print(f"Machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (other work skews ms, not ratios).")
    results: dict = {}
    for db in dbs:
        for size in sizes if db == "sqlite" else sizes[:1]:
            run(db, size, rounds, per_round, port, results)
    print(f"\nLoad average at the end: {os.getloadavg()[0]:.1f}")
    if len(sizes) > 1 and "sqlite" in dbs:
        base = results[("sqlite", sizes[0])]
        for size in sizes[1:]:
            print(
                f"\nGrowth on SQLite, {size} ÷ {sizes[0]} (median latency; budget ≤ 1.5×; two runs minutes apart, "
                "not interleaved: the machine's drift is in it):"
            )
            for label, (ms, _) in results[("sqlite", size)].items():
                growth = ms / base[label][0]
                print(f"    {label:22} {base[label][0]:7.1f} → {ms:7.1f} ms  {growth:5.2f}×  {verdict(growth <= 1.5)}")
    if chosen() is None:
        from crm.search.bench import search_figures

        search_figures()


if __name__ == "__main__":
    main()
