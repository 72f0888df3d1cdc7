"""worker leases: claims belong to a live process; handed-over messages are marked

Each worker and scheduler process holds a row in ``processes`` that it renews every few
seconds. A message claimed by a worker carries the worker's id (``worker_id``, replacing
``claimed_at``) and, once its request is about to leave, ``handed_over_at``. When a
lease expires, the messages its worker never handed over go back to the queue and only
the handed-over, unanswered ones become ``unknown``. A provider account records when it
started failing and why, for the campaign side to pause its campaigns.

Messages claimed under the old scheme (``sending`` without a worker) may have left, so
they become ``unknown`` as the old claim timeout would have made them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 08:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "processes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processes")),
        # Lease ids are never reused: see app/sending/models.py.
        sqlite_autoincrement=True,
    )
    op.execute(
        "UPDATE messages SET status = 'unknown', error = 'dispatcher_stopped' "
        "WHERE status = 'sending'"
    )
    # Plain ALTER TABLE (SQLite has dropped columns since 3.35): a batch copy of the
    # messages table would take minutes on a large outbox.
    op.add_column("messages", sa.Column("worker_id", sa.Integer(), nullable=True))
    op.add_column("messages", sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_column("messages", "claimed_at")
    op.add_column(
        "provider_accounts", sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("provider_accounts", sa.Column("last_error_detail", sa.Text(), nullable=True))


def downgrade():
    op.drop_column("provider_accounts", "last_error_detail")
    op.drop_column("provider_accounts", "failing_since")
    op.add_column("messages", sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_column("messages", "handed_over_at")
    op.drop_column("messages", "worker_id")
    op.drop_table("processes")
