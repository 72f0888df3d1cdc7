"""contact search indexes: names by prefix in any case, numbers by their last digits

The contacts page searches a name by its start (first name, last name or full name,
Latin letters in any case) and a number by its start or its last digits, and lists
opted-out contacts, at a million contacts. Each needs an index on an expression:

- lower(first_name || ' ' || last_name) and lower(last_name): on PostgreSQL in the "C"
  collation, so a prefix is an index range whatever the database's locale and lower()
  folds ASCII letters only, as SQLite's does;
- substr(mobile, 10): the last four digits of the stored +98 number;
- id of opted-out contacts only (a partial index): few, listed newest first.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 10:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def _folded(expression: str) -> str:
    if op.get_bind().dialect.name == "postgresql":
        return f'lower(({expression}) COLLATE "C")'
    return f"lower({expression})"


def upgrade():
    op.create_index(
        "ix_contacts_name_key", "contacts", [sa.text(_folded("first_name || ' ' || last_name"))]
    )
    op.create_index("ix_contacts_last_name_key", "contacts", [sa.text(_folded("last_name"))])
    op.create_index("ix_contacts_mobile_tail", "contacts", [sa.text("substr(mobile, 10)")])
    op.create_index(
        "ix_contacts_opted_out",
        "contacts",
        ["id"],
        sqlite_where=sa.text("opted_out_at IS NOT NULL"),
        postgresql_where=sa.text("opted_out_at IS NOT NULL"),
    )


def downgrade():
    op.drop_index("ix_contacts_opted_out", table_name="contacts")
    op.drop_index("ix_contacts_mobile_tail", table_name="contacts")
    op.drop_index("ix_contacts_last_name_key", table_name="contacts")
    op.drop_index("ix_contacts_name_key", table_name="contacts")
