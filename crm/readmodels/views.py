from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, request
from flask_login import current_user

from crm.auth.models import Role
from crm.auth.permissions import role_required
from crm.extensions import db
from crm.partners import institutions
from crm.readmodels import aes
from crm.views import render

bp = Blueprint("aes", __name__)

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
