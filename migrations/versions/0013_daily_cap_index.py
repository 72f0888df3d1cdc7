"""daily cap index: today's handed-over marketing messages are counted from an index

The daily cap (app/sending/policy.py: marketing_allowance) counts the marketing messages
handed over since Tehran midnight before every claim. Without an index that count reads
the whole outbox (ten million rows at a big shop); with ``(marketing, handed_over_at)``
it reads only today's range of the index. Partial (``handed_over_at IS NOT NULL``): queued
messages, most of a big campaign, stay out of it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 09:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_messages_marketing_handed_over_at",
        "messages",
        ["marketing", "handed_over_at"],
        unique=False,
        sqlite_where=sa.text("handed_over_at IS NOT NULL"),
        postgresql_where=sa.text("handed_over_at IS NOT NULL"),
    )


def downgrade():
    op.drop_index("ix_messages_marketing_handed_over_at", table_name="messages")
