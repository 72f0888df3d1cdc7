"""The sending engine: claims queued messages, hands them to providers, records answers.

It never imports web code (nor the campaign side: what happens to an account is written
on the account, and campaigns decide for themselves): ``vafa worker`` runs it without a
request, ``vafa run`` in a thread. Each step commits before the next one talks to a
provider, so a crash at any point leaves every message in a state that says what is
known about it:

- a claim (``sending``) carries the claiming worker's lease (``app.sending.leases``).
  Just before a request leaves, its messages are marked handed over, in one committed
  UPDATE. A worker that dies leaves a lease that expires within ``VAFA_CLAIM_LEASE``
  seconds: the messages it never handed over go back to the queue, only those in a
  request that was in flight become ``unknown`` — never re-sent automatically,
  reconciled by local id where the provider has one;
- only a ``NotSent`` answer (the provider certainly refused the request) puts messages
  back in the queue, with backoff; an account that refuses for its own reasons or keeps
  refusing is marked failing, and the campaign side pauses its campaigns.

The dispatcher keeps up to ``concurrency`` requests in flight all the time: it claims
the next batch while requests are out, and each send thread records its own answer the
moment it arrives. One HTTP session per thread and account (connection reuse); each
request takes its slot of the per-account rate limit, which every worker shares through
the database, just before it leaves.
"""

import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import requests
from flask import current_app
from sqlalchemy import bindparam, or_, select, update

from app.contacts.models import Contact
from app.contacts.phones import InvalidMobile, normalize_mobile
from app.contacts.service import set_opt_out
from app.extensions import db
from app.persian import ascii_digits, normalize_text
from app.sending.leases import LeaseKeeper
from app.sending.models import Message, ProviderAccount
from app.sending.policy import (
    SendingPolicy,
    load_policy,
    marketing_allowance,
    within_allowance,
)
from app.sending.providers import make_provider, provider_class
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


def adapter_for(account: ProviderAccount, session: requests.Session | None = None):
    return make_provider(account.kind, account.settings(), session)


# Claiming --------------------------------------------------------------------------


# What the dispatcher needs of a claimed message (plain rows: no ORM object to reload).
MESSAGES = Message.__table__
CLAIMED_COLUMNS = (
    MESSAGES.c.id,
    MESSAGES.c.provider_id,
    MESSAGES.c.contact_id,
    MESSAGES.c.mobile,
    MESSAGES.c.body,
    MESSAGES.c.sender,
    MESSAGES.c.marketing,
    MESSAGES.c.error,
)


def claim_queued(limit: int, now: datetime, policy: SendingPolicy, worker_id: int) -> list:
    """Move up to ``limit`` due messages from ``queued`` to ``sending`` and return them.

    The claim is a conditional UPDATE, so two workers never claim the same row; on
    PostgreSQL ``SKIP LOCKED`` lets them take different rows instead of waiting. The
    candidates are read first, in the same transaction: inside ``UPDATE … WHERE id IN
    (subquery)`` PostgreSQL may run a ``LIMIT … SKIP LOCKED`` subquery once per row,
    skipping the rows it has just updated, and so claim far more than ``limit``.
    Marketing messages wait outside the sending window; messages to contacts who opted
    out since they were queued are skipped here, at the last moment. The claimed rows
    carry ``worker_id``, the claiming worker's lease.
    """
    due = [
        Message.status == "queued",
        or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
    ]
    allowance = marketing_allowance(policy, now)
    if allowance == 0:
        due.append(Message.marketing.is_(False))
    candidates = select(Message.id, Message.marketing).where(*due).order_by(Message.id).limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    ids = within_allowance(db.session.execute(candidates).all(), allowance)
    if not ids:
        db.session.commit()
        return []
    claimed = db.session.execute(
        MESSAGES.update()
        .where(MESSAGES.c.id.in_(ids), MESSAGES.c.status == "queued")
        .values(status="sending", worker_id=worker_id, handed_over_at=None)
        .returning(*CLAIMED_COLUMNS)
    ).all()
    opted_out = _opted_out_contacts({m.contact_id for m in claimed if m.marketing})
    if opted_out:
        db.session.execute(
            update(Message),
            [
                {
                    "id": m.id,
                    "status": "skipped",
                    "worker_id": None,
                    "error": "opted_out",
                    "done_at": now,
                }
                for m in claimed
                if m.contact_id in opted_out
            ],
        )
        claimed = [m for m in claimed if m.contact_id not in opted_out]
    db.session.commit()
    return sorted(claimed, key=lambda message: message.id)


