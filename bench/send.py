"""Benchmark: personalised messages through a local fake provider with real latency.

    .venv/bin/python bench/send.py [MESSAGES] [--latency 0.05] [--connections 16] [--runs 3]

Prints messages/second from "send" (the owner confirms the campaign) to the last message
accepted, with Vafa's default settings (VAFA_CONCURRENCY, VAFA_DISPATCH_BATCH: whatever
the environment says, as for a user); then the same fake driven by a minimal client —
``--connections`` threads posting prepared requests of 200, no database — as the
ceiling, and their ratio; each run twice over (engine, then ceiling), ``--runs`` times,
with the median ratio.

The campaign runs in a child process laid out as ``vafa run`` lays itself out: a worker
thread sending, and the scheduler's start job writing the outbox in committed chunks,
which the worker claims as each one is committed. Its peak RSS is printed, and when the
confirmation (the estimate) ended and the first request was handed over. The fake is
the Kavenegar fake (tests/fakes/kavenegar.py) in its own process, answering each request
after ``--latency`` seconds. VAFA_BENCH_DATABASE_URL runs it on PostgreSQL.
"""

import argparse
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import time as clock
from pathlib import Path

import requests
from flask_migrate import upgrade
from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.contacts.models import Contact  # noqa: E402
from app.extensions import db  # noqa: E402
from app.jobs import Worker  # noqa: E402
from app.messaging import service as campaigns  # noqa: E402
from app.messaging.models import Campaign  # noqa: E402
from app.sending.models import Message, ProviderAccount  # noqa: E402
from app.sending.policy import SendingPolicy, save_policy  # noqa: E402
from app.types import utcnow  # noqa: E402

KEY = "bench-key"
LINE = "30001234"
FAKE = """
import sys
from werkzeug.serving import make_server
from tests.fakes import kavenegar
from tests.fakes.server import Faults
app = kavenegar.create_app({key!r}, credit=10**15, lines=({line!r},))
app.faults = Faults(delay={latency})
make_server("127.0.0.1", {port}, app, threaded=True).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_fake(latency: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    code = FAKE.format(key=KEY, line=LINE, latency=latency, port=port)
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(100):
        try:
            requests.get(f"{url}/{KEY}/account/info.json", timeout=1)
            return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError("the fake provider did not start")


def kavenegar_account(url: str, requests_per_second: float) -> ProviderAccount:
    """The benches' account at the fake Kavenegar, added to the session."""
    account = ProviderAccount(
        name="bench",
        kind="kavenegar",
        api_key=KEY,
        senders=LINE,
        base_url=url,
        requests_per_second=requests_per_second,
    )
    db.session.add(account)
    return account


