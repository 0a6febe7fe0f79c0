"""The PDF render server: WeasyPrint out of the web workers.

gunicorn's master starts it before it forks its workers (deploy/gunicorn.conf.py: ``on_starting`` → ``start``,
``on_exit`` → ``RenderServer.stop``). It is a fork of the master that imports WeasyPrint, builds the renderer (fonts
and stylesheet parsed, a page like the minutes rendered as a draft and as an archive, so that Pango's and
fontconfig's caches are filled) and listens on a Unix socket in a private folder (0700, the socket 0600). Renders
happen in children forked from the warm server (fonts shared copy-on-write), forked ahead and warmed by rendering that
page once more: a child renders the next request at once, as fast as a warm process would. A child renders up to
RENDERS_PER_CHILD documents, then ends, and ends too once it has waited IDLE_EXIT for another; SPARES are kept,
one always waiting.
(One child per document, forked at the request, spent ~20 % more CPU on its render, copying the pages it wrote; with
a warm-up per document, the warm-ups took the cores from the renders: 1.35–1.40× WeasyPrint alone in `make bench`'s
pattern, against 1.00–1.02× for children that render several.)

- renders run side by side (each web worker sends one at a time; another child is forked when none is waiting);
- what renders grow (layout boxes, images, font subsets) goes back to the system when their child ends: the server
  itself stays as it was after its warm-up, the web workers never load WeasyPrint (~40 MB each);
- a render past the limit is killed (SIGALRM in the child, a second after the worker gave up and answered 503),
  where a timed-out render thread in a worker went on to the end.

The web workers talk to it through ``RemoteRenderer`` (what ``printing.renderer()`` returns when CRM_PDF_SOCKET is
set). Without a server (tests with Flask's client, the ``flask`` CLI, ``make dev``) the worker renders in process
as before; a server gone (crashed, killed) is a warning in the log and a render in process, never an error page.

The protocol, one request per connection: a 4-byte big-endian length and a JSON header, then the raw byte payloads
whose sizes the header gives. Request: ``{"html": n, "logo": n, "qr": n, "archival": bool, "timeout": s}`` then
the HTML (UTF-8), the logo and the QR code; answer: ``{"pdf": n}`` then the PDF, or ``{"error": "…"}``. JSON and raw
bytes rather than pickle: unpickling runs code, and a header of five fields needs nothing more (the socket is
private to the server's user anyway); the bytes go as they are, neither encoded nor copied into a pickle.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import select
import shutil
import signal
import socket
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm.documents.pdf import RenderTimeout

if TYPE_CHECKING:
    from crm.documents.weasy import PdfRenderer

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
STYLESHEET = ROOT / "templates" / "pdf" / "print.css"
# The name the server and its render children take (/proc/<pid>/comm): how `make bench` and the tests find them.
SERVER_NAME = "crm-pdf"
CHILD_NAME = "crm-pdf-spare"
BUSY_NAME = "crm-pdf-render"
# Children are forked ahead and warmed: SPARES at least, one always waiting (a request arriving when every child is
# busy waits for the one forked then: ~0.1 s). A child renders up to RENDERS_PER_CHILD documents and ends once it
# has waited IDLE_EXIT seconds for another: what its renders grew (10–15 MB) is returned then.
SPARES = 2
RENDERS_PER_CHILD = 16
IDLE_EXIT = 30.0
# A child still rendering this long after the worker gave up is killed.
GRACE = 1.0
# Reading a request: a worker sends it at once; a connection that sends nothing is dropped.
READ_LIMIT = 30.0
_LENGTH = struct.Struct(">I")
MAX_HEADER = 64 * 1024


class RenderFailed(Exception):
    """The render server answered with an error (the document could not be rendered)."""


# --- the protocol --------------------------------------------------------------------------------


def _send(sock: socket.socket, header: dict[str, Any], *payloads: bytes) -> None:
    head = json.dumps(header).encode()
    sock.sendall(_LENGTH.pack(len(head)) + head)
    for payload in payloads:
        if payload:
            sock.sendall(payload)


def _exactly(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError("connection closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _header(sock: socket.socket) -> dict[str, Any]:
    (size,) = _LENGTH.unpack(_exactly(sock, _LENGTH.size))
    if size > MAX_HEADER:
        raise ValueError("header too large")
    header = json.loads(_exactly(sock, size))
    if not isinstance(header, dict):
        raise ValueError("header is not an object")
    return header


def _size(header: dict[str, Any], name: str) -> int:
    value = header.get(name) or 0
    if not isinstance(value, int) or value < 0:
        raise ValueError(f"bad size for {name}")
    return value


# --- the web worker's side -----------------------------------------------------------------------


class RemoteRenderer:
    """Renders through the server at ``path``; ``local`` (the in-process renderer) if the server is gone."""

    def __init__(self, path: str, timeout: float, local: Callable[[], PdfRenderer]):
        self.path = path
        self.timeout = timeout
        self.local = local

    def render(
        self, html: str, logo: bytes | None = None, qr_png: bytes | None = None, *, archival: bool = False
    ) -> bytes:
        """As PdfRenderer.render: the PDF, RenderTimeout past the limit, RenderFailed if WeasyPrint failed."""
        deadline = time.monotonic() + self.timeout
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        except OSError:  # pragma: no cover - out of file descriptors
            return self._in_process("no socket", html, logo, qr_png, archival)
        with sock:
            try:
                sock.settimeout(self.timeout)
                sock.connect(self.path)
                body = html.encode()
                header = {
                    "html": len(body),
                    "logo": len(logo or b""),
                    "qr": len(qr_png or b""),
                    "archival": archival,
                    "timeout": self.timeout,
                }
                _send(sock, header, body, logo or b"", qr_png or b"")
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                answer = _header(sock)
                if "error" in answer:
                    raise RenderFailed(str(answer["error"]))
                return self._pdf(sock, _size(answer, "pdf"), deadline)
            except TimeoutError:  # socket.timeout: the limit passed; the server kills the render
                raise RenderTimeout from None
            except (OSError, EOFError, ValueError) as error:
                return self._in_process(repr(error), html, logo, qr_png, archival)

    @staticmethod
    def _pdf(sock: socket.socket, size: int, deadline: float) -> bytes:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        return _exactly(sock, size)

    def _in_process(self, why: str, html: str, logo: bytes | None, qr_png: bytes | None, archival: bool) -> bytes:
        log.warning("PDF render server at %s unavailable (%s): rendering in this worker", self.path, why)
        return self.local().render(html, logo, qr_png, archival=archival)


# --- the server ----------------------------------------------------------------------------------


@dataclass
class RenderServer:
    """The handle its starter keeps: the server's process and the socket the workers connect to."""

    pid: int
    folder: Path

    @property
    def path(self) -> str:
        return str(self.folder / "render.sock")

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to stop (it kills its renders), wait for it, and remove its folder."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                pid, _status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # already reaped (gunicorn's master reaps every child it has)
                break
            if pid:
                break
            time.sleep(0.05)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
        shutil.rmtree(self.folder, ignore_errors=True)


