"""Commit once, in one place: every view runs inside one unit of work.

Services only flush. After the view returns, its changes are committed; if anything raises, they are
rolled back. A conflict the database finds (two saves at the same instant: a version that moved, a
unique key taken) becomes the usual 409 "someone else saved this", never a 500, and nothing of the
request is kept. A refusal a view did not handle itself is shown with its own message and status.

Views never call ``commit()`` or ``rollback()`` themselves. Two documented exceptions stay where they
are: the touch of a session (``auth.services.load_session_user``, a short transaction of its own at most
once a minute, before the view runs) and the audit of a refused access (``web.handle_http``), written
after the view's own work was rolled back.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from crm.errors import DomainError, as_refusal
from crm.extensions import db


class OutOfRange(Exception):
    """A number the database cannot hold reached a query: the request was malformed (400)."""


def unit_of_work(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def run(*args: Any, **kwargs: Any) -> Any:
        session = db.session
        try:
            response = view(*args, **kwargs)
            _commit_as_drawn(session)
        except DomainError:
            session.rollback()
            raise
        except (StaleDataError, IntegrityError) as exc:
            session.rollback()
            raise as_refusal(exc) from exc
        except (DataError, OverflowError) as exc:
            session.rollback()
            raise OutOfRange from exc
        except BaseException:
            session.rollback()
            raise
        return response

    return run


def _commit_as_drawn(session: Any) -> None:
    """The view's commit, without expiring what the request loaded: its page is already drawn, and expiring each
    object (a meeting page holds a few dozen) cost more than the commit itself. Anything read later in the request
    sees the values as committed."""
    current = session()  # the request's own session, behind the scoped proxy
    current.expire_on_commit = False
    try:
        current.commit()
    finally:
        current.expire_on_commit = True


def install(app: Flask) -> None:
    """Wrap every view but static files; called once every blueprint is registered."""
    for endpoint, view in list(app.view_functions.items()):
        if endpoint != "static":
            app.view_functions[endpoint] = unit_of_work(view)