def _opted_out_contacts(contact_ids: set[int | None]) -> set[int]:
    ids = [cid for cid in contact_ids if cid is not None]
    found: set[int] = set()
    for start in range(0, len(ids), 1000):
        found.update(
            db.session.scalars(
                select(Contact.id).where(
                    Contact.id.in_(ids[start : start + 1000]), Contact.opted_out_at.is_not(None)
                )
            )
        )
    return found


# Planning and rate limiting ---------------------------------------------------------


@dataclass
class Call:
    """One request to one provider account, for messages one worker claimed."""

    account_id: int
    kind: str
    settings: Settings
    messages: list[Outgoing]
    worker_id: int
    # Refused before any request: the account's stored key cannot be decrypted.
    refused: NotSent | None = None


def plan_calls(
    messages: Sequence, accounts: dict[int, ProviderAccount], worker_id: int
) -> list[Call]:
    """Group claimed messages into provider requests within each adapter's limits.

    Messages sharing a text go through the bulk endpoint (up to ``max_batch`` per call);
    personalised texts go through the per-recipient endpoint (up to ``max_p2p``).
    """
    calls: list[Call] = []
    by_account: dict[int, list] = defaultdict(list)
    for message in messages:
        by_account[message.provider_id].append(message)
    for account_id, group in by_account.items():
        account = accounts[account_id]
        adapter = provider_class(account.kind)
        call = partial(Call, account_id, account.kind, worker_id=worker_id)
        try:
            settings = account.settings()
        except NotSent as error:
            outgoing = [Outgoing(m.id, m.mobile, m.body, m.sender) for m in group]
            calls.append(call(Settings(), outgoing, refused=error))
            continue
        by_text: dict[tuple[str, str], list[Outgoing]] = defaultdict(list)
        for m in group:
            outgoing = Outgoing(m.id, m.mobile, m.body, m.sender)
            if m.error in SPLIT_CODES:
                calls.append(call(settings, [outgoing]))
            else:
                by_text[(m.body, m.sender)].append(outgoing)
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
    return calls


