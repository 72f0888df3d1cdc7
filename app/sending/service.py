"""The sending engine: claims queued messages, hands them to providers, records answers.

It never imports web code (nor the campaign side: what happens to an account is written
on the account, and campaigns decide for themselves): ``vafa worker`` runs it without a
request, ``vafa run`` in a thread. Each step commits before the next one talks to a
provider, so a crash at any point leaves every message in a state that says what is
known about it:

- a claim is read, not written: the messages stay ``queued`` while the worker plans
  them. Just before a request leaves, its messages become the worker's (``sending``,
  under its lease, ``app.sending.leases``) and are marked handed over, in one committed
  UPDATE that takes only messages still queued. A worker that dies leaves a lease that
  expires within ``VAFA_CLAIM_LEASE`` seconds: only the messages of a request that was
  in flight become ``unknown`` — never re-sent automatically, reconciled by local id
  where the provider has one — and the rest of its claim was never taken from the queue;
- only a ``NotSent`` answer (the provider certainly refused the request) puts messages
  back in the queue, with backoff; an account that refuses for its own reasons or keeps
  refusing is marked failing, and the campaign side pauses its campaigns.

The dispatcher keeps up to ``concurrency`` requests in flight all the time: it claims
the next batch while requests are out; its send threads only talk to providers, and the
dispatcher's own thread records their answers and hands over the next requests, a round
at a time in one transaction. One HTTP session per thread and account (connection
reuse); each request takes its slot of the per-account rate limit, which every worker
shares through the database, just before it is handed over.
"""

import logging
import queue
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from itertools import islice

from flask import current_app
from sqlalchemy import Row, and_, bindparam, or_, select, update

from app.contacts.models import Contact
from app.contacts.phones import InvalidMobile, normalize_mobile
from app.contacts.service import set_opt_out
from app.extensions import db
from app.persian import ascii_digits, normalize_text
from app.sending.leases import LeaseKeeper, hold_lease, worker_share
from app.sending.models import Message, ProviderAccount
from app.sending.policy import (
    SendingPolicy,
    load_policy,
    marketing_allowance,
    within_allowance,
)
from app.sending.providers import ThreadAdapters, make_provider, provider_class
from app.sending.providers.base import (
    ACCOUNT_ERRORS,
    Accepted,
    ErrorCode,
    MaybeSent,
    NotSent,
    Outgoing,
    ProviderError,
    Rejected,
    Settings,
)
from app.types import utcnow

log = logging.getLogger("vafa.sending")

# Consecutive refused requests after which an account is marked failing.
MAX_FAILURES = 5
MAX_BACKOFF_SECONDS = 300
# A whole request refused for one of its messages (a bad number, a refused text) that
# the provider does not name: its messages are sent again one by one, to find it.
SPLIT_CODES = frozenset({ErrorCode.INVALID_NUMBER, ErrorCode.BAD_MESSAGE})
# A rate-limit slot at most this many seconds away is waited for by the send thread,
# after the hand-over: sooner than the dispatcher's next round would come. An account
# allowing hundreds of requests a second would otherwise let one request leave a round.
SLOT_WAITED_IN_THREAD = 0.02
OPT_OUT_WORDS = {"11", "لغو", "لغو11", "ابطال", "stop"}
OPT_IN_WORDS = {"12"}


# Accounts --------------------------------------------------------------------------


def default_account() -> ProviderAccount:
    """The account campaigns use unless the owner picks another.

    A fresh install has none: the console provider is created, so a new owner can try
    every step before connecting a real provider.
    """
    account = db.session.scalar(
        select(ProviderAccount).order_by(ProviderAccount.is_default.desc(), ProviderAccount.id)
    )
    if account is None:
        account = ProviderAccount(
            name="console",
            kind="console",
            senders="10000000",
            is_default=True,
            requests_per_second=100.0,
        )
        db.session.add(account)
        db.session.flush()
    return account


def adapter_for(account: ProviderAccount):
    return make_provider(account.kind, account.settings())


# Claiming --------------------------------------------------------------------------


MESSAGES = Message.__table__


def driver_mark(connection) -> str:
    """The database driver's parameter mark, for statements written for the driver:
    ``?`` (sqlite3) or ``%s`` (psycopg)."""
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"


def driver_value(connection, column: str, value):
    """``value`` as the database driver takes it for the messages' ``column``: a moment as
    SQLite's text, a flag as its 0 or 1 (given a bool, the sqlite3 module looks for an
    adapter each time it binds one: for the outbox, a row's dearest value to bind)."""
    process = MESSAGES.c[column].type._cached_bind_processor(connection.dialect)
    return process(value) if process else value


def driver_slices(values: Sequence, most: int = 1024) -> Iterator[Sequence]:
    """``values`` in slices of a power of two (at most ``most``, itself one), largest
    first, for statements written for the driver with one placeholder per value (or a
    row of them).

    The driver keeps each statement it has prepared (sqlite3: 128 per connection, each
    as large as its text), so statements come in a few sizes, not one for every count:
    a worker's memory stays flat however many messages pass through it.
    """
    start = 0
    while start < len(values):
        size = min(most, 1 << (len(values) - start).bit_length() - 1)
        yield values[start : start + size]
        start += size


