"""Request plumbing shared by every blueprint: locale, sessions, headers, errors, template helpers."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from contextlib import suppress
from datetime import UTC, date, datetime, time
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date as babel_date
from babel.dates import format_datetime as babel_datetime
from babel.dates import get_date_format, get_datetime_format, get_time_format, parse_pattern
from babel.support import NullTranslations, Translations
from flask import (
    Flask,
    abort,
    current_app,
    g,
    has_request_context,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask import Request as FlaskRequest
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.sansio.utils import host_is_trusted
from wtforms.i18n import messages_path

from crm import i18n
from crm.audit import labels as audit_labels
from crm.audit import services as audit
from crm.auth import services as auth_services
from crm.auth.models import Role
from crm.auth.permissions import can, public
from crm.core.enums import LabelledEnum
from crm.core.ids import MAX_ID
from crm.cycle import OutOfRange
from crm.errors import DomainError
from crm.extensions import db, htmx, login_manager
from crm.i18n import gettext as _
from crm.notifications import services as notification_services
from crm.ops.static import BUNDLE, SCRIPTS
from crm.partners import services as partner_services

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def select_locale() -> str:
    languages = current_app.config["CRM_LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    if session.get("lang") in languages:
        return session["lang"]
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.timezone
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


# Requests a page makes by itself (the bell's refresh every minute): they must not keep an idle session alive.
PASSIVE_ENDPOINTS = frozenset({"notifications.bell"})


@login_manager.user_loader
def _load_user(token: str):
    passive = has_request_context() and request.endpoint in PASSIVE_ENDPOINTS
    # A GET reads the bell's count with the session (one statement less on every page). Other requests may
    # change it before their page is drawn: the header counts then, when it is drawn.
    reading = has_request_context() and request.method in ("GET", "HEAD")
    also = notification_services.unread_count_of if reading else None
    found = auth_services.load_session(db.session, token, touch=not passive, also=also)
    if found is None:
        return None
    user, unread = found
    user.session_token = token
    if reading:
        g.unread_notifications = unread
    return user


@cache
def _static_hash(path: str) -> str:
    file = Path(current_app.static_folder or "static") / path
    stat = file.stat()  # a stat per link, not a read and a hash of the file on every page
    return _file_hash(str(file), stat.st_mtime_ns, stat.st_size)


@cache
def _file_hash(path: str, _mtime_ns: int, _size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def static_url(filename: str) -> str:
    """A fingerprinted URL, so the file can be cached for a year and still change on deploy."""
    return url_for("static", filename=filename, v=_static_hash(filename))


def id_url(endpoint: str, key: str) -> Callable[[int], str]:
    """``url_for(endpoint, key=id)`` for every row of a list: the URL built once, each row's id put in its place
    (a list page called url_for some fifty times)."""
    values: dict[str, Any] = {key: MAX_ID}
    head, _marker, tail = url_for(endpoint, **values).rpartition(str(MAX_ID))
    return lambda record_id: f"{head}{int(record_id)}{tail}"


# The header's links (and the bell's): the same on every page of an app served under one root.
HEADER_ENDPOINTS = (
    "home.home",
    "meetings.meetings",
    "meetings.month",
    "visits.visits",
    "partners.organisations",
    "partners.contacts",
    "aes.overview",
    "documents.letterhead",
    "auth.users",
    "partners.institutions_list",
    "search.search",
    "search.live",
    "auth.account",
    "auth.switch_language",
    "auth.logout",
    "auth.session_check",
    "notifications.inbox",
    "notifications.bell",
)


def header_urls() -> dict[str, str]:
    """The header's links by endpoint (and ``commitments.mine``), built once per application root instead of
    some twenty ``url_for`` calls on every page."""
    built: dict[str, dict[str, str]] = current_app.extensions.setdefault("crm_header_urls", {})
    root = request.script_root
    urls = built.get(root)
    if urls is None:
        urls = {endpoint: url_for(endpoint) for endpoint in HEADER_ENDPOINTS}
        urls["commitments.mine"] = url_for("commitments.commitments", mine=1)
        built[root] = urls
    return urls


def labels(enum_class: Iterable[LabelledEnum]) -> dict[LabelledEnum, str]:
    """Each member's label in the reader's language, translated once for a whole list rather than on every row."""
    return {member: member.label for member in enum_class}


def script_urls() -> list[str]:
    """The page's scripts: one fingerprinted bundle when the static-file layer built it, else each file."""
    static = current_app.extensions.get("crm_static")
    if static is not None and static.bundle_hash:
        return [url_for("static", filename=BUNDLE, v=static.bundle_hash)]
    return [static_url(name) for name in SCRIPTS]


