"""Who may open which view. Every view declares its minimum role; the route × role test reads it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort
from flask_login import current_user

from crm.auth.models import Role
from crm.extensions import login_manager


def public(view: Callable) -> Callable:
    """Open to anonymous visitors (sign-in page, language switch, health check)."""
    view.min_role = None
    view.is_public = True
    return view


def role_required(role: Role) -> Callable[[Callable], Callable]:
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.can(role):
                abort(403)
            return view(*args, **kwargs)

        wrapped.min_role = role
        wrapped.is_public = False
        return wrapped

    return decorator


def can(role: Role) -> bool:
    return bool(current_user.is_authenticated and current_user.can(role))
