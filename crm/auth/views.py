from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import generate_csrf

from crm.audit import services as audit
from crm.auth import services
from crm.auth.forms import LANGUAGES, LoginForm, PasswordChangeForm, PreferencesForm, UserCreateForm, UserEditForm
from crm.auth.models import Role
from crm.auth.permissions import public, role_required
from crm.errors import DomainError
from crm.extensions import db
from crm.forms import choices
from crm.i18n import gettext as _
from crm.partners import institutions
from crm.views import form_cycle, render, saved

bp = Blueprint("auth", __name__)
LANGUAGE_CODES = tuple(code for code, _label in LANGUAGES)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("home.home")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            result = services.sign_in(
                db.session,
                email=form.email.data,
                password=form.password.data,
                ip=audit.client_ip(),
                user_agent=request.user_agent.string,
            )
        except DomainError as exc:
            # Not rolled back: the failed attempt is kept, it feeds the throttle and the trail.
            form.password.errors.append(exc.message)
            status = exc.status
        else:
            lang = session.get("lang")
            session.clear()  # a new session identifier at every sign-in
            if lang in LANGUAGE_CODES and lang != result.user.locale:
                # The language chosen on the sign-in page becomes the account's.
                services.update_preferences(db.session, result.user, locale=lang, timezone=result.user.timezone)
            result.user.session_token = result.token
            login_user(result.user)
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 422
    return render_template("auth/login.html", form=form), status


@bp.get("/session")
@role_required(Role.VIEWER)
def session_check():
    """Is this browser still signed in? A page left open uses the answer to resume saving what was typed."""
    return {"signed_in": True, "csrf_token": generate_csrf()}


@bp.post("/logout")
@role_required(Role.VIEWER)
def logout():
    services.sign_out(db.session, current_user.session_token)
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.get("/language/<code>")
@public
def set_language(code: str):
    """Language switch for visitors who are not signed in: kept for this browser, and saved to the account
    at sign-in."""
    if code not in LANGUAGE_CODES:
        abort(404)
    session["lang"] = code
    return redirect(_safe_next(request.args.get("next")) if request.args.get("next") else url_for("auth.login"))


@bp.post("/language")
@role_required(Role.VIEWER)
def switch_language():
    """The switch in the header of a signed-in user: saved as the account's language, back to the same page."""
    code = request.form.get("lang", "")
    if code not in LANGUAGE_CODES:
        abort(400)
    services.update_preferences(db.session, current_user, locale=code, timezone=current_user.timezone)
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/account", methods=["GET", "POST"])
@role_required(Role.VIEWER)
def account():
    prefs = PreferencesForm(obj=current_user, prefix="prefs")
    password = PasswordChangeForm(prefix="pw")

    def page(**kw):
        return render("auth/account.html", prefs=prefs, password=password, **kw)

    if request.method == "POST" and "prefs-locale" in request.form:
        return form_cycle(
            prefs,
            lambda: services.update_preferences(
                db.session, current_user, locale=prefs.locale.data, timezone=prefs.timezone.data
            ),
            done=lambda _none: saved(url_for("auth.account"), _("Your preferences are saved.")),
            page=page,
        )
    return form_cycle(
        password,
        lambda: services.change_password(
            db.session,
            current_user,
            current=password.current.data,
            new=password.new.data,
            keep_token=current_user.session_token,
        ),
        done=lambda _none: saved(
            url_for("auth.account"), _("Your password is changed. Your other sessions were signed out.")
        ),
        page=page,
    )


# --- administration of accounts ----------------------------------------------------------------


def _institution_field(form):
    """Only an installation admin chooses an account's institution; other admins' accounts stay theirs."""
    if current_user.can(Role.INSTALLATION_ADMIN):
        form.institution_id.choices = choices(institutions.choices(db.session))
    else:
        del form.institution_id
    return form


@bp.get("/admin/users")
@role_required(Role.ADMIN)
def users():
    rows = db.session.scalars(services.users_query(current_user)).all()
    return render("auth/users.html", users=rows, last_seen=services.last_seen(db.session))


@bp.route("/admin/users/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def user_new():
    form = _institution_field(UserCreateForm())
    if request.method == "GET" and "institution_id" in form:
        form.institution_id.data = current_user.institution_id
    return form_cycle(
        form,
        lambda: services.create_user(
            db.session,
            email=form.email.data,
            name=form.name.data,
            unit=form.unit.data,
            role=Role(form.role.data),
            locale=form.locale.data,
            password=form.password.data,
            institution_id=form.institution_id.data if "institution_id" in form else None,
            actor=current_user,
        ),
        done=lambda user: saved(url_for("auth.users"), _("Account created for %(name)s.", name=user.name)),
        page=lambda **kw: render("auth/user_form.html", form=form, **kw),
    )


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def user_edit(user_id: int):
    user = services.user_with_institution(db.session, user_id)
    if user is None or not services.manageable(current_user, user):
        abort(404)  # another institution's account is nobody to its admins
    form = _institution_field(UserEditForm(obj=user))
    return form_cycle(
        form,
        lambda: services.update_user(
            db.session,
            user,
            actor=current_user,
            version=form.version.data,
            name=form.name.data.strip(),
            unit=(form.unit.data or "").strip(),
            role=Role(form.role.data),
            active=form.active.data,
            **({"institution_id": form.institution_id.data} if "institution_id" in form else {}),
        ),
        done=lambda _u: saved(url_for("auth.users"), _("Account of %(name)s saved.", name=user.name)),
        page=lambda **kw: render(
            "auth/user_form.html",
            form=form,
            user=services.user_with_institution(db.session, user_id),
            history=audit.history(db.session, "user_account", user_id),
            **kw,
        ),
        record=user,
    )