def prepare(database_url: str, count: int, url: str) -> int:
    """The shop before the owner presses "send": contacts, an account, a draft campaign."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        upgrade()
        db.session.execute(
            insert(Contact),
            [
                {"mobile": f"+98912{i:07d}", "first_name": f"مشتری{i}", "last_name": ""}
                for i in range(count)
            ],
        )
        account = kavenegar_account(url, requests_per_second=1000)
        save_policy(SendingPolicy(window_start=clock(0), window_end=clock(0)))
        db.session.commit()
        campaign = campaigns.create_campaign(
            name="bench",
            body="سلام {نام}، تخفیف ویژهٔ یلدا برای شما",
            list_id=None,
            provider_id=account.id,
            sender=LINE,
            scheduled_at=None,
            created_by_id=None,
        )
        db.session.commit()
        campaign_id = campaign.id
        db.session.remove()
        db.engine.dispose()
    return campaign_id


def peak_rss_mb() -> float:
    """This process's own peak RSS (Linux ``VmHWM``).

    Not ``getrusage``'s ``ru_maxrss``: Linux carries it over ``exec``, so a spawned child
    would report the parent's peak (here ``prepare``'s, with every contact in memory).
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def send_campaign(database_url: str, campaign_id: int) -> dict:
    """In a fresh process: a worker thread, the owner's confirmation, the scheduler's job
    writing the outbox; until every message is accepted (or refused)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    worker = Worker(app)
    thread = worker.start_thread()
    with app.app_context():
        campaign = db.session.get(Campaign, campaign_id)
        started, cpu_started = utcnow(), time.process_time()
        campaigns.confirm_campaign(campaign)
        db.session.commit()
        confirmed = utcnow()
        campaigns.start_due_campaigns()  # what the scheduler runs for a campaign now due
        written = utcnow()
        written_rss = peak_rss_mb()
        # Looked at cheaply (a count would take the worker's CPU): is any message left?
        left = select(Message.id).where(Message.status.in_(("queued", "sending"))).limit(1)
        while db.session.scalar(left) is not None:
            db.session.rollback()
            time.sleep(0.1)
        cpu_finished = time.process_time()
        sent, finished = db.session.execute(
            select(func.count(Message.id), func.max(Message.sent_at)).where(
                Message.status == "sent"
            )
        ).one()
        first_handed_over = db.session.scalar(select(func.min(Message.handed_over_at)))
        db.session.remove()
    worker.stop.set()
    thread.join()
    return {
        "sent": sent,
        "seconds": (finished - started).total_seconds(),
        "confirmed": (confirmed - started).total_seconds(),
        "first_handed_over": (first_handed_over - started).total_seconds(),
        "written": (written - started).total_seconds(),
        "cpu": cpu_finished - cpu_started,
        "concurrency": app.config["VAFA_CONCURRENCY"],
        "batch": app.config["VAFA_DISPATCH_BATCH"],
        "written_rss_mb": written_rss,
        "rss_mb": peak_rss_mb(),
    }


def engine_run(count: int, url: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        database_url = (
            os.environ.get("VAFA_BENCH_DATABASE_URL") or f"sqlite:///{Path(tmp) / 'bench.db'}"
        )
        campaign_id = prepare(database_url, count, url)
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return pool.apply(send_campaign, (database_url, campaign_id))


def ceiling_run(count: int, url: str, connections: int, batch: int = 200) -> dict:
    """The fake driven by nothing but prepared requests from a thread pool."""
    payloads = []
    for start in range(0, count, batch):
        ids = range(start, min(start + batch, count))
        payloads.append(
            {
                "receptor": json.dumps([f"0912{i:07d}" for i in ids]),
                "sender": json.dumps([LINE] * len(ids)),
                "message": json.dumps(
                    [f"سلام مشتری{i}، تخفیف ویژهٔ یلدا برای شما\nلغو۱۱" for i in ids],
                    ensure_ascii=False,
                ),
                "localmessageids": json.dumps(list(ids)),
            }
        )
    sessions: dict[int, requests.Session] = {}

    def post(payload):
        import threading

        session = sessions.setdefault(threading.get_ident(), requests.Session())
        response = session.post(f"{url}/{KEY}/sms/sendarray.json", data=payload, timeout=30)
        return len(response.json()["entries"])

    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        sent = sum(pool.map(post, payloads))
    return {"sent": sent, "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("messages", type=int, nargs="?", default=100_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    print(f"messages                {args.messages:,}")
    print(f"fake latency            {args.latency * 1000:.0f} ms per request")
    ratios = []
    for run in range(1, args.runs + 1):
        fake, url = start_fake(args.latency)
        try:
            engine = engine_run(args.messages, url)
        finally:
            fake.terminate()
        fake, url = start_fake(args.latency)
        try:
            ceiling = ceiling_run(args.messages, url, args.connections)
        finally:
            fake.terminate()
        engine_rate = engine["sent"] / engine["seconds"]
        ceiling_rate = ceiling["sent"] / ceiling["seconds"]
        ratios.append(engine_rate / ceiling_rate)
        print(f"run {run}")
        print(
            f"  engine settings       concurrency {engine['concurrency']}, batch {engine['batch']}"
        )
        print(f"  engine: accepted      {engine['sent']:,}")
        print(f"  engine: confirmed after {engine['confirmed']:.2f} s (the estimate)")
        print(f"  engine: first request handed over after {engine['first_handed_over']:.2f} s")
        print(f"  engine: outbox written after {engine['written']:.2f} s")
        print(f"  engine: send→accepted {engine['seconds']:.2f} s  ({engine_rate:,.0f} messages/s)")
        print(f"  engine: CPU           {engine['cpu'] / engine['sent'] * 1e6:.0f} µs per message")
        print(
            f"  engine: peak RSS      {engine['rss_mb']:.0f} MB "
            f"({engine['written_rss_mb']:.0f} MB when the outbox was written)"
        )
        print(f"  ceiling: accepted     {ceiling['sent']:,}")
        print(
            f"  ceiling: minimal client {ceiling['seconds']:.2f} s  "
            f"({ceiling_rate:,.0f} messages/s, {args.connections} connections)"
        )
        print(f"  engine / ceiling      {ratios[-1]:.2f}")
    print(f"engine / ceiling, median of {args.runs}: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
