"""Meetings (audiences), their participants, and their minutes."""
