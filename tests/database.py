"""The test databases: PostgreSQL databases made beside the test server's own (one per
parallel process, tests/conftest.py; an old install, tests/integration/test_migrations.py),
and the database emptied between tests, by the `app` fixture and the browser's live
server (tests/browser/conftest.py)."""

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.extensions import db

# PostgreSQL's tables that hold anything, even rows deleted since: a test touches few.
_WRITTEN_TABLES = text(
    "SELECT relname FROM pg_class WHERE relkind = 'r'"
    " AND relnamespace = 'public'::regnamespace AND pg_relation_size(oid) > 0"
)
_FIRST_IDS = text("SELECT setval(oid, 1, false) FROM pg_class WHERE relkind = 'S'")


def create_database(server_url: str, name: str) -> str:
    """A new empty database ``name`` on the PostgreSQL server of ``server_url`` (one left
    by an earlier run is dropped first); its URL."""
    url = make_url(server_url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    admin = create_engine(make_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


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
