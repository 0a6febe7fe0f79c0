"""search index: one entry per searchable record, FTS5 on SQLite, a GIN tsvector index on PostgreSQL

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23

search_entry holds, for each organisation, contact, meeting, commitment, visit, event and file, its title and
text as written (for the snippet) and its folded words (for matching), and the record whose visibility
applies. SQLite gets an FTS5 table over it kept in step by triggers; PostgreSQL a GIN index on its tsvector.
The entries of the records already there are written by 0015, by the application's own builders, once the
index has the shape they are read with; `flask search rebuild` writes them again at any time.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


# The index as this revision made it (0015 makes it again): written out here, not read from the application,
# so that this step stays what it was.
SQLITE_DDL = [
    "CREATE VIRTUAL TABLE search_fts USING fts5(title_key, terms, content='search_entry', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
    "INSERT INTO search_fts(search_fts, rank) VALUES ('rank', 'bm25(10.0, 1.0)')",
    "CREATE TRIGGER search_entry_ai AFTER INSERT ON search_entry BEGIN INSERT INTO search_fts(rowid, "
    "title_key, terms) VALUES (new.id, new.title_key, new.terms); END",
    "CREATE TRIGGER search_entry_ad AFTER DELETE ON search_entry BEGIN INSERT INTO search_fts(search_fts, "
    "rowid, title_key, terms) VALUES ('delete', old.id, old.title_key, old.terms); END",
    "CREATE TRIGGER search_entry_au AFTER UPDATE ON search_entry BEGIN INSERT INTO search_fts(search_fts, "
    "rowid, title_key, terms) VALUES ('delete', old.id, old.title_key, old.terms); INSERT INTO "
    "search_fts(rowid, title_key, terms) VALUES (new.id, new.title_key, new.terms); END",
]
PG_DDL = [
    "CREATE INDEX ix_search_entry_vector ON search_entry USING gin ((setweight(to_tsvector("
    "'simple'::regconfig, title_key), 'A') || setweight(to_tsvector('simple'::regconfig, terms), 'B')))"
]


def upgrade():
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
    statements = SQLITE_DDL if bind.dialect.name == "sqlite" else PG_DDL
    for statement in statements:
        op.execute(statement)
    # The entries are written by 0015, once its index is there (this revision's builders are the
    # application's, which write what the application's index reads).


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_index("ix_search_entry_guard", table_name="search_entry")
    op.drop_table("search_entry")
