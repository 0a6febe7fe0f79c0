"""The header's search box: results as you type, and the full results page grouped by kind."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from crm.auth.models import Role
from crm.auth.permissions import role_required
from crm.extensions import db
from crm.search import services
from crm.views import render

bp = Blueprint("search", __name__)

LIVE_LIMIT = 8
PAGE_SIZE = 20


def _q() -> str:
    return request.args.get("q", "")[:200]


@bp.get("/search")
@role_required(Role.VIEWER)
def search():
    q = _q()
    kind = request.args.get("kind", "")
    if kind and kind not in services.KINDS:
        abort(400)
    if kind:
        try:
            results = services.one_kind(
                db.session, current_user, q, kind, cursor=request.args.get("after"), size=PAGE_SIZE
            )
        except services.BadCursor:
            abort(400)
    else:
        results = services.overview(db.session, current_user, q)
    return render(
        "search/page.html", fragment="search/_results.html", q=q, kind=kind, results=results, kinds=services.KINDS
    )


@bp.get("/search/live")
@role_required(Role.VIEWER)
def live():
    q = _q()
    results = services.live(db.session, current_user, q, limit=LIVE_LIMIT)
    return render_template("search/_live.html", q=q, results=results, kinds=services.KINDS)