def start(static_folder: str | Path | None = None, stylesheet: Path = STYLESHEET) -> RenderServer:
    """Fork the render server from this process (gunicorn's master, before its workers exist).

    The socket is bound and listening before the fork returns: a worker that connects while the server is still
    warming up waits in the backlog, it is not refused.
    """
    folder = Path(tempfile.mkdtemp(prefix="crm-pdf-"))  # 0700
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path = folder / "render.sock"
    listener.bind(str(path))
    os.chmod(path, 0o600)
    listener.listen(64)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the server process (its behaviour is tested through the socket)
        code = 0
        try:
            _serve(listener, Path(static_folder or ROOT / "static"), stylesheet.read_text(encoding="utf-8"))
        except _Stop:  # stopped while warming up
            pass
        except BaseException:
            log.exception("PDF render server stopped")
            code = 1
        finally:
            os._exit(code)
    listener.close()
    return RenderServer(pid, folder)


class _Stop(Exception):
    pass


def _stop(_signum, _frame) -> None:
    raise _Stop


def _name(name: str) -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/comm").write_text(name)


def _serve(listener: socket.socket, static_folder: Path, stylesheet: str) -> None:  # pragma: no cover - forked
    """Keep SPARES children forked and warm, one waiting for a request at all times; reap them, log those killed."""
    _name(SERVER_NAME)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
        signal.signal(sig, _stop)
    for sig in (signal.SIGCHLD, signal.SIGALRM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGTTIN, signal.SIGTTOU):
        signal.signal(sig, signal.SIG_DFL)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(process)d] [pdf] %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    started = time.perf_counter()
    renderer = _warm(static_folder, stylesheet)
    gc.collect()
    gc.freeze()  # what is warm now is never scanned by a child's collections (which would copy its pages)
    log.info("PDF render server ready in %.1f s", time.perf_counter() - started)
    parent, server = os.getppid(), os.getpid()
    states_r, states_w = os.pipe()  # a child writes (its pid, 1) when it takes a request, (its pid, 0) when done
    idle: set[int] = set()
    renders: dict[int, float] = {}
    try:
        while os.getppid() == parent:
            while not idle or len(idle) + len(renders) < SPARES:
                pid = os.fork()
                if pid == 0:
                    os.close(states_r)
                    _spare(listener, states_w, server, renderer)
                idle.add(pid)
            readable, _w, _x = select.select([states_r], [], [], 0.25)
            if readable:
                for pid, busy in _STATE.iter_unpack(os.read(states_r, _STATE.size * 64)):
                    if busy and pid in idle:  # (a child reaped already is in neither)
                        idle.discard(pid)
                        renders[pid] = time.monotonic()
                    elif not busy and renders.pop(pid, None) is not None:
                        idle.add(pid)
            _reap(idle, renders)
    except _Stop:
        pass
    finally:
        listener.close()
        for pid in idle | set(renders):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _reap(idle, renders, block=True)


