from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, request
from flask_babel import get_timezone
from flask_login import current_user

from crm.auth.models import Role
from crm.auth.permissions import role_required
from crm.extensions import db
from crm.partners import institutions
from crm.readmodels import aes, today
from crm.views import render

bp = Blueprint("aes", __name__)
home_bp = Blueprint("home", __name__)


@home_bp.get("/")
@role_required(Role.VIEWER)
def home():
    """What to do today: commitments coming due, minutes to approve or to write, the week, followed partners."""
    day = date.today()
    return render(
        "home/today.html",
        t=today.today_for(db.session, current_user, day, get_timezone()),
        week=today.week_bounds(day),
        due_within=today.DUE_WITHIN_DAYS,
    )


@home_bp.get("/today/figures")
@role_required(Role.VIEWER)
def figures():
    """The figures of the home page, loaded once the page is shown: promises kept per quarter, overdue partners."""
    day = date.today()
    return render(
        "home/figures.html",
        quarters=today.promises_kept(db.session, current_user, day),
        overdue=today.most_overdue(db.session, current_user, day),
    )


PERIODS = {"1": 365, "2": 730, "all": None}


@bp.get("/aes")
@role_required(Role.VIEWER)
def overview():
    """Partners the institutions meet in common, side by side: what each may see of the others' dealings."""
    period = request.args.get("period") if request.args.get("period") in PERIODS else "2"
    days = PERIODS[period]
    since = date.today() - timedelta(days=days) if days else None
    partners = aes.partners_in_common(db.session, current_user, since)
    return render(
        "aes/overview.html",
        partners=partners,
        several=aes.promises_to_several(partners),
        institutions=institutions.all_institutions(db.session),
        period=period,
        since=since,
    )
