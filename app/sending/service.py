"""The sending engine: claims queued messages, hands them to providers, records answers.

It never imports web code: ``vafa worker`` runs it without a request and ``vafa run``
drives it from a scheduler thread. Each step commits before the next one talks to a
provider, so a crash at any point leaves every message in a state that says what is
known about it:

- a claim (``sending``) is durable before the request leaves; a worker that dies holding
  it leaves messages that ``expire_stale_claims`` turns into ``unknown`` — never re-sent
  automatically, reconciled by local id where the provider has one;
- only a ``NotSent`` answer (the provider certainly refused the request) puts messages
  back in the queue, with backoff; a provider that keeps refusing pauses its campaigns.

Requests go out from a bounded thread pool with one HTTP session per thread and
account (connection reuse), spaced by a per-account rate limit that every worker shares
through the database.
"""

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from sqlalchemy import or_, select, update

from app.contacts.models import Contact
from app.contacts.phones import InvalidMobile, normalize_mobile
from app.contacts.service import set_opt_out
from app.extensions import db
from app.persian import ascii_digits, normalize_text
from app.sending.models import Message, ProviderAccount
from app.sending.policy import SendingPolicy, load_policy
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

# Consecutive refused requests after which an account's campaigns are paused.
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
CLAIMED_COLUMNS = (
    Message.id,
    Message.provider_id,
    Message.contact_id,
    Message.mobile,
    Message.body,
    Message.sender,
    Message.marketing,
    Message.error,
)


