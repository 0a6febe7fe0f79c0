"""Commitments made in meetings, followed until kept."""
