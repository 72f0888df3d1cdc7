"""Benchmark: the contacts pages at a million contacts.

    .venv/bin/python bench/contacts_pages.py [--contacts 1000000] [--runs 7] [--export]
    VAFA_BENCH_DATABASE_URL=postgresql+psycopg://… .venv/bin/python bench/contacts_pages.py

Builds a database (SQLite in a temporary folder, or the empty PostgreSQL database that
VAFA_BENCH_DATABASE_URL names; its tables are dropped first) by the migrations, fills it
with contacts in bulk (executemany on SQLite, COPY on PostgreSQL), with two lists, two
tags, opted-out contacts and one contact with thousands of messages, then times each
contacts page through the Flask test client, logged in, and prints the median of
``--runs`` requests in milliseconds. ``--export`` also times the CSV and XLSX exports of
every contact and prints their peak memory. ``--keep PATH`` keeps the SQLite file.

    tests/with-postgres.sh sh -c \\
      'VAFA_BENCH_DATABASE_URL=$VAFA_TEST_DATABASE_URL .venv/bin/python bench/contacts_pages.py'
"""

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.auth.service import create_user  # noqa: E402
from app.extensions import db  # noqa: E402
from app.persian import jalali_month_day  # noqa: E402
from app.sending.service import default_account  # noqa: E402

FIRST = (
    "علی",
    "محمد",
    "حسین",
    "رضا",
    "مهدی",
    "امیر",
    "علیرضا",
    "محمدرضا",
    "حسن",
    "سعید",
    "مجید",
    "حمید",
    "فرهاد",
    "بهرام",
    "کامران",
    "سارا",
    "مریم",
    "زهرا",
    "فاطمه",
    "نرگس",
    "لیلا",
    "مینا",
    "نازنین",
    "الهام",
    "شیرین",
    "پریسا",
    "سمیرا",
    "نگار",
    "مهسا",
    "آزاده",
    "John",
    "Sara",
    "David",
    "Maryam",
)
LAST = (
    "رضایی",
    "محمدی",
    "حسینی",
    "کریمی",
    "احمدی",
    "موسوی",
    "جعفری",
    "صادقی",
    "رحیمی",
    "کاظمی",
    "نوری",
    "عباسی",
    "قاسمی",
    "طاهری",
    "یزدانی",
    "شریفی",
    "رستمی",
    "فرهادی",
    "اکبری",
    "هاشمی",
    "میرزایی",
    "نجفی",
    "زارعی",
    "رضایی‌نژاد",
    "Smith",
    "Karimi",
)
CITIES = ("تهران", "اصفهان", "شیراز", "مشهد", "تبریز", "کرج", "قم", "")
START = datetime(2023, 3, 21, tzinfo=UTC)
MESSAGES_OF_ONE = 5000
COLUMNS = (
    "id, mobile, first_name, last_name, gender, birth_date, birth_jmonth, birth_jday, "
    "city, fields, source, purchase_count, total_spent, opted_out_at, created_at"
)


def contact_rows(count: int, seed: int = 1405):
    """Contacts 1…count, oldest first: names, unique mobiles, some birthdays, 3% opted out."""
    rng = random.Random(seed)
    numbers = rng.sample(range(10**9), count)
    step = timedelta(seconds=90_000_000 / count)
    for index in range(count):
        contact_id = index + 1
        created = START + step * index
        birth = None
        if rng.random() < 0.6:
            birth = date(1960, 1, 1) + timedelta(days=rng.randrange(16000))
        month, day = jalali_month_day(birth) if birth else (None, None)
        yield (
            contact_id,
            f"+989{numbers[index]:09d}",
            rng.choice(FIRST),
            rng.choice(LAST),
            rng.choice(("male", "female", None)),
            birth,
            month,
            day,
            rng.choice(CITIES),
            "{}",
            "import",
            0,
            0,
            created + timedelta(days=30) if rng.random() < 0.03 else None,
            created,
        )