def claim_queued(limit: int, now: datetime, policy: SendingPolicy) -> list:
    """Move up to ``limit`` due messages from ``queued`` to ``sending`` and return them.

    The claim is a conditional UPDATE, so two workers never claim the same row; on
    PostgreSQL ``SKIP LOCKED`` lets them take different rows instead of waiting. The
    candidates are read first, in the same transaction: inside ``UPDATE … WHERE id IN
    (subquery)`` PostgreSQL may run a ``LIMIT … SKIP LOCKED`` subquery once per row,
    skipping the rows it has just updated, and so claim far more than ``limit``.
    Marketing messages wait outside the sending window; messages to contacts who opted
    out since they were queued are skipped here, at the last moment.
    """
    due = [
        Message.status == "queued",
        or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
    ]
    if not policy.in_window(now):
        due.append(Message.marketing.is_(False))
    candidates = select(Message.id).where(*due).order_by(Message.id).limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    ids = db.session.scalars(candidates).all()
    if not ids:
        db.session.commit()
        return []
    claimed = db.session.execute(
        update(Message)
        .where(Message.id.in_(ids), Message.status == "queued")
        .values(status="sending", claimed_at=now)
        .returning(*CLAIMED_COLUMNS)
        .execution_options(synchronize_session=False)
    ).all()
    opted_out = _opted_out_contacts({m.contact_id for m in claimed if m.marketing})
    if opted_out:
        db.session.execute(
            update(Message),
            [
                {"id": m.id, "status": "skipped", "error": "opted_out", "done_at": now}
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
    """One request to one provider account."""

    account_id: int
    kind: str
    settings: Settings
    messages: list[Outgoing]
    not_before: datetime | None = None
    # Refused before any request: the account's stored key cannot be decrypted.
    refused: NotSent | None = None


def plan_calls(messages: Sequence, accounts: dict[int, ProviderAccount]) -> list[Call]:
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
        try:
            settings = account.settings()
        except NotSent as error:
            outgoing = [Outgoing(m.id, m.mobile, m.body, m.sender) for m in group]
            calls.append(Call(account_id, account.kind, Settings(), outgoing, refused=error))
            continue
        by_text: dict[tuple[str, str], list[Outgoing]] = defaultdict(list)
        for m in group:
            outgoing = Outgoing(m.id, m.mobile, m.body, m.sender)
            if m.error in SPLIT_CODES:
                calls.append(Call(account_id, account.kind, settings, [outgoing]))
            else:
                by_text[(m.body, m.sender)].append(outgoing)
        # Per-recipient requests carry one sender line each (as providers require).
        singles: dict[str, list[Outgoing]] = defaultdict(list)
        for (_body, sender), outgoing in by_text.items():
            if len(outgoing) > 1 or adapter.max_p2p == 1:
                for start in range(0, len(outgoing), adapter.max_batch):
                    chunk = outgoing[start : start + adapter.max_batch]
                    calls.append(Call(account_id, account.kind, settings, chunk))
            else:
                singles[sender].extend(outgoing)
        for outgoing in singles.values():
            for start in range(0, len(outgoing), adapter.max_p2p):
                chunk = outgoing[start : start + adapter.max_p2p]
                calls.append(Call(account_id, account.kind, settings, chunk))
    return calls


def reserve_slots(
    account_id: int, count: int, now: datetime, within: timedelta | None = None
) -> list[datetime]:
    """The moments this worker may send its next ``count`` requests through the account.

    The next free moment lives in the account's row, so the limit holds across every
    worker process (a per-worker limit multiplies with the number of workers). With
    ``within``, only the slots that start within that time of ``now`` are reserved
    (at least one), so fewer than ``count`` may come back.
    """
    query = select(ProviderAccount).where(ProviderAccount.id == account_id)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    account = db.session.scalars(query).one()
    gap = timedelta(seconds=1 / max(account.requests_per_second, 0.01))
    first = max(now, account.next_request_at or now)
    if within is not None:
        count = min(count, max(1, int((now + within - first) / gap) + 1))
    slots = [first + gap * i for i in range(count)]
    account.next_request_at = first + gap * count
    db.session.commit()
    return slots


# Dispatching ------------------------------------------------------------------------


class Dispatcher:
    """Sends claimed messages through a bounded pool of concurrent requests."""

    def __init__(self, concurrency: int = 8, claim_timeout: timedelta = timedelta(minutes=5)):
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="vafa-send")
        self._local = threading.local()
        # A request may not wait for its rate-limit slot past half the claim timeout:
        # by then another worker could take its claim for a dead one's.
        self.longest_wait = claim_timeout / 2

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def _session(self, account_id: int) -> requests.Session:
        sessions = self._local.__dict__.setdefault("sessions", {})
        if account_id not in sessions:
            sessions[account_id] = requests.Session()
        return sessions[account_id]

    def _send(self, call: Call):
        if call.not_before is not None:
            delay = (call.not_before - utcnow()).total_seconds()
            if delay > 0:
                time.sleep(delay)
        adapter = make_provider(call.kind, call.settings, self._session(call.account_id))
        try:
            return adapter.send(call.messages)
        except ProviderError as error:
            return error
        except Exception as error:  # a bug or surprise in an adapter: the fate is unknown
            log.exception("provider %s failed unexpectedly", call.kind)
            return MaybeSent(ErrorCode.PROVIDER_ERROR, type(error).__name__)

    def dispatch(self, limit: int) -> int:
        """Claim up to ``limit`` messages, send them, record every answer; return the count."""
        now = utcnow()
        claimed = claim_queued(limit, now, load_policy())
        if not claimed:
            return 0
        accounts = {
            a.id: a
            for a in db.session.scalars(
                select(ProviderAccount).where(
                    ProviderAccount.id.in_({m.provider_id for m in claimed})
                )
            )
        }
        calls = plan_calls(claimed, accounts)
        by_account: dict[int, list[Call]] = defaultdict(list)
        for call in calls:
            if call.refused is not None:
                record_answer(call, call.refused)
                continue
            by_account[call.account_id].append(call)
        futures: dict[Future, Call] = {}
        later: list[int] = []
        for account_id, account_calls in by_account.items():
            slots = reserve_slots(account_id, len(account_calls), utcnow(), self.longest_wait)
            for call, slot in zip(account_calls, slots, strict=False):
                call.not_before = slot
                futures[self.pool.submit(self._send, call)] = call
            for call in account_calls[len(slots) :]:
                later.extend(m.local_id for m in call.messages)
        if later:
            release(later)
        for future in as_completed(futures):
            record_answer(futures[future], future.result())
        return len(claimed)


def release(message_ids: list[int]) -> None:
    """Put claimed messages back in the queue untouched: they were never sent."""
    db.session.execute(
        update(Message)
        .where(Message.id.in_(message_ids), Message.status == "sending")
        .values(status="queued", claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def record_answer(call: Call, answer) -> None:
    """Write what a provider said about one request, then commit."""
    now = utcnow()
    ids = [m.local_id for m in call.messages]
    if isinstance(answer, NotSent):
        _record_refused(call, answer, now)
        return
    if isinstance(answer, MaybeSent):
        log.error("provider %s may have taken %d messages: %s", call.kind, len(ids), answer)
        changes = [
            {"id": i, "status": "unknown", "error": "maybe_sent", "error_detail": answer.detail}
            for i in ids
        ]
    else:
        changes = []
        blocked: list[int] = []
        for item in answer:
            if isinstance(item, Accepted):
                changes.append(
                    {
                        "id": item.local_id,
                        "status": "sent",
                        "provider_ref": item.provider_ref,
                        "sent_at": now,
                    }
                )
            elif isinstance(item, Rejected):
                changes.append(
                    {
                        "id": item.local_id,
                        "status": "rejected",
                        "error": str(item.code),
                        "error_detail": item.detail,
                        "done_at": now,
                    }
                )
                if item.code == ErrorCode.BLOCKED:
                    blocked.append(item.local_id)
        # A message the provider did not answer for may or may not have been taken.
        answered = {change["id"] for change in changes}
        changes += [
            {"id": i, "status": "unknown", "error": "no_answer"} for i in ids if i not in answered
        ]
        _mark_blacklisted(blocked, now)
    db.session.execute(update(Message), changes)
    account = db.session.get(ProviderAccount, call.account_id)
    if account.failures:
        account.failures = 0
    db.session.commit()


def _record_refused(call: Call, error: NotSent, now: datetime) -> None:
    """The provider certainly refused: queue again with backoff; pause if it keeps on."""
    if error.code in SPLIT_CODES:
        _split_refused(call, error, now)
        return
    attempts = dict(
        db.session.execute(
            select(Message.id, Message.attempts).where(
                Message.id.in_([m.local_id for m in call.messages])
            )
        ).all()
    )
    changes = []
    for message_id, tries in attempts.items():
        wait = error.retry_after or min(2**tries, MAX_BACKOFF_SECONDS)
        changes.append(
            {
                "id": message_id,
                "status": "queued",
                "claimed_at": None,
                "attempts": tries + 1,
                "next_attempt_at": now + timedelta(seconds=wait),
                "error": str(error.code),
                "error_detail": error.detail,
            }
        )
    db.session.execute(update(Message), changes)
    account = db.session.get(ProviderAccount, call.account_id)
    account.failures += 1
    account.last_error = str(error.code)
    log.warning("provider %s refused %d messages: %s", call.kind, len(changes), error)
    if error.code in ACCOUNT_ERRORS or account.failures >= MAX_FAILURES:
        from app.messaging.service import pause_campaigns_of_account

        pause_campaigns_of_account(account.id, str(error.code), error.detail)
    db.session.commit()


def _split_refused(call: Call, error: NotSent, now: datetime) -> None:
    """A request refused for one unnamed message: alone, it is rejected; else split it."""
    if len(call.messages) == 1:
        changes = [
            {
                "id": call.messages[0].local_id,
                "status": "rejected",
                "error": str(error.code),
                "error_detail": error.detail,
                "done_at": now,
            }
        ]
    else:
        changes = [
            {
                "id": m.local_id,
                "status": "queued",
                "claimed_at": None,
                "error": str(error.code),
                "error_detail": error.detail,
            }
            for m in call.messages
        ]
    db.session.execute(update(Message), changes)
    db.session.commit()


# Recovery ----------------------------------------------------------------------------


def expire_stale_claims(timeout: timedelta) -> int:
    """Mark messages claimed longer than ``timeout`` ago as ``unknown``.

    Their worker died between claiming and recording the provider's answer, so the
    request may have left: they are never re-sent automatically.
    """
    result = db.session.execute(
        update(Message)
        .where(Message.status == "sending", Message.claimed_at < utcnow() - timeout)
        .values(status="unknown", error="dispatcher_stopped")
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount


def retry_unknown(campaign_id: int, status: str = "queued") -> int:
    """The owner's choice: send a campaign's ``unknown`` messages again.

    Only the owner may decide this, since some of them may already have reached the
    handset. ``status`` is ``held`` for a paused campaign: they wait for it to resume.
    Returns how many were queued again.
    """
    result = db.session.execute(
        update(Message)
        .where(Message.campaign_id == campaign_id, Message.status == "unknown")
        .values(status=status, claimed_at=None, next_attempt_at=None, polled_at=None)
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
