"""The test database emptied between tests, by the `app` fixture (tests/conftest.py) and
the browser's live server (tests/browser/conftest.py)."""

from sqlalchemy import text

from app.extensions import db

# PostgreSQL's tables that hold anything, even rows deleted since: a test touches few.
_WRITTEN_TABLES = text(
    "SELECT relname FROM pg_class WHERE relkind = 'r'"
    " AND relnamespace = 'public'::regnamespace AND pg_relation_size(oid) > 0"
)
_FIRST_IDS = text("SELECT setval(oid, 1, false) FROM pg_class WHERE relkind = 'S'")


def empty_database() -> None:
    """Delete every row, and start ids again from 1 so each test sees the same numbering
    on both databases (but for SQLite's AUTOINCREMENT tables, ``processes``, whose ids
    are never used again).

    On PostgreSQL the tables a test wrote to are truncated. Deleted rows would stay in
    the tables' files (the test server runs no autovacuum), and the planner would see the
    tables grow test after test; truncating all of them every time costs more than many a
    test."""
    db.session.remove()
    with db.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())
            return
        written = set(connection.scalars(_WRITTEN_TABLES))
        names = [table.name for table in db.metadata.sorted_tables if table.name in written]
        if names:
            connection.execute(text(f"TRUNCATE {', '.join(names)} CASCADE"))
        connection.execute(_FIRST_IDS)
