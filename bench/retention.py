"""Benchmark: the retention report and its cohorts over 100,000 contacts and 1,000,000 purchases.

    .venv/bin/python bench/retention.py [--contacts 100000] [--purchases 1000000] [--runs 3]
    tests/with-postgres.sh sh -c \\
      'VAFA_BENCH_DATABASE_URL=$VAFA_TEST_DATABASE_URL .venv/bin/python bench/retention.py'

Builds a database by the migrations (SQLite in a temporary folder, or the empty PostgreSQL
database VAFA_BENCH_DATABASE_URL names; its tables are dropped first): ``--contacts``
contacts and ``--purchases`` purchases over three years, a few customers buying often and
most rarely, more of them lately; each contact's first and last purchase kept as recording
purchases keeps them. Then times what the page computes for each preset period — the report
(five queries) and the twelve cohorts — ``--runs`` times, and prints each time in seconds.
Last, the same without the index of migration 0025, to show what it is for.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.persian import to_tehran  # noqa: E402
from app.reports import retention  # noqa: E402

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 1405/09/10, 12:30 in Tehran
INDEX = "ix_purchases_purchased_at_contact_id_amount"


def purchase_rows(contacts: int, purchases: int, sqlite: bool, seed: int = 1405):
    """Purchases 1…purchases: whose is skewed (a few customers buy often), when is anywhere
    in three years with more of them lately, amounts from 50,000 to 10,000,000 Rials."""
    rng = random.Random(seed)

    def moment(value: datetime):
        # SQLite keeps the UTC wall clock as text, the way app.types.UTCDateTime writes it.
        return value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else value

    for index in range(purchases):
        contact = min(int(contacts * rng.random() ** 1.6) + 1, contacts)
        ago = min(rng.expovariate(1 / 300), 1095)
        at = moment(NOW - timedelta(days=ago))
        yield (index + 1, contact, at, rng.randrange(1, 200) * 50_000, at)


def build(url: str, contacts: int, purchases: int) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        connection = db.session.connection()
        sqlite = connection.dialect.name == "sqlite"
        if not sqlite:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        upgrade(directory=str(ROOT / "migrations"))
        started = time.perf_counter()
        connection = db.session.connection()
        cursor = connection.connection.driver_connection.cursor()
        created = NOW - timedelta(days=1200)
        created = created.replace(tzinfo=None).isoformat(" ") if sqlite else created
        contact_rows = (
            (n, f"+98912{n:07d}", "", "", "", "{}", "import", 0, 0, created)
            for n in range(1, contacts + 1)
        )
        contact_columns = (
            "id, mobile, first_name, last_name, city, fields, source, purchase_count,"
            " total_spent, created_at"
        )
        purchase_columns = "id, contact_id, purchased_at, amount, created_at"
        if sqlite:
            for table, columns, rows in (
                ("contacts", contact_columns, contact_rows),
                ("purchases", purchase_columns, purchase_rows(contacts, purchases, True)),
            ):
                marks = ", ".join("?" * len(columns.split(",")))
                while batch := [row for _, row in zip(range(50_000), rows, strict=False)]:
                    cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", batch)
        else:
            with cursor.copy(f"COPY contacts ({contact_columns}) FROM STDIN") as copy:
                for row in contact_rows:
                    copy.write_row(row)
            with cursor.copy(f"COPY purchases ({purchase_columns}) FROM STDIN") as copy:
                for row in purchase_rows(contacts, purchases, False):
                    copy.write_row(row)
        # Each contact's totals, as app.contacts.service.refresh_purchase_totals keeps them.
        db.session.execute(
            text(
                "UPDATE contacts SET"
                " first_purchase_at = (SELECT min(purchased_at) FROM purchases p"
                "   WHERE p.contact_id = contacts.id),"
                " last_purchase_at = (SELECT max(purchased_at) FROM purchases p"
                "   WHERE p.contact_id = contacts.id),"
                " purchase_count = (SELECT count(*) FROM purchases p"
                "   WHERE p.contact_id = contacts.id)"
            )
        )
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE" if sqlite else "VACUUM ANALYZE"))
        print(
            f"{contacts:,} contacts and {purchases:,} purchases built in"
            f" {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        db.session.remove()
        db.engine.dispose()


def timed(work, runs: int) -> tuple[float, list[float]]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), seconds


def bench_periods(runs: int, label: str) -> None:
    today = to_tehran(NOW).date()
    for preset in retention.PRESETS:
        period = retention.preset_period(preset, today)
        report = retention.retention_report(period)
        median, report_runs = timed(lambda p=period: retention.retention_report(p), runs)
        cohort_median, cohort_runs = timed(lambda p=period: retention.cohorts(p.end), runs)
        print(
            f"{label} {preset:<14} {period.days:>3} days: report {median:.3f} s"
            f" (runs {', '.join(f'{s:.3f}' for s in report_runs)}),"
            f" cohorts {cohort_median:.3f} s"
            f" (runs {', '.join(f'{s:.3f}' for s in cohort_runs)})"
            f" | S {report.customers_start:,} E {report.customers_end:,}"
            f" N {report.new_customers:,} orders {report.orders:,}",
            flush=True,
        )


def bench(url: str, runs: int) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        print(f"database: {db.engine.dialect.name}", flush=True)
        bench_periods(runs, "with index   ")
        db.session.execute(text(f"DROP INDEX {INDEX}"))
        db.session.commit()
        bench_periods(1, "without index")
        db.session.execute(
            text(f"CREATE INDEX {INDEX} ON purchases (purchased_at, contact_id, amount)")
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--purchases", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--keep", metavar="FILE", help="SQLite: build into FILE once, and reuse it next time"
    )
    args = parser.parse_args()
    url = os.environ.get("VAFA_BENCH_DATABASE_URL")
    if args.keep and not url:
        url = f"sqlite:///{Path(args.keep).resolve()}"
        if not Path(args.keep).exists():
            build(url, args.contacts, args.purchases)
        bench(url, args.runs)
        return
    with tempfile.TemporaryDirectory() as folder:
        url = url or f"sqlite:///{Path(folder) / 'bench.db'}"
        build(url, args.contacts, args.purchases)
        bench(url, args.runs)


if __name__ == "__main__":
    main()