_STATE = struct.Struct("=ii")


def _reap(spares: set[int], renders: dict[int, float], *, block: bool = False) -> None:  # pragma: no cover - forked
    while spares or renders:
        try:
            pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            spares.clear()
            renders.clear()
            return
        if not pid:
            return
        spares.discard(pid)
        began = renders.pop(pid, None)
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGALRM:
            log.warning("PDF render %d killed at the time limit (%.1f s)", pid, time.monotonic() - (began or 0))
        elif (os.WIFSIGNALED(status) and not block) or (os.WIFEXITED(status) and os.WEXITSTATUS(status)):
            log.error("PDF render %d ended abnormally (status %d)", pid, status)


def _spare(listener: socket.socket, states: int, server: int, renderer: PdfRenderer) -> None:  # pragma: no cover
    """A child that renders, warmed first: a page like the minutes rendered once more copies the pages a render
    writes (copy-on-write) before a request waits on it. It renders up to RENDERS_PER_CHILD documents, one at a
    time, and ends once it has rendered and waited IDLE_EXIT for another (os._exit: nothing inherited is cleaned up
    or flushed twice); past a document's limit it is killed."""
    code = 0
    try:
        _name(CHILD_NAME)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGALRM):
            signal.signal(sig, signal.SIG_DFL)
        renderer.write(WARM_UP, None, None, False)
        listener.settimeout(2.0)
        rendered, idle_since = 0, time.monotonic()
        while rendered < RENDERS_PER_CHILD:
            try:
                conn, _address = listener.accept()
            except TimeoutError:
                if os.getppid() != server:  # the server is gone: so is its spare
                    break
                if rendered and time.monotonic() - idle_since > IDLE_EXIT:
                    break
                continue
            _name(BUSY_NAME)
            os.write(states, _STATE.pack(os.getpid(), 1))
            _one(conn, renderer)
            rendered += 1
            idle_since = time.monotonic()
            _name(CHILD_NAME)
            os.write(states, _STATE.pack(os.getpid(), 0))
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _one(conn: socket.socket, renderer: PdfRenderer) -> None:  # pragma: no cover - forked
    """One request: read it, render, answer. A worker that went away (it gave up at its limit) is not an error."""
    with conn:
        signal.setitimer(signal.ITIMER_REAL, READ_LIMIT)
        try:
            conn.settimeout(READ_LIMIT)
            header = _header(conn)
            html = _exactly(conn, _size(header, "html")).decode()
            logo = _exactly(conn, _size(header, "logo")) or None
            qr_png = _exactly(conn, _size(header, "qr")) or None
            limit = float(header.get("timeout") or 20.0)
            # Killed (SIGALRM's default action) a moment after the worker stopped waiting.
            signal.setitimer(signal.ITIMER_REAL, limit + GRACE)
            conn.settimeout(None)
            try:
                data = renderer.write(html, logo, qr_png, bool(header.get("archival")))
            except Exception as error:
                log.exception("PDF render failed")
                _send(conn, {"error": f"{type(error).__name__}: {error}"[:500]})
            else:
                _send(conn, {"pdf": len(data)}, data)
        except (OSError, EOFError, ValueError) as error:
            log.warning("PDF request dropped: %r", error)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)


