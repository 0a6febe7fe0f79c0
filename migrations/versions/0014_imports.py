"""imports: an uploaded file kept on the server between the steps of an import

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23

import_upload holds the bytes of a CSV or XLSX file under a random token while the user maps its columns
and previews it; the browser holds only the token.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "import_upload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_import_upload_user_id_user_account"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_upload")),
        sa.UniqueConstraint("token", name=op.f("uq_import_upload_token")),
    )
    with op.batch_alter_table("import_upload") as batch_op:
        batch_op.create_index(batch_op.f("ix_import_upload_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("import_upload") as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_upload_user_id"))
    op.drop_table("import_upload")
