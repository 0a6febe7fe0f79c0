"""search index read newest first: FTS5 tables for every word and for titles, stored tsvectors on PostgreSQL

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-24

A search now reads the index in the order it shows (title matches, then the others, newest first) and stops at
what it shows, instead of ranking every match. SQLite's FTS5 table is made again with the kind as a column of
its own, column-level detail and prefixes of 3 to 12 letters, beside a second one for the titles alone, both
filled from search_entry. PostgreSQL gets the words and the title's words as stored, generated tsvector
columns (the kind a word of each) with their GIN indexes, in place of the expression index; both get an index
on (kind, id). The statements are the application's own (core.fulltext): a later change of the index's shape
comes with its own migration, which drops and makes it again as this one does. Every entry is written again
here (an elided word is now indexed as itself too: "d’Orange" is found by "orange").
"""

import runpy
from pathlib import Path

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

OLD_SQLITE = [
    "DROP TRIGGER IF EXISTS search_entry_ai",
    "DROP TRIGGER IF EXISTS search_entry_ad",
    "DROP TRIGGER IF EXISTS search_entry_au",
    "DROP TABLE IF EXISTS search_fts",
]


def upgrade():
    from crm.core import fulltext
    from crm.search import services

    bind = op.get_bind()
    op.create_index("ix_search_entry_kind_id", "search_entry", ["kind", "id"], unique=False)
    if bind.dialect.name == "sqlite":
        statements = OLD_SQLITE + fulltext.SQLITE_DROP + fulltext.SQLITE_DDL
    else:
        statements = ["DROP INDEX IF EXISTS ix_search_entry_vector", *fulltext.PG_DDL]
    for statement in statements:
        op.execute(statement)
    services.rebuild_on(bind)  # every entry written again: words are now folded with their elisions too


def downgrade():
    from crm.core import fulltext

    if op.get_bind().dialect.name == "sqlite":
        for statement in OLD_SQLITE + fulltext.SQLITE_DROP:
            op.execute(statement)
    else:
        for statement in fulltext.PG_DROP:
            op.execute(statement)
    op.drop_index("ix_search_entry_kind_id", table_name="search_entry")
    # The previous revision's index, as 0013 wrote it, made again and filled.
    previous = runpy.run_path(str(Path(__file__).with_name("0013_search_index.py")))
    if op.get_bind().dialect.name == "sqlite":
        statements = [*previous["SQLITE_DDL"], "INSERT INTO search_fts(search_fts) VALUES ('rebuild')"]
    else:
        statements = previous["PG_DDL"]
    for statement in statements:
        op.execute(statement)
