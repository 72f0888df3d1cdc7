"""automation engine: the scheduler's jobs kept in the app's database; trigger indexes

- ``scheduler_jobs`` is the table of APScheduler's SQLAlchemyJobStore (app.jobs): the
  automations' job and the others are stored there, each a textual reference.
- ``ix_purchases_purchased_at``: a follow-up reads the purchases of one Tehran day (a
  range of the moment).

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-01 16:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "scheduler_jobs",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduler_jobs")),
    )
    op.create_index(
        op.f("ix_scheduler_jobs_next_run_time"), "scheduler_jobs", ["next_run_time"], unique=False
    )
    op.create_index("ix_purchases_purchased_at", "purchases", ["purchased_at"])


def downgrade():
    op.drop_index("ix_purchases_purchased_at", table_name="purchases")
    op.drop_index(op.f("ix_scheduler_jobs_next_run_time"), table_name="scheduler_jobs")
    op.drop_table("scheduler_jobs")
