"""sealed provider secrets: API keys and passwords encrypted at rest

Keys and passwords of provider accounts were stored as typed. They are now Fernet
tokens (``fernet:…``, see app/crypto.py) under a key derived from VAFA_ENCRYPTION_KEY
or the app's secret key, so this revision encrypts the rows already there; a token is
longer than the key it holds, so on PostgreSQL the columns become text (SQLite does
not enforce a varchar's length). The downgrade decrypts them again.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 05:00:00

"""

import sqlalchemy as sa
from alembic import op
from flask import current_app

from app.crypto import is_sealed, seal, unseal

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

SECRETS = ("api_key", "password")


def _rewrite(change) -> None:
    """Apply ``change`` to every non-empty secret of every account."""
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, api_key, password FROM provider_accounts"))
    for row in rows.all():
        values = {name: change(getattr(row, name)) for name in SECRETS}
        values = {name: value for name, value in values.items() if value is not None}
        if values:
            assignments = ", ".join(f"{name} = :{name}" for name in values)
            connection.execute(
                sa.text(f"UPDATE provider_accounts SET {assignments} WHERE id = :id"),
                {"id": row.id, **values},
            )


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name in SECRETS:
            op.alter_column("provider_accounts", name, type_=sa.Text(), existing_nullable=False)
    config = current_app.config
    _rewrite(lambda value: seal(value, config) if value and not is_sealed(value) else None)


def downgrade():
    config = current_app.config
    _rewrite(lambda value: unseal(value, config) if is_sealed(value) else None)
    if op.get_bind().dialect.name == "postgresql":
        for name in SECRETS:
            op.alter_column(
                "provider_accounts", name, type_=sa.String(length=500), existing_nullable=False
            )
