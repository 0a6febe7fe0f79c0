"""search titles on PostgreSQL: the start of each title word indexed as a word of its own

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-24

The word being typed matches the start of a word. In a GIN index a prefix ('fib':*) gathers every entry holding
a word that starts so before the other words are looked at: "huawei fib" read the 115,000 commitments titled
"fibre…" at a million meetings to learn that no title holds "huawei". The title's tsvector now holds, weighted
A, the starts (3 to 12 letters) of its words, so that the word being typed is one key like the others. The
column is generated: made again, its values follow. SQLite's FTS5 index has had its prefixes since 0015.
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

KINDS = ("organisation", "contact", "meeting", "commitment", "visit", "event", "attachment")
COLUMN = "search_title_vector"
# 0015's title column and its indexes, as they were.
PREVIOUS = [
    f"ALTER TABLE search_entry ADD COLUMN {COLUMN} tsvector GENERATED ALWAYS AS "
    "(to_tsvector('simple'::regconfig, title_key)) STORED",
    *(
        f"CREATE INDEX ix_search_entry_title_vector_{kind} ON search_entry USING gin ({COLUMN}) "
        f"WHERE kind = '{kind}' AND guard_kind IS NOT NULL"
        for kind in KINDS
    ),
]
DROP = [
    *(f"DROP INDEX IF EXISTS ix_search_entry_title_vector_{kind}" for kind in KINDS),
    f"ALTER TABLE search_entry DROP COLUMN IF EXISTS {COLUMN}",
]


def upgrade():
    from crm.core import fulltext

    if op.get_bind().dialect.name == "postgresql":
        for statement in DROP + fulltext.PG_TITLE_DDL:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for statement in DROP + PREVIOUS:
            op.execute(statement)
