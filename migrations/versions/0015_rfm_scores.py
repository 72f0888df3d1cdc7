"""rfm scores: each buyer's recency, frequency and monetary quintiles and named group

``contact_scores`` holds one row per contact who ever bought, brought up to date by each
scoring (app/audience/rfm.py); ``rfm_runs`` remembers each scoring, so the nightly job
runs once a night even when no one has bought yet.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 13:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "contact_scores",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("recency", sa.SmallInteger(), nullable=False),
        sa.Column("frequency", sa.SmallInteger(), nullable=False),
        sa.Column("monetary", sa.SmallInteger(), nullable=False),
        sa.Column("rfm_group", sa.String(length=32), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_scores_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_contact_scores")),
    )
    op.create_index("ix_contact_scores_rfm_group", "contact_scores", ["rfm_group"], unique=False)
    op.create_table(
        "rfm_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scored", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rfm_runs")),
    )
    op.create_index(op.f("ix_rfm_runs_scored_at"), "rfm_runs", ["scored_at"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_rfm_runs_scored_at"), table_name="rfm_runs")
    op.drop_table("rfm_runs")
    op.drop_index("ix_contact_scores_rfm_group", table_name="contact_scores")
    op.drop_table("contact_scores")
