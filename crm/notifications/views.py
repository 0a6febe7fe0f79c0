from __future__ import annotations

from flask import Blueprint, abort, request, url_for
from flask_babel import force_locale
from flask_login import current_user
from sqlalchemy import select

from crm.auth.models import Role, User
from crm.auth.permissions import public, role_required
from crm.extensions import csrf, db
from crm.i18n import gettext as _
from crm.notifications import compose, sender, services
from crm.notifications.forms import PreferencesForm
from crm.notifications.models import Kind, OutboxMessage, OutboxStatus
from crm.views import back_to, form_cycle, redirect_to, render, saved

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.get("")
@role_required(Role.VIEWER)
def inbox():
    rows = services.recent(db.session, current_user.id)
    return render("notifications/inbox.html", rows=rows, unread=sum(1 for r in rows if r.read_at is None))


@bp.get("/bell")
@role_required(Role.VIEWER)
def bell():
    """The bell alone, refreshed by htmx at most once a minute."""
    return render("notifications/_bell.html", fragment="notifications/_bell.html")


@bp.post("/<int:notification_id>/read")
@role_required(Role.VIEWER)
def read(notification_id: int):
    services.mark_read(db.session, current_user.id, notification_id)
    row = db.session.get(services.Notification, notification_id)
    if row is not None and row.user_id == current_user.id and request.form.get("open") and row.path.startswith("/"):
        return redirect_to(row.path)
    return redirect_to(url_for("notifications.inbox"))


@bp.post("/read")
@role_required(Role.VIEWER)
def read_all():
    services.mark_read(db.session, current_user.id)
    return redirect_to(url_for("notifications.inbox"))


@bp.route("/preferences", methods=["GET", "POST"])
@role_required(Role.VIEWER)
def preferences():
    prefs = services.preferences(db.session, current_user.id)
    form = PreferencesForm()
    if request.method == "GET":
        form.kinds.data = [k.value for k in Kind if k.value not in prefs.muted_kinds()]
        form.digest.data = prefs.digest.value
        form.digest_hour.data = str(prefs.digest_hour)
        form.digest_weekday.data = str(prefs.digest_weekday)
    return form_cycle(
        form,
        lambda: services.save_preferences(
            db.session,
            current_user,
            kinds=form.kinds.data or [],
            digest=form.digest.data or "off",
            hour=int(form.digest_hour.data or 7),
            weekday=int(form.digest_weekday.data or 0),
        ),
        done=lambda _prefs: saved(url_for("notifications.preferences"), _("Your preferences are saved.")),
        page=lambda **kw: render("notifications/preferences.html", form=form, **kw),
    )


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@public
@csrf.exempt
def unsubscribe(token: str):
    """The link of every e-mail: a page with one button; mail clients POST to it directly (RFC 8058)."""
    found = compose.read_unsubscribe_token(token)
    if found is None or found[1] not in set(Kind):
        abort(404)
    user_id, kind = found
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    done = False
    if request.method == "POST":
        if not services.unsubscribe(db.session, user_id, kind):
            abort(404)
        done = True
    with force_locale(compose.locale_of(user)):  # the reader of the e-mail, signed in or not
        return render("notifications/unsubscribe.html", kind=Kind(kind), done=done, token=token)


@bp.get("/outbox")
@role_required(Role.ADMIN)
def outbox():
    status = OutboxStatus.parse(request.args.get("status"))
    stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(200)
    if not current_user.can(Role.INSTALLATION_ADMIN):
        stmt = stmt.join(User, User.id == OutboxMessage.user_id).where(
            User.institution_id == current_user.institution_id
        )
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    rows = db.session.scalars(stmt).all()
    return render("notifications/outbox.html", rows=rows, status=status, statuses=OutboxStatus)


@bp.post("/outbox/<int:message_id>/retry")
@role_required(Role.ADMIN)
def retry(message_id: int):
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        abort(404)
    if not current_user.can(Role.INSTALLATION_ADMIN):
        owner = db.session.get(User, message.user_id) if message.user_id else None
        if owner is None or owner.institution_id != current_user.institution_id:
            abort(404)
    if sender.retry(db.session, message_id):
        return saved(url_for("notifications.outbox"), _("The message will be sent again."))
    return back_to(url_for("notifications.outbox"))()
