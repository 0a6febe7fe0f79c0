"""Notifications: the outbox of e-mails, the in-app bell, digests, escalations and meeting invitations."""
