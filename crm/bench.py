"""`make bench`: server time, SQL statements and transferred weight of the directory pages, printed.

Runs on a throwaway SQLite file filled with 20,000 contacts and 5,000 organisations. Prints figures; never fails.
"""

from __future__ import annotations

import gzip
import os
import secrets
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from flask import g
from sqlalchemy import event, insert

ORGS, CONTACTS, RUNS = 5_000, 20_000, 60


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
        }
        print(f"Directory of {ORGS:,} organisations, {CONTACTS:,} contacts on SQLite; {RUNS} runs each, in process.")
        print(f"{'page':32} {'median ms':>10} {'p95 ms':>8} {'SQL':>4} {'HTML gz':>8}")
        for label, url in pages.items():
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


if __name__ == "__main__":
    main()
