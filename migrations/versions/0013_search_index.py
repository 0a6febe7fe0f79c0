"""search index: one entry per searchable record, FTS5 on SQLite, a GIN tsvector index on PostgreSQL

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23

search_entry holds, for each organisation, contact, meeting, commitment, visit, event and file, its title and
text as written (for the snippet) and its folded words (for matching), and the record whose visibility
applies. SQLite gets an FTS5 table over it kept in step by triggers; PostgreSQL a GIN index on its tsvector.
The entries of the records already there are written here, by the application's own builders (they read
named columns only); `flask search rebuild` writes them again at any time.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    from crm.core import fulltext

    op.create_table(
        "search_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("guard_kind", sa.String(length=20), nullable=False),
        sa.Column("guard_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=600), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("title_key", sa.String(length=600), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_entry")),
        sa.UniqueConstraint("kind", "record_id", name=op.f("uq_search_entry_kind_record_id")),
    )
    op.create_index("ix_search_entry_guard", "search_entry", ["guard_kind", "guard_id"], unique=False)
    bind = op.get_bind()
    statements = fulltext.SQLITE_DDL if bind.dialect.name == "sqlite" else fulltext.PG_DDL
    for statement in statements:
        op.execute(statement)

    from crm.search import services

    services.rebuild_on(bind)


def downgrade():
    from crm.core import fulltext

    if op.get_bind().dialect.name == "sqlite":
        for statement in fulltext.SQLITE_DROP:
            op.execute(statement)
    op.drop_index("ix_search_entry_guard", table_name="search_entry")
    op.drop_table("search_entry")
