"""Benchmark: campaign audiences (lists, tags, excluded lists) at a million contacts.

    .venv/bin/python bench/audience.py [--contacts 1000000] [--runs 5]
    tests/with-postgres.sh sh -c \\
      'VAFA_BENCH_DATABASE_URL=$VAFA_TEST_DATABASE_URL .venv/bin/python bench/audience.py'

Builds the database of bench/lists.py (every contact in one of ten lists), adds a small
list (1,000 contacts spread over the whole table) and two tags (every third contact;
500 contacts), then for each audience prints:

- count: the median time of ``audience_size`` (what the estimate and the campaigns
  page count; the IN shape of app.messaging.audience);
- walk: the time to read the whole audience the way materialise does, in id order, a
  window of 10,000 ids at a time (each part of the condition bounded to the window),
  and, beside it, chunks of 10,000 contacts after the last one read without bounds
  inside the condition, which read every chosen membership again for every chunk;
- the plans of the count and of one window.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import bindparam, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lists import build  # noqa: E402

from app import create_app  # noqa: E402
from app.contacts.models import Contact  # noqa: E402
from app.extensions import db  # noqa: E402
from app.messaging import service as campaigns  # noqa: E402
from app.messaging.audience import AudienceChoice  # noqa: E402

LISTS = 10
SMALL_LIST = LISTS + 1
COMMON_TAG, RARE_TAG = 1, 2


def add_small_list_and_tags(url: str, count: int) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        db.session.execute(
            text("INSERT INTO contact_lists (id, name, created_at) VALUES (:id, 'کوچک', :at)"),
            {"id": SMALL_LIST, "at": "2026-01-01"},
        )
        db.session.execute(
            text("INSERT INTO tags (id, name) VALUES (:a, 'ویژه'), (:b, 'نادر')"),
            {"a": COMMON_TAG, "b": RARE_TAG},
        )
        small = [{"list": SMALL_LIST, "id": i} for i in range(7, count + 1, count // 1000)]
        db.session.execute(
            text("INSERT INTO list_members (list_id, contact_id) VALUES (:list, :id)"), small
        )
        tagged = [{"tag": COMMON_TAG, "id": i} for i in range(3, count + 1, 3)]
        tagged += [{"tag": RARE_TAG, "id": i} for i in range(11, count + 1, count // 500)]
        db.session.execute(
            text("INSERT INTO contact_tags (tag_id, contact_id) VALUES (:tag, :id)"), tagged
        )
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            sqlite = connection.dialect.name == "sqlite"
            connection.execute(text("ANALYZE" if sqlite else "VACUUM ANALYZE"))
        db.session.remove()
        db.engine.dispose()


AUDIENCES = {
    "small list (1,000)": AudienceChoice(lists=(SMALL_LIST,)),
    "rare tag + small list": AudienceChoice(lists=(SMALL_LIST,), tags=(RARE_TAG,)),
    "2 lists + tag − list": AudienceChoice(lists=(1, 2), tags=(COMMON_TAG,), exclude_lists=(3,)),
    "everyone − list": AudienceChoice(everyone=True, exclude_lists=(1,)),
}


def walk(choice: AudienceChoice, windows: bool) -> tuple[float, int]:
    """Read the audience as materialise does (or, ``windows`` False, without bounds
    inside the condition); (seconds, contacts)."""
    columns = (Contact.id, Contact.mobile, Contact.opted_out_at.is_not(None))
    started, done_up_to, read = time.perf_counter(), 0, 0
    if windows:
        chunk = (
            campaigns.audience_query(choice, (bindparam("low"), bindparam("high")))
            .with_only_columns(*columns)
            .order_by(Contact.id)
        )
        while window := campaigns.next_window(done_up_to):
            low, done_up_to = window
            read += len(db.session.execute(chunk, {"low": low, "high": done_up_to}).all())
    else:
        chunk = (
            campaigns.audience_query(choice)
            .with_only_columns(*columns)
            .order_by(Contact.id)
            .limit(campaigns.MATERIALISE_CHUNK)
        )
        while rows := db.session.execute(chunk.where(Contact.id > done_up_to)).all():
            read += len(rows)
            done_up_to = rows[-1][0]
    return time.perf_counter() - started, read


def plan_of(stmt) -> list[str]:
    connection = db.session.connection()
    compiled = stmt.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
        return [row[-1] for row in rows]
    return [row[0] for row in connection.exec_driver_sql(f"EXPLAIN {compiled}")]


def measure(url: str, runs: int) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        dialect = db.engine.dialect.name
        for name, choice in AUDIENCES.items():
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                size = campaigns.audience_size(choice, marketing=False)
                times.append(time.perf_counter() - started)
            walked, read = walk(choice, windows=True)
            walked_in, read_in = walk(choice, windows=False)
            assert read == read_in == size, (read, read_in, size)
            median = statistics.median(times) * 1000
            print(
                f"\n{dialect} · {name}: {size:,} contacts · count {median:.0f} ms"
                f" · walk {walked:.2f} s (unbounded chunks: {walked_in:.2f} s)"
            )
            count = campaigns.audience_query(choice).with_only_columns(Contact.id)
            print("  count plan:  " + "\n               ".join(plan_of(count)))
            window = (
                campaigns.audience_query(choice, (500_001, 510_000))
                .with_only_columns(Contact.id)
                .order_by(Contact.id)
            )
            print("  window plan: " + "\n               ".join(plan_of(window)))
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", help="build the SQLite database at this path and keep it")
    parser.add_argument("--reuse", action="store_true", help="use --keep's database as it is")
    args = parser.parse_args()
    url = os.environ.get("VAFA_BENCH_DATABASE_URL")
    if not url:
        folder = tempfile.mkdtemp(prefix="vafa-bench-")
        path = Path(args.keep) if args.keep else Path(folder) / "audience.db"
        url = f"sqlite:///{path}"
    if not args.reuse:
        build(url, args.contacts, LISTS)
        add_small_list_and_tags(url, args.contacts)
    measure(url, args.runs)


if __name__ == "__main__":
    main()
