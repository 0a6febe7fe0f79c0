"""Attachments (and, later, printed documents)."""
