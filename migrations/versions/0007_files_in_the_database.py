"""files in the database: attachments, approved PDFs and the letterhead logo move into stored_file

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23

Files written to instance/ could outlive a rolled-back row (a worker killed during an approval left
"approved" PDFs on disk) and were not shared between app servers. Their bytes now live in the database,
written in the same transaction as their row. The old files are read once here and left where they
were; once the upgrade is checked they may be removed (see docs/deploy.md).
"""

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from flask import current_app


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

MIME = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg"}


def _folder(setting: str, default: str) -> Path:
    return Path(current_app.config.get(setting) or Path(current_app.instance_path) / default)


def _read(folder: Path, name: str) -> bytes:
    path = folder / name
    if not name or not path.is_file():
        print(f"  warning: {path} is missing; its record keeps an empty file")  # noqa: T201
        return b""
    return path.read_bytes()


def upgrade():
    op.create_table(
        "stored_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_file")),
    )
    with op.batch_alter_table("stored_file") as batch_op:
        batch_op.create_index(batch_op.f("ix_stored_file_sha256"), ["sha256"], unique=False)
    for table in ("attachment", "frozen_document"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("file_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("letterhead") as batch_op:
        batch_op.add_column(sa.Column("logo_file_id", sa.Integer(), nullable=True))

    bind = op.get_bind()
    stored = sa.table(
        "stored_file",
        sa.column("id", sa.Integer),
        sa.column("sha256", sa.String),
        sa.column("size", sa.Integer),
        sa.column("content_type", sa.String),
        sa.column("data", sa.LargeBinary),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )

    def keep(data: bytes, content_type: str) -> int:
        return bind.execute(
            sa.insert(stored)
            .values(
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                content_type=content_type,
                data=data,
                created_at=datetime.now(UTC),
            )
            .returning(stored.c.id)
        ).scalar_one()

    attachments = _folder("CRM_ATTACHMENTS_DIR", "attachments")
    documents = _folder("CRM_DOCUMENTS_DIR", "documents")
    for row_id, name, content_type in bind.execute(sa.text("SELECT id, stored_name, content_type FROM attachment")):
        file_id = keep(_read(attachments, name), content_type)
        bind.execute(sa.text("UPDATE attachment SET file_id = :f WHERE id = :i"), {"f": file_id, "i": row_id})
    for row_id, name in bind.execute(sa.text("SELECT id, stored_name FROM frozen_document")):
        file_id = keep(_read(documents, name), "application/pdf")
        bind.execute(sa.text("UPDATE frozen_document SET file_id = :f WHERE id = :i"), {"f": file_id, "i": row_id})
    for row_id, name in bind.execute(sa.text("SELECT id, logo_name FROM letterhead WHERE logo_name != ''")):
        data = _read(documents, name)
        if data:
            file_id = keep(data, MIME.get(Path(name).suffix, "image/png"))
            bind.execute(sa.text("UPDATE letterhead SET logo_file_id = :f WHERE id = :i"), {"f": file_id, "i": row_id})

    for table in ("attachment", "frozen_document"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column("file_id", existing_type=sa.Integer(), nullable=False)
            batch_op.drop_constraint(batch_op.f(f"uq_{table}_stored_name"), type_="unique")
            batch_op.create_unique_constraint(batch_op.f(f"uq_{table}_file_id"), ["file_id"])
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_file_id_stored_file"), "stored_file", ["file_id"], ["id"], ondelete="RESTRICT"
            )
            batch_op.drop_column("stored_name")
    with op.batch_alter_table("letterhead") as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_letterhead_logo_file_id_stored_file"),
            "stored_file",
            ["logo_file_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.drop_column("logo_name")


def downgrade():
    """Write the files back under instance/ and point the rows at them again."""
    bind = op.get_bind()
    for table, length in (("attachment", 64), ("frozen_document", 80)):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("stored_name", sa.String(length=length), nullable=True))
    with op.batch_alter_table("letterhead") as batch_op:
        batch_op.add_column(sa.Column("logo_name", sa.String(length=64), nullable=False, server_default=""))

    def write_out(folder: Path, name: str, file_id: int) -> None:
        data = bind.execute(sa.text("SELECT data FROM stored_file WHERE id = :i"), {"i": file_id}).scalar_one()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
        (folder / name).chmod(0o600)

    attachments = _folder("CRM_ATTACHMENTS_DIR", "attachments")
    documents = _folder("CRM_DOCUMENTS_DIR", "documents")
    for row_id, file_id, content_type in bind.execute(sa.text("SELECT id, file_id, content_type FROM attachment")):
        name = f"restored-{row_id}{next((s for s, m in MIME.items() if m == content_type), '.bin')}"
        write_out(attachments, name, file_id)
        bind.execute(sa.text("UPDATE attachment SET stored_name = :n WHERE id = :i"), {"n": name, "i": row_id})
    for row_id, file_id in bind.execute(sa.text("SELECT id, file_id FROM frozen_document")):
        name = f"restored-{row_id}.pdf"
        write_out(documents, name, file_id)
        bind.execute(sa.text("UPDATE frozen_document SET stored_name = :n WHERE id = :i"), {"n": name, "i": row_id})
    for row_id, file_id in bind.execute(
        sa.text("SELECT id, logo_file_id FROM letterhead WHERE logo_file_id IS NOT NULL")
    ):
        name = f"logo-restored-{row_id}.png"
        write_out(documents, name, file_id)
        bind.execute(sa.text("UPDATE letterhead SET logo_name = :n WHERE id = :i"), {"n": name, "i": row_id})

    with op.batch_alter_table("letterhead") as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_letterhead_logo_file_id_stored_file"), type_="foreignkey")
        batch_op.drop_column("logo_file_id")
    for table in ("attachment", "frozen_document"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column("stored_name", existing_type=sa.String(), nullable=False)
            batch_op.drop_constraint(batch_op.f(f"fk_{table}_file_id_stored_file"), type_="foreignkey")
            batch_op.drop_constraint(batch_op.f(f"uq_{table}_file_id"), type_="unique")
            batch_op.create_unique_constraint(batch_op.f(f"uq_{table}_stored_name"), ["stored_name"])
            batch_op.drop_column("file_id")
    with op.batch_alter_table("stored_file") as batch_op:
        batch_op.drop_index(batch_op.f("ix_stored_file_sha256"))
    op.drop_table("stored_file")