def driver_lists(values: Sequence, most: int = 1024) -> Iterator[Sequence]:
    """``values`` for ``IN (…)`` lists and joined ``VALUES``, which a repeated value
    leaves as they are: slices of ``most``, the last one filled up to a power of two
    with its last value. As ``driver_slices``, statements come in a few sizes; and 200
    ids are one statement, not three (128 + 64 + 8), each of which the dispatcher would
    wait for."""
    for start in range(0, len(values), most):
        part = values[start : start + most]
        size = 1 << (len(part) - 1).bit_length()
        yield [*part, *[part[-1]] * (size - len(part))] if size > len(part) else part


# A claimed message, with what sending it needs (``plan_calls`` reads them in this order),
# and whether it is marketing to a contact who opted out since it was queued.
_CLAIMED_COLUMNS = (
    Message.id,
    Message.provider_id,
    Message.mobile,
    Message.body,
    Message.sender,
    Message.error,
    Message.marketing,
    and_(Message.marketing, Contact.opted_out_at.is_not(None)).label("opted_out"),
)


def claim_queued(
    limit: int,
    now: datetime,
    policy: SendingPolicy,
    worker_id: int,
    holding: tuple[int, int] | None = None,
    held_marketing: int = 0,
) -> list[Row]:
    """Read up to ``limit`` due messages for worker ``worker_id`` to send, in id order,
    with what sending them needs (``_CLAIMED_COLUMNS``); they stay ``queued``.

    A claim writes nothing: each message becomes the worker's when its request is
    handed over (``hand_over``, which takes only messages still queued), so a worker
    that dies leaves nothing of its claim behind, and no message is written twice
    before its request. ``holding``: the range of ids the worker holds in memory, not
    read again. Several workers each read their own share of the ids first
    (``worker_share``), and the others' when theirs runs short, so that they rarely read
    the same messages; when they do, the first hand-over takes them.

    Marketing messages wait outside the sending window and past the daily cap (counting
    the ``held_marketing`` messages the worker holds); messages to contacts who opted out
    since they were queued are skipped here, at the last moment.
    """
    due = [
        Message.status == "queued",
        or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
    ]
    if holding is not None:
        due.append(~Message.id.between(*holding))
    allowance = marketing_allowance(policy, now)
    if allowance is not None:
        allowance = max(allowance - held_marketing, 0)
    if allowance == 0:
        due.append(Message.marketing.is_(False))
    candidates = (
        select(*_CLAIMED_COLUMNS)
        .outerjoin(Contact, Contact.id == Message.contact_id)
        .where(*due)
        .order_by(Message.id)
    )
    connection = db.session.connection()
    rank, workers = worker_share(worker_id, now)
    if workers == 1:
        read = connection.execute(candidates.limit(limit)).all()
    else:
        # Its own share first; then, if that is short, the others' (a worker that is
        # slow or stuck does not hold its share back from the rest).
        share = Message.id % workers == rank
        read = connection.execute(candidates.where(share).limit(limit)).all()
        if len(read) < limit:
            others = candidates.where(~share).limit(limit - len(read))
            read = sorted([*read, *connection.execute(others).all()])
    # Marketing messages to contacts who opted out since they were queued are skipped.
    opted_out = {row.id for row in read if row.opted_out}
    if opted_out:
        db.session.execute(
            update(Message)
            .where(Message.id.in_(opted_out), Message.status == "queued")
            .values(status="skipped", error="opted_out", done_at=now)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    if opted_out:
        read = [row for row in read if row.id not in opted_out]
    return within_allowance(read, allowance)


# Planning and rate limiting ---------------------------------------------------------


@dataclass(eq=False)
class Call:
    """One request to one provider account, for messages one worker claimed."""

    account_id: int
    kind: str
    settings: Settings
    messages: list[Outgoing]
    worker_id: int
    # Refused before any request: the account's stored key cannot be decrypted.
    refused: NotSent | None = None
    # How many of its messages are marketing: held by a worker, they count against the
    # daily cap before they are handed over.
    marketing: int = 0
    # When its slot of the rate limit comes (monotonic time): the send thread waits for it.
    leaves_at: float = 0.0


def plan_calls(
    messages: Sequence, accounts: dict[int, ProviderAccount], worker_id: int
) -> list[Call]:
    """Group claimed messages (``claim_queued``'s rows) into provider requests within each
    adapter's limits.

    Messages sharing a text go through the bulk endpoint (up to ``max_batch`` per call);
    personalised texts go through the per-recipient endpoint (up to ``max_p2p``). Each
    call counts its marketing messages.
    """
    calls: list[Call] = []
    by_account: dict[int, list] = defaultdict(list)
    marketing: set[int] = set()
    for message_id, account_id, mobile, body, sender, error, is_marketing, _ in messages:
        by_account[account_id].append((Outgoing(message_id, mobile, body, sender), error))
        if is_marketing:
            marketing.add(message_id)
    for account_id, group in by_account.items():
        account = accounts[account_id]
        adapter = provider_class(account.kind)
        call = partial(Call, account_id, account.kind, worker_id=worker_id)
        try:
            settings = account.settings()
        except NotSent as refusal:
            calls.append(call(Settings(), [outgoing for outgoing, _ in group], refused=refusal))
            continue
        by_text: dict[tuple[str, str], list[Outgoing]] = defaultdict(list)
        for outgoing, error in group:
            if error in SPLIT_CODES:
                calls.append(call(settings, [outgoing]))
            else:
                by_text[(outgoing.body, outgoing.sender)].append(outgoing)
        # Per-recipient requests carry one sender line each (as providers require).
        singles: dict[str, list[Outgoing]] = defaultdict(list)
        for (_body, sender), outgoing in by_text.items():
            if len(outgoing) > 1 or adapter.max_p2p == 1:
                for start in range(0, len(outgoing), adapter.max_batch):
                    calls.append(call(settings, outgoing[start : start + adapter.max_batch]))
            else:
                singles[sender].extend(outgoing)
        for outgoing in singles.values():
            for start in range(0, len(outgoing), adapter.max_p2p):
                calls.append(call(settings, outgoing[start : start + adapter.max_p2p]))
    for planned in calls:
        if len(marketing) == len(messages):  # as for a campaign: all of them
            planned.marketing = len(planned.messages)
        elif marketing:
            planned.marketing = sum(m.local_id in marketing for m in planned.messages)
    return calls


def take_slot(account_id: int, ahead: float = 0.0) -> tuple[bool, float]:
    """Try to reserve the moment of one request through the account: (True, seconds
    until it) or (False, seconds after which to ask again); see ``take_slots``."""
    moments, wait = take_slots(account_id, 1, ahead)
    return (True, moments[0]) if moments else (False, wait)


def take_slots(account_id: int, wanted: int, ahead: float = 0.0) -> tuple[list[float], float]:
    """Try to reserve the moments of up to ``wanted`` requests through the account, one
    interval apart, in one read and one write.

    Returns the seconds until each reserved moment, soonest first, and 0; or, when the
    account is booked further ahead than one interval (or ``ahead`` seconds, if longer),
    no moment and the seconds after which to ask again. Only moments within that horizon
    are reserved. The next free moment lives in the account's row, so the limit holds
    across every worker process (a per-worker limit multiplies with the number of
    workers); since nobody books further ahead than that, a worker that dies leaves at
    most one interval (or ``ahead``) booked. The row is changed only if nobody changed it
    since it was read (compare and set; on a clash, read again: the failed UPDATE made
    this transaction the writer, so the next read sees the winner's value). Commits
    nothing: the caller commits the reservation, with the hand-over when the moment is
    (nearly) now.
    """
    connection = db.session.connection()
    while True:
        now = utcnow()
        booked, per_second = connection.execute(_READ_SLOT, {"account": account_id}).one()
        gap = timedelta(seconds=1 / max(per_second, 0.01))
        slot = max(now, booked or now)
        horizon = max(gap, timedelta(seconds=ahead))
        if slot - now > horizon:
            return [], (slot - now - horizon).total_seconds()
        moments = []
        while len(moments) < max(wanted, 1) and slot - now <= horizon:
            moments.append((slot - now).total_seconds())
            slot += gap
        book = _BOOK_FIRST_SLOT if booked is None else _BOOK_SLOT
        values = {"account": account_id, "booked": booked, "next": slot}
        if connection.execute(book, values).rowcount:
            return moments, 0.0


# Statements the dispatcher runs for every request, built once: building and compiling
# an SQLAlchemy statement takes longer than SQLite takes to run it.
_ACCOUNTS = ProviderAccount.__table__
_READ_SLOT = select(_ACCOUNTS.c.next_request_at, _ACCOUNTS.c.requests_per_second).where(
    _ACCOUNTS.c.id == bindparam("account")
)
_BOOK_SLOT = (
    _ACCOUNTS.update()
    .where(
        _ACCOUNTS.c.id == bindparam("account"), _ACCOUNTS.c.next_request_at == bindparam("booked")
    )
    .values(next_request_at=bindparam("next"))
)
_BOOK_FIRST_SLOT = (
    _ACCOUNTS.update()
    .where(_ACCOUNTS.c.id == bindparam("account"), _ACCOUNTS.c.next_request_at.is_(None))
    .values(next_request_at=bindparam("next"))
)

# Every round: an account that answered is not failing (a write only when it was).
_ANSWERED = (
    _ACCOUNTS.update()
    .where(
        _ACCOUNTS.c.id == bindparam("account"),
        or_(_ACCOUNTS.c.failures > 0, _ACCOUNTS.c.failing_since.is_not(None)),
    )
    .values(failures=0, failing_since=None)
)


def hand_over(calls: Sequence[Call]) -> None:
    """Make the messages of one worker's calls its own and mark them handed over, in one
    statement per thousand or so; the caller commits, then the requests leave.

    Only messages still ``queued`` are taken (and kept in their call): another worker
    may have handed some of them over since they were claimed (read). Nothing is taken
    if the worker's lease is gone (it was too slow to renew it): its messages would
    belong to nobody alive.
    """
    if not calls:
        return
    worker_id = calls[0].worker_id
    if hold_lease(worker_id):
        taken = _take(worker_id, [m.local_id for call in calls for m in call.messages])
        if taken is None:  # as nearly always: every one of them
            return
    else:
        taken = set()
    for call in calls:
        call.messages = [m for m in call.messages if m.local_id in taken]


def _take(worker_id: int, ids: Sequence[int]) -> set[int] | None:
    """Move the messages ``ids`` that are still queued to ``sending`` under the worker's
    lease, handed over now; None when all of them were, else the ids taken (read back
    only then: the ones this statement marked, by its moment)."""
    connection = db.session.connection()
    mark = driver_mark(connection)
    now = driver_value(connection, "handed_over_at", utcnow())
    marked = 0
    for some in driver_lists(ids):
        marked += connection.exec_driver_sql(
            f"UPDATE messages SET status = 'sending', worker_id = {mark}, handed_over_at = {mark}"
            f" WHERE id IN ({', '.join([mark] * len(some))}) AND status = 'queued'",
            (worker_id, now, *some),
        ).rowcount
    if marked == len(ids):
        return None
    taken: set[int] = set()
    for some in driver_lists(ids):
        taken.update(
            connection.exec_driver_sql(
                f"SELECT id FROM messages WHERE id IN ({', '.join([mark] * len(some))})"
                f" AND status = 'sending' AND worker_id = {mark} AND handed_over_at = {mark}",
                (*some, worker_id, now),
            ).scalars()
        )
    return taken


# Dispatching ------------------------------------------------------------------------

# Set when this process queues messages (``vafa run``: the scheduler writes a campaign's
# outbox while the worker sends it): its dispatchers claim them at once, not at their next
# turn. Messages another process queues are found at the next turn.
_queued_here = threading.Event()


def queued_here() -> None:
    """Tell this process's dispatchers that messages are waiting to be claimed."""
    _queued_here.set()


# Passed to the writer among the answers: the claiming thread has planned more calls.
_CLAIMED = (None, None)


class Dispatcher:
    """Keeps up to ``concurrency`` provider requests in flight under one worker lease.

    The thread that calls ``run`` writes what happens to requests, a round at a time: it
    records the answers that arrived, takes rate-limit slots and hands over the calls
    that may leave, commits all of that at once, and only then starts those calls on the
    send threads, which do nothing but talk to providers and pass their answers back.
    One writer and one commit per round instead of a locked transaction per step of every
    request: with sixteen requests out, the send threads would otherwise queue for the
    database (SQLite takes one writer at a time) and for the interpreter.

    It claims ahead, on a thread of its own (``run``): while requests are out, the next
    batch is claimed and planned, and the rounds go on meanwhile (a claim of 2,000 takes
    longer than a round: answers would wait for it, and threads for their next call).
    Claimed calls wait in memory, never handed over, until a thread is free and their
    account's rate limit lets them go; if the process dies they are still in the queue.
    """

    def __init__(
        self,
        concurrency: int = 8,
        lease: timedelta = timedelta(seconds=30),
        batch: int = 2000,
    ):
        self.app = current_app._get_current_object()
        self.concurrency = concurrency
        self.batch = batch
        self.lease = LeaseKeeper(self.app, "worker", lease)
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="vafa-send")
        self._adapters = ThreadAdapters()
        self._waiting: deque[Call] = deque()  # claimed and planned, not handed over
        # Calls whose slot is reserved for a moment to come (monotonic time), soonest first.
        self._booked: list[tuple[float, Call]] = []
        # Accounts booked further ahead by others: when to ask them for a slot again.
        self._blocked: dict[int, float] = {}
        # Answers, and _CLAIMED when the claiming thread has planned more calls.
        self._answers: queue.SimpleQueue[tuple[Call, object]] = queue.SimpleQueue()
        self._early: list[tuple[Call, object]] = []  # taken from the queue while waiting
        self._in_flight = 0  # calls started whose answer is not recorded yet
        # Planned by the claiming thread, for the writer to take at its next round.
        self._claimed: queue.SimpleQueue[Call] = queue.SimpleQueue()
        # Claimed and not handed over yet: their ids are read by no later claim, and
        # their marketing messages count against the daily cap. The claiming thread
        # adds to it, the writer takes away what it hands over.
        self._held: set[Call] = set()
        self._held_lock = threading.Lock()
        # Set by the writer when it takes waiting calls: the claiming thread looks again.
        self._taken = threading.Event()

    def close(self) -> None:
        """Let the requests in flight finish and record their answers, then end the lease.
        The rest of the claim was only read: it stays in the queue."""
        self.pool.shutdown(wait=True)
        try:
            with self.app.app_context():
                record_answers(self._arrived())
                db.session.commit()
                db.session.remove()
        finally:
            # Even if the answers could not be written: ending the lease makes the
            # messages they were about unknown (to be reconciled), not stranded.
            self._waiting.clear()
            self._booked.clear()
            self._held.clear()
            self.lease.close()

    def dispatch(self, limit: int) -> int:
        """Claim up to ``limit`` messages once, send them all, record every answer."""
        claimed = self._claim(limit)
        self._round()
        while self._busy():
            self._wait(self._next_moment())
            self._round()
        return claimed

    def run(self, stop: threading.Event, idle_seconds: float = 2, until_idle: bool = False) -> int:
        """Send until ``stop`` is set (or, ``until_idle``, nothing due is left); return
        how many messages were claimed.

        The next batch is claimed as soon as fewer calls wait than there are threads, on
        a claiming thread (``until_idle``: between rounds). An empty queue is asked again
        every ``idle_seconds``, or at once when this process queues messages
        (``until_idle``: once more whenever a request finishes).
        """
        if until_idle:
            return self._run_until_idle(idle_seconds)
        ended = threading.Event()
        claimed = [0]
        claimer = threading.Thread(
            target=self._keep_claimed,
            args=(stop, ended, idle_seconds, claimed),
            name="vafa-claim",
            daemon=True,
        )
        claimer.start()
        try:
            while not stop.is_set():
                self._round()
                moment = time.monotonic() + 0.2  # when stop is looked at again
                self._wait(min(self._next_moment(), moment) if self._busy() else moment)
        finally:
            ended.set()
            claimer.join()
        return claimed[0]

    def _run_until_idle(self, idle_seconds: float) -> int:
        claimed = 0
        while True:
            self._round()
            if len(self._waiting) < self.concurrency:
                found = self._claim(self.batch)
                claimed += found
                if found:
                    continue  # start them, and claim more before waiting
            if not self._busy():
                return claimed
            self._wait(min(self._next_moment(), time.monotonic() + idle_seconds))

    def _keep_claimed(
        self, stop: threading.Event, ended: threading.Event, idle_seconds: float, claimed: list
    ) -> None:
        """The claiming thread: keeps at least ``concurrency`` calls planned ahead."""
        ask_again = 0.0
        with self.app.app_context():
            try:
                while not (stop.is_set() or ended.is_set()):
                    self._taken.clear()
                    if _queued_here.is_set():
                        _queued_here.clear()
                        ask_again = 0.0
                    short = len(self._waiting) + self._claimed.qsize() < self.concurrency
                    if short and time.monotonic() >= ask_again:
                        try:
                            found = self._claim(self.batch)
                        except Exception:  # the database went away a moment: try again
                            log.exception("claiming failed")
                            db.session.rollback()
                            found = 0
                        claimed[0] += found
                        if found:
                            self._answers.put(_CLAIMED)  # the writer takes them at once
                            continue
                        ask_again = time.monotonic() + idle_seconds
                    if short:  # asked again later, or as soon as this process queues some
                        _queued_here.wait(max(0.0, min(ask_again - time.monotonic(), 0.2)))
                    else:  # looked at again as soon as the writer takes calls
                        self._taken.wait(0.2)
            finally:
                db.session.remove()

    def _busy(self) -> bool:
        return bool(self._waiting or self._booked or self._in_flight)

    def _claim(self, limit: int) -> int:
        """Claim and plan up to ``limit`` messages, for the writer's next round."""
        with self._held_lock:
            held = list(self._held)
        ids = [m.local_id for call in held for m in call.messages]
        claimed = claim_queued(
            limit,
            utcnow(),
            load_policy(),
            self.lease.id,
            holding=(min(ids), max(ids)) if ids else None,
            held_marketing=sum(call.marketing for call in held),
        )
        if claimed:
            accounts = {
                a.id: a
                for a in db.session.scalars(
                    select(ProviderAccount).where(
                        ProviderAccount.id.in_({row.provider_id for row in claimed})
                    )
                )
            }
            calls = plan_calls(claimed, accounts, self.lease.id)
            with self._held_lock:
                self._held.update(calls)
            for call in calls:
                self._claimed.put(call)
            db.session.commit()
        return len(claimed)

    def _round(self) -> None:
        """Record the answers that arrived and hand over the calls that may leave now, in
        one transaction; then start those requests.

        If the transaction fails, nothing of it happened: the answers wait for the next
        round, and the calls stay where they were.
        """
        with suppress(queue.Empty):
            while True:
                self._waiting.append(self._claimed.get_nowait())
        arrived = self._arrived()
        self._in_flight -= len(arrived)  # their threads are free for the calls leaving now
        try:
            record_answers(arrived)
            leaving, booked, refused = self._hand_over_due()
            db.session.commit()
        except Exception:
            db.session.rollback()
            self._early = arrived + self._early
            self._in_flight += len(arrived)
            raise
        with self._held_lock:
            self._held.difference_update((*leaving, *refused))
        gone = {id(call) for call in (*leaving, *refused, *(call for _moment, call in booked))}
        self._waiting = deque(call for call in self._waiting if id(call) not in gone)
        if gone:
            self._taken.set()
        self._booked = sorted(
            [entry for entry in self._booked if id(entry[1]) not in gone] + booked,
            key=lambda entry: entry[0],
        )
        for call in leaving:
            if call.messages:
                self.pool.submit(self._send_and_report, call)
                self._in_flight += 1

    def _hand_over_due(self) -> tuple[list[Call], list[tuple[float, Call]], list[Call]]:
        """Hand over the calls that leave now: those whose booked moment has come, then
        waiting ones that get a slot now, while threads are free. Returns them, the calls
        whose slot was booked for a moment to come, and the refused ones (recorded).
        Changes only the database, and commits nothing."""
        now = time.monotonic()
        free = self.concurrency - self._in_flight - len(self._booked)
        leaving: list[Call] = []
        for moment, call in self._booked:
            if moment > now or len(leaving) == self.concurrency - self._in_flight:
                break
            leaving.append(call)
            free += 1  # its thread was counted as booked
        # An account with a booked call, or booked ahead by others, has no slot now.
        held = {call.account_id for _moment, call in self._booked}
        held.update(account for account, moment in self._blocked.items() if moment > now)
        booked: list[tuple[float, Call]] = []
        refused: list[Call] = []
        granted: dict[int, deque[float]] = {}  # slots taken this round, not yet given
        for index, call in enumerate(self._waiting):
            if len(leaving) + len(booked) >= free:
                break
            if call.refused is not None:
                refused.append(call)
            elif call.account_id not in held:
                if not granted.get(call.account_id):
                    # At once, a slot for each call of the account a thread is free for.
                    wanted = min(
                        free - len(leaving) - len(booked),
                        sum(
                            1
                            for later in islice(self._waiting, index, None)
                            if later.account_id == call.account_id and later.refused is None
                        ),
                    )
                    moments, wait = take_slots(call.account_id, wanted, SLOT_WAITED_IN_THREAD)
                    if not moments:
                        self._blocked[call.account_id] = now + wait
                        held.add(call.account_id)
                        continue
                    granted[call.account_id] = deque(moments)
                delay = granted[call.account_id].popleft()
                if delay > SLOT_WAITED_IN_THREAD:
                    booked.append((now + delay, call))
                    held.add(call.account_id)
                else:
                    call.leaves_at = now + delay
                    leaving.append(call)
        # A refused call is taken as any other, and its refusal recorded at once: its
        # messages go back to the queue, to wait before they are tried again.
        hand_over([*leaving, *refused])
        record_answers([(call, call.refused) for call in refused if call.messages])
        return leaving, booked, refused

    def _next_moment(self) -> float:
        """When a booked call may leave or a blocked account may be asked again (monotonic);
        in a day when nothing is booked or blocked (an answer comes first)."""
        waiting = {call.account_id for call in self._waiting}
        moments = [moment for moment, _call in self._booked[:1]]
        moments += [t for account, t in self._blocked.items() if account in waiting]
        return min(moments, default=time.monotonic() + 86400)

    def _wait(self, until: float) -> None:
        """Wait for an answer to arrive, or until ``until`` (monotonic time)."""
        with suppress(queue.Empty):
            self._early.append(self._answers.get(timeout=max(0.0, until - time.monotonic())))

    def _arrived(self) -> list[tuple[Call, object]]:
        """The answers passed back since the last round."""
        arrived, self._early = self._early, []
        while True:
            try:
                arrived.append(self._answers.get_nowait())
            except queue.Empty:
                return [answer for answer in arrived if answer is not _CLAIMED]

    def _send_and_report(self, call: Call) -> None:
        """In a send thread: the request, and its answer passed back to the writer."""
        time.sleep(max(0.0, call.leaves_at - time.monotonic()))
        try:
            with self.app.app_context():
                try:
                    answer = self._send(call)
                finally:
                    db.session.remove()
        except Exception as error:  # the request's fate is unknown
            log.exception("a provider request could not be completed")
            answer = MaybeSent(ErrorCode.PROVIDER_ERROR, type(error).__name__)
        self._answers.put((call, answer))

    def _send(self, call: Call):
        try:
            return self._adapters.get(call.kind, call.settings).send(call.messages)
        except ProviderError as error:
            return error
        except Exception as error:  # a bug or surprise in an adapter: the fate is unknown
            log.exception("provider %s failed unexpectedly", call.kind)
            return MaybeSent(ErrorCode.PROVIDER_ERROR, type(error).__name__)


