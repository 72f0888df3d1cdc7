"""dashboard: messages counted per Tehran day, and each account's last read credit

- ``daily_messages``: the messages handed to a provider on a day, by account, status and
  error; ``counted_days``: which days it holds (app/reports/dashboard.py).
- ``provider_accounts.credit`` and ``credit_read_at``: the credit as last read.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 16:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "daily_messages",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=32), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["provider_accounts.id"],
            name=op.f("fk_daily_messages_provider_id_provider_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "day", "provider_id", "status", "error", name=op.f("pk_daily_messages")
        ),
    )
    op.create_table(
        "counted_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_counted_days")),
    )
    op.add_column("provider_accounts", sa.Column("credit", sa.BigInteger(), nullable=True))
    op.add_column(
        "provider_accounts",
        sa.Column("credit_read_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade():
    op.drop_table("counted_days")
    op.drop_table("daily_messages")
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): a batch copy of provider_accounts
    # would drop the table messages point at.
    op.drop_column("provider_accounts", "credit_read_at")
    op.drop_column("provider_accounts", "credit")
