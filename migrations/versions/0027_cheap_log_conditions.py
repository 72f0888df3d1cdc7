"""cheap log conditions: the delivery log's partial indexes name the statuses they leave out

Their condition was ``status IN (<the nine statuses off the way to delivery>)``; it is now
``status != 'queued' AND status != 'sending' AND status != 'sent' AND status !=
'delivered'``, the same rows. SQLite checks a partial index's condition for every row a
statement writes, and a list costs it about 4 µs a row: the sending engine changes each
message's status twice on its way (claimed, accepted), through both indexes. The log's
query repeats the new condition (app.sending.models.off_the_way).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-01 20:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

# Copies of the conditions as the revisions wrote them (0024's, and this one's).
LISTED = (
    "status IN ('held', 'unknown', 'failed', 'undeliverable', 'blacklisted', 'expired',"
    " 'rejected', 'skipped', 'cancelled')"
)
UNEQUAL = (
    "status != 'queued' AND status != 'sending' AND status != 'sent' AND status != 'delivered'"
)
SPARSE_INDEXES = {
    "ix_messages_status_created_at_id": ["status", "created_at", "id"],
    "ix_messages_campaign_id_status_created_at_id": ["campaign_id", "status", "created_at", "id"],
}


def _recreate(condition: str) -> None:
    for name, columns in SPARSE_INDEXES.items():
        op.drop_index(name, table_name="messages")
        op.create_index(
            name,
            "messages",
            columns,
            sqlite_where=sa.text(condition),
            postgresql_where=sa.text(condition),
        )


def upgrade():
    _recreate(UNEQUAL)


def downgrade():
    _recreate(LISTED)