def _where_claimed(worker_id: int, *statuses: str):
    """An executemany UPDATE of messages by ``_id``, only while worker ``worker_id`` holds them.

    ``unknown`` is allowed for answers: a lease that ran out while the request was in
    flight made its messages unknown, and the late answer still says what happened.
    """
    return MESSAGES.update().where(
        MESSAGES.c.id == bindparam("_id"),
        MESSAGES.c.worker_id == worker_id,
        # Not IN: an expanding parameter cannot be used with executemany.
        or_(*(MESSAGES.c.status == status for status in statuses)),
    )


ANSWERED = ("sending", "unknown")


def record_answers(answers: Sequence[tuple[Call, object]]) -> None:
    """Write what providers said about requests of one worker; the caller commits.

    Statements, not ORM objects, shared by all the answers: one executemany UPDATE per
    kind of outcome (accepted, rejected, unanswered) and one per account that answered.
    """
    if not answers:
        return
    now = utcnow()
    accepted: dict[int, str] = {}
    rejected: list[Rejected] = []
    unanswered: list[dict] = []
    answered: set[int] = set()
    refused: list[tuple[Call, NotSent]] = []
    worker_id = answers[0][0].worker_id
    for call, answer in answers:
        if isinstance(answer, NotSent):
            refused.append((call, answer))
            continue
        answered.add(call.account_id)
        if isinstance(answer, MaybeSent):
            log.error(
                "provider %s may have taken %d messages: %s", call.kind, len(call.messages), answer
            )
            unanswered += [
                {"_id": m.local_id, "_error": "maybe_sent", "_detail": answer.detail}
                for m in call.messages
            ]
            continue
        heard = set()
        for item in answer:
            if isinstance(item, Accepted):
                accepted[item.local_id] = item.provider_ref
            else:
                rejected.append(item)
            heard.add(item.local_id)
        # A message the provider did not answer for may or may not have been taken.
        unanswered += [
            {"_id": m.local_id, "_error": "no_answer", "_detail": None}
            for m in call.messages
            if m.local_id not in heard
        ]
    if accepted:
        _record_accepted(worker_id, accepted, now)
    if rejected:
        db.session.execute(
            _where_claimed(worker_id, *ANSWERED).values(
                status="rejected",
                error=bindparam("_error"),
                error_detail=bindparam("_detail"),
                done_at=now,
            ),
            [{"_id": r.local_id, "_error": str(r.code), "_detail": r.detail} for r in rejected],
        )
        _mark_blacklisted([r.local_id for r in rejected if r.code == ErrorCode.BLOCKED], now)
    if unanswered:
        db.session.execute(
            _where_claimed(worker_id, *ANSWERED).values(
                status="unknown", error=bindparam("_error"), error_detail=bindparam("_detail")
            ),
            unanswered,
        )
    # The accounts answered: they are not failing (any more).
    for account_id in sorted(answered):  # in one order: two workers never deadlock on them
        db.session.connection().execute(_ANSWERED, {"account": account_id})
    # After that, so that an account refusing in the same round counts as failing.
    for call, error in refused:
        _record_refused(call, error, now)