def fill(count: int) -> dict:
    """Bulk-load the bench data; returns the ids the pages use."""
    connection = db.session.connection()
    dialect = connection.dialect.name
    raw = connection.connection.driver_connection
    started = time.perf_counter()
    cursor = raw.cursor()
    if dialect == "sqlite":
        rows = contact_rows(count)
        placeholders = ", ".join("?" * len(COLUMNS.split(",")))
        while batch := [row for _, row in zip(range(50_000), rows, strict=False)]:
            cursor.executemany(f"INSERT INTO contacts ({COLUMNS}) VALUES ({placeholders})", batch)
    else:
        with cursor.copy(f"COPY contacts ({COLUMNS}) FROM STDIN") as copy:
            for row in contact_rows(count):
                copy.write_row(row)
        cursor.execute("SELECT setval('contacts_id_seq', %s)", (count,))
    print(f"{count:,} contacts written in {time.perf_counter() - started:.1f} s", flush=True)

    rng = random.Random(7)
    lists = {"big": 1, "small": 2}
    tags = {"vip": 1, "rare": 2}
    db.session.execute(
        text("INSERT INTO contact_lists (id, name, created_at) VALUES (1, 'مشتریان ویژه', :t)"),
        {"t": START},
    )
    db.session.execute(
        text("INSERT INTO contact_lists (id, name, created_at) VALUES (2, 'نمایشگاه', :t)"),
        {"t": START},
    )
    db.session.execute(text("INSERT INTO tags (id, name) VALUES (1, 'VIP'), (2, 'عمده')"))
    big = range(5, count + 1, 5)
    small = rng.sample(range(1, count + 1), min(1000, count))
    vip = range(20, count + 1, 20)
    rare = rng.sample(range(1, count + 1), min(500, count))
    for table, column, owner, members in (
        ("list_members", "list_id", 1, big),
        ("list_members", "list_id", 2, small),
        ("contact_tags", "tag_id", 1, vip),
        ("contact_tags", "tag_id", 2, rare),
    ):
        db.session.execute(
            text(f"INSERT INTO {table} ({column}, contact_id) VALUES (:owner, :contact)"),
            [{"owner": owner, "contact": member} for member in members],
        )
    # One loyal customer with thousands of messages, and a log around them.
    loyal = count // 2
    account = default_account().id
    mobile = db.session.scalar(text("SELECT mobile FROM contacts WHERE id = :id"), {"id": loyal})
    messages = [
        {
            "contact_id": loyal if n < MESSAGES_OF_ONE else rng.randrange(1, count + 1),
            "mobile": mobile,
            "n": n,
            "at": START + timedelta(hours=n),
        }
        for n in range(MESSAGES_OF_ONE * 4)
    ]
    db.session.execute(
        text(
            "INSERT INTO messages (contact_id, provider_id, mobile, body, parts, sender,"
            " marketing, status, idempotency_key, attempts, created_at, sent_at, done_at)"
            f" VALUES (:contact_id, {account}, :mobile, 'سلام! تخفیف ویژهٔ نوروز', 1,"
            " '10000000', true, 'delivered', 'bench:' || :n, 0, :at, :at, :at)"
        ),
        messages,
    )
    db.session.commit()
    # Statistics, as a real database has them some minutes after a large import
    # (PostgreSQL's autovacuum; `vafa` runs ANALYZE on SQLite after an import).
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE" if dialect == "sqlite" else "VACUUM ANALYZE"))
    print(f"database ready in {time.perf_counter() - started:.1f} s", flush=True)
    return {"lists": lists, "tags": tags, "loyal": loyal}


def build(url: str, count: int) -> dict:
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False}
    )
    with app.app_context():
        if url.startswith("postgresql"):
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(directory=str(ROOT / "migrations"))
        create_user("bench@example.com", "bench password", "owner")
        db.session.commit()
        ids = fill(count)
        db.session.remove()
        db.engine.dispose()
    return ids


def pages(ids: dict) -> list[tuple[str, str]]:
    """(what, URL) of every page timed."""
    per_page = 50
    before_50 = db.session.scalar(
        text("SELECT id FROM contacts ORDER BY id DESC LIMIT 1 OFFSET :n"),
        {"n": per_page * 49 - 1},
    )
    someone = db.session.scalar(text("SELECT mobile FROM contacts WHERE id = 123457"))
    national = "0" + someone.removeprefix("+98")
    loyal = ids["loyal"]
    oldest_shown = db.session.scalar(
        text(
            "SELECT id FROM messages WHERE contact_id = :c OR mobile = :m"
            " ORDER BY id DESC LIMIT 1 OFFSET 19"
        ),
        {"c": loyal, "m": db.session.scalar(text(f"SELECT mobile FROM contacts WHERE id={loyal}"))},
    )
    big, small = ids["lists"]["big"], ids["lists"]["small"]
    vip = ids["tags"]["vip"]
    return [
        ("first page (with the capped count)", "/contacts/"),
        ("page 50 (keyset)", f"/contacts/?before={before_50}"),
        ("exact count of everyone", "/contacts/?count=exact"),
        ("name search «علی» (first names, ~59,000)", "/contacts/?q=علی"),
        ("name search «علی رض» (full name)", "/contacts/?q=علی رض"),
        ("name search «کریمی» (last name, ~38,000)", "/contacts/?q=کریمی"),
        ("name search «john» (Latin, any case)", "/contacts/?q=JOHN"),
        ("number search: start «0912 345»", "/contacts/?q=0912 345"),
        ("number search: whole number", f"/contacts/?q={national}"),
        ("number search: last digits «4567»", "/contacts/?q=4567"),
        ("list filter (200,000 members)", f"/contacts/?list={big}"),
        ("list filter (1,000 members)", f"/contacts/?list={small}"),
        ("tag filter (50,000)", f"/contacts/?tag={vip}"),
        ("opted out only (~30,000)", "/contacts/?status=opted_out"),
        ("list (200,000) + name «علی»", f"/contacts/?list={big}&q=علی"),
        ("contact page, 5,000 messages", f"/contacts/{loyal}"),
        ("contact page, older messages", f"/contacts/{loyal}?before={oldest_shown}"),
        ("bulk confirmation (exact count) «علی»", "/contacts/bulk?action=tag&q=علی"),
        ("bulk confirmation (exact count) everyone", "/contacts/bulk?action=delete"),
    ]


