"""Accounts, roles, sign-in and the user administration pages."""

from crm.auth.views import bp

__all__ = ["bp"]
