"""list member counts kept by the database; a campaign keeps its list's name; providers
remember when they were last checked

- ``contact_lists.member_count``: the lists page read every membership row to count them
  (a million at a million contacts). Triggers on ``list_members`` keep the count, so
  every way a membership comes or goes — a form, an import, the API, a deleted contact
  (ON DELETE CASCADE) — counts, without each writer having to remember it. PostgreSQL
  counts once per statement (transition tables), so an import's batch of 2,000 rows
  updates each list once; SQLite has only row triggers.
- ``campaigns.list_name``: the name of the list a campaign went to, so its page still
  says which list it was after the list is deleted (the foreign key sets ``list_id`` to
  NULL).
- ``provider_accounts.checked_at``: when a connection test last ran, so a new account
  reads "not tested yet" instead of "OK".

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 08:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = (
    """CREATE TRIGGER list_members_added AFTER INSERT ON list_members BEGIN
    UPDATE contact_lists SET member_count = member_count + 1 WHERE id = NEW.list_id;
END""",
    """CREATE TRIGGER list_members_removed AFTER DELETE ON list_members BEGIN
    UPDATE contact_lists SET member_count = member_count - 1 WHERE id = OLD.list_id;
END""",
)
POSTGRESQL_TRIGGERS = (
    """CREATE FUNCTION list_members_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE contact_lists SET member_count = member_count + added.n
    FROM (SELECT list_id, count(*) AS n FROM added_rows GROUP BY list_id) AS added
    WHERE contact_lists.id = added.list_id;
    RETURN NULL;
END $$""",
    """CREATE FUNCTION list_members_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE contact_lists SET member_count = member_count - removed.n
    FROM (SELECT list_id, count(*) AS n FROM removed_rows GROUP BY list_id) AS removed
    WHERE contact_lists.id = removed.list_id;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER list_members_added AFTER INSERT ON list_members
    REFERENCING NEW TABLE AS added_rows FOR EACH STATEMENT
    EXECUTE FUNCTION list_members_added()""",
    """CREATE TRIGGER list_members_removed AFTER DELETE ON list_members
    REFERENCING OLD TABLE AS removed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION list_members_removed()""",
)


def upgrade():
    with op.batch_alter_table("contact_lists", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("member_count", sa.Integer(), nullable=False, server_default="0")
        )
    op.execute(
        sa.text(
            "UPDATE contact_lists SET member_count ="
            " (SELECT count(*) FROM list_members WHERE list_members.list_id = contact_lists.id)"
        )
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_TRIGGERS if sqlite else POSTGRESQL_TRIGGERS:
        op.execute(sa.text(statement))

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("list_name", sa.String(length=100), nullable=True))
    op.execute(
        sa.text(
            "UPDATE campaigns SET list_name ="
            " (SELECT name FROM contact_lists WHERE contact_lists.id = campaigns.list_id)"
        )
    )

    with op.batch_alter_table("provider_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): a batch copy of campaigns or
    # contact_lists would drop the old table, and ON DELETE would empty the rows that
    # point at it (messages' campaign, list memberships).
    op.drop_column("provider_accounts", "checked_at")
    op.drop_column("campaigns", "list_name")
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in ("list_members_removed", "list_members_added"):
        op.execute(sa.text(f"DROP TRIGGER {name}" + (" ON list_members" if postgresql else "")))
        if postgresql:
            op.execute(sa.text(f"DROP FUNCTION {name}()"))
    op.drop_column("contact_lists", "member_count")
