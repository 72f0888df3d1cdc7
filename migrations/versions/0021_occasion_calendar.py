"""occasion calendar: the shop's own occasions, lunar occurrences moved by a day, and
which occasions count as mourning

- ``custom_occasions``: the shop's own occasions (name, calendar, month, day).
- ``occasion_shifts``: a lunar occurrence (``eid_fitr:1448``) moved by −1 or +1 day.
- ``occasion_mourning``: an occasion counted as mourning, or not, against its default.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 17:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "custom_occasions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("calendar", sa.String(length=16), nullable=False),
        sa.Column("month", sa.SmallInteger(), nullable=False),
        sa.Column("day", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_occasions")),
        sa.UniqueConstraint("name", name=op.f("uq_custom_occasions_name")),
    )
    op.create_table(
        "occasion_shifts",
        sa.Column("occurrence", sa.String(length=64), nullable=False),
        sa.Column("days", sa.SmallInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("occurrence", name=op.f("pk_occasion_shifts")),
    )
    op.create_table(
        "occasion_mourning",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("mourning", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_occasion_mourning")),
    )


def downgrade():
    op.drop_table("occasion_mourning")
    op.drop_table("occasion_shifts")
    op.drop_table("custom_occasions")
