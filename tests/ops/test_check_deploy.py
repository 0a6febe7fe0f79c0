"""`flask check-deploy` refuses an unsafe production configuration, each problem with its fix, and passes a good one."""

from __future__ import annotations

import secrets
import sqlite3

import pytest

from crm.config import sqlalchemy_url
from tests.ops.conftest import drop_pg_database, make_ops_app, migrated, needs_pg, pg_database

GOOD_ENV = {
    "CRM_ENV": "production",
    "CRM_BASE_URL": "https://crm.mcenma.gov.ml",
    "CRM_PROXY_FIX": "1",
    "CRM_WORKERS": "5",
}


def _check(app) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["check-deploy"])
    return result.exit_code, result.output


def _problems(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("ERROR")]


def test_an_unsafe_configuration_is_refused_with_the_fixes(tmp_path, monkeypatch):
    # The app asks for WAL on every connection; a file system without shared memory leaves SQLite in "delete".
    monkeypatch.setattr("crm.db.SQLITE_JOURNAL_MODE", "DELETE")
    monkeypatch.setenv("CRM_ENV", "production")
    monkeypatch.delenv("CRM_BASE_URL", raising=False)
    monkeypatch.setenv("CRM_SECRET_KEY", "change-me")
    monkeypatch.setenv("CRM_SECURE_COOKIES", "0")
    monkeypatch.setenv("CRM_WORKERS", "5")
    monkeypatch.setenv("FLASK_DEBUG", "1")
    instance = tmp_path / "instance"
    database = tmp_path / "instance" / "crm.sqlite3"
    app = make_ops_app(monkeypatch, instance, f"sqlite:///{database}")
    with migrated(app):
        (instance / "notes.txt").write_text("left by hand")
        (instance / "notes.txt").chmod(0o644)
        code, output = _check(app)
    assert code != 0
    problems = "\n".join(_problems(output))
    assert "No CRM_BASE_URL" in problems
    assert "too short" in problems  # the secret key
    assert "Debug mode is on" in problems
    assert "not Secure" in problems
    assert "'delete' journal mode with 5 workers" in problems
    assert f"{instance / 'notes.txt'} (-rw-r--r--)" in problems
    assert len(_problems(output)) == 6
    # Each problem is followed by what to do.
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("ERROR"):
            assert lines[i + 1].strip().startswith("fix: ")
    assert "CRM_BASE_URL=https://" in output
    assert "secrets.token_urlsafe(48)" in output
    assert "PRAGMA journal_mode=WAL" in output
    assert f"chmod -R go-rwx {instance}" in output


@pytest.mark.parametrize(
    "key", ["test-secret-key-not-for-production-at-all", "replace-this-with-a-long-random-value-please", "ab" * 40]
)
def test_a_default_or_placeholder_secret_key_is_refused(tmp_path, monkeypatch, key):
    for name, value in GOOD_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CRM_SECRET_KEY", key)
    app = make_ops_app(monkeypatch, tmp_path / "instance", "sqlite://")
    code, output = _check(app)
    assert code != 0
    assert any("looks like a default or a placeholder" in line for line in _problems(output))


def test_a_plain_http_base_url_is_refused(tmp_path, monkeypatch):
    for name, value in GOOD_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CRM_BASE_URL", "http://crm.mcenma.gov.ml")
    app = make_ops_app(monkeypatch, tmp_path / "instance", "sqlite://")
    code, output = _check(app)
    assert code != 0 and any("is not an https:// address" in line for line in _problems(output))


def test_a_good_sqlite_configuration_passes(tmp_path, monkeypatch):
    for name, value in GOOD_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CRM_SECRET_KEY", secrets.token_urlsafe(48))
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.delenv("CRM_SECURE_COOKIES", raising=False)
    database = tmp_path / "instance" / "crm.sqlite3"
    app = make_ops_app(monkeypatch, tmp_path / "instance", f"sqlite:///{database}")
    with migrated(app):
        conn = sqlite3.connect(database)
        conn.execute("PRAGMA journal_mode=WAL")  # what the engine does once the lead's WAL change is merged
        conn.close()
        code, output = _check(app)
    assert code == 0, output
    assert _problems(output) == []
    assert "SQLite journal mode wal with 5 worker(s)" in output
    assert "0 error(s)" in output


@needs_pg
def test_a_good_postgresql_configuration_passes(tmp_path, monkeypatch):
    for name, value in GOOD_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CRM_SECRET_KEY", secrets.token_urlsafe(48))
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.delenv("CRM_SECURE_COOKIES", raising=False)
    url = pg_database("check_deploy")
    try:
        app = make_ops_app(monkeypatch, tmp_path / "instance", sqlalchemy_url(url))
        with migrated(app):
            code, output = _check(app)
        assert code == 0, output
        assert "pg_dump is installed for backups." in output
        assert "SQLite" not in output
    finally:
        drop_pg_database(url)
