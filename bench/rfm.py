"""Benchmark: scoring a million contacts (RFM quintiles and groups) in the database.

    .venv/bin/python bench/rfm.py [--contacts 1000000] [--runs 3]
    tests/with-postgres.sh sh -c \\
      'VAFA_BENCH_DATABASE_URL=$VAFA_TEST_DATABASE_URL .venv/bin/python bench/rfm.py'

Builds a database by the migrations (SQLite in a temporary folder, or the empty
PostgreSQL database VAFA_BENCH_DATABASE_URL names; its tables are dropped first) with
``--contacts`` contacts, seven in ten of whom have bought: mostly once, some often, the
last purchase anywhere in three years (more of them recent), then times
``score_contacts`` — compute every score, write it over the old one, commit — and prints
each run's seconds and the groups' sizes. The first run writes every row anew; the next
ones, like each night's, write over rows already there.
"""

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.audience.models_rfm import ContactScore  # noqa: E402
from app.audience.rfm import group_counts, score_contacts  # noqa: E402
from app.extensions import db  # noqa: E402

NOW = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
COLUMNS = (
    "id, mobile, first_name, last_name, city, fields, source, first_purchase_at, "
    "last_purchase_at, purchase_count, total_spent, created_at"
)


def contact_rows(count: int, sqlite: bool, seed: int = 1405):
    """Contacts 1…count; 70% bought, purchase counts and sums skewed as in a real shop."""
    rng = random.Random(seed)
    numbers = rng.sample(range(10**9), count)
    created = NOW - timedelta(days=1200)

    def moment(value: datetime):
        # SQLite keeps the UTC wall clock as text, the way app.types.UTCDateTime writes it.
        return value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else value

    for index in range(count):
        first = last = None
        purchases = spent = 0
        if rng.random() < 0.7:
            purchases = min(int(rng.expovariate(0.45)) + 1, 200)
            spent = sum(rng.randrange(1, 200) * 50_000 for _ in range(min(purchases, 20)))
            ago = min(rng.expovariate(1 / 200), 1095)  # days since the last purchase
            last = NOW - timedelta(days=ago, seconds=rng.randrange(86400))
            first = last - timedelta(days=rng.randrange(0, 700) if purchases > 1 else 0)
        yield (
            index + 1,
            f"+989{numbers[index]:09d}",
            "",
            "",
            "",
            "{}",
            "import",
            moment(first) if first else None,
            moment(last) if last else None,
            purchases,
            spent,
            moment(created),
        )


def build(url: str, count: int) -> None:
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
        rows = contact_rows(count, sqlite)
        if sqlite:
            marks = ", ".join("?" * len(COLUMNS.split(",")))
            while batch := [row for _, row in zip(range(50_000), rows, strict=False)]:
                cursor.executemany(f"INSERT INTO contacts ({COLUMNS}) VALUES ({marks})", batch)
        else:
            with cursor.copy(f"COPY contacts ({COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute("SELECT setval('contacts_id_seq', %s)", (count,))
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE" if sqlite else "VACUUM ANALYZE"))
        print(f"{count:,} contacts built in {time.perf_counter() - started:.1f} s", flush=True)
        db.session.remove()
        db.engine.dispose()


def timed_scoring(label: str, now: datetime) -> None:
    started, cpu = time.perf_counter(), time.process_time()
    scored = score_contacts(now)
    db.session.commit()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    changed = db.session.scalar(
        select(func.count()).select_from(ContactScore).where(ContactScore.scored_at == now)
    )
    # SQLite works in this process: its CPU time says what the scoring costs on a machine
    # that others share. The load average says how shared it was.
    print(
        f"{label}: scored {scored:,} contacts in {seconds:.2f} s ({changed:,} rows written;"
        f" this process's CPU {cpu:.2f} s; load average {os.getloadavg()[0]:.1f})",
        flush=True,
    )


def bench(url: str, runs: int) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        print(f"database: {db.engine.dialect.name}", flush=True)
        for run in range(1, runs + 1):
            timed_scoring(f"run {run}", NOW + timedelta(minutes=run))
        # A night later: one contact in a hundred bought again (or for the first time).
        tomorrow = NOW + timedelta(days=1)
        sqlite = db.engine.dialect.name == "sqlite"
        db.session.execute(
            text(
                "UPDATE contacts SET last_purchase_at = :at, purchase_count = purchase_count + 1,"
                " total_spent = total_spent + 2500000,"
                " first_purchase_at = coalesce(first_purchase_at, :at) WHERE id % 100 = 7"
            ),
            {"at": tomorrow.replace(tzinfo=None) if sqlite else tomorrow},
        )
        db.session.commit()
        timed_scoring("a night later, 1% bought", tomorrow)
        for group in group_counts():
            print(f"  {group.key:<20} {group.count:>9,} {group.share:5.1f}%")
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    url = os.environ.get("VAFA_BENCH_DATABASE_URL")
    with tempfile.TemporaryDirectory() as folder:
        url = url or f"sqlite:///{Path(folder) / 'bench.db'}"
        build(url, args.contacts)
        bench(url, args.runs)


if __name__ == "__main__":
    main()
