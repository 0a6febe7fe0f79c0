"""one request cycle: checked enum columns, one-time form tokens, folded visit search

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23

Every coded column (kinds, statuses, roles, sides…) gets a CHECK constraint listing its values, as the
models now declare them (labelled enums stored as VARCHAR). A commitment step without a status change
now stores NULL rather than an empty string.
"""

import sqlalchemy as sa
from alembic import op


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

CONFIDENTIALITY = ("public", "internal", "restricted", "confidential")
COMMITMENT_STATUS = ("open", "in_progress", "done", "blocked", "cancelled")

CHECKED = {
    "user_account": {"role": ("viewer", "staff", "officer", "admin")},
    "organisation": {
        "kind": ("ministry", "agency", "operator", "vendor", "international", "ngo", "academic", "embassy", "other")
    },
    "meeting": {
        "kind": ("audience", "bilateral", "multilateral", "working", "courtesy", "video"),
        "confidentiality": CONFIDENTIALITY,
        "status": ("planned", "held", "cancelled"),
    },
    "participant": {
        "side": ("ours", "partner"),
        "role": ("chair", "member", "note_taker", "interpreter"),
        "attendance": ("invited", "present", "absent", "excused"),
    },
    "minutes_revision": {"status": ("draft", "submitted", "approved")},
    "commitment": {
        "owed_by": ("ours", "partner"),
        "priority": ("low", "normal", "high"),
        "status": COMMITMENT_STATUS,
    },
    "commitment_update": {"old_status": COMMITMENT_STATUS, "new_status": COMMITMENT_STATUS},
    "visit": {
        "direction": ("incoming", "outgoing"),
        "status": ("planned", "confirmed", "ongoing", "completed", "cancelled"),
        "confidentiality": CONFIDENTIALITY,
    },
    "visit_member": {"role": ("head", "member", "protocol", "interpreter", "press", "security")},
}


def _condition(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _fold(text: str) -> str:
    # The app's search_key, frozen here: a migration must not change when the app does.
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", (text or "").casefold())
    kept = []
    for ch in decomposed:
        if unicodedata.combining(ch):
            continue
        if ch in "'’ʼ`´‘-_.,;:()/":
            kept.append(" " if ch in "-_.,;:()/" else "")
            continue
        kept.append(ch)
    return " ".join("".join(kept).split())


def upgrade():
    op.create_table(
        "form_submission",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("location", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_form_submission_user_id_user_account"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_form_submission")),
    )
    with op.batch_alter_table("form_submission") as batch_op:
        batch_op.create_index(batch_op.f("ix_form_submission_created_at"), ["created_at"], unique=False)

    bind = op.get_bind()
    with op.batch_alter_table("commitment_update") as batch_op:
        batch_op.alter_column("old_status", existing_type=sa.String(length=20), nullable=True)
        batch_op.alter_column("new_status", existing_type=sa.String(length=20), nullable=True)
    bind.execute(sa.text("UPDATE commitment_update SET old_status = NULL WHERE old_status = ''"))
    bind.execute(sa.text("UPDATE commitment_update SET new_status = NULL WHERE new_status = ''"))

    with op.batch_alter_table("visit") as batch_op:
        batch_op.add_column(sa.Column("search", sa.String(length=700), nullable=False, server_default=""))
    for row in bind.execute(sa.text("SELECT id, reference, title, city, purpose FROM visit")).all():
        folded = " ".join(
            part for part in (row.reference.lower(), _fold(row.title), _fold(row.city), _fold(row.purpose)) if part
        )[:700]
        bind.execute(sa.text("UPDATE visit SET search = :s WHERE id = :i"), {"s": folded, "i": row.id})
    with op.batch_alter_table("visit") as batch_op:
        batch_op.alter_column("search", existing_type=sa.String(length=700), server_default=None)

    for table, columns in CHECKED.items():
        with op.batch_alter_table(table) as batch_op:
            for column, values in columns.items():
                batch_op.create_check_constraint(op.f(f"ck_{table}_{column}"), _condition(column, values))


def downgrade():
    for table, columns in CHECKED.items():
        with op.batch_alter_table(table) as batch_op:
            for column in columns:
                batch_op.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
    with op.batch_alter_table("visit") as batch_op:
        batch_op.drop_column("search")
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE commitment_update SET old_status = '' WHERE old_status IS NULL"))
    bind.execute(sa.text("UPDATE commitment_update SET new_status = '' WHERE new_status IS NULL"))
    with op.batch_alter_table("commitment_update") as batch_op:
        batch_op.alter_column("old_status", existing_type=sa.String(length=20), nullable=False)
        batch_op.alter_column("new_status", existing_type=sa.String(length=20), nullable=False)
    with op.batch_alter_table("form_submission") as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_submission_created_at"))
    op.drop_table("form_submission")
