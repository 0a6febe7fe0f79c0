"""Static files compressed once (brotli and gzip, at startup, into a build folder), then served by WhiteNoise.

A URL that carries the file's content hash (`?v=…`, see `static_url`) is cached for a year as immutable: the
next deploy changes the hash, hence the URL. Any other request for a static file gets an hour.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path
from urllib.parse import parse_qs
from wsgiref.headers import Headers

import brotli
from whitenoise import WhiteNoise
from whitenoise.responders import StaticFile
from whitenoise.string_utils import decode_path_info

log = logging.getLogger(__name__)

IMMUTABLE = "public, max-age=31536000, immutable"
UNVERSIONED_MAX_AGE = 3600
# Text formats shrink; images and fonts do not (and the fonts are only read by the PDF renderer, on disk).
COMPRESSIBLE = {".css", ".js", ".svg", ".txt", ".json", ".xml", ".html", ".ico", ".map"}
ENCODINGS = (("br", ".br", lambda data: brotli.compress(data, quality=11)), ("gzip", ".gz", None))

# The page's scripts, in order. In production they are served as one file (one request fewer on a first visit),
# built at startup into the build folder and compressed there like the others; `make dev` serves them one by one.
SCRIPTS = ("js/htmx-2.0.11.min.js", "js/app.js")
BUNDLE = "js/bundle.js"


def _without_comment_lines(script: bytes) -> bytes:
    """A script without its whole-line ``//`` comments (ours explain; the wire need not carry them: 0.6 KB of
    the first load). Lines with code are kept as written; our scripts hold no multi-line strings."""
    lines = script.rstrip().split(b"\n")
    return b"\n".join(line for line in lines if not line.lstrip().startswith(b"//"))


# path, mtime, size → content hash: the app is created many times in one process (tests), files read once.
_hashes: dict[tuple[str, int, int], str] = {}


def content_hash(data: bytes) -> str:
    """The same 12 hex digits as `crm.web.static_url` puts in `?v=`."""
    return hashlib.sha256(data).hexdigest()[:12]


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class StaticFiles(WhiteNoise):
    """WhiteNoise over `static/`, with the compressed copies kept in `build_dir` under content-hashed names."""

    def __init__(self, application, static_dir: Path, build_dir: Path, prefix: str = "static/"):
        self.static_dir = static_dir.resolve()
        self.build_dir = build_dir
        self.hashes: dict[str, str] = {}
        self.compressed: dict[str, list[str]] = {}
        self.build_problem: str | None = None
        self.bundle_dir = (build_dir / "bundle").resolve()
        self.bundle_hash: str | None = None
        super().__init__(
            application,
            root=str(self.static_dir),
            prefix=prefix,
            max_age=UNVERSIONED_MAX_AGE,
            allow_all_origins=False,
            add_headers_function=_security_headers,
        )
        self._bundle(prefix)

    def _bundle(self, prefix: str) -> None:
        """SCRIPTS joined into BUNDLE (in the build folder), served under /static/ beside the sources."""
        data = b"\n;\n".join(_without_comment_lines((self.static_dir / name).read_bytes()) for name in SCRIPTS) + b"\n"
        target = self.bundle_dir / BUNDLE
        try:
            if not target.is_file() or target.read_bytes() != data:
                _write_atomically(target, data)
        except OSError as exc:
            self.build_problem = f"{self.build_dir}: {exc.strerror or exc}"
            log.warning("scripts served one by one: cannot write %s (%s)", target, exc)
            return
        # The bundle alone: another process starting beside this one may be writing its temporary file there.
        self.add_file_to_dictionary(f"/{prefix.strip('/')}/{BUNDLE}", str(target))
        self.bundle_hash = content_hash(data)

    def get_static_file(self, path, url, stat_cache=None):
        source = Path(path)
        stat = source.stat()
        key = (path, stat.st_mtime_ns, stat.st_size)
        data = None
        if key not in _hashes:
            data = source.read_bytes()
            _hashes[key] = content_hash(data)
        digest = _hashes[key]
        self.hashes[url] = digest
        headers = Headers([])
        self.add_mime_headers(headers, path, url)
        self.add_cache_headers(headers, path, url)
        self.add_headers_function(headers, path, url)
        encodings = self._variants(source, digest, data)
        self.compressed[url] = sorted(encodings)
        return StaticFile(path, headers.items(), encodings=encodings)

    def _variants(self, source: Path, digest: str, data: bytes | None) -> dict[str, str]:
        """The file's .br and .gz in the build folder, compressed now if this content was never compressed."""
        if source.suffix.lower() not in COMPRESSIBLE:
            return {}
        relative = source.relative_to(self.static_dir if source.is_relative_to(self.static_dir) else self.bundle_dir)
        found = {}
        for encoding, suffix, compress in ENCODINGS:
            target = self.build_dir / relative.parent / f"{relative.name}.{digest}{suffix}"
            if not target.is_file():
                data = data if data is not None else source.read_bytes()
                blob = (compress or _gzip)(data)
                if len(blob) >= 0.95 * len(data):
                    continue  # not worth a second copy
                try:
                    _write_atomically(target, blob)
                except OSError as exc:
                    self.build_problem = f"{self.build_dir}: {exc.strerror or exc}"
                    log.warning("static files served uncompressed: cannot write %s (%s)", target, exc)
                    continue
                stale = re.compile(re.escape(relative.name) + r"\.[0-9a-f]{12}" + re.escape(suffix))
                for old in target.parent.iterdir():
                    if old != target and stale.fullmatch(old.name):
                        old.unlink(missing_ok=True)  # the copy of an earlier version of this file
            found[encoding] = str(target)
        return found

    def serve(self, static_file, environ, start_response):
        path = decode_path_info(environ.get("PATH_INFO", ""))
        versioned = parse_qs(environ.get("QUERY_STRING", "")).get("v") == [self.hashes.get(path)]
        environ["crm.route"] = "/static/<path:filename>"
        response = static_file.get_response(environ["REQUEST_METHOD"], environ)
        headers = list(response.headers)
        if versioned:
            headers = [(k, IMMUTABLE if k.lower() == "cache-control" else v) for k, v in headers]
        start_response(f"{response.status} {response.status.phrase}", headers)
        if response.file is None:
            return []
        # Small files (the largest, htmx, is 15 KB in brotli): read at once, so no file stays open on any path.
        with response.file as fh:
            return [fh.read()]


def _security_headers(headers: Headers, path: str, url: str) -> None:
    headers["X-Content-Type-Options"] = "nosniff"
