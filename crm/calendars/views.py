from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, current_app, make_response, request, url_for
from flask_babel import get_timezone
from flask_login import current_user

from crm.auth.models import Role
from crm.auth.permissions import public, role_required
from crm.calendars import services
from crm.core.urls import absolute_url
from crm.extensions import db
from crm.forms import DeleteForm
from crm.i18n import gettext as _
from crm.meetings import services as meetings
from crm.views import form_cycle, render, saved

bp = Blueprint("calendars", __name__)


def _base_url() -> str:
    """Links inside calendars come from the configured address, never from the request's Host."""
    return current_app.config["CRM_BASE_URL"]


def _calendar_response(data: bytes, filename: str):
    response = make_response(data)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/calendar/week")
@role_required(Role.VIEWER)
def week():
    value = request.args.get("d", "")
    try:
        day = date.fromisoformat(value) if value else date.today()
    except ValueError:
        abort(400)
    monday = day - timedelta(days=day.weekday())
    days = services.week(db.session, current_user, monday, str(get_timezone()))
    return render(
        "calendars/week.html",
        days=days,
        monday=monday,
        previous=monday - timedelta(days=7),
        following=monday + timedelta(days=7),
    )


@bp.get("/meetings/<int:meeting_id>.ics")
@role_required(Role.VIEWER)
def meeting_ics(meeting_id: int):
    meeting = meetings.meeting_detail(db.session, meeting_id, current_user) or abort(404)
    data = services.meeting_ics(meeting, _base_url(), _("AES Partnerships"))
    return _calendar_response(data, f"{meeting.reference}.ics")


@bp.get("/contacts/<int:contact_id>.vcf")
@role_required(Role.VIEWER)
def contact_vcard(contact_id: int):
    contact = services.contact_with_positions(db.session, contact_id) or abort(404)
    response = make_response(services.contact_vcard(contact, date.today()))
    response.headers["Content-Type"] = "text/vcard; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="contact-{contact.id}.vcf"'
    return response


@bp.get("/calendar/feed/<token>.ics")
@public
def feed(token: str):
    """The subscription URL: the token is the only credential, so any doubt is the same bare 404."""
    owner = services.feed_owner(db.session, token)
    if owner is None:
        abort(404)
    data = services.personal_feed(
        db.session, owner, _base_url(), _("AES Partnerships — %(name)s", name=owner.name), _("Due:")
    )
    response = _calendar_response(data, "calendar.ics")
    response.headers["Content-Disposition"] = 'inline; filename="calendar.ics"'
    return response


@bp.route("/account/calendar", methods=["GET", "POST"])
@role_required(Role.VIEWER)
def feed_settings():
    form = DeleteForm()

    def page(url: str | None = None, **kw):
        active = services.active_feed(db.session, current_user)
        return render("calendars/feed_settings.html", form=form, active=active, url=url, **kw)

    if request.form.get("action") == "revoke":
        return form_cycle(
            form,
            lambda: services.revoke_feeds(db.session, current_user),
            done=lambda _n: saved(
                url_for("calendars.feed_settings"),
                _("The calendar link no longer works. Calendars subscribed to it stop updating."),
            ),
            page=page,
            invalid_status=400,
        )
    return form_cycle(
        form,
        lambda: services.new_feed(db.session, current_user),
        done=lambda token: page(url=absolute_url("calendars.feed", token=token)),
        page=page,
        invalid_status=400,
    )
