"""Benchmark: each kind of segment rule, Vafa's count beside the same condition by hand.

    .venv/bin/python bench/segments.py [--contacts 1000000] [--runs 7] [--rebuild]
    tests/with-postgres.sh sh -c \\
      'VAFA_BENCH_DATABASE_URL=$VAFA_TEST_DATABASE_URL .venv/bin/python bench/segments.py'

SQLite: the database is built once into instance/bench/segments-<contacts>.db and
reused by later runs (``--rebuild`` builds it again). PostgreSQL: the empty database
VAFA_BENCH_DATABASE_URL names is filled (its tables are dropped first) unless it already
holds as many contacts.

The data: contacts with Persian names, weighted cities, genders, birthdays (60%) and
anniversaries (20%) as their Jalali month/day columns, an own field (a branch, 30%),
purchases (70% have bought, over three years, counts and totals skewed as shops see
them), a list of a fifth of the contacts and one of a thousand, a tag on one in twenty
and one on 500, and three campaigns' messages (150,000 in all) with delivery states.
Every buyer is then RFM-scored (``rfm.score_contacts``), as the nightly job does; a
database built before the RFM scores is brought up to the current schema and scored.

For every rule type it times Vafa's live count (``segment_count``, as the segment
pages count: the rules checked, their SQL built or taken from the day's cache, counted)
and the same condition written by hand in SQL, as an expert writes it (literal
Tehran-day boundaries, the (month, day) ranges of a birthday window, NOT IN or NOT
EXISTS as suits the database), and prints the median of ``--runs`` runs of each (taken
in turns, so a busy machine slows both alike), in ms, and the ratio. Both give the same
count, or the line says so.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import jdatetime
from flask_migrate import upgrade
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.audience import rfm  # noqa: E402
from app.audience.models import Segment  # noqa: E402
from app.audience.service import segment_count  # noqa: E402
from app.extensions import db  # noqa: E402
from app.persian import TEHRAN, jalali_month_day  # noqa: E402
from app.sending.service import default_account  # noqa: E402

FIRST = ("علی", "محمد", "حسین", "رضا", "مهدی", "امیر", "سارا", "مریم", "زهرا", "فاطمه")
FIRST += ("نرگس", "لیلا", "مینا", "نازنین", "الهام", "شیرین", "John", "Sara", "", "")
LAST = ("رضایی", "محمدی", "حسینی", "احمدی", "کریمی", "موسوی", "جعفری", "صادقی", "", "Smith")
CITIES = ("تهران",) * 8 + ("اصفهان", "شیراز", "مشهد", "تبریز", "کرج", "قم", "رشت", "") * 2
BRANCHES = ("ونک", "تجریش", "صادقیه", "نارمک")
HANDED_OVER = ("sent", "delivered", "failed", "undeliverable", "blacklisted", "expired")
COLUMNS = (
    "id, mobile, first_name, last_name, gender, birth_date, birth_jmonth, birth_jday,"
    " anniversary, anniversary_jmonth, anniversary_jday, city, fields, source,"
    " first_purchase_at, last_purchase_at, purchase_count, total_spent, created_at"
)


def now() -> datetime:
    return datetime.now(UTC)


def contact_rows(count: int, sqlite: bool, seed: int = 1405):
    rng = random.Random(seed)
    numbers = rng.sample(range(10**9), count)
    today = now()

    def moment(value: datetime):
        # As the app stores moments: naive UTC text in SQLite, aware in PostgreSQL.
        return value.replace(tzinfo=None).isoformat(" ") if sqlite else value

    for index in range(count):
        birth = anniversary = None
        if rng.random() < 0.6:
            birth = date(1960, 1, 1) + timedelta(days=rng.randrange(16000))
        if rng.random() < 0.2:
            anniversary = date(2005, 1, 1) + timedelta(days=rng.randrange(7000))
        birth_md = jalali_month_day(birth) if birth else (None, None)
        anniversary_md = jalali_month_day(anniversary) if anniversary else (None, None)
        first = last = None
        purchases, spent = 0, 0
        if rng.random() < 0.7:
            first = today - timedelta(days=rng.random() * 1100)
            last = first + (today - first) * rng.random() ** 3
            purchases = 1 + int(rng.expovariate(0.25))
            spent = purchases * rng.randrange(100_000, 50_000_000, 10_000)
        fields = {"شعبه": rng.choice(BRANCHES)} if rng.random() < 0.3 else {}
        yield (
            index + 1,
            f"+989{numbers[index]:09d}",
            rng.choice(FIRST),
            rng.choice(LAST),
            rng.choice(("male", "female", None)),
            birth,
            *birth_md,
            anniversary,
            *anniversary_md,
            rng.choice(CITIES),
            json.dumps(fields),  # ASCII-escaped, as SQLAlchemy's JSON writes it
            "import",
            moment(first) if first else None,
            moment(last) if last else None,
            purchases,
            spent,
            moment(today - timedelta(days=1200) + timedelta(seconds=index)),
        )


def fill(count: int) -> None:
    connection = db.session.connection()
    sqlite = connection.dialect.name == "sqlite"
    raw = connection.connection.driver_connection
    started = time.perf_counter()
    cursor = raw.cursor()
    rows = contact_rows(count, sqlite)
    if sqlite:
        placeholders = ", ".join("?" * len(COLUMNS.split(",")))
        while batch := [row for _, row in zip(range(50_000), rows, strict=False)]:
            cursor.executemany(f"INSERT INTO contacts ({COLUMNS}) VALUES ({placeholders})", batch)
    else:
        with cursor.copy(f"COPY contacts ({COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute("SELECT setval('contacts_id_seq', %s)", (count,))
    print(f"{count:,} contacts written in {time.perf_counter() - started:.0f} s", flush=True)

    rng = random.Random(9)
    at = now()
    db.session.execute(
        text(
            "INSERT INTO contact_lists (id, name, created_at) VALUES"
            " (1, 'مشتریان ویژه', :t), (2, 'نمایشگاه', :t)"
        ),
        {"t": at},
    )
    db.session.execute(text("INSERT INTO tags (id, name) VALUES (1, 'VIP'), (2, 'عمده')"))
    for table, column, owner, members in (
        ("list_members", "list_id", 1, range(5, count + 1, 5)),
        ("list_members", "list_id", 2, rng.sample(range(1, count + 1), min(1000, count))),
        ("contact_tags", "tag_id", 1, range(20, count + 1, 20)),
        ("contact_tags", "tag_id", 2, rng.sample(range(1, count + 1), min(500, count))),
    ):
        if sqlite:
            db.session.execute(
                text(f"INSERT INTO {table} ({column}, contact_id) VALUES (:owner, :contact)"),
                [{"owner": owner, "contact": member} for member in members],
            )
        else:  # one statement: the member-count trigger fires once, not per row
            with cursor.copy(f"COPY {table} ({column}, contact_id) FROM STDIN") as copy:
                for member in members:
                    copy.write_row((owner, member))
    account = default_account()
    for number, (name, days_ago) in enumerate((("یلدا", 10), ("نوروز", 250), ("تولد", 40)), 1):
        db.session.execute(
            text(
                "INSERT INTO campaigns (id, name, body, to_everyone, provider_id, sender,"
                " marketing, status, scheduled_at, created_at)"
                " VALUES (:id, :name, 'سلام', true, :p, '10000000', true, 'done', :t, :t)"
            ),
            {"id": number, "name": name, "p": account.id, "t": at - timedelta(days=days_ago)},
        )
    messages = []
    for campaign, size, days_ago in ((1, 100_000, 10), (2, 30_000, 250), (3, 20_000, 40)):
        for contact in rng.sample(range(1, count + 1), min(size, count)):
            status = rng.choices(("delivered", "failed", "sent", "skipped"), (85, 8, 4, 3))[0]
            moment = at - timedelta(days=days_ago, seconds=rng.randrange(3600))
            messages.append(
                {
                    "c": campaign,
                    "contact": contact,
                    "status": status,
                    "t": moment,
                    "n": len(messages),
                }
            )
    if sqlite:
        mobiles = "(SELECT mobile FROM contacts WHERE id = :contact)"
        db.session.execute(
            text(
                "INSERT INTO messages (campaign_id, contact_id, provider_id, mobile, body,"
                " parts, sender, marketing, status, idempotency_key, attempts, created_at)"
                f" VALUES (:c, :contact, {account.id}, {mobiles}, 'سلام', 1, '10000000',"
                " true, :status, 'bench:' || :n, 0, :t)"
            ),
            messages,
        )
    else:
        columns = (
            "campaign_id, contact_id, provider_id, mobile, body, parts, sender, marketing,"
            " status, idempotency_key, attempts, created_at"
        )
        with cursor.copy(f"COPY messages ({columns}) FROM STDIN") as copy:
            for m in messages:
                row = (m["c"], m["contact"], account.id, "+989120000000", "سلام", 1)
                copy.write_row((*row, "10000000", True, m["status"], f"bench:{m['n']}", 0, m["t"]))
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE" if sqlite else "VACUUM ANALYZE"))
    print(f"database ready in {time.perf_counter() - started:.0f} s", flush=True)


def prepare(url: str, count: int, rebuild: bool) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        if not rebuild:
            try:
                if db.session.scalar(text("SELECT count(*) FROM contacts")) == count:
                    print(f"reusing the database at {url}", flush=True)
                    upgrade(directory=str(ROOT / "migrations"))  # built by an older Vafa?
                    score_once()
                    return
            except Exception:
                db.session.rollback()
        if url.startswith("postgresql"):
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(directory=str(ROOT / "migrations"))
        fill(count)
        score_once()
        db.session.remove()
        db.engine.dispose()


def score_once() -> None:
    """The RFM scores the RFM rules read, unless a scoring already made them."""
    if rfm.last_run() is not None:
        return
    started = time.perf_counter()
    scored = rfm.score_contacts(now())
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE contact_scores"))
    print(f"{scored:,} buyers RFM-scored in {time.perf_counter() - started:.0f} s", flush=True)


# The rules, and the same conditions by hand ----------------------------------------


def day_start(days_ago: int, sqlite: bool):
    """Midnight in Tehran ``days_ago`` days back, as the column stores moments."""
    today = now().astimezone(TEHRAN).date()
    moment = datetime.combine(today - timedelta(days=days_ago), clock(), tzinfo=TEHRAN)
    moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(" ", "microseconds") if sqlite else moment


def window_sql(month: str, day: str, days: int) -> str:
    """(month, day) ranges of today through today + days, from jdatetime directly."""
    today = jdatetime.date.fromgregorian(date=now().astimezone(TEHRAN).date())
    ranges: list[list[int]] = []
    for offset in range(days + 1):
        d = today + timedelta(days=offset)
        last = 30 if (d.month, d.day) == (12, 29) and not d.isleap() else d.day
        if ranges and ranges[-1][0] == d.month and ranges[-1][2] == d.day - 1:
            ranges[-1][2] = last
        else:
            ranges.append([d.month, d.day, last])
    parts = []
    for m, first, last in ranges:
        if first == last:
            parts.append(f"({month} = {m} AND {day} = {first})")
        else:
            parts.append(f"({month} = {m} AND {day} BETWEEN {first} AND {last})")
    return " OR ".join(parts)


def cases(sqlite: bool) -> list[tuple[str, dict, str, dict]]:
    """(what, rule, hand-written WHERE, its parameters)."""

    def rule(field, op, value=None):
        return {"field": field, "op": op, "value": value}

    def since(days):
        return {"t": day_start(days, sqlite)}

    def without(ids: str, column: str) -> str:
        """What an expert writes for "not among these": SQLite reads the ids once (NOT
        IN); PostgreSQL's anti-join wants NOT EXISTS (its NOT IN of a big subquery that
        outgrows work_mem is rescanned for every row)."""
        if sqlite:
            return f"id NOT IN ({ids})"
        return f"NOT EXISTS ({ids} AND {column} = contacts.id)"

    handed = "('" + "', '".join(HANDED_OVER) + "')"
    others = "('" + "', '".join(s for s in HANDED_OVER if s != "delivered") + "')"
    own = (
        "EXISTS (SELECT 1 FROM json_each(contacts.fields) f"
        " WHERE f.key = 'شعبه' AND f.value = 'ونک')"
        if sqlite
        else "contacts.fields ->> 'شعبه' = 'ونک'"
    )
    own_empty = (
        "NOT EXISTS (SELECT 1 FROM json_each(contacts.fields) f"
        " WHERE f.key = 'شعبه' AND f.value <> '')"
        if sqlite
        else "coalesce(contacts.fields ->> 'شعبه', '') = ''"
    )
    return [
        ("first name is «علی»", rule("first_name", "eq", "علی"), "first_name = 'علی'", {}),
        (
            "first name contains «ر»",
            rule("first_name", "contains", "ر"),
            "first_name LIKE '%ر%'",
            {},
        ),
        (
            "first name starts with «م»",
            rule("first_name", "starts_with", "م"),
            "first_name LIKE 'م%'",
            {},
        ),
        ("last name is empty", rule("last_name", "empty"), "last_name = ''", {}),
        ("city is «شیراز»", rule("city", "eq", "شیراز"), "city = 'شیراز'", {}),
        (
            "city one of «تهران، قم»",
            rule("city", "in", ["تهران", "قم"]),
            "city IN ('تهران', 'قم')",
            {},
        ),
        ("gender female", rule("gender", "eq", "female"), "gender = 'female'", {}),
        ("gender unknown", rule("gender", "eq", "unknown"), "gender IS NULL", {}),
        ("birth date known", rule("birth_date", "known"), "birth_jmonth IS NOT NULL", {}),
        ("birth date unknown", rule("birth_date", "unknown"), "birth_jmonth IS NULL", {}),
        ("own field «شعبه» is «ونک»", rule("own:شعبه", "eq", "ونک"), own, {}),
        ("own field «شعبه» is empty", rule("own:شعبه", "empty"), own_empty, {}),
        (
            "in list (200,000)",
            rule("list", "member", 1),
            "id IN (SELECT contact_id FROM list_members WHERE list_id = 1)",
            {},
        ),
        (
            "in list (1,000)",
            rule("list", "member", 2),
            "id IN (SELECT contact_id FROM list_members WHERE list_id = 2)",
            {},
        ),
        (
            "not in list (200,000)",
            rule("list", "not_member", 1),
            without("SELECT contact_id FROM list_members WHERE list_id = 1", "contact_id"),
            {},
        ),
        (
            "has tag (50,000)",
            rule("tag", "has", 1),
            "id IN (SELECT contact_id FROM contact_tags WHERE tag_id = 1)",
            {},
        ),
        (
            "has not tag (500)",
            rule("tag", "has_not", 2),
            without("SELECT contact_id FROM contact_tags WHERE tag_id = 2", "contact_id"),
            {},
        ),
        (
            "birthday today",
            rule("birthday", "today"),
            window_sql("birth_jmonth", "birth_jday", 0),
            {},
        ),
        (
            "birthday within 6 days",
            rule("birthday", "within_next", 6),
            window_sql("birth_jmonth", "birth_jday", 6),
            {},
        ),
        (
            "birthday within 30 days (two months)",
            rule("birthday", "within_next", 30),
            window_sql("birth_jmonth", "birth_jday", 30),
            {},
        ),
        ("birthday in month 5", rule("birthday", "in_month", 5), "birth_jmonth = 5", {}),
        (
            "anniversary within 6 days",
            rule("anniversary", "within_next", 6),
            window_sql("anniversary_jmonth", "anniversary_jday", 6),
            {},
        ),
        (
            "anniversary in month 12",
            rule("anniversary", "in_month", 12),
            "anniversary_jmonth = 12",
            {},
        ),
        (
            "last purchase in the last 90 days",
            rule("last_purchase", "within_last", 90),
            "last_purchase_at >= :t",
            since(89),
        ),
        (
            "last purchase 180+ days ago",
            rule("last_purchase", "at_least", 180),
            "last_purchase_at < :t",
            since(179),
        ),
        (
            "last purchase more than 30 days ago",
            rule("last_purchase", "more_than", 30),
            "last_purchase_at < :t",
            since(30),
        ),
        (
            "last purchase at most 7 days ago",
            rule("last_purchase", "at_most", 7),
            "last_purchase_at >= :t",
            since(7),
        ),
        (
            "first purchase in the last 30 days",
            rule("first_purchase", "within_last", 30),
            "first_purchase_at >= :t",
            since(29),
        ),
        ("purchases ≥ 5", rule("purchase_count", "gte", 5), "purchase_count >= 5", {}),
        ("purchases ≤ 2", rule("purchase_count", "lte", 2), "purchase_count <= 2", {}),
        ("purchases = 1", rule("purchase_count", "eq", 1), "purchase_count = 1", {}),
        (
            "total spent ≥ 100,000,000",
            rule("total_spent", "gte", 100_000_000),
            "total_spent >= 100000000",
            {},
        ),
        (
            "total spent ≤ 1,000,000",
            rule("total_spent", "lte", 1_000_000),
            "total_spent <= 1000000",
            {},
        ),
        ("never bought", rule("purchases", "never"), "last_purchase_at IS NULL", {}),
        (
            "last messaged more than 30 days ago",
            rule("last_messaged", "more_than", 30),
            without(
                "SELECT contact_id FROM messages WHERE contact_id IS NOT NULL"
                f" AND created_at >= :t AND status IN {handed}",
                "contact_id",
            ),
            since(30),
        ),
        (
            "never messaged",
            rule("last_messaged", "never"),
            without(
                f"SELECT contact_id FROM messages WHERE contact_id IS NOT NULL"
                f" AND status IN {handed}",
                "contact_id",
            ),
            {},
        ),
        (
            "received campaign (100,000)",
            rule("campaign", "received", 1),
            f"id IN (SELECT contact_id FROM messages WHERE campaign_id = 1 AND status IN {handed})",
            {},
        ),
        (
            "campaign delivered",
            rule("campaign", "delivered", 1),
            "id IN (SELECT contact_id FROM messages"
            " WHERE campaign_id = 1 AND status = 'delivered')",
            {},
        ),
        (
            "campaign not delivered",
            rule("campaign", "not_delivered", 1),
            f"id IN (SELECT contact_id FROM messages WHERE campaign_id = 1 AND status IN {others})",
            {},
        ),
        (
            "RFM group champions",
            rule("rfm", "in", ["champions"]),
            "id IN (SELECT contact_id FROM contact_scores WHERE rfm_group = 'champions')",
            {},
        ),
        (
            "RFM group at risk or can't lose",
            rule("rfm", "in", ["at_risk", "cant_lose_them"]),
            "id IN (SELECT contact_id FROM contact_scores"
            " WHERE rfm_group IN ('at_risk', 'cant_lose_them'))",
            {},
        ),
        (
            "RFM recency score ≥ 4",
            rule("rfm_recency", "gte", 4),
            "id IN (SELECT contact_id FROM contact_scores WHERE recency >= 4)",
            {},
        ),
        (
            "RFM monetary score ≥ 5",
            rule("rfm_monetary", "gte", 5),
            "id IN (SELECT contact_id FROM contact_scores WHERE monetary >= 5)",
            {},
        ),
    ]


def medians_ms(first, second, runs: int) -> tuple[float, float, object, object]:
    """Median times of two runs taken in turns (a busy machine slows both alike)."""
    results = first(), second()  # warm-up
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for run, spent in ((first, times[0]), (second, times[1])):
            started = time.perf_counter()
            run()
            spent.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[0]), statistics.median(times[1]), *results


def compare(url: str, runs: int, only: str | None) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        sqlite = db.engine.dialect.name == "sqlite"
        total = db.session.scalar(text("SELECT count(*) FROM contacts"))
        print(
            f"\n{total:,} contacts, {db.engine.dialect.name}; median of {runs} counts each"
            " (Vafa's and the hand-written one in turns) after a warm-up, ms\n"
        )
        print(f"  {'rule':40} {'matches':>9} {'Vafa':>8} {'by hand':>8} {'ratio':>6}")
        worst = 0.0
        for label, rule, where, params in cases(sqlite):
            if only and only not in label:
                continue
            segment = Segment(name=label, rules={"match": "all", "rules": [rule]})
            query = text(f"SELECT count(*) FROM contacts WHERE {where}")
            vafa, hand, counted, expected = medians_ms(
                lambda s=segment: segment_count(s),
                lambda q=query, p=params: db.session.scalar(q, p),
                runs,
            )
            ratio = vafa / hand if hand else float("inf")
            worst = max(worst, ratio)
            same = "" if counted == expected else f"  COUNTS DIFFER: hand {expected:,}"
            print(
                f"  {label:40} {counted:>9,} {vafa:8.1f} {hand:8.1f} {ratio:6.2f}{same}",
                flush=True,
            )
        print(f"\n  worst ratio: {worst:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--rebuild", action="store_true", help="build the database again")
    parser.add_argument("--only", help="only the rules whose label contains this")
    args = parser.parse_args()
    url = os.environ.get("VAFA_BENCH_DATABASE_URL")
    if not url:
        folder = ROOT / "instance" / "bench"
        folder.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{folder / f'segments-{args.contacts}.db'}"
    prepare(url, args.contacts, args.rebuild)
    compare(url, args.runs, args.only)


if __name__ == "__main__":
    main()
