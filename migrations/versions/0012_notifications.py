"""notifications: the outbox of e-mails, the bell, preferences, marks of scheduled messages, invitations

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

import crm.db

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "notification_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("created_at", crm.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_mark")),
        sa.UniqueConstraint("key", name=op.f("uq_notification_mark_key")),
    )
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "minutes_submitted",
                "minutes_approved",
                "commitment_assigned",
                "escalation",
                "digest",
                "invitation",
                name="kind",
                native_enum=False,
                create_constraint=True,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("created_at", crm.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", crm.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_notification_user_id_user_account"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index("ix_notification_unread", ["user_id", "read_at", "id"], unique=False)

    op.create_table(
        "notification_preference",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("muted", sa.String(length=300), nullable=False),
        sa.Column(
            "digest",
            sa.Enum("off", "daily", "weekly", name="digest", native_enum=False, create_constraint=True, length=10),
            nullable=False,
        ),
        sa.Column("digest_hour", sa.Integer(), nullable=False),
        sa.Column("digest_weekday", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_notification_preference_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_preference")),
    )
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "minutes_submitted",
                "minutes_approved",
                "commitment_assigned",
                "escalation",
                "digest",
                "invitation",
                name="kind",
                native_enum=False,
                create_constraint=True,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("recipient_name", sa.String(length=200), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("ics", sa.Text(), nullable=True),
        sa.Column("ics_method", sa.String(length=10), nullable=False),
        sa.Column("unsubscribe_url", sa.String(length=600), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "sending",
                "sent",
                "failed",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", crm.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claim_token", sa.String(length=40), nullable=True),
        sa.Column("claimed_until", crm.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", crm.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", crm.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_outbox_message_user_id_user_account"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_message")),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_message_due", ["status", "next_attempt_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_message_user_id"), ["user_id"], unique=False)

    op.create_table(
        "meeting_invitation",
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=200), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("invite_contacts", sa.Boolean(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meeting.id"], name=op.f("fk_meeting_invitation_meeting_id_meeting"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("meeting_id", name=op.f("pk_meeting_invitation")),
    )


def downgrade():
    op.drop_table("meeting_invitation")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_message_user_id"))
        batch_op.drop_index("ix_outbox_message_due")

    op.drop_table("outbox_message")
    op.drop_table("notification_preference")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_unread")

    op.drop_table("notification")
    op.drop_table("notification_mark")
