"""decision identity: agenda items remember the item they were copied from, commitments the decision's wording

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23

agenda_item.origin_id links an amended revision's item to the first revision's item it descends from, so a
decision keeps its commitment across amendments. commitment.origin_decision keeps the decision's wording when
the commitment was made from it (existing ones: their title, which was the decision's text then). Items of
revisions already amended are linked to the same-position item of the revision before.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("agenda_item") as batch_op:
        batch_op.add_column(sa.Column("origin_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_agenda_item_origin_id_agenda_item"),
            "agenda_item",
            ["origin_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("commitment") as batch_op:
        batch_op.add_column(sa.Column("origin_decision", sa.String(length=1000), server_default="", nullable=False))
    with op.batch_alter_table("commitment") as batch_op:
        batch_op.alter_column("origin_decision", server_default=None, existing_type=sa.String(length=1000))
    op.execute("UPDATE commitment SET origin_decision = title WHERE origin_item_id IS NOT NULL")
    # Revisions amended before: each item descends from the item at its position in revision 1.
    op.execute(
        """
        UPDATE agenda_item SET origin_id = (
            SELECT first.id FROM agenda_item first
            JOIN minutes_revision r1 ON r1.id = first.revision_id AND r1.number = 1
            JOIN minutes_revision rn ON rn.id = agenda_item.revision_id
            WHERE r1.meeting_id = rn.meeting_id AND first.position = agenda_item.position
        )
        WHERE revision_id IN (SELECT id FROM minutes_revision WHERE number > 1)
        """
    )


def downgrade():
    with op.batch_alter_table("commitment") as batch_op:
        batch_op.drop_column("origin_decision")
    with op.batch_alter_table("agenda_item") as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_agenda_item_origin_id_agenda_item"), type_="foreignkey")
        batch_op.drop_column("origin_id")