def take_slot(account_id: int) -> tuple[bool, float]:
    """Try to reserve the moment of one request through the account.

    Returns (True, seconds until the reserved moment) or, when the account is booked
    further ahead than one interval, (False, seconds after which to ask again). The
    next free moment lives in the account's row, so the limit holds across every worker
    process (a per-worker limit multiplies with the number of workers); since nobody
    books more than one interval ahead, a worker that dies leaves at most one interval
    booked. The row is changed only if nobody changed it since it was read (compare and
    set; on a clash, read again). Commits nothing: the caller commits the reservation,
    with the hand-over when the moment is now.
    """
    while True:
        now = utcnow()
        booked, per_second = db.session.execute(
            select(ProviderAccount.next_request_at, ProviderAccount.requests_per_second).where(
                ProviderAccount.id == account_id
            )
        ).one()
        gap = timedelta(seconds=1 / max(per_second, 0.01))
        slot = max(now, booked or now)
        if slot - now > gap:
            db.session.rollback()
            return False, (slot - now - gap).total_seconds()
        unchanged = (
            ProviderAccount.next_request_at.is_(None)
            if booked is None
            else ProviderAccount.next_request_at == booked
        )
        taken = db.session.execute(
            update(ProviderAccount)
            .where(ProviderAccount.id == account_id, unchanged)
            .values(next_request_at=slot + gap)
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken:
            return True, (slot - now).total_seconds()
        db.session.rollback()


def hand_over(call: Call) -> list[Outgoing]:
    """Mark the call's messages handed over and commit: the request may leave now.

    Only messages still claimed under the call's lease are marked (and returned): if the
    lease ran out meanwhile, its messages went back to the queue and are not sent here.
    """
    handed = set(
        db.session.scalars(
            MESSAGES.update()
            .where(
                MESSAGES.c.id.in_([m.local_id for m in call.messages]),
                MESSAGES.c.status == "sending",
                MESSAGES.c.worker_id == call.worker_id,
            )
            .values(handed_over_at=utcnow())
            .returning(MESSAGES.c.id)
        )
    )
    db.session.commit()
    return [m for m in call.messages if m.local_id in handed]


# Dispatching ------------------------------------------------------------------------


class Dispatcher:
    """Keeps up to ``concurrency`` provider requests in flight under one worker lease.

    ``run`` claims ahead: while requests are out, the next batch is already claimed and
    planned, so a send thread that finishes a request (and records its answer) starts
    the next one at once. Claimed calls wait in memory, never handed over, until a
    thread is free; if the process dies they go back to the queue when its lease ends.
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
        self._local = threading.local()
        self._waiting: deque[Call] = deque()
        self._in_flight: set[Future] = set()
        # The send threads write one at a time, each transaction whole inside the lock:
        # they would otherwise queue inside the database, where SQLite makes a waiting
        # writer sleep, and clash on the rate limit's compare-and-set.
        self._writing = threading.Lock()

    def close(self) -> None:
        """Let the requests in flight finish, then end the lease: the rest goes back."""
        self.pool.shutdown(wait=True)
        self._waiting.clear()
        self.lease.close()

    def dispatch(self, limit: int) -> int:
        """Claim up to ``limit`` messages once, send them all, record every answer."""
        claimed = self._claim(limit)
        while self._waiting or self._in_flight:
            self._submit()
            self._wait()
        return claimed

    def run(self, stop: threading.Event, idle_seconds: float = 2, until_idle: bool = False) -> int:
        """Send until ``stop`` is set (or, ``until_idle``, nothing due is left); return
        how many messages were claimed.

        Calls claimed ahead wait for a free thread; the next batch is claimed as soon as
        fewer calls wait than there are threads. An empty queue is asked again every
        ``idle_seconds`` (``until_idle``: once more whenever a request finishes).
        """
        claimed = 0
        ask_again = 0.0
        while not stop.is_set():
            self._submit()
            if len(self._waiting) < self.concurrency and time.monotonic() >= ask_again:
                found = self._claim(self.batch)
                claimed += found
                if found:
                    continue  # start them, and claim more before waiting
                if not until_idle:
                    ask_again = time.monotonic() + idle_seconds
            if self._in_flight:
                self._wait(idle_seconds)
            elif not self._waiting:
                if until_idle:
                    break
                stop.wait(max(0.0, ask_again - time.monotonic()))
        return claimed

    def _claim(self, limit: int) -> int:
        claimed = claim_queued(limit, utcnow(), load_policy(), self.lease.id)
        if claimed:
            accounts = {
                a.id: a
                for a in db.session.scalars(
                    select(ProviderAccount).where(
                        ProviderAccount.id.in_({m.provider_id for m in claimed})
                    )
                )
            }
            self._waiting.extend(plan_calls(claimed, accounts, self.lease.id))
            db.session.commit()
        return len(claimed)

    def _submit(self) -> None:
        """Start waiting calls on free threads."""
        while self._waiting and len(self._in_flight) < self.concurrency:
            self._in_flight.add(self.pool.submit(self._deliver, self._waiting.popleft()))

    def _wait(self, timeout: float | None = None) -> None:
        """Wait for a request in flight to finish (answer recorded), or ``timeout``."""
        done, self._in_flight = wait(self._in_flight, timeout, return_when=FIRST_COMPLETED)
        for future in done:
            if future.exception() is not None:
                # Its messages stay claimed: when the lease ends, those handed over
                # become unknown and the rest go back to the queue.
                log.error("a provider request could not be completed", exc_info=future.exception())

    def _deliver(self, call: Call) -> None:
        """In a send thread: take a slot, hand over, send, record the answer."""
        with self.app.app_context():
            try:
                if call.refused is not None:
                    with self._writing:
                        record_answer(call, call.refused)
                    return
                # Wait for a slot of the account's rate limit (asking again while it is
                # booked ahead); the hand-over commits with it when it is now.
                while True:
                    with self._writing:
                        taken, delay = take_slot(call.account_id)
                        if taken and not delay:
                            call.messages = hand_over(call)
                        elif taken:
                            db.session.commit()  # the slot is ours; others queue behind it
                    time.sleep(delay)
                    if taken:
                        break
                if delay:
                    with self._writing:
                        call.messages = hand_over(call)
                if call.messages:
                    answer = self._send(call)
                    with self._writing:
                        record_answer(call, answer)
            finally:
                db.session.remove()

    def _session(self, account_id: int) -> requests.Session:
        sessions = self._local.__dict__.setdefault("sessions", {})
        if account_id not in sessions:
            sessions[account_id] = requests.Session()
        return sessions[account_id]

    def _send(self, call: Call):
        adapter = make_provider(call.kind, call.settings, self._session(call.account_id))
        try:
            return adapter.send(call.messages)
        except ProviderError as error:
            return error
        except Exception as error:  # a bug or surprise in an adapter: the fate is unknown
            log.exception("provider %s failed unexpectedly", call.kind)
            return MaybeSent(ErrorCode.PROVIDER_ERROR, type(error).__name__)


def _where_claimed(call: Call, *statuses: str):
    """An executemany UPDATE of messages by ``_id``, only while ``call``'s worker holds them.

    ``unknown`` is allowed for answers: a lease that ran out while the request was in
    flight made its messages unknown, and the late answer still says what happened.
    """
    return MESSAGES.update().where(
        MESSAGES.c.id == bindparam("_id"),
        MESSAGES.c.worker_id == call.worker_id,
        # Not IN: an expanding parameter cannot be used with executemany.
        or_(*(MESSAGES.c.status == status for status in statuses)),
    )


def record_answer(call: Call, answer) -> None:
    """Write what a provider said about one request, then commit.

    Statements, not ORM objects: one executemany UPDATE per kind of outcome (accepted,
    rejected, unanswered), and one commit.
    """
    now = utcnow()
    ids = [m.local_id for m in call.messages]
    if isinstance(answer, NotSent):
        _record_refused(call, answer, now)
        return
    answered = ("sending", "unknown")
    if isinstance(answer, MaybeSent):
        log.error("provider %s may have taken %d messages: %s", call.kind, len(ids), answer)
        db.session.execute(
            _where_claimed(call, *answered).values(
                status="unknown", error="maybe_sent", error_detail=answer.detail
            ),
            [{"_id": i} for i in ids],
        )
    else:
        accepted = {
            item.local_id: item.provider_ref for item in answer if isinstance(item, Accepted)
        }
        rejected = [item for item in answer if isinstance(item, Rejected)]
        if accepted:
            _record_accepted(call, accepted, now)
        if rejected:
            db.session.execute(
                _where_claimed(call, *answered).values(
                    status="rejected",
                    error=bindparam("_error"),
                    error_detail=bindparam("_detail"),
                    done_at=now,
                ),
                [{"_id": r.local_id, "_error": str(r.code), "_detail": r.detail} for r in rejected],
            )
        # A message the provider did not answer for may or may not have been taken.
        heard = set(accepted) | {r.local_id for r in rejected}
        unanswered = [{"_id": i} for i in ids if i not in heard]
        if unanswered:
            db.session.execute(
                _where_claimed(call, *answered).values(status="unknown", error="no_answer"),
                unanswered,
            )
        _mark_blacklisted([r.local_id for r in rejected if r.code == ErrorCode.BLOCKED], now)
    # The account answered: it is not failing (any more).
    db.session.execute(
        update(ProviderAccount)
        .where(
            ProviderAccount.id == call.account_id,
            or_(ProviderAccount.failures > 0, ProviderAccount.failing_since.is_not(None)),
        )
        .values(failures=0, failing_since=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _record_accepted(call: Call, accepted: dict[int, str], now: datetime) -> None:
    """``sent`` with the provider's reference: the commonest answer, hence its own path.

    Handed to the driver as one executemany of tuples: for 200 rows a call, SQLAlchemy's
    per-row parameter processing costs more than the database's own work (as for the
    outbox, app/messaging/service.py), and it runs while the other send threads wait.
    """
    connection = db.session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    stamp = MESSAGES.c.sent_at.type._cached_bind_processor(connection.dialect)
    sent_at = stamp(now) if stamp else now
    connection.exec_driver_sql(
        f"UPDATE messages SET status = 'sent', provider_ref = {mark}, sent_at = {mark}"
        f" WHERE id = {mark} AND worker_id = {mark} AND status IN ('sending', 'unknown')",
        [(ref, sent_at, message_id, call.worker_id) for message_id, ref in accepted.items()],
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
    db.session.execute(_where_claimed(call, "sending").values(**values), rows)


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
    db.session.commit()


def _split_refused(call: Call, error: NotSent, now: datetime) -> None:
    """A request refused for one unnamed message: alone, it is rejected; else split it."""
    if len(call.messages) == 1:
        db.session.execute(
            _where_claimed(call, "sending").values(
                status="rejected", error=str(error.code), error_detail=error.detail, done_at=now
            ),
            [{"_id": call.messages[0].local_id}],
        )
    else:
        _requeue(call, [{"_id": m.local_id} for m in call.messages], error)
    db.session.commit()


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
    """Ask providers what became of sent messages; return how many reached a final state."""
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
        changes = {
            message_id: {"id": message_id, "polled_at": now}
            for message_id, _contact in by_ref.values()
        }
        blacklisted = []
        for item in updates:
            if item.provider_ref not in by_ref or item.status == "sent":
                continue
            message_id, contact_id = by_ref[item.provider_ref]
            changes[message_id].update(
                status=item.status, done_at=now, error_detail=item.detail or None
            )
            final += 1
            if item.status == "blacklisted" and contact_id is not None:
                blacklisted.append(message_id)
        db.session.execute(update(Message), list(changes.values()))
        _mark_blacklisted(blacklisted, now)
        db.session.commit()
    db.session.commit()
    return final + stale


def _mark_blacklisted(message_ids: list[int], now: datetime) -> None:
    """An operator blacklist answer means the contact refuses marketing SMS: opt them out."""
    if not message_ids:
        return
    rows = db.session.execute(
        select(Message.contact_id, Message.mobile).where(Message.id.in_(message_ids))
    ).all()
    for _contact_id, mobile in rows:
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
