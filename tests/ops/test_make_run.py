"""`make run` from a fresh clone: set up, migrated, demo loaded, and served by gunicorn, not Werkzeug's dev server."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import brotli
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not (shutil.which("make") and shutil.which("git") and (ROOT / ".venv" / "bin" / "python").exists()),
    reason="needs make, git and this checkout's .venv",
)


def _fresh_clone(target: Path) -> None:
    """The files a clone of this work tree would hold (tracked, and new ones not ignored), as they are now."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    # The one thing a clone would fetch from the network: the virtualenv. This checkout's has the same requirements.
    (target / ".venv").symlink_to(ROOT / ".venv")


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "br, gzip"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
        if response.headers.get("Content-Encoding") == "br":
            body = brotli.decompress(body)
        return response.status, dict(response.headers), body


def test_make_run_from_a_fresh_clone_answers_through_gunicorn(tmp_path):
    clone = tmp_path / "crm"
    _fresh_clone(clone)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "FLASK_"))}
    log = tmp_path / "make-run.log"
    with log.open("wb") as out:
        make = subprocess.Popen(
            ["make", "run", f"PORT={port}"],
            cwd=clone,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1800):  # set-up, migrations and the demo data first: at most three minutes
            if make.poll() is not None:
                break
            try:
                if _get(base + "/healthz")[0] == 200:
                    break
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        output = log.read_text()
        assert make.poll() is None, output

        status, headers, page = _get(base + "/login")
        assert status == 200 and b"csrf_token" in page
        assert headers["Server"] == "crm"  # neither Werkzeug/x Python/y, nor gunicorn, nor a version
        assert f"Listening at: http://127.0.0.1:{port}" in output and "Starting gunicorn" in output
        assert "development server" not in output
        assert "admin@mcenma.example" in output  # the demo accounts are printed

        css = re.search(rb'rel="stylesheet" href="([^"]+)"', page).group(1).decode()
        status, headers, _body = _get(base + css)
        assert headers["Content-Encoding"] == "br"
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"

        instance = clone / "instance"
        assert stat.S_IMODE(instance.stat().st_mode) == 0o700
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in instance.iterdir()}
        assert {"crm.sqlite3", "secret_key", "demo-accounts.txt"} <= set(modes)
        assert set(modes.values()) == {0o600}, modes
    finally:
        os.killpg(make.pid, signal.SIGTERM)  # make and the gunicorn it started, in their own process group
        make.wait(timeout=60)
