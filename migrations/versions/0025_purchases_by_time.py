"""purchases by time: the retention report reads ranges of purchases by when they were made

A customer counts at a day when a purchase of theirs falls in the 180 days up to it; the
report counts the distinct buyers of such a window, and the orders and revenue of its
period, for every report shown. ``(purchased_at, contact_id, amount)`` answers each of these
from one range of the index, without reading the purchases table (1,000,000 purchases:
bench/retention.py).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01 16:30:00

"""

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_purchases_purchased_at_contact_id_amount",
        "purchases",
        ["purchased_at", "contact_id", "amount"],
        unique=False,
    )


def downgrade():
    op.drop_index("ix_purchases_purchased_at_contact_id_amount", table_name="purchases")
