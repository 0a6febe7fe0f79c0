"""The partner directory: countries, organisations, contacts and their positions."""

from crm.partners.views import bp

__all__ = ["bp"]
