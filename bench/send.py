"""Benchmark: personalised messages through a local fake provider with real latency.

    .venv/bin/python bench/send.py [MESSAGES] [--latency 0.05] [--concurrency 8]

Prints messages/second from "send" (the owner confirms the campaign: its messages are
written, claimed, sent and recorded) to every message accepted, and the same fake driven
by a minimal client — a thread pool posting prepared requests, no database — as the
ceiling, and their ratio. The fake is the Kavenegar fake (tests/fakes/kavenegar.py) in
its own process, answering each request after ``--latency`` seconds.
"""

import argparse
import json
import os
import socket
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
from app.sending.models import Message, ProviderAccount  # noqa: E402
from app.sending.policy import SendingPolicy, save_policy  # noqa: E402

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


def engine_run(count: int, url: str, concurrency: int) -> dict:
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
            db.session.execute(
                insert(Contact),
                [
                    {"mobile": f"+98912{i:07d}", "first_name": f"مشتری{i}", "last_name": ""}
                    for i in range(count)
                ],
            )
            account = ProviderAccount(
                name="bench",
                kind="kavenegar",
                api_key=KEY,
                senders=LINE,
                base_url=url,
                requests_per_second=1000,
            )
            db.session.add(account)
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

            started = time.perf_counter()
            campaigns.confirm_campaign(campaign)
            db.session.commit()
            campaigns.start_due_campaigns()
            written = time.perf_counter()
            db.session.remove()
        Worker(app).drain()
        finished = time.perf_counter()
        with app.app_context():
            sent = db.session.scalar(select(func.count(Message.id)).where(Message.status == "sent"))
    return {
        "sent": sent,
        "seconds": finished - started,
        "materialise": written - started,
        "dispatch": finished - written,
    }


def ceiling_run(count: int, url: str, concurrency: int, batch: int = 200) -> dict:
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
    with ThreadPoolExecutor(concurrency) as pool:
        sent = sum(pool.map(post, payloads))
    return {"sent": sent, "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("messages", type=int, nargs="?", default=100_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    fake, url = start_fake(args.latency)
    try:
        engine = engine_run(args.messages, url, args.concurrency)
    finally:
        fake.terminate()
    fake, url = start_fake(args.latency)
    try:
        ceiling = ceiling_run(args.messages, url, args.concurrency)
    finally:
        fake.terminate()

    engine_rate = engine["sent"] / engine["seconds"]
    ceiling_rate = ceiling["sent"] / ceiling["seconds"]
    print(f"messages               {args.messages:,}")
    print(f"fake latency           {args.latency * 1000:.0f} ms per request")
    print(f"concurrency            {args.concurrency}")
    print(f"engine: accepted       {engine['sent']:,}")
    print(f"engine: write messages {engine['materialise']:.1f} s")
    print(f"engine: dispatch       {engine['dispatch']:.1f} s")
    print(f"engine: send→accepted  {engine['seconds']:.1f} s  ({engine_rate:,.0f} messages/s)")
    print(f"ceiling: accepted      {ceiling['sent']:,}")
    print(f"ceiling: minimal client {ceiling['seconds']:.1f} s  ({ceiling_rate:,.0f} messages/s)")
    print(f"engine / ceiling       {engine_rate / ceiling_rate:.2f}")


if __name__ == "__main__":
    main()
