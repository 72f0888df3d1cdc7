"""Benchmark: the dashboard and a campaign's delivery report on a large delivery log.

    .venv/bin/python bench/dashboard.py [--messages 10000000] [--days 365] [--rebuild]

SQLite: the log is built once into instance/bench/dashboard-<messages>.db and reused
(``--rebuild`` builds it again): ``--messages`` handed-over messages spread evenly over
``--days`` Tehran days, one part or two, with the usual mix of delivery states, in
campaigns of 100,000 messages.

It prints, in seconds:
- catch-up: counting every day of the log into ``daily_messages`` the first time (the
  scheduler job does it ``CATCH_UP_DAYS`` days per run; timed here to the end);
- a steady run of the job (the last ``SETTLING_DAYS`` days counted again), as it runs every
  five minutes;
- the dashboard's figures for each period, as its page reads them (median of 5);
- one campaign's delivery report (100,000 messages), as its page reads it (median of 5).
"""

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask_migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.messaging.models import Campaign  # noqa: E402
from app.persian import tehran_today  # noqa: E402
from app.reports import dashboard  # noqa: E402
from app.reports.campaigns import campaign_report  # noqa: E402
from app.reports.models import CountedDay, DailyMessages  # noqa: E402
from app.sending.service import default_account  # noqa: E402

STATES = ("delivered",) * 80 + ("failed",) * 8 + ("blacklisted",) * 5 + ("sent",) * 4
STATES += ("expired",) * 3
CAMPAIGN = 100_000


def build(path: Path, messages: int, days: int) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "bench"})
    with app.app_context():
        upgrade()
        account = default_account()
        account.price_per_part = 1500
        campaigns = messages // CAMPAIGN + 1
        now = datetime.now(UTC)
        db.session.execute(
            db.insert(Campaign),
            [
                {
                    "name": f"کمپین {n}",
                    "body": "سلام",
                    "provider_id": account.id,
                    "sender": "3000",
                    "status": "done",
                    "scheduled_at": now,
                    "started_at": now,
                    "created_at": now,
                }
                for n in range(campaigns)
            ],
        )
        db.session.commit()
        provider_id = account.id
        connection = db.session.connection().connection.driver_connection
        random.seed(7)
        start = now - timedelta(days=days)
        step = days * 86400 / messages
        insert = (
            "INSERT INTO messages (campaign_id, provider_id, mobile, body, parts, sender,"
            " marketing, status, error, idempotency_key, attempts, created_at, handed_over_at,"
            " sent_at, done_at) VALUES (?, ?, ?, 'سلام، شب یلدا مبارک', ?, '3000', 1, ?, ?, ?,"
            " 0, ?, ?, ?, ?)"
        )
        batch = []
        for n in range(messages):
            moment = start + timedelta(seconds=n * step)
            status = random.choice(STATES)
            stamp = moment.strftime("%Y-%m-%d %H:%M:%S.%f")
            done = (moment + timedelta(minutes=random.randint(1, 600))).strftime(
                "%Y-%m-%d %H:%M:%S.%f"
            )
            batch.append(
                (
                    n // CAMPAIGN + 1,
                    provider_id,
                    f"+98912{n:07d}",
                    random.choice((1, 1, 2)),
                    status,
                    "invalid_number" if status == "failed" and n % 3 == 0 else None,
                    f"bench:{n}",
                    stamp,
                    stamp,
                    stamp,
                    done if status != "sent" else None,
                )
            )
            if len(batch) == 100_000:
                connection.executemany(insert, batch)
                connection.commit()
                batch = []
                print(f"  {n + 1:,} messages", end="\r", flush=True)
        if batch:
            connection.executemany(insert, batch)
            connection.commit()
        print()


def median_seconds(run, times: int = 5) -> float:
    spent = []
    for _ in range(times):
        began = time.perf_counter()
        run()
        spent.append(time.perf_counter() - began)
        db.session.rollback()
    return statistics.median(spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    folder = ROOT / "instance" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"dashboard-{args.messages}.db"
    if args.rebuild or not path.exists():
        path.unlink(missing_ok=True)
        began = time.perf_counter()
        build(path, args.messages, args.days)
        print(f"built {args.messages:,} messages in {time.perf_counter() - began:.0f} s")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "bench"})
    with app.app_context():
        upgrade()
        db.session.execute(db.delete(CountedDay))
        db.session.execute(db.delete(DailyMessages))
        db.session.commit()
        began = time.perf_counter()
        runs = 0
        while dashboard.count_recent_days() > dashboard.SETTLING_DAYS:
            runs += 1
        print(
            f"catch-up, every day counted:  {time.perf_counter() - began:7.2f} s"
            f" ({runs + 1} runs of the job)"
        )
        steady = median_seconds(dashboard.count_recent_days)
        print(f"steady run of the job:        {steady:7.2f} s")
        today = tehran_today()
        for period in dashboard.PERIODS:
            spent = median_seconds(lambda period=period: dashboard.dashboard(period, today))
            print(f"dashboard, {period:5}:             {spent * 1000:7.1f} ms")
        campaign = db.session.get(Campaign, 2)
        spent = median_seconds(lambda: campaign_report(campaign))
        print(f"campaign report (100,000):    {spent * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
