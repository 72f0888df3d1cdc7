"""automations: messages the panel sends by itself, and the campaigns they make

- ``automations``: one per automatic message (birthday, anniversary, occasion, win-back,
  welcome, after a purchase), with its text, time, audience and switch.
- ``campaigns.automation_id`` and ``campaigns.occurrence``: each day or occurrence an
  automation sends on becomes one campaign (unique per automation and occurrence).
  Added in place (ALTER TABLE … ADD COLUMN): copying ``campaigns`` as a batch would drop
  the old table, whose ON DELETE would empty the messages' campaign (see 0018).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 16:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def _columns(table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade():
    op.create_table(
        "automations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("send_time", sa.Time(), nullable=False),
        sa.Column("days_before", sa.SmallInteger(), nullable=False),
        sa.Column("days_after", sa.SmallInteger(), nullable=False),
        sa.Column("delay_minutes", sa.SmallInteger(), nullable=False),
        sa.Column("counts_from", sa.String(length=16), nullable=False),
        sa.Column("occasion_key", sa.String(length=64), nullable=True),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("sender", sa.String(length=32), nullable=True),
        sa.Column("coupon_prefix", sa.String(length=8), nullable=True),
        sa.Column("coupon_length", sa.SmallInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["provider_accounts.id"],
            name=op.f("fk_automations_provider_id_provider_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_automations_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automations")),
        sa.UniqueConstraint("name", name=op.f("uq_automations_name")),
    )
    sqlite = op.get_context().dialect.name == "sqlite"
    if sqlite and "automation_id" in _columns("campaigns"):
        pass  # left by this revision's downgrade (below)
    elif sqlite:
        # SQLite adds a column with its foreign key only written inline.
        op.execute(
            sa.text(
                "ALTER TABLE campaigns ADD COLUMN automation_id INTEGER"
                " CONSTRAINT fk_campaigns_automation_id_automations"
                " REFERENCES automations (id) ON DELETE SET NULL"
            )
        )
    else:
        op.add_column("campaigns", sa.Column("automation_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_campaigns_automation_id_automations"),
            "campaigns",
            "automations",
            ["automation_id"],
            ["id"],
            ondelete="SET NULL",
        )
    if "occurrence" not in _columns("campaigns"):
        op.add_column("campaigns", sa.Column("occurrence", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_campaigns_automation_id_occurrence",
        "campaigns",
        ["automation_id", "occurrence"],
        unique=True,
    )


def downgrade():
    op.drop_index("ix_campaigns_automation_id_occurrence", table_name="campaigns")
    if op.get_context().dialect.name == "sqlite":
        # SQLite drops a column only without its foreign key: copying the table would lose
        # the messages' campaign (see the note above); the two columns stay, unused.
        op.execute(sa.text("UPDATE campaigns SET automation_id = NULL, occurrence = NULL"))
    else:
        op.drop_column("campaigns", "occurrence")
        op.drop_column("campaigns", "automation_id")
    op.drop_table("automations")