def _warm_up_html() -> str:
    """A page shaped like the minutes (letterhead, facts, people, an agenda item with decisions, a table of
    commitments, signatures, a watermark, page counters; Latin, N’Ko and Arabic). A spare renders it before it waits,
    so that a real render finds the pages it writes already copied (copy-on-write). CPU of a render of the bench's
    minutes (3 pages): 116 ms in a warm process; in a child forked at the request 142 ms; in a spare warmed with
    this page 114 ms (the warm-up itself: ~100 ms, spent before the request)."""
    text = "Le Ministre a rappelé les attentes de l’État vis-à-vis des acteurs du numérique « en 2026 » : 12,5 %. " * 3
    return f"""<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Compte rendu — Échauffement</title>
<meta name="author" content="Partenariats AES"><meta name="description" content="ML-AUD-2026-0000001">
<style>@page {{ @top-left {{ content: "ML-AUD · rev. 1"; }} @top-right {{ content: "INTERNE"; }}
@bottom-right {{ content: "Page" " " counter(page) " / " counter(pages); }} }}</style></head><body>
<div class="watermark">PROJET</div>
<div class="letterhead"><div class="left"><div class="authority">Ministère de la Communication</div><div class="rule">
</div><div>Secrétariat général</div></div><div class="right"><div class="authority">République du Mali</div>
<div class="motto">Un Peuple – Un But – Une Foi</div><div class="rule"></div></div></div>
<div class="doc-kind">Compte rendu</div><h1 dir="auto">Réunion de travail avec l’opérateur</h1>
<table class="facts"><tr><th>Référence</th><td>ML-AUD-2026-0000001 — version 1 (Brouillon)</td></tr>
<tr><th>Date</th><td>lundi 2 novembre 2026, 09:30 – 10:30 (Africa/Bamako)</td></tr></table>
<h2>Participants</h2><div class="sides"><div><h3>MN-ML</h3><ul class="people"><li><strong dir="auto">Ibrahim
Maïga</strong><br><span class="title">Directeur général</span></li></ul></div><div><h3>Côté partenaire</h3>
<ul class="people"><li><strong dir="auto">ߝߊߕߎߡߊߕߊ ߞߋߕߊ</strong></li><li><strong dir="auto">مريم ولد أحمد</strong>
</li></ul></div></div><h2>Synthèse</h2><p class="pre" dir="auto">{text}</p><h2>Ordre du jour</h2>
<ol class="agenda"><li><h3 dir="auto">Point 1 de l’ordre du jour</h3><p class="pre" dir="auto">{text}</p>
<div class="decisions"><strong>Décisions</strong><ul><li dir="auto">Décision A</li><li dir="auto">Décision B</li></ul>
</div></li></ol><h2>Engagements</h2><table class="grid"><thead><tr><th>Référence</th><th>Action</th>
<th>À la charge de</th><th>Chargé(e) de suivi</th><th>Contact partenaire</th><th>Échéance</th></tr></thead>
<tbody><tr><td class="ref">ML-ENG-0000001</td><td dir="auto">Transmettre la note technique</td><td>MN-ML</td>
<td>Awa Traoré</td><td>—</td><td>2 déc. 2026</td></tr></tbody></table><div class="signatures"><div>
<div class="role">Pour le Ministère</div><div dir="auto"><strong>Ibrahim Maïga</strong></div></div><div>
<div class="role">Pour l’Organisation</div></div></div></body></html>"""


WARM_UP = _warm_up_html()


def _warm(static_folder: Path, stylesheet: str) -> PdfRenderer:  # pragma: no cover - forked
    """The renderer, with one small document rendered both ways (draft and archival): fonts loaded, caches full."""
    from crm.documents.weasy import PdfRenderer

    renderer = PdfRenderer(static_folder, stylesheet)
    renderer.write(WARM_UP, None, None, False)
    renderer.write(WARM_UP, None, None, True)
    return renderer
