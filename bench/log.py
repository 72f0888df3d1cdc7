"""Benchmark: the delivery log at ten million messages, and its exports at a million.

    .venv/bin/python bench/log.py [--messages 10000000] [--runs 15] [--export-rows 1000000]
    .venv/bin/python bench/log.py --no-export          # the filters only
    tests/with-postgres.sh sh -c \\
      'VAFA_BENCH_DATABASE_URL=$VAFA_TEST_DATABASE_URL .venv/bin/python bench/log.py \\
       --messages 1000000 --export-rows 100000'

Builds the database once by the migrations and SQL generation (a recursive CTE on SQLite,
generate_series on PostgreSQL; no ORM, the indexes dropped during the load and built
after it), and keeps a SQLite one in instance/bench/ (gitignored) for the next run. Then,
for each filter of the log, prints the plan of its first page (EXPLAIN QUERY PLAN /
EXPLAIN) and the p50 and p95, in milliseconds, of the first page and of a deep page
(continued from a message half-way down the log), each read as the page shows it
(app.reports.service.delivery_log). SQLite is left without ANALYZE statistics, as an
install has them; PostgreSQL is analysed, as its autovacuum would.

Then the exports of ``--export-rows`` messages (a date range): the CSV and the XLSX, each
in a child process that prints its time and peak memory (max RSS), and ``sqlite3 -csv``
of the same rows and columns as the baseline.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event, insert, text  # noqa: E402
from sqlalchemy.schema import CreateIndex  # noqa: E402

from app import create_app  # noqa: E402
from app.contacts.models import Contact  # noqa: E402
from app.extensions import db  # noqa: E402
from app.messaging.models import Campaign  # noqa: E402
from app.persian import jalali_date  # noqa: E402
from app.reports import service as reports  # noqa: E402
from app.reports.service import LogFilter  # noqa: E402
from app.sending.models import Message, ProviderAccount  # noqa: E402

# The log covers two years, oldest message first; messages are spread evenly over it.
START = datetime(2025, 3, 21, 4, 0, tzinfo=UTC)  # 1404/01/01 07:30 in Tehran
SPAN = timedelta(days=730)
CONTACTS = 200_000
CAMPAIGN_SIZE = 20_000  # messages per campaign; every 10th campaign is an automation's
PROVIDERS = ("console", "kavenegar", "ippanel")


def create(url: str):
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": False})


def moment(fraction: float) -> datetime:
    return START + SPAN * fraction


def fill(messages: int, dialect: str) -> None:
    """Users, provider accounts, contacts, campaigns and ``messages`` messages, in SQL."""
    started = time.perf_counter()
    run = db.session.execute
    # Accounts, contacts and campaigns through Core (so the columns' defaults apply).
    for name in PROVIDERS:
        db.session.add(ProviderAccount(name=name, kind="console", is_default=name == "console"))
    db.session.flush()
    run(
        insert(Contact),
        [
            {
                "mobile": f"+989{k % 9 + 1}{k:08d}",
                "first_name": "سارا" if k % 2 == 0 else "",
                "last_name": "محمدی" if k % 2 == 0 else "",
                "created_at": START,
            }
            for k in range(1, CONTACTS + 1)
        ],
    )
    campaigns = messages // CAMPAIGN_SIZE + 1
    run(
        insert(Campaign),
        [
            {
                "name": f"کمپین {k}",
                "body": "سلام {نام}",
                "provider_id": 1,
                "sender": "10000000",
                "status": "done",
                "scheduled_at": START,
                "created_at": START,
            }
            for k in range(1, campaigns + 1)
        ],
    )
    db.session.commit()
    print(f"contacts and campaigns: {time.perf_counter() - started:.1f} s", flush=True)
    series = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count) "
        if dialect == "sqlite"
        else ""
    )
    source = (
        "FROM n"
        if dialect == "sqlite"
        else "FROM generate_series(CAST(1 AS bigint), :count) AS n(i)"
    )

    indexes = drop_message_indexes(dialect)
    seconds = SPAN.total_seconds() / messages
    if dialect == "sqlite":
        created = (
            f"strftime('%Y-%m-%d %H:%M:%S', '{START:%Y-%m-%d %H:%M:%S}', "
            f"'+' || CAST(i * {seconds} AS INTEGER) || ' seconds') || '.000000'"
        )
        later = created.replace("seconds')", "seconds', '+40 seconds')")
    else:
        created = f"TIMESTAMPTZ '{START.isoformat()}' + (i * {seconds}) * INTERVAL '1 second'"
        later = f"({created} + INTERVAL '40 seconds')"
    contact = f"(1 + (i * 7919) % {CONTACTS})"
    # The contact's own number: the same expression as above, for its id.
    contact_pad = (
        f"printf('%08d', {contact})" if dialect == "sqlite" else f"lpad({contact}::text, 8, '0')"
    )
    # Keys in the order they are written: the unique index on them (which stays) is
    # appended to, not written all over.
    key = "printf('%010d', i)" if dialect == "sqlite" else "lpad(i::text, 10, '0')"
    if dialect == "sqlite":
        run(text("PRAGMA cache_size = -1000000"))  # a gigabyte, for the index builds
        run(text("PRAGMA journal_mode = OFF"))
    started = time.perf_counter()
    run(
        text(
            f"{series}INSERT INTO messages (id, campaign_id, contact_id, provider_id, mobile,"
            " body, parts, sender, marketing, status, provider_ref, error, idempotency_key,"
            " attempts, created_at, sent_at, done_at)"
            f" SELECT i, CASE WHEN i % 50 = 0 THEN NULL ELSE 1 + i / {CAMPAIGN_SIZE} END,"
            f" {contact}, 1 + (i % 10) / 7,"
            f" '+989' || (({contact} % 9) + 1) || {contact_pad},"
            " 'سلام سارا، نوروز مبارک! تا آخر فروردین ۲۰٪ تخفیف همه‌چیز. لغو۱۱', 1,"
            " '10000000', :yes,"
            " CASE WHEN i % 100 < 85 THEN 'delivered' WHEN i % 100 < 93 THEN 'failed'"
            " WHEN i % 100 < 94 THEN 'unknown' WHEN i % 100 < 96 THEN 'queued' ELSE 'sent' END,"
            " 'ref-' || i,"
            " CASE WHEN i % 100 BETWEEN 93 AND 93 THEN 'maybe_sent' ELSE NULL END,"
            f" 'bench:' || {key}, 1, {created}, {later}, {later} {source}"
        ),
        {"count": messages, "yes": True},
    )
    db.session.commit()
    print(f"{messages:,} messages: {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    for statement in indexes:
        db.session.execute(text(statement))
        db.session.commit()
    if dialect == "postgresql":
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    print(f"indexes: {time.perf_counter() - started:.1f} s", flush=True)


def drop_message_indexes(dialect: str) -> list[str]:
    """Drop the indexes of ``messages`` (the load is quicker without); return how to make
    them again."""
    if dialect == "sqlite":
        rows = db.session.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                " AND tbl_name = 'messages' AND sql IS NOT NULL"
            )
        ).all()
    else:
        rows = db.session.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'messages'"
                " AND indexname NOT IN (SELECT conname FROM pg_constraint)"
            )
        ).all()
    # The primary key and the unique keys stay (the keys are written in their order).
    for name, _sql in rows:
        db.session.execute(text(f"DROP INDEX {name}"))
    db.session.commit()
    return [sql for _name, sql in rows]


def filters(messages: int) -> dict[str, LogFilter]:
    """The filters an owner uses, each alone, and some together."""
    middle = moment(0.5).date()
    month = (middle, middle + timedelta(days=29))
    return {
        "none": LogFilter(),
        "a month": LogFilter(start=month[0], end=month[1]),
        "a year": LogFilter(start=moment(0.2).date(), end=moment(0.7).date()),
        "status failed": LogFilter(status="failed"),
        "status unknown (1 %)": LogFilter(status="unknown"),
        "status delivered": LogFilter(status="delivered"),
        "status sent": LogFilter(status="sent"),
        "status queued (2 %, spread)": LogFilter(status="queued"),
        "a campaign": LogFilter(campaign_id=messages // CAMPAIGN_SIZE // 2),
        "a campaign, failed": LogFilter(
            campaign_id=messages // CAMPAIGN_SIZE // 2, status="failed"
        ),
        "a provider (10 %)": LogFilter(provider_id=2),
        "a number 09…": LogFilter(mobile=national(f"+9891{7919 % CONTACTS + 1:08d}")),
        "a number in Persian digits": LogFilter(
            mobile=national(f"+9891{7919 % CONTACTS + 1:08d}").translate(
                str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
            )
        ),
        "the start 0910 (1 in 9)": LogFilter(mobile="0910"),
        "the start 09100 (1 in 90)": LogFilter(mobile="09100"),
        "the end 4567": LogFilter(mobile="4567"),
        "the end 567": LogFilter(mobile="567"),
        "a month, failed, provider": LogFilter(
            start=month[0], end=month[1], status="failed", provider_id=1
        ),
    }


def national(mobile: str) -> str:
    return "0" + mobile[3:]


def plan(log_filter: LogFilter) -> list[str]:
    """The database's plan for the first page, asked with the statement and parameters the
    page itself sent (caught on their way to the driver)."""
    sent = []

    def catch(_conn, _cursor, statement, parameters, _context, _many):
        sent.append((statement, parameters))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", catch)
    try:
        reports.delivery_log(log_filter)
    finally:
        event.remove(engine, "before_cursor_execute", catch)
    statement, parameters = sent[-1]
    connection = db.session.connection()
    if engine.dialect.name == "sqlite":
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        return [row[-1] for row in rows]
    rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters)
    return [row[0] for row in rows]


def timed(call, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, round(0.95 * (len(times) - 1)))]


def bench_filters(messages: int, runs: int) -> None:
    deep_from = messages // 2
    print(f"\n{'filter':32} {'first p50':>10} {'p95':>8} {'deep p50':>10} {'p95':>8}  rows")
    for name, log_filter in filters(messages).items():
        first = reports.delivery_log(log_filter)
        # A deep page: continued from the first matching message half-way down the log.
        deep = db.session.scalar(
            reports.page_statement(log_filter)
            .with_only_columns(reports.Message.id)
            .where(reports.Message.id <= deep_from)
            .limit(1)
        )
        first_times = timed(lambda f=log_filter: reports.delivery_log(f), runs)
        deep_times = (
            timed(lambda f=log_filter, d=deep: reports.delivery_log(f, before=d), runs)
            if deep
            else (float("nan"), float("nan"))
        )
        db.session.rollback()
        print(
            f"{name:32} {first_times[0]:10.1f} {first_times[1]:8.1f}"
            f" {deep_times[0]:10.1f} {deep_times[1]:8.1f}  {len(first.rows)}",
            flush=True,
        )
    print("\nPlans of the first pages:")
    for name, log_filter in filters(messages).items():
        print(f"  {name}:")
        for line in plan(log_filter):
            print(f"      {line}")


def export_filter(messages: int, rows: int) -> LogFilter:
    """A date range holding about ``rows`` messages, ending a few days before the end."""
    days = SPAN.days * rows / messages
    end = moment(0.95).date()
    return LogFilter(start=end - timedelta(days=round(days) - 1), end=end)


def peak_memory_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux keeps ru_maxrss
    across exec, so a child of a large parent would report the parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def export_child(url: str, kind: str, start: str, end: str) -> None:
    """In a child process: write one export and print its time and peak memory."""
    app = create(url)
    log_filter = LogFilter.from_mapping({"from": start, "to": end})
    with app.app_context(), app.test_request_context():
        target = Path(tempfile.gettempdir()) / f"vafa-bench-log.{kind}"
        started = time.perf_counter()
        if kind == "csv":
            with open(target, "wb") as out:
                for chunk in reports.export_csv(log_filter):
                    out.write(chunk.encode())
        else:
            reports.write_log_xlsx(target, log_filter, rtl=True)
        seconds = time.perf_counter() - started
        peak = peak_memory_mb()
        print(f"{seconds:.2f} {peak:.0f} {target.stat().st_size}")
        target.unlink()


def bench_exports(url: str, path: Path | None, messages: int, rows: int) -> None:
    log_filter = export_filter(messages, rows)
    count = reports.count_matching(log_filter)
    start, end = jalali_date(log_filter.start), jalali_date(log_filter.end)
    print(f"\nExports of {count:,} messages ({start} to {end}):")
    for kind in ("csv", "xlsx"):
        out = subprocess.run(
            [sys.executable, __file__, "--export-child", kind, start, end, "--url", url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        seconds, peak, size = float(out[0]), out[1], int(out[2])
        print(f"  {kind.upper():5} {seconds:7.2f} s   peak RSS {peak} MB   {size / 1e6:.0f} MB")
    if path is None:
        return
    # The baseline: the same rows and columns, straight out of the sqlite3 shell.
    bind = db.session.get_bind()
    stmt = (
        reports.select(
            reports.Message.id,
            reports.Campaign.name,
            reports.Contact.first_name,
            reports.Contact.last_name,
            reports.Message.mobile,
            reports.Message.body,
            reports.Message.parts,
            reports.Message.status,
            reports.Message.provider_id,
            reports.Message.provider_ref,
            reports.Message.created_at,
            reports.Message.sent_at,
            reports.Message.done_at,
            reports.Message.error,
        )
        .select_from(reports.Message)
        .outerjoin(reports.Campaign, reports.Campaign.id == reports.Message.campaign_id)
        .outerjoin(reports.Contact, reports.Contact.id == reports.Message.contact_id)
        .where(*reports.conditions(log_filter))
        .order_by(reports.Message.created_at, reports.Message.id)
    )
    sql = str(stmt.compile(dialect=bind.dialect, compile_kwargs={"literal_binds": True}))
    started = time.perf_counter()
    with open(os.devnull, "wb") as null:
        subprocess.run(["sqlite3", "-csv", str(path), sql], stdout=null, check=True)
    print(f"  sqlite3 -csv {time.perf_counter() - started:.2f} s (the same rows and columns)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--export-rows", type=int, default=1_000_000)
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--no-filters", action="store_true")
    parser.add_argument("--export-child", nargs=3, metavar=("KIND", "FROM", "TO"))
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.export_child:
        export_child(args.url, *args.export_child)
        return

    url = os.environ.get("VAFA_BENCH_DATABASE_URL")
    path = None
    if url is None:
        folder = ROOT / "instance" / "bench"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"log-{args.messages}.db"
        url = f"sqlite:///{path}"
        fresh = not path.exists()
    app = create(url)
    with app.app_context(), app.test_request_context():
        dialect = db.engine.dialect.name
        if dialect == "postgresql":
            db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
            fresh = True
        if fresh:
            upgrade()
            fill(args.messages, dialect)
        else:
            upgrade()
            # A kept database made before an index was added to its migration.
            for index in Message.__table__.indexes:
                db.session.execute(CreateIndex(index, if_not_exists=True))
            db.session.commit()
            print(f"reusing {path}")
        count = db.session.scalar(text("SELECT max(id) FROM messages"))
        print(f"{dialect}: {count:,} messages", flush=True)
        if not args.no_filters:
            bench_filters(count, args.runs)
        if not args.no_export:
            bench_exports(url, path, count, args.export_rows)


if __name__ == "__main__":
    main()
