"""Delegation visits (incoming and outgoing), their members and programme, and the events they attend."""
