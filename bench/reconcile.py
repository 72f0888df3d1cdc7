"""Benchmark: time to certainty for uncertain messages, against a fake with real latency.

    .venv/bin/python bench/reconcile.py [MESSAGES] [--latency 0.05] [--rps 100] [--concurrency 8]

``MESSAGES`` (10,000) messages are ``unknown``, their requests long over: half were taken
by the fake Kavenegar (sent to it beforehand with their local ids), half never reached it.
Prints the time until no message is ``unknown`` (reconciliation rounds as the worker runs
them, each limited by the account's ``--rps``), how many were found and sent again, and
the time until the ones sent again are accepted. The fake is bench/send.py's: the
Kavenegar fake in its own process, answering each request after ``--latency`` seconds.
"""

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.jobs import Worker  # noqa: E402
from app.messaging import service as campaigns  # noqa: E402
from app.sending.models import Message  # noqa: E402
from app.sending.providers.base import Outgoing, Settings  # noqa: E402
from app.sending.providers.kavenegar import KavenegarProvider  # noqa: E402
from app.sending.reconcile import reconcile_unknown, request_over_after  # noqa: E402
from app.types import utcnow  # noqa: E402
from bench.send import KEY, LINE, kavenegar_account, start_fake  # noqa: E402

BODY = "یلدا مبارک؛ ۲۰٪ تخفیف تا آخر هفته"


def count(status: str) -> int:
    return db.session.scalar(select(func.count(Message.id)).where(Message.status == status))


def run(messages: int, url: str, rps: float, concurrency: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": os.environ.get("VAFA_BENCH_DATABASE_URL")
                or f"sqlite:///{Path(tmp) / 'bench.db'}",
                "VAFA_CONCURRENCY": concurrency,
            }
        )
        with app.app_context():
            upgrade()
            account = kavenegar_account(url, requests_per_second=rps)
            db.session.commit()
            long_ago = utcnow() - timedelta(hours=1)
            db.session.execute(
                insert(Message),
                [
                    {
                        "provider_id": account.id,
                        "mobile": f"+98912{i:07d}",
                        "body": BODY,
                        "parts": 1,
                        "sender": LINE,
                        "status": "unknown",
                        "error": "maybe_sent",
                        "idempotency_key": f"bench:{i}",
                        "handed_over_at": long_ago,
                        "created_at": long_ago,
                    }
                    for i in range(messages)
                ],
            )
            db.session.commit()
            rows = db.session.execute(select(Message.id, Message.mobile).order_by(Message.id))
            taken = [Outgoing(i, mobile, BODY, LINE) for i, mobile in rows][::2]
            adapter = KavenegarProvider(Settings(api_key=KEY, base_url=url))
            batches = [taken[s : s + adapter.max_batch] for s in range(0, len(taken), 200)]
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(adapter.send, batches))
            margin = request_over_after(timedelta(seconds=app.config["VAFA_CLAIM_LEASE"]))

            started = time.perf_counter()
            found = again = rounds = 0
            while count("unknown"):
                outcome = reconcile_unknown(margin, campaigns.send_again, concurrency)
                found, again, rounds = found + outcome.found, again + outcome.sent_again, rounds + 1
            certain = time.perf_counter()
            db.session.remove()
        Worker(app).drain()
        accepted = time.perf_counter()
        with app.app_context():
            sent = count("sent")
    return {
        "certainty": certain - started,
        "rounds": rounds,
        "found": found,
        "again": again,
        "resent": accepted - certain,
        "sent": sent,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("messages", type=int, nargs="?", default=10_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--rps", type=float, default=100.0, help="the account's rate limit")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    fake, url = start_fake(args.latency)
    try:
        figures = run(args.messages, url, args.rps, args.concurrency)
    finally:
        fake.terminate()
        fake.wait()
    print(
        f"{args.messages:,} unknown, fake latency {args.latency * 1000:.0f} ms, "
        f"{args.rps:g} requests/s, concurrency {args.concurrency}"
    )
    print(
        f"time to certainty: {figures['certainty']:.2f} s in {figures['rounds']} round(s); "
        f"found taken: {figures['found']:,}; sent again: {figures['again']:,}"
    )
    print(f"sent again and accepted in {figures['resent']:.2f} s; sent now: {figures['sent']:,}")


if __name__ == "__main__":
    main()
