"""Who may open which view. Every view declares its minimum role; the route × role test reads it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user

from crm.auth.models import Role, User
from crm.extensions import login_manager


def _declare(view: Any, min_role: Role | None, is_public: bool) -> Any:
    """Mark a view with who may use it: the route × role test and the login check read these."""
    view.min_role = min_role
    view.is_public = is_public
    return view


def public(view: Callable) -> Callable:
    """Open to anonymous visitors (sign-in page, language switch, health check)."""
    return _declare(view, None, True)


def role_required(role: Role) -> Callable[[Callable], Callable]:
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.can(role):
                abort(403)
            return view(*args, **kwargs)

        return _declare(wrapped, role, False)

    return decorator


def can(role: Role) -> bool:
    return bool(current_user.is_authenticated and current_user.can(role))


def reader_key(user: User) -> tuple[int, int, bool]:
    """What a reader's visibility clauses depend on (the arguments of each domain's ``visible_to``): the key of the
    statements kept per reader."""
    return user.id, user.institution_id, user.can(Role.ADMIN)
