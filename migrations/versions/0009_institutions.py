"""institutions: one installation for several ministries, ownership, sharing, joint meetings and visits

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23

An existing single-ministry database becomes one institution owning everything, nothing lost: the
institution is the organisation its letterhead names (created in the directory if it is not there), with
that letterhead and logo; every user belongs to it, every meeting, visit and commitment is owned by it and
kept within it; our side of every meeting is its side; its administrators become the installation's.
A fresh, empty database gets no institution here: the first `flask users create` makes Mali's ministry.
"""

import unicodedata
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ROLES = ("viewer", "staff", "officer", "admin", "installation_admin")
SHARING = ("institution", "aes")
DEFAULT_AUTHORITY = "Ministère de la Communication, de l’Économie numérique et de la Modernisation de l’Administration"


def _fold(text):
    # The app's search_key, frozen here: a migration must not change when the app does.
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


def _check(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _institution_for_existing_data(bind):
    """The one institution an existing installation becomes, or None for an empty database."""
    has_data = any(
        bind.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first()
        for table in ("user_account", "meeting", "visit", "commitment", "letterhead")
    )
    if not has_data:
        return None
    head = bind.execute(
        sa.text("SELECT country, motto, authority, unit, city, logo_file_id FROM letterhead ORDER BY id LIMIT 1")
    ).first()
    country, motto, authority, unit, city, logo = head or (
        "République du Mali",
        "Un Peuple – Un But – Une Foi",
        DEFAULT_AUTHORITY,
        "Secrétariat général",
        "Bamako",
        None,
    )
    org = bind.execute(
        sa.text("SELECT id, acronym, country_code FROM organisation WHERE name_key = :k ORDER BY id LIMIT 1"),
        {"k": _fold(authority)},
    ).first()
    now = datetime.now(UTC)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # stored as the app stores UTC on SQLite
    if org is None:
        bind.execute(
            sa.text(
                "INSERT INTO organisation (name, acronym, kind, country_code, sectors, email, phone, website, address, "
                "city, notes, name_key, search, version, created_at, updated_at) VALUES (:name, '', 'ministry', 'ML', "
                "'', '', '', '', '', :city, '', :key, :key, 1, :now, :now)"
            ),
            {"name": authority, "city": city or "", "key": _fold(authority), "now": now},
        )
        org = bind.execute(
            sa.text("SELECT id, acronym, country_code FROM organisation WHERE name_key = :k ORDER BY id LIMIT 1"),
            {"k": _fold(authority)},
        ).first()
    org_id, acronym, country_code = org
    zones = {"ML": "Africa/Bamako", "BF": "Africa/Ouagadougou", "NE": "Africa/Niamey"}
    bind.execute(
        sa.text(
            "INSERT INTO institution (organisation_id, code, short_name, timezone, country, motto, authority, unit, "
            "city, logo_file_id, version, created_at, updated_at) VALUES (:org, :code, :short, :tz, :country, :motto, "
            ":authority, :unit, :city, :logo, 1, :now, :now)"
        ),
        {
            "org": org_id,
            "code": (country_code or "ML")[:4],
            "short": (acronym or "".join(w[0] for w in authority.split() if w[:1].isupper()) or "MIN")[:40],
            "tz": zones.get(country_code, "Africa/Bamako"),
            "country": country,
            "motto": motto,
            "authority": authority,
            "unit": unit,
            "city": city,
            "logo": logo,
            "now": now,
        },
    )
    return bind.execute(sa.text("SELECT id FROM institution ORDER BY id LIMIT 1")).scalar_one(), org_id


def upgrade():
    op.create_table(
        "institution",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=4), nullable=False),
        sa.Column("short_name", sa.String(length=40), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=200), nullable=False),
        sa.Column("motto", sa.String(length=200), nullable=False),
        sa.Column("authority", sa.String(length=300), nullable=False),
        sa.Column("unit", sa.String(length=300), nullable=False),
        sa.Column("city", sa.String(length=120), nullable=False),
        sa.Column("logo_file_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["logo_file_id"], ["stored_file.id"], name=op.f("fk_institution_logo_file_id_stored_file"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_institution_organisation_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_institution")),
        sa.UniqueConstraint("code", name=op.f("uq_institution_code")),
        sa.UniqueConstraint("organisation_id", name=op.f("uq_institution_organisation_id")),
    )
    for owned in ("visit", "meeting"):
        op.create_table(
            f"{owned}_institution",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column(f"{owned}_id", sa.Integer(), nullable=False),
            sa.Column("institution_id", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(
                ["institution_id"],
                ["institution.id"],
                name=op.f(f"fk_{owned}_institution_institution_id_institution"),
                ondelete="RESTRICT",
            ),
            sa.ForeignKeyConstraint(
                [f"{owned}_id"], [f"{owned}.id"], name=op.f(f"fk_{owned}_institution_{owned}_id_{owned}"), ondelete="CASCADE"
            ),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{owned}_institution")),
            sa.UniqueConstraint(
                f"{owned}_id", "institution_id", name=op.f(f"uq_{owned}_institution_{owned}_id_institution_id")
            ),
        )
        with op.batch_alter_table(f"{owned}_institution") as batch_op:
            batch_op.create_index(f"ix_{owned}_institution_institution", ["institution_id", f"{owned}_id"], unique=False)
    op.create_table(
        "minutes_approval",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("approved_by_id", sa.Integer(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["approved_by_id"],
            ["user_account.id"],
            name=op.f("fk_minutes_approval_approved_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_minutes_approval_institution_id_institution"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["minutes_revision.id"],
            name=op.f("fk_minutes_approval_revision_id_minutes_revision"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_minutes_approval")),
        sa.UniqueConstraint("revision_id", "institution_id", name=op.f("uq_minutes_approval_revision_id_institution_id")),
    )

    # New columns, nullable while they are filled.
    with op.batch_alter_table("user_account") as batch_op:
        batch_op.add_column(sa.Column("institution_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("search", sa.String(length=700), nullable=False, server_default=""))
        batch_op.drop_constraint(op.f("ck_user_account_role"), type_="check")  # a new role is coming
        batch_op.alter_column("role", existing_type=sa.String(length=16), type_=sa.String(length=20))
    for table in ("meeting", "visit", "commitment"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("owner_institution_id", sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column("sharing", sa.String(length=20), nullable=False, server_default="institution"))
    for table in ("participant", "visit_member", "commitment"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("institution_id", sa.Integer(), nullable=True))

    bind = op.get_bind()
    found = _institution_for_existing_data(bind)
    if found is not None:
        institution, organisation = found
        values = {"i": institution, "o": organisation}
        for statement in (
            "UPDATE user_account SET institution_id = :i",
            "UPDATE user_account SET role = 'installation_admin' WHERE role = 'admin'",
            "UPDATE meeting SET owner_institution_id = :i",
            "INSERT INTO meeting_institution (meeting_id, institution_id) SELECT id, :i FROM meeting",
            "UPDATE participant SET institution_id = :i WHERE side = 'ours'",
            "UPDATE visit SET owner_institution_id = :i",
            "INSERT INTO visit_institution (visit_id, institution_id) SELECT id, :i FROM visit",
            "UPDATE visit_member SET institution_id = :i WHERE user_id IS NOT NULL",
            "UPDATE visit_member SET institution_id = :i WHERE contact_id IN (SELECT p.contact_id FROM position p "
            "JOIN organisation o ON o.id = p.organisation_id WHERE o.id = :o OR o.parent_id = :o)",
            "UPDATE commitment SET owner_institution_id = :i",
            "UPDATE commitment SET institution_id = :i WHERE owed_by = 'ours'",
        ):
            bind.execute(sa.text(statement), values)
        # Approved minutes: the one institution approved them.
        bind.execute(
            sa.text(
                "INSERT INTO minutes_approval (revision_id, institution_id, approved_by_id, approved_at) "
                "SELECT id, :i, approved_by_id, approved_at FROM minutes_revision "
                "WHERE status = 'approved' AND approved_at IS NOT NULL"
            ),
            values,
        )
    for user_id, name, email, unit in bind.execute(sa.text("SELECT id, name, email, unit FROM user_account")).all():
        folded = " ".join(part for part in (_fold(name), (email or "").lower(), _fold(unit)) if part)
        bind.execute(sa.text("UPDATE user_account SET search = :s WHERE id = :i"), {"s": folded[:700], "i": user_id})

    with op.batch_alter_table("user_account") as batch_op:
        batch_op.alter_column("institution_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("search", existing_type=sa.String(length=700), server_default=None)
        batch_op.create_check_constraint(op.f("ck_user_account_role"), _check("role", ROLES))
        batch_op.create_index(batch_op.f("ix_user_account_institution_id"), ["institution_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_user_account_institution_id_institution"),
            "institution",
            ["institution_id"],
            ["id"],
            ondelete="RESTRICT",
        )
    for table in ("meeting", "visit", "commitment"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column("owner_institution_id", existing_type=sa.Integer(), nullable=False)
            batch_op.alter_column("sharing", existing_type=sa.String(length=20), server_default=None)
            batch_op.create_check_constraint(op.f(f"ck_{table}_sharing"), _check("sharing", SHARING))
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_owner_institution_id_institution"),
                "institution",
                ["owner_institution_id"],
                ["id"],
                ondelete="RESTRICT",
            )
    for table in ("participant", "visit_member", "commitment"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_institution_id_institution"),
                "institution",
                ["institution_id"],
                ["id"],
                ondelete="RESTRICT",
            )
    with op.batch_alter_table("meeting") as batch_op:
        batch_op.create_index("ix_meeting_sharing", ["sharing", "starts_at"], unique=False)
    with op.batch_alter_table("participant") as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_participant_institution_side"), "(side = 'ours') = (institution_id IS NOT NULL)"
        )
    with op.batch_alter_table("commitment") as batch_op:
        batch_op.create_index("ix_commitment_owner", ["owner_institution_id", "closed", "due_key", "id"], unique=False)
        batch_op.create_check_constraint(
            op.f("ck_commitment_owing_institution"), "(owed_by = 'ours') = (institution_id IS NOT NULL)"
        )
    op.drop_table("letterhead")


def downgrade():
    """Back to one ministry: the first institution's letterhead becomes the installation's."""
    op.create_table(
        "letterhead",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=200), nullable=False),
        sa.Column("motto", sa.String(length=200), nullable=False),
        sa.Column("authority", sa.String(length=300), nullable=False),
        sa.Column("unit", sa.String(length=300), nullable=False),
        sa.Column("city", sa.String(length=120), nullable=False),
        sa.Column("logo_file_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["logo_file_id"], ["stored_file.id"], name=op.f("fk_letterhead_logo_file_id_stored_file"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letterhead")),
    )
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "INSERT INTO letterhead (country, motto, authority, unit, city, logo_file_id, version) "
            "SELECT country, motto, authority, unit, city, logo_file_id, 1 FROM institution WHERE id = "
            "(SELECT MIN(id) FROM institution)"
        )
    )
    bind.execute(sa.text("UPDATE user_account SET role = 'admin' WHERE role = 'installation_admin'"))
    with op.batch_alter_table("commitment") as batch_op:
        batch_op.drop_constraint(op.f("ck_commitment_owing_institution"), type_="check")
        batch_op.drop_index("ix_commitment_owner")
    with op.batch_alter_table("participant") as batch_op:
        batch_op.drop_constraint(op.f("ck_participant_institution_side"), type_="check")
    with op.batch_alter_table("meeting") as batch_op:
        batch_op.drop_index("ix_meeting_sharing")
    for table in ("participant", "visit_member", "commitment"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(batch_op.f(f"fk_{table}_institution_id_institution"), type_="foreignkey")
            batch_op.drop_column("institution_id")
    for table in ("meeting", "visit", "commitment"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(batch_op.f(f"fk_{table}_owner_institution_id_institution"), type_="foreignkey")
            batch_op.drop_constraint(op.f(f"ck_{table}_sharing"), type_="check")
            batch_op.drop_column("owner_institution_id")
            batch_op.drop_column("sharing")
    with op.batch_alter_table("user_account") as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_user_account_institution_id_institution"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_user_account_institution_id"))
        batch_op.drop_constraint(op.f("ck_user_account_role"), type_="check")
        batch_op.create_check_constraint(op.f("ck_user_account_role"), _check("role", ROLES[:4]))
        batch_op.alter_column("role", existing_type=sa.String(length=20), type_=sa.String(length=16))
        batch_op.drop_column("search")
        batch_op.drop_column("institution_id")
    op.drop_table("minutes_approval")
    for owned in ("meeting", "visit"):
        with op.batch_alter_table(f"{owned}_institution") as batch_op:
            batch_op.drop_index(f"ix_{owned}_institution_institution")
        op.drop_table(f"{owned}_institution")
    op.drop_table("institution")
