"""Benchmark: the lists page at a million contacts in ten lists.

    .venv/bin/python bench/lists.py [--contacts 1000000] [--lists 10] [--runs 7]
    tests/with-postgres.sh sh -c \\
      'VAFA_BENCH_DATABASE_URL=$VAFA_TEST_DATABASE_URL .venv/bin/python bench/lists.py'

Builds a database by the migrations (SQLite in a temporary folder, or the empty
PostgreSQL database VAFA_BENCH_DATABASE_URL names; its tables are dropped first) with
the contacts of bench/contacts_pages.py, each a member of one of ``--lists`` lists (so
as many memberships as contacts), then times the lists page — every list with its
member count — through the Flask test client, logged in, and prints the median of
``--runs`` requests in milliseconds, and the plan of the query that counts the members.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from contacts_pages import COLUMNS, START, contact_rows  # noqa: E402

from app import create_app  # noqa: E402
from app.auth.service import create_user  # noqa: E402
from app.contacts.service import all_lists  # noqa: E402
from app.extensions import db  # noqa: E402


def build(url: str, count: int, lists: int) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        connection = db.session.connection()
        if connection.dialect.name == "postgresql":
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        upgrade(directory=str(ROOT / "migrations"))
        create_user("bench@example.com", "bench password", "owner")
        db.session.commit()
        started = time.perf_counter()
        connection = db.session.connection()
        raw = connection.connection.driver_connection
        cursor = raw.cursor()
        db.session.execute(
            text("INSERT INTO contact_lists (id, name, created_at) VALUES (:id, :name, :at)"),
            [{"id": n, "name": f"گروه {n}", "at": START} for n in range(1, lists + 1)],
        )
        if connection.dialect.name == "sqlite":
            rows = contact_rows(count)
            marks = ", ".join("?" * len(COLUMNS.split(",")))
            while batch := [row for _, row in zip(range(50_000), rows, strict=False)]:
                cursor.executemany(f"INSERT INTO contacts ({COLUMNS}) VALUES ({marks})", batch)
                cursor.executemany(
                    "INSERT INTO list_members (list_id, contact_id) VALUES (?, ?)",
                    [(row[0] % lists + 1, row[0]) for row in batch],
                )
        else:
            with cursor.copy(f"COPY contacts ({COLUMNS}) FROM STDIN") as copy:
                for row in contact_rows(count):
                    copy.write_row(row)
            with cursor.copy("COPY list_members (list_id, contact_id) FROM STDIN") as copy:
                for contact_id in range(1, count + 1):
                    copy.write_row((contact_id % lists + 1, contact_id))
            cursor.execute("SELECT setval('contacts_id_seq', %s)", (count,))
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            sqlite = connection.dialect.name == "sqlite"
            connection.execute(text("ANALYZE" if sqlite else "VACUUM ANALYZE"))
        seconds = time.perf_counter() - started
        print(f"{count:,} contacts in {lists} lists, built in {seconds:.1f} s")
        db.session.remove()
        db.engine.dispose()


def plan(url: str) -> None:
    """The database's plan of the member count (the query all_lists runs)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        statements = []

        def keep(_conn, _cursor, statement, parameters, _context, _many):
            statements.append((statement, parameters))

        from sqlalchemy import event

        event.listen(db.engine, "before_cursor_execute", keep)
        all_lists()
        event.remove(db.engine, "before_cursor_execute", keep)
        statement, parameters = statements[-1]
        sqlite = db.engine.dialect.name == "sqlite"
        explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, COSTS OFF) "
        raw = db.session.connection().connection.driver_connection.cursor()
        raw.execute(explain + statement, parameters)
        print("\nplan of the member count:")
        for row in raw.fetchall():
            print("  ", row[-1])
        db.session.remove()
        db.engine.dispose()


def time_page(url: str, runs: int) -> None:
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False}
    )
    client = app.test_client()
    response = client.post(
        "/login", data={"email": "bench@example.com", "password": "bench password"}
    )
    assert response.status_code == 302, response.status_code
    response = client.get("/contacts/lists")  # warm-up (and a check)
    assert response.status_code == 200, response.status_code
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get("/contacts/lists")
        times.append((time.perf_counter() - started) * 1000)
    dialect = url.split(":")[0]
    print(f"\nlists page, {dialect}: median of {runs} requests {statistics.median(times):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--lists", type=int, default=10)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--keep", help="build the SQLite database at this path and keep it")
    parser.add_argument("--reuse", action="store_true", help="use --keep's database as it is")
    args = parser.parse_args()
    url = os.environ.get("VAFA_BENCH_DATABASE_URL")
    if not url:
        folder = tempfile.mkdtemp(prefix="vafa-bench-")
        path = Path(args.keep) if args.keep else Path(folder) / "lists.db"
        url = f"sqlite:///{path}"
    if not args.reuse:
        build(url, args.contacts, args.lists)
    plan(url)
    time_page(url, args.runs)


if __name__ == "__main__":
    main()
