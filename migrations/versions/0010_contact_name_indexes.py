"""contact name indexes: the plain first_name and last_name indexes go

Nothing looks contacts up or sorts them by the plain name columns: the contacts page
and the API search names through the folded keys of 0006 (ix_contacts_name_key,
ix_contacts_last_name_key), and lists are ordered by id. The two plain indexes were
only written: every imported contact paid for two more B-trees.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 06:00:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_contacts_last_name", table_name="contacts")
    op.drop_index("ix_contacts_first_name", table_name="contacts")


def downgrade():
    op.create_index("ix_contacts_first_name", "contacts", ["first_name"], unique=False)
    op.create_index("ix_contacts_last_name", "contacts", ["last_name"], unique=False)