def _record_accepted(worker_id: int, accepted: dict[int, str], now: datetime) -> None:
    """``sent`` with the provider's reference: the commonest answer, hence its own path.

    One UPDATE joined to the answers as a table of VALUES, written for the driver, per
    few thousand messages: an executemany would run the statement once per message, and
    SQLAlchemy's per-row parameter processing would cost more than the database's work
    (as for the outbox, app/messaging/service.py), while requests wait to be handed over.
    """
    connection = db.session.connection()
    mark = driver_mark(connection)
    sent_at = driver_value(connection, "sent_at", now)
    for chunk in driver_lists(list(accepted.items())):
        rows = ", ".join(
            [f"(CAST({mark} AS INTEGER), {mark})"] + [f"({mark}, {mark})"] * (len(chunk) - 1)
        )
        # UPDATE first, not WITH: the sqlite3 module opens the transaction for a statement
        # that starts with UPDATE, and would run a WITH on its own, committed at once.
        connection.exec_driver_sql(
            f"UPDATE messages SET status = 'sent', provider_ref = answers.column2,"
            f" sent_at = {mark} FROM (VALUES {rows}) AS answers"
            f" WHERE messages.id = answers.column1 AND messages.worker_id = {mark}"
            " AND messages.status IN ('sending', 'unknown')",
            (sent_at, *(value for answer in chunk for value in answer), worker_id),
        )


