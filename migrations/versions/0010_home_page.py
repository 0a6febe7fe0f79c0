"""home page: where each meeting's minutes stand, and the partners a user follows

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23

participant gets an index by user (the meetings a user took part in).
meeting.minutes_status is the status of the meeting's latest minutes revision (NULL: no minutes yet), kept
by the minutes services; existing meetings get it from their revisions. partner_follow holds who follows
which partner.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

MINUTES = ("draft", "submitted", "approved")


def upgrade():
    with op.batch_alter_table("meeting") as batch_op:
        batch_op.add_column(sa.Column("minutes_status", sa.String(length=20), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_meeting_minutes_status"),
            "minutes_status IN ({})".format(", ".join(f"'{value}'" for value in MINUTES)),
        )
        batch_op.create_index("ix_meeting_minutes_status", ["minutes_status", "starts_at"], unique=False)
    with op.batch_alter_table("participant") as batch_op:
        batch_op.create_index("ix_participant_user", ["user_id", "meeting_id"], unique=False)
    op.execute(
        """
        UPDATE meeting SET minutes_status = (
            SELECT r.status FROM minutes_revision r
            WHERE r.meeting_id = meeting.id
            ORDER BY r.number DESC LIMIT 1
        )
        """
    )
    op.create_table(
        "partner_follow",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_partner_follow_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_partner_follow_user_id_user_account"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_follow")),
        sa.UniqueConstraint("user_id", "organisation_id", name=op.f("uq_partner_follow_user_id_organisation_id")),
    )
    with op.batch_alter_table("partner_follow") as batch_op:
        batch_op.create_index(batch_op.f("ix_partner_follow_organisation_id"), ["organisation_id"], unique=False)


def downgrade():
    with op.batch_alter_table("partner_follow") as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_follow_organisation_id"))
    op.drop_table("partner_follow")
    with op.batch_alter_table("participant") as batch_op:
        batch_op.drop_index("ix_participant_user")
    with op.batch_alter_table("meeting") as batch_op:
        batch_op.drop_index("ix_meeting_minutes_status")
        batch_op.drop_constraint(op.f("ck_meeting_minutes_status"), type_="check")
        batch_op.drop_column("minutes_status")
