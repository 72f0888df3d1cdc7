"""At most once, under fire: SIGKILL the worker again and again in the middle of a
campaign of thousands of messages, then let a last worker finish.

The worker is a real ``vafa worker`` process on the test database; the provider is the
Kavenegar fake, which records every request that reaches it. No message may be asked of
the provider twice, every message must end handed over, refused, or ``unknown`` — and
only a message in a request that was in flight when its worker died may be ``unknown``:
the rest of a dead worker's claim never left the queue, and is sent.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import time as clock
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from app.contacts.models import Contact
from app.extensions import db
from app.jobs import Worker
from app.messaging import service as campaigns
from app.sending.models import Message, ProviderAccount
from app.sending.policy import SendingPolicy, save_policy
from app.sending.reconcile import reconcile_unknown
from app.types import utcnow
from tests.fakes import kavenegar
from tests.fakes.server import Faults, serving

ROOT = Path(__file__).resolve().parents[3]
MESSAGES = 4000
KILLS = 6
LEASE_SECONDS = 2


def start_worker(database_url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "VAFA_DATABASE_URL": database_url,
        # The tests' secret key: the worker decrypts the account's key with it.
        "VAFA_SECRET_KEY": "test",
        "VAFA_CLAIM_LEASE": str(LEASE_SECONDS),
        "VAFA_DISPATCH_BATCH": "150",
        "VAFA_CONCURRENCY": "2",
        "VAFA_TICK_SECONDS": "1",
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from app.cli import main; main()", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def pending() -> int:
    db.session.rollback()
    return db.session.scalar(
        select(func.count(Message.id)).where(Message.status.in_(("queued", "sending", "held")))
    )


def in_flight_at_death() -> set[int]:
    """What a killed worker left taken from the queue: its requests in flight (a claim
    becomes the worker's only as its request is handed over)."""
    db.session.rollback()
    rows = db.session.execute(
        select(Message.id, Message.handed_over_at.is_not(None)).where(Message.status == "sending")
    ).all()
    assert all(handed for _id, handed in rows), "a message taken but not handed over"
    return {message_id for message_id, _handed in rows}


def ids_with(status: str) -> set[int]:
    db.session.rollback()
    return set(db.session.scalars(select(Message.id).where(Message.status == status)))


def left_uncertain_after_reconciling(app) -> set[int]:
    """Ask the provider about every ``unknown`` message, as workers do, send what it never
    took, and return what is still uncertain. Every worker is gone, so no request can be
    under way: no margin is needed.

    A worker killed in the middle of its own lookups leaves their messages to be asked
    about again ``ASK_AGAIN_AFTER`` later, as does a worker told "never seen" of a message
    handed over too recently to be sure; the test does not wait that long: every
    ``unknown`` message is due now."""
    db.session.execute(update(Message).where(Message.status == "unknown").values(polled_at=None))
    db.session.commit()
    while reconcile_unknown(timedelta(0), campaigns.send_again).settled:
        pass
    Worker(app).drain()
    return ids_with("unknown")


def send_requests(fake) -> int:
    """How many send requests reached the provider (not inbox or status reads)."""
    return sum(
        1 for _method, path, _params in list(fake.state["requests"]) if path.startswith("sms/send")
    )


def requested_local_ids(fake) -> Counter:
    """How many times each of our message ids was put in a send request."""
    seen: Counter = Counter()
    for _method, path, params in list(fake.state["requests"]):
        if path == "sms/send" and params.get("localid"):
            seen.update(int(i) for i in params["localid"].split(","))
        elif path == "sms/sendarray" and params.get("localmessageids"):
            seen.update(int(i) for i in json.loads(params["localmessageids"]))
    return seen


def start_campaign(url: str, messages: int, requests_per_second: float) -> ProviderAccount:
    account = ProviderAccount(
        name="kavenegar",
        kind="kavenegar",
        api_key="kave-test-key",
        senders="30001234",
        base_url=f"{url}/v1",
        requests_per_second=requests_per_second,
        is_default=True,
    )
    db.session.add(account)
    save_policy(SendingPolicy(window_start=clock(0), window_end=clock(0)))
    db.session.execute(
        Contact.__table__.insert(),
        [
            {"mobile": f"+98912{i:07d}", "first_name": f"مشتری {i}", "last_name": ""}
            for i in range(messages)
        ],
    )
    db.session.commit()
    campaign = campaigns.create_campaign(
        name="crash",
        body="سلام {نام}",
        list_id=None,
        provider_id=account.id,
        sender="30001234",
        scheduled_at=None,
        created_by_id=None,
    )
    campaigns.confirm_campaign(campaign)
    db.session.commit()
    campaigns.start_due_campaigns()
    return account


def kill_once_it_sends(worker: subprocess.Popen, fake, wait_after: float) -> None:
    """Kill the worker once a request of its own has reached the provider (start-up
    time varies with the machine's load), ``wait_after`` seconds later."""
    seen = send_requests(fake)
    deadline = time.monotonic() + 60
    while send_requests(fake) == seen and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(wait_after)
    worker.send_signal(signal.SIGKILL)
    worker.wait()


def finish_with_a_last_worker(database_url: str) -> None:
    last = start_worker(database_url)
    try:
        deadline = time.monotonic() + 90
        while pending() and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        last.send_signal(signal.SIGTERM)
        last.wait(timeout=30)


def test_killing_workers_never_sends_a_message_twice_and_strands_only_what_was_in_flight(
    app, make_contact
):
    fake = kavenegar.create_app(credit=10**12, lines=("30001234",))
    # Every request is recorded as it arrives and answered half a second later, so a
    # worker killed after its request arrived is certainly killed while waiting.
    fake.faults = Faults(delay=0.5, after_handling=True)
    with serving(fake) as url:
        start_campaign(url, MESSAGES, requests_per_second=500)
        database_url = app.config["SQLALCHEMY_DATABASE_URI"]

        rng = random.Random(11)
        in_flight: set[int] = set()  # handed over, unanswered, when a worker died
        for _kill in range(KILLS):
            assert pending(), "the campaign finished before the worker was killed enough"
            kill_once_it_sends(start_worker(database_url), fake, rng.uniform(0.05, 0.4))
            in_flight |= in_flight_at_death()
        finish_with_a_last_worker(database_url)
        uncertain_before_reconciling = ids_with("unknown")
        left_uncertain = left_uncertain_after_reconciling(app)

    assert pending() == 0, "every message left the queue"
    by_status = dict(
        db.session.execute(select(Message.status, func.count()).group_by(Message.status)).all()
    )
    assert set(by_status) <= {"sent", "delivered", "failed", "unknown", "rejected"}
    assert sum(by_status.values()) == MESSAGES

    requested = requested_local_ids(fake)
    assert max(requested.values()) == 1, "a message was put in two send requests"
    sent_ids = ids_with("sent")
    assert sent_ids <= set(requested), "a message marked sent never reached the provider"

    assert in_flight, "the kills should have caught requests in flight"
    assert uncertain_before_reconciling <= in_flight, (
        "only a message in flight at a kill may be uncertain"
    )
    # Reconciling settled every uncertain message: each reached the provider exactly once.
    assert left_uncertain == set()
    assert set(requested) == set(db.session.scalars(select(Message.id)))


def test_a_dead_workers_rate_limit_slots_do_not_hold_up_the_next_worker(app, make_contact):
    fake = kavenegar.create_app(credit=10**12, lines=("30001234",))
    fake.faults = Faults(delay=0.2, after_handling=True)
    # One request every two seconds: a worker that booked its whole claim's requests
    # ahead (as the engine once did) would hold the account for minutes after dying.
    per_second = 0.5
    gap = timedelta(seconds=1 / per_second)
    with serving(fake) as url:
        account = start_campaign(url, 600, requests_per_second=per_second)
        database_url = app.config["SQLALCHEMY_DATABASE_URI"]

        kill_once_it_sends(start_worker(database_url), fake, 0.1)
        killed_at = utcnow()
        db.session.rollback()
        booked = db.session.get(ProviderAccount, account.id).next_request_at
        # Its first request went, a second one may have waited for its turn; nothing
        # further was booked, so the next worker's requests follow within two intervals.
        assert booked <= killed_at + 2 * gap

        before = send_requests(fake)
        finish_with_a_last_worker(database_url)

    assert send_requests(fake) > before, "the next worker sent"
    assert max(requested_local_ids(fake).values()) == 1
    assert len(ids_with("sent") | ids_with("unknown")) == 600


def test_two_workers_sending_one_campaign_together_send_each_message_once(app, make_contact):
    """Each reads its own share of the queue first, then the other's: a message both read
    is taken by one hand-over, and no message is asked of the provider twice."""
    fake = kavenegar.create_app(credit=10**12, lines=("30001234",))
    # Slow enough that neither worker is done before the other has started.
    fake.faults = Faults(delay=0.3, after_handling=True)
    with serving(fake) as url:
        start_campaign(url, MESSAGES, requests_per_second=500)
        database_url = app.config["SQLALCHEMY_DATABASE_URI"]
        workers = [start_worker(database_url) for _ in range(2)]
        try:
            deadline = time.monotonic() + 90
            while pending() and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=30)

    requested = requested_local_ids(fake)
    assert max(requested.values()) == 1, "a message was put in two send requests"
    assert ids_with("sent") == set(requested) == set(db.session.scalars(select(Message.id)))
    by_worker = db.session.execute(
        select(Message.worker_id, func.count()).group_by(Message.worker_id)
    ).all()
    assert len(by_worker) == 2, "both workers sent a share"