def _requeue(call: Call, rows: list[dict], error: NotSent) -> None:
    """Put a refused call's messages back in the queue (``rows``: ``_id`` and more)."""
    values = {
        "status": "queued",
        "worker_id": None,
        "handed_over_at": None,
        "error": str(error.code),
        "error_detail": error.detail,
    }
    if rows and "_attempts" in rows[0]:
        values.update(attempts=bindparam("_attempts"), next_attempt_at=bindparam("_next"))
    db.session.execute(_where_claimed(call.worker_id, "sending").values(**values), rows)


def _record_refused(call: Call, error: NotSent, now: datetime) -> None:
    """The provider certainly refused: queue again with backoff; mark the account failing
    when the refusal is the account's own (a bad key, no credit) or it keeps refusing."""
    if error.code in SPLIT_CODES:
        _split_refused(call, error, now)
        return
    attempts = db.session.execute(
        select(Message.id, Message.attempts).where(
            Message.id.in_([m.local_id for m in call.messages])
        )
    ).all()
    _requeue(
        call,
        [
            {
                "_id": message_id,
                "_attempts": tries + 1,
                "_next": now
                + timedelta(seconds=error.retry_after or min(2**tries, MAX_BACKOFF_SECONDS)),
            }
            for message_id, tries in attempts
        ],
        error,
    )
    failures = db.session.execute(
        update(ProviderAccount)
        .where(ProviderAccount.id == call.account_id)
        .values(
            failures=ProviderAccount.failures + 1,
            last_error=str(error.code),
            last_error_detail=error.detail,
        )
        .returning(ProviderAccount.failures)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    log.warning("provider %s refused %d messages: %s", call.kind, len(attempts), error)
    if error.code in ACCOUNT_ERRORS or failures >= MAX_FAILURES:
        db.session.execute(
            update(ProviderAccount)
            .where(ProviderAccount.id == call.account_id, ProviderAccount.failing_since.is_(None))
            .values(failing_since=now)
            .execution_options(synchronize_session=False)
        )


def _split_refused(call: Call, error: NotSent, now: datetime) -> None:
    """A request refused for one unnamed message: alone, it is rejected; else split it."""
    if len(call.messages) == 1:
        db.session.execute(
            _where_claimed(call.worker_id, "sending").values(
                status="rejected", error=str(error.code), error_detail=error.detail, done_at=now
            ),
            [{"_id": call.messages[0].local_id}],
        )
    else:
        _requeue(call, [{"_id": m.local_id} for m in call.messages], error)


# Recovery ----------------------------------------------------------------------------


def retry_unknown(campaign_id: int, status: str = "queued") -> int:
    """The owner's choice: send a campaign's ``unknown`` messages again.

    Only the owner may decide this, since some of them may already have reached the
    handset. ``status`` is ``held`` for a paused campaign: they wait for it to resume.
    Returns how many were queued again.
    """
    result = db.session.execute(
        update(Message)
        .where(Message.campaign_id == campaign_id, Message.status == "unknown")
        .values(
            status=status,
            worker_id=None,
            handed_over_at=None,
            next_attempt_at=None,
            polled_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


# Delivery reports and replies ---------------------------------------------------------


def poll_delivery(
    limit: int,
    first_after: timedelta,
    every: timedelta,
    give_up_after: timedelta = timedelta(days=3),
) -> int:
    """Ask providers what became of sent messages; return how many reached a final state.

    Nothing is held while providers answer: the due messages are read and the stale ones
    expired in a transaction committed before the first request (SQLite takes one writer
    at a time, and the dispatcher writes every few milliseconds). A message that left
    ``sent`` meanwhile (a webhook's report came first) keeps what it got.
    """
    now = utcnow()
    stale = db.session.execute(
        update(Message)
        .where(Message.status == "sent", Message.sent_at < now - give_up_after)
        .values(status="expired", error_detail="no delivery report", done_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    due = db.session.execute(
        select(Message.id, Message.provider_id, Message.provider_ref, Message.contact_id)
        .where(
            Message.status == "sent",
            Message.sent_at <= now - first_after,
            or_(Message.polled_at.is_(None), Message.polled_at <= now - every),
        )
        .order_by(Message.id)
        .limit(limit)
    ).all()
    db.session.commit()
    by_account: dict[int, dict[str, tuple[int, int | None]]] = defaultdict(dict)
    for message_id, account_id, ref, contact_id in due:
        by_account[account_id][ref] = (message_id, contact_id)
    final = 0
    for account_id, by_ref in by_account.items():
        account = db.session.get(ProviderAccount, account_id)
        try:
            updates = adapter_for(account).statuses(list(by_ref))
        except ProviderError as error:
            log.warning("delivery reports from %s failed: %s", account.name, error)
            continue
        finals, blacklisted = [], []
        for item in updates:
            if item.provider_ref not in by_ref or item.status == "sent":
                continue
            message_id, contact_id = by_ref.pop(item.provider_ref)
            finals.append(
                {"_id": message_id, "_status": item.status, "_detail": item.detail or None}
            )
            if item.status == "blacklisted" and contact_id is not None:
                blacklisted.append(message_id)
        # By id, as executemany statements; only while still sent.
        polled = _where_sent().values(polled_at=now)
        if finals:
            db.session.execute(
                polled.values(
                    status=bindparam("_status"), error_detail=bindparam("_detail"), done_at=now
                ),
                finals,
            )
            final += len(finals)
        if by_ref:  # asked about, still on its way
            db.session.execute(polled, [{"_id": message_id} for message_id, _ in by_ref.values()])
        _mark_blacklisted(blacklisted, now)
        db.session.commit()
    return final + stale


def _where_sent():
    return MESSAGES.update().where(MESSAGES.c.id == bindparam("_id"), MESSAGES.c.status == "sent")


def _mark_blacklisted(message_ids: list[int], now: datetime) -> None:
    """An operator blacklist answer means the contact refuses marketing SMS: opt them out."""
    if not message_ids:
        return
    mobiles = db.session.scalars(select(Message.mobile).where(Message.id.in_(message_ids)))
    for mobile in mobiles.all():
        set_opt_out(mobile, True, "blacklist", "", now)


def reply_intent(text: str) -> bool | None:
    """True for an opt-out reply («۱۱», «لغو»), False for opt-in («۱۲»), None otherwise."""
    word = ascii_digits(normalize_text(text)).replace(" ", "").lower()
    if word in OPT_OUT_WORDS:
        return True
    if word in OPT_IN_WORDS:
        return False
    return None


def poll_inbox() -> int:
    """Read replies on every account's lines; «۱۱» opts out and «۱۲» opts back in."""
    changed = 0
    for account in db.session.scalars(select(ProviderAccount)):
        try:
            inbound = adapter_for(account).inbox()
        except ProviderError as error:
            log.warning("reading replies from %s failed: %s", account.name, error)
            continue
        for reply in inbound:
            intent = reply_intent(reply.text)
            if intent is None:
                continue
            try:
                mobile = normalize_mobile(reply.mobile)
            except InvalidMobile:
                continue
            changed += set_opt_out(mobile, intent, "reply", reply.text, reply.received_at)
        db.session.commit()
    return changed
