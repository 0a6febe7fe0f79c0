"""Static files: compressed once into the build folder, served precompressed, cached for a year when versioned."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import brotli
import pytest

from crm import create_app
from crm.auth.models import Role

CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "app.css"


@pytest.fixture
def app_config(tmp_path):
    return {"CRM_STATIC_BUILD_DIR": str(tmp_path / "build")}


def _css_url(client) -> str:
    html = client.get("/organisations").get_data(as_text=True)
    return html.split('rel="stylesheet" href="')[1].split('"')[0]


def test_the_page_links_a_versioned_url_cached_for_a_year_and_precompressed(app, client, db, login_as, tmp_path):
    login_as(Role.VIEWER)
    url = _css_url(client)
    digest = hashlib.sha256(CSS.read_bytes()).hexdigest()[:12]
    assert url.endswith(f"?v={digest}")
    compressed = {p.name for p in (tmp_path / "build" / "css").iterdir()}
    assert compressed == {f"app.css.{digest}.br", f"app.css.{digest}.gz"}  # written at startup, once

    br = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert br.headers["Content-Encoding"] == "br"
    assert br.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert br.headers["X-Content-Type-Options"] == "nosniff"
    assert "Accept-Encoding" in br.headers["Vary"]
    assert brotli.decompress(br.get_data()) == CSS.read_bytes()
    assert br.get_data() == (tmp_path / "build" / "css" / f"app.css.{digest}.br").read_bytes()

    gz = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(gz.get_data()) == CSS.read_bytes()

    plain = client.get(url)
    assert "Content-Encoding" not in plain.headers and plain.get_data() == CSS.read_bytes()

    again = client.get(url, headers={"If-None-Match": br.headers["ETag"]})
    assert again.status_code == 304


def test_an_unversioned_or_outdated_url_is_not_cached_for_long(client, db):
    for url in ("/static/css/app.css", "/static/css/app.css?v=0123456789ab"):
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "max-age=3600, public"


def test_static_files_need_no_session_and_unknown_ones_are_404(client, db):
    assert client.get("/static/js/app.js").status_code == 200
    assert client.get("/static/js/nope.js").status_code == 404
    assert client.get("/static/../app.py").status_code == 404


def test_an_unwritable_build_folder_serves_uncompressed_files_and_check_deploy_says_so(tmp_path, database_url):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the build folder should be")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "CRM_STATIC_BUILD_DIR": str(blocker)})
    response = app.test_client().get("/static/css/app.css", headers={"Accept-Encoding": "br, gzip"})
    assert response.status_code == 200 and "Content-Encoding" not in response.headers
    assert response.get_data() == CSS.read_bytes()
    output = app.test_cli_runner().invoke(args=["check-deploy"]).output
    assert "Static files are served uncompressed" in output and "CRM_STATIC_BUILD_DIR" in output


def test_the_pages_scripts_come_in_one_request_cached_for_a_year(app, client, db, login_as, tmp_path):
    login_as(Role.VIEWER)
    html = client.get("/organisations").get_data(as_text=True)
    scripts = [part.split('"')[0] for part in html.split('<script src="')[1:]]
    assert len(scripts) == 1 and scripts[0].startswith("/static/js/bundle.js?v=")
    br = client.get(scripts[0], headers={"Accept-Encoding": "br"})
    assert br.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    bundle = brotli.decompress(br.get_data()).decode()
    static = CSS.parents[1]
    htmx, own = (static / "js" / "htmx-2.0.11.min.js").read_text(), (static / "js" / "app.js").read_text()
    code = "\n".join(line for line in own.strip().split("\n") if not line.lstrip().startswith("//"))
    assert htmx.strip() in bundle and code in bundle and bundle.index(htmx[:50]) < bundle.index(code[:50])
    ours = bundle.split(htmx.strip())[1].split("\n")
    assert not [line for line in ours if line.lstrip().startswith("//")]  # whole-line comments stay in the source
    assert len(br.get_data()) < 20_000  # htmx (15 KB) and our script, compressed together