def _require_login():
    view = current_app.view_functions.get(request.endpoint or "")
    if request.endpoint == "static" or view is None or getattr(view, "is_public", False):
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


class Request(FlaskRequest):
    @property
    def here(self) -> str:
        """This page's path and query, for ``next`` links: werkzeug's ``full_path`` ends with a bare "?" when there
        is no query ("/meetings?")."""
        return self.full_path if self.query_string else self.path

    @cached_property
    def wtforms_translations(self) -> NullTranslations:
        """WTForms' own messages ("This field is required." in French), which flask_wtf reads from disk on every
        request that builds a form: kept per language instead, and found only by requests that show a form
        (flask_wtf looks at this attribute first)."""
        return _wtforms_catalogue(str(i18n.locale() or "fr"))


@cache
def _wtforms_catalogue(language: str) -> NullTranslations:
    return Translations.load(messages_path(), [Locale.parse(language)], domain="wtforms")


def _check_host():
    """Requests for another host are refused: links and QR codes must never be built from a forged Host.

    The health check is exempt: load balancers ask each app server by its own address, and it says nothing.
    """
    if request.endpoint == "ops.healthz":
        return
    if not host_is_trusted(request.host, current_app.config["CRM_ALLOWED_HOSTS"]):
        abort(400, description="host")
    if not current_app.config["CRM_BASE_URL"]:
        current_app.logger.error("CRM_BASE_URL is not set: refusing to serve in production without it")
        abort(503, description="base-url")


