"""campaigns say whether they go to everyone, so a deleted list never means everyone

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 14:05:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("to_everyone", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # Until now a campaign without a list went to everyone.
    op.execute(sa.text("UPDATE campaigns SET to_everyone = (list_id IS NULL)"))


def downgrade():
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("to_everyone")
