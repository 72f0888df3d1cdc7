"""holdout: a campaign or automation keeps a share of its audience unsent

``campaigns.holdout_percent`` and ``automations.holdout_percent`` (0 = none, at most 50):
the contacts a hash of contact and campaign puts below the share get a ``skipped``
message with the error ``holdout``, and the campaign's effect is their purchases against
the recipients'. Added in place (ALTER TABLE … ADD COLUMN … NOT NULL DEFAULT 0): copying
``campaigns`` as a batch would drop the old table, whose ON DELETE would empty the
messages' campaign (see 0018 and 0020).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-01 17:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

TABLES = ("campaigns", "automations")


def upgrade():
    for table in TABLES:
        op.add_column(
            table,
            sa.Column("holdout_percent", sa.SmallInteger(), nullable=False, server_default="0"),
        )


def downgrade():
    for table in TABLES:
        # SQLite (3.35 and later) drops a column without a key or index in place too.
        op.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN holdout_percent"))
