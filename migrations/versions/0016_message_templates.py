"""message templates: the library of ready texts, built-in and the owner's own

Built-ins have a stable key (welcome, birthday, …) and are written by the app on first
use (app/messaging/library.py), so a fresh install and the tests get them alike.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 13:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "message_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=True),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_templates")),
        sa.UniqueConstraint("key", name=op.f("uq_message_templates_key")),
        sa.UniqueConstraint("name", name=op.f("uq_message_templates_name")),
    )


def downgrade():
    op.drop_table("message_templates")
