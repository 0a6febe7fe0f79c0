"""The Nu Html Checker finds no error on the main pages, in French and in English.

The checker (vnu.jar, from the npm package pinned in tests/tools, installed by `scripts/setup.sh --test`)
is slow to start: every page is fetched by the test client first, then checked in one run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from crm.auth.models import User
from tests import pages
from tests.conftest import open_session

VNU = Path(__file__).resolve().parent / "tools" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
# htmx's attributes are not HTML's: the checker's only errors we accept.
IGNORED = r".*Attribute “hx-[a-z-]+” not allowed.*"


@pytest.fixture
def app_config() -> dict:
    return {"WTF_CSRF_ENABLED": True}  # the tokens are part of what the browser gets (and of their ids)


def check(files: list[Path]) -> list[dict]:
    java = shutil.which("java")
    if not VNU.exists() or not java:
        pytest.fail("the Nu Html Checker is not installed: run scripts/setup.sh --test (needs java and npm)")
    run = subprocess.run(
        [
            java,
            "-Xss2m",
            "-jar",
            str(VNU),
            "--format",
            "json",
            "--errors-only",
            "--filterpattern",
            IGNORED,
            *map(str, files),
        ],
        check=False,  # errors found exit non-zero: the report is what counts
        capture_output=True,
        text=True,
        timeout=300,
    )
    return json.loads(run.stderr or "{}").get("messages", [])


def test_main_pages_have_no_html_errors(app, db, client, tmp_path):
    email = pages.load(db.session)
    files = []
    for lang in ("fr", "en"):
        client.get(f"/language/{lang}")
        response = client.get("/login")
        assert response.status_code == 200
        files.append(tmp_path / f"login-{lang}.html")
        files[-1].write_bytes(response.data)
    user = db.session.query(User).filter_by(email=email).one()
    open_session(client, user)
    paths = pages.main_pages(db.session)
    for lang in ("fr", "en"):
        user.locale = lang
        db.session.commit()
        for name, path in paths.items():
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            files.append(tmp_path / f"{name}-{lang}.html")
            files[-1].write_bytes(response.data)

    errors = check(files)

    found = [f"{Path(m['url']).name}:{m.get('lastLine')}: {m['message']} {m.get('extract', '')!r}" for m in errors]
    assert found == [], f"{len(found)} errors:\n" + "\n".join(found)
