"""delivery log indexes: each filter of the log reads a page as a range of one index

The delivery log is read newest first and keyset-paged on ``(created_at, id)``. Each of
its filters (none, a date range, a status off the way to delivery, a campaign, a campaign
and a status, a provider account, a number or its last digits) gets an index that starts
with the filter's column and ends with those two, so the first page and the thousandth are both a range read of 51 entries at
ten million messages, with no sort (bench/log.py prints the figures and plans).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01 17:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

# A copy of app.sending.models.LOG_SPARSE_WHERE as this revision wrote it: the statuses
# off the way to delivery, the only ones a status-only page needs an index for. The way
# itself (queued → sending → sent → delivered) is the sending engine's hot path: an
# index of every status would be written at each step (about 10 µs a message more).
SPARSE = (
    "status IN ('held', 'unknown', 'failed', 'undeliverable', 'blacklisted', 'expired',"
    " 'rejected', 'skipped', 'cancelled')"
)
INDEXES = {
    "ix_messages_created_at_id": ["created_at", "id"],
    "ix_messages_campaign_id_created_at_id": ["campaign_id", "created_at", "id"],
    "ix_messages_provider_id_created_at_id": ["provider_id", "created_at", "id"],
    "ix_messages_mobile_created_at_id": ["mobile", "created_at", "id"],
    # The last four digits of the number (+98912123|4567), for "the one ending in 4567".
    "ix_messages_mobile_tail_created_at_id": [sa.text("substr(mobile, 10)"), "created_at", "id"],
}


# Served by the longer one above, which starts with the same column.
SUPERSEDED = {"ix_messages_mobile": ["mobile"]}
# Partial: a status on its own, or in a campaign.
SPARSE_INDEXES = {
    "ix_messages_status_created_at_id": ["status", "created_at", "id"],
    "ix_messages_campaign_id_status_created_at_id": ["campaign_id", "status", "created_at", "id"],
}


def upgrade():
    for name, columns in INDEXES.items():
        op.create_index(name, "messages", columns, unique=False)
    for name, columns in SPARSE_INDEXES.items():
        op.create_index(
            name,
            "messages",
            columns,
            sqlite_where=sa.text(SPARSE),
            postgresql_where=sa.text(SPARSE),
        )
    for name in SUPERSEDED:
        op.drop_index(name, table_name="messages")


def downgrade():
    for name, columns in SUPERSEDED.items():
        op.create_index(name, "messages", columns, unique=False)
    for name in SPARSE_INDEXES:
        op.drop_index(name, table_name="messages")
    for name in INDEXES:
        op.drop_index(name, table_name="messages")
