"""Accounts, roles, sign-in and the user administration pages."""