def time_pages(url: str, runs: int) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    with app.app_context():
        ids = {"lists": {"big": 1, "small": 2}, "tags": {"vip": 1, "rare": 2}}
        ids["loyal"] = db.session.scalar(text("SELECT max(id) FROM contacts")) // 2
        total = db.session.scalar(text("SELECT count(*) FROM contacts"))
        targets = pages(ids)
        db.session.remove()
    response = client.post(
        "/login", data={"email": "bench@example.com", "password": "bench password"}
    )
    assert response.status_code == 302, response.status_code
    print(
        f"\n{total:,} contacts, {app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]};"
        f" median of {runs} requests after one warm-up, ms"
    )
    for label, path in targets:
        response = client.get(path)  # warm-up (and a check)
        assert response.status_code == 200, (path, response.status_code)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        print(f"  {label:45} {statistics.median(times):8.1f}", flush=True)


def time_bulk(url: str) -> None:
    """One bulk action on a large search result, timed once (it changes the data)."""
    from app.contacts import bulk, search

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        tag = db.session.execute(text("INSERT INTO tags (name) VALUES ('bench') RETURNING id"))
        tag_id = tag.scalar()
        db.session.commit()
        started = time.perf_counter()
        done = 0
        for changed in bulk.tag_matching(search.ContactFilter(query="علی"), tag_id, None):
            db.session.commit()
            done += changed
        seconds = time.perf_counter() - started
        print(f"  bulk tag «علی»: {done:,} contacts in {seconds:.2f} s")
        started = time.perf_counter()
        done = 0
        for changed in bulk.opt_out_matching(search.ContactFilter(tag_id=tag_id), None):
            db.session.commit()
            done += changed
        seconds = time.perf_counter() - started
        print(f"  bulk opt-out of that tag: {done:,} contacts in {seconds:.2f} s")
        started = time.perf_counter()
        done = 0
        vip = search.ContactFilter(tag_id=1)
        for changed in bulk.delete_matching(vip, None):
            db.session.commit()
            done += changed
        seconds = time.perf_counter() - started
        print(f"  bulk delete of the tag VIP: {done:,} contacts in {seconds:.2f} s")
        db.session.remove()
        db.engine.dispose()


def memory_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, in MiB. Unlike getrusage's maxrss,
    VmHWM starts afresh in a new program, so a child does not inherit its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def export_child(url: str, kind: str) -> None:
    """Run one export of every contact in this (fresh) process; print time and peak memory."""
    from app.contacts import export
    from app.contacts.search import ContactFilter

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.test_request_context():
        db.session.scalar(text("SELECT 1"))
        baseline = memory_mib("VmRSS")
        started = time.perf_counter()
        size = 0
        if kind == "csv":
            for chunk in export.export_csv(ContactFilter()):
                size += len(chunk.encode())
        else:
            with export.export_xlsx(ContactFilter(), rtl=True) as workbook:
                size = os.fstat(workbook.fileno()).st_size
        seconds = time.perf_counter() - started
        peak = memory_mib("VmHWM")
        print(
            f"  export {kind.upper():4}: {seconds:6.1f} s, {size / 2**20:6.1f} MiB file,"
            f" peak memory {peak:.0f} MiB ({peak - baseline:+.0f} MiB over the app at rest)",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--export", action="store_true", help="time the exports too")
    parser.add_argument("--bulk", action="store_true", help="time two bulk actions at the end")
    parser.add_argument("--keep", help="build the SQLite database at this path and keep it")
    parser.add_argument("--reuse", action="store_true", help="use --keep's database as it is")
    parser.add_argument("--export-child", choices=("csv", "xlsx"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = os.environ.get("VAFA_BENCH_DATABASE_URL")
    folder = tempfile.mkdtemp(prefix="vafa-bench-")
    if not url:
        path = Path(args.keep) if args.keep else Path(folder) / "contacts.db"
        url = f"sqlite:///{path}"
    if args.export_child:
        export_child(url, args.export_child)
        return
    if not args.reuse:
        build(url, args.contacts)
    time_pages(url, args.runs)
    if args.export:
        print("\nexports of every contact, each in a fresh process:")
        for kind in ("csv", "xlsx"):
            child = [sys.executable, __file__, "--export-child", kind]
            if args.keep or not os.environ.get("VAFA_BENCH_DATABASE_URL"):
                child += ["--keep", url.removeprefix("sqlite:///")]
            subprocess.run(child, check=True, env=os.environ)
    if args.bulk:
        print("\nbulk actions:")
        time_bulk(url)
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
