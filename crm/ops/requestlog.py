"""One JSON line per request on stderr, and a request id that follows the request everywhere.

The id comes from a sane incoming `X-Request-ID` (nginx sends its `$request_id`) or is made here; it is echoed
in the `X-Request-ID` response header, printed on error pages and added to every log line written during the
request, so that the reference a user quotes leads to the log lines. The request line holds ids only: no
query string, no address, no e-mail, no cookie.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request
from flask.logging import default_handler
from sqlalchemy import inspect

REQUEST_ID = "crm.request_id"
ROUTE = "crm.route"
USER_ID = "crm.user_id"
SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,63}")

access_log = logging.getLogger("crm.access")


def new_request_id() -> str:
    return secrets.token_hex(8)


def current_request_id() -> str:
    """This request's id (made now if the request did not come through RequestLog)."""
    if not has_request_context():
        return ""
    return request.environ.setdefault(REQUEST_ID, new_request_id())


class RequestLog:
    """WSGI middleware, outermost: times the whole response (body included) and logs it once it is closed."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if SANE_ID.fullmatch(incoming) else new_request_id()
        environ[REQUEST_ID] = request_id
        status: list[str] = []

        def start(status_line, headers, exc_info=None):
            status[:] = [status_line]
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            headers.append(("X-Request-ID", request_id))
            return start_response(status_line, headers, exc_info)

        def done():
            code = int(status[0].split(" ", 1)[0]) if status else 500
            access_log.info(
                "request",
                extra={
                    "fields": {
                        "request_id": request_id,
                        "user_id": environ.get(USER_ID),
                        "method": environ.get("REQUEST_METHOD", ""),
                        "route": environ.get(ROUTE),
                        "status": code,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    }
                },
            )

        try:
            iterable = self.application(environ, start)
        except BaseException:
            done()
            raise
        return _LoggedBody(iterable, done)


class _LoggedBody:
    """The response body, logged once it has all been sent (or closed early, or failed half-way)."""

    def __init__(self, iterable, done):
        self._iterable = iterable
        self._iterator = iter(iterable)
        self._done = done
        self._logged = False

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self._iterator)
        except StopIteration:
            self.close()  # all sent: release the file now (servers call close() again; that is harmless)
            raise

    def close(self):
        try:
            close = getattr(self._iterable, "close", None)
            if close is not None:
                close()
        finally:
            self._finish()

    def _finish(self):
        if not self._logged:
            self._logged = True
            self._done()


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object on one line (tracebacks included, as a string)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if "request_id" not in entry and has_request_context():
            entry["request_id"] = current_request_id()
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (gunicorn and pytest both swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def _note_route_and_user(exc: BaseException | None = None) -> None:
    """Runs at the end of every request, even a failed one: what the request line needs, ids only."""
    environ = request.environ
    environ[ROUTE] = request.url_rule.rule if request.url_rule else None
    user = g.get("_login_user")  # only if this request already loaded it: no query for the log
    # The identity key, not ``user.id``: after the request's commit the row is expired, and reading an
    # attribute would query the database again just to write a log line.
    identity = inspect(user).identity if user is not None and getattr(user, "is_authenticated", False) else None
    environ[USER_ID] = identity[0] if identity else None


def init_app(app: Flask) -> None:
    logger = app.logger  # created now, so that Flask's plain-text handler can be swapped for ours
    logger.removeHandler(default_handler)
    if not any(isinstance(h, StderrHandler) for h in logger.handlers):
        handler = StderrHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    access_log.setLevel(logging.INFO)  # "crm.access" passes its lines up to the app's logger, "crm"
    app.teardown_request(_note_route_and_user)
    app.jinja_env.globals["request_id"] = current_request_id
