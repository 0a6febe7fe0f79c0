"""A fresh instance folder is private: the folder 0700, the database, the secret key and the demo accounts 0600."""

from __future__ import annotations

import stat
from pathlib import Path

from flask_migrate import upgrade

from crm import create_app
from crm.extensions import db


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_instance_is_created_private(tmp_path, monkeypatch):
    instance = tmp_path / "fresh" / "instance"
    monkeypatch.setenv("CRM_INSTANCE_PATH", str(instance))
    monkeypatch.delenv("CRM_SECRET_KEY", raising=False)  # generated into instance/secret_key
    monkeypatch.delenv("CRM_DATABASE_URL", raising=False)  # the default SQLite file in the instance
    app = create_app()
    with app.app_context():
        upgrade()
        result = app.test_cli_runner().invoke(args=["seed-demo", "--if-empty"])
        assert result.exit_code == 0, result.output
        assert app.test_client().get("/healthz").get_json() == {"status": "ok"}
        db.session.remove()
        db.engine.dispose()
    assert _mode(instance) == 0o700
    files = {p.name: _mode(p) for p in instance.iterdir()}
    assert {"crm.sqlite3", "secret_key", "demo-accounts.txt"} <= set(files)
    assert set(files.values()) == {0o600}, files


def test_an_instance_folder_left_open_by_an_older_version_is_closed(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    instance.chmod(0o755)
    monkeypatch.setenv("CRM_INSTANCE_PATH", str(instance))
    create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert _mode(instance) == 0o700