# Sent with every response unless the view set its own (lower-case name, name, value).
SECURITY_HEADERS = tuple(
    (name.lower(), name, value)
    for name, value in (
        ("Content-Security-Policy", CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    )
)
HSTS = ("strict-transport-security", "Strict-Transport-Security", "max-age=31536000")
PAGE_VARY = ("HX-Request", "Cookie")


def _headers(response):
    """The security headers, and for every page (not static files) `no-store` and its Vary. The names the view
    already set are read once (six `setdefault` calls each searched the headers, and each Vary addition rewrote
    the header: ~30 µs a request, the approved PDF's whole budget for headers)."""
    headers = response.headers
    present = {name.lower() for name, _value in headers}
    wanted = (*SECURITY_HEADERS, HSTS) if current_app.config["SESSION_COOKIE_SECURE"] else SECURITY_HEADERS
    headers.extend([(name, value) for lower, name, value in wanted if lower not in present])
    if request.endpoint not in ("static", "favicon"):
        headers["Cache-Control"] = "no-store"
        if "vary" in present:
            response.vary.update(PAGE_VARY)
        else:
            headers["Vary"] = ", ".join(PAGE_VARY)
    return response


# --- error pages: the app's own, in the reader's language, for every status ---------------------


def error_page(status: int, message: str, kind: str = ""):
    """Full page for a normal request; for htmx, a sentence shown in the notice bar (the form stays).

    ``kind="session"`` marks a refusal because the session ended (header ``X-Session-Ended``): the page shows
    its own sentence for it, in the page's language (the server may no longer know the user's).
    """
    if htmx:
        response = make_response(render_template("errors/_message.html", status=status, message=message), status)
        if kind == "session":
            response.headers["X-Session-Ended"] = "1"
        response.headers["HX-Retarget"] = "#notice"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    return render_template("errors/page.html", status=status, message=message), status


# Where an error page leads back to: the list of the section the address was in (a meeting that does not exist
# leads back to the meetings), else the home page.
_SECTIONS = {
    "meetings": ("meetings.meetings", lambda: _("Back to the meetings")),
    "calendar": ("meetings.month", lambda: _("Back to the calendar")),
    "commitments": ("commitments.commitments", lambda: _("Back to the commitments")),
    "organisations": ("partners.organisations", lambda: _("Back to the organisations")),
    "contacts": ("partners.contacts", lambda: _("Back to the contacts")),
    "visits": ("visits.visits", lambda: _("Back to the visits")),
}


def back_link() -> tuple[str, str]:
    """The error page's way back: a URL and its label."""
    endpoint, label = _SECTIONS.get(
        request.path.strip("/").split("/", 1)[0], ("home.home", lambda: _("Back to the home page"))
    )
    return url_for(endpoint), label()


ERROR_MESSAGES = {
    400: lambda: _("The request could not be understood. Please check what you entered and try again."),
    401: lambda: _("Your session has ended. Sign in again in a new tab; what you typed here is kept."),
    403: lambda: _("You do not have permission to see or do this."),
    404: lambda: _("This page does not exist, or the record was removed."),
    405: lambda: _("This action is not allowed here."),
    409: lambda: _("Someone else changed this at the same moment. Nothing was saved; please try again."),
    413: lambda: _("The file is too large."),
    422: lambda: _("Some of what was sent is not valid. Please check and try again."),
    429: lambda: _("Too many requests. Please wait a moment and try again."),
    500: lambda: _("Something went wrong on our side. Your input was not saved; please try again."),
    503: lambda: _("The service is busy. Nothing was lost: please try again in a moment."),
}


def handle_http(exc: HTTPException):
    status = exc.code or 500
    if status == 403 and current_user.is_authenticated:
        # The view's own work was rolled back by the unit of work; the refusal itself is kept.
        db.session.rollback()
        audit.record(db.session, "access_denied", label=request.path[:300])
        db.session.commit()
    if status == 400 and exc.description == "host":
        return error_page(400, _("This address is not one this service answers to."))
    if status == 503 and exc.description == "base-url":
        return error_page(503, _("This service is not configured yet: its administrator must set CRM_BASE_URL."))
    message = ERROR_MESSAGES.get(status, ERROR_MESSAGES[400 if status < 500 else 500])()
    return error_page(status, message)


def _handle_refusal(exc: DomainError):
    return error_page(exc.status, exc.message)


def session_expired_message() -> str:
    return _(
        "Your session expired or the form was too old. Nothing was lost: "
        "copy your text if needed, reload and send again."
    )


def _handle_csrf(exc: CSRFError):
    return error_page(400, session_expired_message(), kind="session")


RETRY_AFTER_SECONDS = 30


def _handle_database_unavailable(exc: OperationalError):
    """The database could not be reached, dropped the connection, or stayed locked before the view ran (the
    session is read then): a 503 that asks to try again, never a 500. Whatever the request changed was rolled
    back. The page is drawn as for a signed-out reader: after the rollback, the user's own record could only be
    read again from the database."""
    with suppress(SQLAlchemyError):  # the connection is gone; the pool replaces it
        db.session.rollback()
    current_app.logger.error("database unavailable: %s", str(exc.orig or exc).strip().splitlines()[0][:300])
    g._login_user = login_manager.anonymous_user()
    response = make_response(error_page(503, ERROR_MESSAGES[503]()))
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _handle_out_of_range(exc: Exception):
    return error_page(400, ERROR_MESSAGES[400]())


def _handle_500(exc: Exception):
    db.session.rollback()
    current_app.logger.exception("unhandled error")
    return error_page(500, ERROR_MESSAGES[500]())


# Dates and times: French as CLDR writes it; English the British way ("23 Nov 2026, 18:05", never
# "11/23/26, 6:05 PM"), with the 24-hour clock the rest of the page uses. A moment is "23 Nov 2026, 18:05" in
# English and "23/11/2026 18:05" in French for "short", without seconds for "medium".
_ENGLISH_MOMENT = {"short": "d MMM y, HH:mm", "medium": "d MMM y, HH:mm"}
_FRENCH_MOMENT = {"medium": "d MMM y, HH:mm"}
_ENGLISH_DAY = {"short": "d MMM y"}  # 23 Nov 2026: no day/month order to guess


def format_locale() -> Locale:
    return _format_locale(str(i18n.locale() or "fr"))


@cache
def _format_locale(language: str) -> Locale:
    return Locale("en", "GB") if language == "en" else Locale.parse(language)


def _moment_pattern(fmt: str, locale: Locale) -> str:
    return (_ENGLISH_MOMENT if locale.language == "en" else _FRENCH_MOMENT).get(fmt, fmt)


# Lists print a date or a moment on every row: the pattern fields they use are filled here, in a few string
# operations, as Babel fills them (its pattern machinery cost ~28 µs a moment); any other field goes to Babel.
_QUICK_FIELDS = frozenset({"d", "dd", "M", "MM", "MMM", "MMMM", "y", "HH", "mm", "EEE", "EEEE"})


@cache
def _quick_format(fmt: str, locale: Locale, moment: bool) -> str | None:
    """The %-format string of a Babel pattern (or of a named format: short, medium…) whose fields are all
    quick ones, else None."""
    if fmt in ("full", "long", "medium", "short"):
        named = cast(Literal["full", "long", "medium", "short"], fmt)
        day = _format_string(get_date_format(named, locale).pattern)
        if not moment:
            return _quick_only(day)
        time_part = _format_string(get_time_format(named, locale).pattern)
        glue = str(get_datetime_format(named, locale)).replace("'", "").replace("%", "%%")
        return _quick_only(glue.replace("{0}", time_part).replace("{1}", day))
    return _quick_only(_format_string(fmt))


def _format_string(pattern: str) -> str:
    """Babel's own translation of a pattern into a %-format string with one named field per pattern field."""
    return str(parse_pattern(pattern).format)


def _quick_only(format_string: str) -> str | None:
    return format_string if set(re.findall(r"%\((\w+)\)s", format_string)) <= _QUICK_FIELDS else None


@cache
def _names(locale: Locale) -> tuple[dict[int, str], ...]:
    """Month names (abbreviated, wide) and day names (abbreviated, wide) as Babel's patterns print them."""
    months, days = locale.months["format"], locale.days["format"]
    return dict(months["abbreviated"]), dict(months["wide"]), dict(days["abbreviated"]), dict(days["wide"])


class _Fields:
    """The fields of one day or moment, each computed when the format string asks for it."""

    __slots__ = ("names", "value")

    def __init__(self, value: datetime | date, locale: Locale) -> None:
        self.value, self.names = value, _names(locale)

    def __getitem__(self, field: str) -> str:
        value = self.value
        if field in ("d", "dd"):
            return f"{value.day:0{len(field)}d}"
        if field in ("M", "MM"):
            return f"{value.month:0{len(field)}d}"
        if field == "y":
            return str(value.year)
        if field in ("MMM", "MMMM"):
            return self.names[len(field) - 3][value.month]
        if field in ("EEE", "EEEE"):
            return self.names[len(field) - 1][value.weekday()]
        assert isinstance(value, datetime)  # HH and mm: only moments' patterns have them (_quick_format)
        return f"{value.hour:02d}" if field == "HH" else f"{value.minute:02d}"


def format_day(day, fmt: str = "medium") -> str:
    if not day:
        return ""
    if isinstance(day, datetime):
        day = day.replace(tzinfo=UTC) if day.tzinfo is None else day
        day = day.astimezone(i18n.timezone())
    locale = format_locale()
    pattern = _ENGLISH_DAY.get(fmt, fmt) if locale.language == "en" else fmt
    quick = _quick_format(pattern, locale, False)
    if quick is not None and isinstance(day, date):
        return quick % _Fields(day.date() if isinstance(day, datetime) else day, locale)
    return babel_date(day, pattern, locale=locale)


def format_moment(moment, fmt: str = "medium") -> str:
    """A moment in the reader's time zone."""
    if not moment:
        return ""
    locale = format_locale()
    pattern = _moment_pattern(fmt, locale)
    quick = _quick_format(pattern, locale, True)
    if quick is not None and isinstance(moment, datetime):
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        return quick % _Fields(moment.astimezone(i18n.timezone()), locale)
    return babel_datetime(moment, pattern, tzinfo=i18n.timezone(), locale=locale)


def _local_time(moment, zone: str, fmt: str = "short") -> str:
    """A moment shown in a given zone (the meeting's), whatever the reader's zone."""
    locale = format_locale()
    return babel_datetime(moment, _moment_pattern(fmt, locale), tzinfo=ZoneInfo(zone), locale=locale)


def _machine_time(value) -> str:
    """The value of a <time datetime>: a moment in UTC to the second, a day, or a time of day."""
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return value.isoformat() if value else ""


def _hhmm(moment) -> str:
    """A moment's hour and minutes (24 h, the same in French and English) in the reader's zone: what calendars
    print in every cell, without Babel's pattern machinery (a quarter of a month view's time went there)."""
    return moment.astimezone(i18n.timezone()).strftime("%H:%M") if moment else ""


def _css_string(value) -> str:
    """A quoted CSS string (for print margin boxes): no way out of the quotes."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    # Inside <style>, HTML escaping does not apply: escape the characters that could end the element instead.
    text = text.replace("<", "\\3C ").replace(">", "\\3E ").replace("&", "\\26 ")
    return Markup('"' + text + '"')


def _language_names(codes: list[str]) -> str:
    locale = Locale.parse(str(get_locale() or "fr"))
    return ", ".join((locale.languages.get(code) or code).capitalize() for code in codes)


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = None  # our server-side sessions do better
    app.before_request(_check_host)
    app.before_request(_require_login)
    app.request_class = Request
    app.after_request(_headers)
    app.register_error_handler(CSRFError, _handle_csrf)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(DomainError, _handle_refusal)
    app.register_error_handler(OperationalError, _handle_database_unavailable)
    app.register_error_handler(OutOfRange, _handle_out_of_range)
    if not app.debug and not app.testing:
        app.register_error_handler(Exception, _handle_500)
    app.add_url_rule("/favicon.ico", "favicon", _favicon)
    i18n.install(app.jinja_env)  # after flask_babel's: the same template functions, the catalogue found once

    @app.context_processor
    def _per_request():
        return {"current_locale": str(get_locale() or "fr"), "today": date.today()}

    # Globals (unlike context processors) are also seen inside imported macros.
    app.jinja_env.globals.update(
        static_url=static_url,
        script_urls=script_urls,
        header_urls=header_urls,
        labels=labels,
        id_url=id_url,
        can=can,
        Role=Role,
        language_names=_language_names,
        signed_out_message=ERROR_MESSAGES[401],
        session_expired_message=session_expired_message,
        audit_action=audit_labels.action,
        audit_entity=audit_labels.entity,
        audit_field=audit_labels.field,
        audit_pair=audit_labels.pair,
        title_on=partner_services.title_on,
        local_time=_local_time,
        favicon_data_uri=FAVICON_SVG,
        unread_notifications=_unread_notifications,
        back_link=back_link,
    )

    app.jinja_env.filters["css_string"] = _css_string
    app.jinja_env.filters["iso"] = _machine_time
    app.jinja_env.filters["date"] = format_day
    app.jinja_env.filters["datetime"] = format_moment
    app.jinja_env.filters["hhmm"] = _hhmm


def _unread_notifications() -> int:
    """The bell's count: one COUNT on an index, once per page (and once a minute from the bell itself)."""
    if not current_user.is_authenticated:
        return 0
    if "unread_notifications" not in g:
        g.unread_notifications = notification_services.unread_count(db.session, current_user.id)
    return int(g.unread_notifications)


@login_manager.unauthorized_handler
def _unauthorized():
    if htmx:
        # Leave the page (and whatever the user typed) in place; the notice bar says what to do.
        return error_page(401, ERROR_MESSAGES[401](), kind="session")
    return redirect(url_for("auth.login", next=request.here if request.method == "GET" else None))


# A small mark in the tab, inline so that it costs no request; /favicon.ico for clients that ask anyway.
FAVICON_SVG = (  # spaces written %20: a URL holds none
    "data:image/svg+xml,%3Csvg%20xmlns='http://www.w3.org/2000/svg'%20viewBox='0%200%2032%2032'%3E"
    "%3Crect%20width='32'%20height='32'%20rx='6'%20fill='%231f4e79'/%3E"
    "%3Cpath%20d='M7%2024%2013%208h6l6%2016h-4.5l-1.2-3.6h-6.6L11.5%2024zm6-7h4.4L15.2%2010z'%20fill='%23fff'/%3E"
    "%3C/svg%3E"
)


@cache
def _favicon_bytes(static_folder: str) -> bytes:
    return (Path(static_folder) / "img" / "favicon.ico").read_bytes()


@public
def _favicon():
    response = make_response(_favicon_bytes(current_app.static_folder or "static"))
    response.headers["Content-Type"] = "image/x-icon"
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
