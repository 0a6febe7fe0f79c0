"""seed the ISO 3166 countries, names in French and English; Mali, Burkina Faso and Niger flagged AES

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

"""

import pycountry
import sqlalchemy as sa
from alembic import op
from babel import Locale

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

AES = {"ML", "BF", "NE"}

country = sa.table(
    "country",
    sa.column("code", sa.String),
    sa.column("name_fr", sa.String),
    sa.column("name_en", sa.String),
    sa.column("is_aes", sa.Boolean),
)


def upgrade():
    fr, en = Locale("fr"), Locale("en")
    existing = {row[0] for row in op.get_bind().execute(sa.select(country.c.code))}
    rows = [
        {
            "code": c.alpha_2,
            "name_fr": fr.territories.get(c.alpha_2, c.name),
            "name_en": en.territories.get(c.alpha_2, c.name),
            "is_aes": c.alpha_2 in AES,
        }
        for c in pycountry.countries
        if c.alpha_2 not in existing
    ]
    if rows:
        op.bulk_insert(country, rows)


def downgrade():
    op.execute(country.delete())
