"""Reconciliation: learning what became of ``unknown`` messages, until none is uncertain.

A message is ``unknown`` when its request may have reached the provider (a timeout after
the request left, a garbled answer, a worker that died with it in flight). It is never
sent again blindly. Where the provider keeps our local id (the message id, sent with the
message), its lookup settles each one:

- the provider took it: it becomes ``sent`` with the provider's reference, and the
  delivery poll learns the rest;
- the provider answers that it never saw the id (``Unseen``, which adapters answer only
  where a repeated local id is not delivered twice), the request is certainly over (the
  message was handed over more than ``margin`` ago) and the provider still remembers local
  ids that old (``local_ids_kept``): it was never taken, and ``send_again`` — the
  campaign side, which knows whether its campaign still sends — decides where it goes;
- anything else (a provider without lookup, an id older than the provider's memory, a
  lookup that cannot tell): only the owner may decide to send it again. The message is
  marked ``LEFT_TO_OWNER`` and not asked about again.

Lookups go in the provider's largest documented batch (``max_lookup``), several at once,
each at a slot of the account's shared rate limit (``take_slot``), so reconciling
shares the provider's limit with sending across every worker.

"Certainly over" is measured from ``handed_over_at``, committed just before the request
left (app/sending/service.py): see ``request_over_after``.
"""

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, or_, select, update

from app.extensions import db
from app.sending.models import LEFT_TO_OWNER, Message, ProviderAccount
from app.sending.providers import ThreadAdapters, provider_class
from app.sending.providers.base import (
    Accepted,
    ErrorCode,
    NotSent,
    ProviderError,
    Settings,
    Unseen,
    chunks,
)
from app.sending.service import take_slot
from app.types import utcnow

log = logging.getLogger("vafa.reconcile")

# A message the provider could not settle yet (its request may still be in flight, or
# the lookup failed) is asked about again after this long.
ASK_AGAIN_AFTER = timedelta(seconds=30)
LONG_AGO = datetime.min.replace(tzinfo=UTC)

messages = Message.__table__


def request_over_after(lease: timedelta) -> timedelta:
    """How long after a message was handed over its request is certainly over.

    A handed-over message becomes ``unknown`` when its request failed uncertainly (it is
    over then) or when its worker's lease expired; a worker too slow to renew may still
    be waiting for that request, which lasts at most a connect and a read timeout of the
    adapter's transport. Beyond the lease and both, nothing of it can be under way.
    """
    return lease + timedelta(seconds=2 * Settings.timeout)


@dataclass
class Outcome:
    """What one round of reconciliation learnt, in messages."""

    found: int = 0  # the provider had taken them: now ``sent``
    sent_again: int = 0  # the provider never took them: handed to ``send_again``
    left_to_owner: int = 0  # nothing can be learnt: the owner decides

    @property
    def settled(self) -> int:
        return self.found + self.sent_again + self.left_to_owner


def being_checked():
    """The condition of an ``unknown`` message reconciliation still works on."""
    return (Message.status == "unknown") & Message.error.is_distinct_from(LEFT_TO_OWNER)


def reconcile_unknown(
    margin: timedelta,
    send_again: Callable[[list[int]], object],
    concurrency: int = 8,
    within: timedelta = timedelta(seconds=5),
    limit: int = 100_000,
) -> Outcome:
    """One round over every account with messages being checked; commits as it goes.

    Per account, the lookups that fit its rate limit ``within`` the next moments go out
    now, ``concurrency`` at a time; the rest wait for the next round.
    """
    outcome = Outcome()
    now = utcnow()
    accounts = db.session.scalars(
        select(ProviderAccount).where(
            ProviderAccount.id.in_(select(Message.provider_id).where(being_checked()))
        )
    ).all()
    adapters = ThreadAdapters()

    def lookup(kind: str, settings: Settings, ids: Sequence[int], slot: datetime):
        delay = (slot - utcnow()).total_seconds()
        if delay > 0:
            time.sleep(delay)
        try:
            return adapters.get(kind, settings).find_sent(ids)
        except ProviderError as error:
            return error
        except Exception as error:  # a bug or surprise in an adapter: ask again later
            log.exception("looking up local ids at %s failed unexpectedly", kind)
            return NotSent(ErrorCode.PROVIDER_ERROR, type(error).__name__)

    with ThreadPoolExecutor(concurrency, thread_name_prefix="vafa-reconcile") as pool:
        for account in accounts:
            adapter = provider_class(account.kind)
            if not (adapter.uses_local_id and adapter.max_lookup):
                outcome.left_to_owner += _leave_to_owner(account.id, now)
                continue
            try:
                settings = account.settings()
            except NotSent as error:
                log.warning("cannot reconcile with %s: %s", account.name, error)
                continue
            futures = {
                pool.submit(lookup, account.kind, settings, batch, slot): batch
                for batch, slot in _take_due(account.id, adapter.max_lookup, now, within, limit)
            }
            for future in as_completed(futures):
                _record(futures[future], future.result(), adapter, margin, send_again, outcome)
    return outcome


def _take_due(
    account_id: int, size: int, now: datetime, within: timedelta, limit: int
) -> Iterator[tuple[list[int], datetime]]:
    """The account's messages due for a lookup, in batches of ``size``, each with its
    rate-limit slot: as many batches as the limit allows ``within`` the next moments.

    Each slot is taken from the account's shared limit (``take_slot``) just before its
    batch, as the dispatcher takes one before each request. The batch is taken
    (``polled_at`` set) by a conditional UPDATE, so workers reconciling at the same time
    look up different messages.
    """
    due = (
        being_checked(),
        Message.provider_id == account_id,
        or_(Message.polled_at.is_(None), Message.polled_at <= now - ASK_AGAIN_AFTER),
    )
    ids = db.session.scalars(select(Message.id).where(*due).order_by(Message.id).limit(limit))
    deadline = now + within
    for batch in chunks(ids.all(), size):
        slot = _next_slot(account_id, deadline)
        if slot is None:
            return
        mine = db.session.scalars(
            update(Message)
            .where(Message.id.in_(batch), *due)
            .values(polled_at=now)
            .returning(Message.id)
            .execution_options(synchronize_session=False)
        ).all()
        db.session.commit()
        if mine:
            yield sorted(mine), slot


def _next_slot(account_id: int, deadline: datetime) -> datetime | None:
    """The moment of one lookup through the account, reserved in its shared rate limit;
    None when none is free before ``deadline`` (the rest waits for the next round)."""
    while True:
        free, wait = take_slot(account_id)
        moment = utcnow() + timedelta(seconds=wait)
        if free:
            db.session.commit()
            return moment
        db.session.rollback()  # wait outside any transaction
        if moment > deadline:
            return None
        time.sleep(wait)


def _leave_to_owner(account_id: int, now: datetime) -> int:
    """A provider without lookup: its uncertain messages are the owner's to decide."""
    result = db.session.execute(
        update(Message)
        .where(being_checked(), Message.provider_id == account_id)
        .values(error=LEFT_TO_OWNER, polled_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount


def _record(
    batch: Sequence[int],
    answer,
    adapter,
    margin: timedelta,
    send_again: Callable[[list[int]], object],
    outcome: Outcome,
) -> None:
    """Write what one lookup said about a batch of ``unknown`` messages, then commit."""
    now = utcnow()
    if isinstance(answer, ProviderError):
        log.warning("reconciling %d messages failed: %s", len(batch), answer)
        _ask_again(list(batch), now)
        db.session.commit()
        return
    taken = {item.local_id: item.provider_ref for item in answer if isinstance(item, Accepted)}
    unseen = {item.local_id for item in answer if isinstance(item, Unseen)}
    handed_over = dict(
        db.session.execute(
            select(Message.id, Message.handed_over_at).where(Message.id.in_(batch))
        ).all()
    )
    found, again, later, owner = [], [], [], []
    for message_id in batch:
        handed_over_at = handed_over.get(message_id) or LONG_AGO
        over = handed_over_at <= now - margin  # the request can no longer be under way
        if message_id in taken:
            found.append({"mid": message_id, "ref": taken[message_id]})
        elif not over:
            later.append(message_id)
        elif message_id in unseen and handed_over_at >= now - adapter.local_ids_kept:
            again.append(message_id)
        else:
            owner.append(message_id)
    if found:
        db.session.execute(
            messages.update()
            .where(messages.c.id == bindparam("mid"), messages.c.status == "unknown")
            .values(
                status="sent",
                provider_ref=bindparam("ref"),
                sent_at=now,
                polled_at=None,
                error=None,
                error_detail=None,
            ),
            found,
        )
    _ask_again(later, now)
    if owner:
        db.session.execute(
            update(Message)
            .where(Message.id.in_(owner), Message.status == "unknown")
            .values(error=LEFT_TO_OWNER, polled_at=now)
            .execution_options(synchronize_session=False)
        )
    if again:
        send_again(again)
    db.session.commit()
    outcome.found += len(found)
    outcome.sent_again += len(again)
    outcome.left_to_owner += len(owner)


def _ask_again(message_ids: list[int], now: datetime) -> None:
    if message_ids:
        db.session.execute(
            update(Message)
            .where(Message.id.in_(message_ids), Message.status == "unknown")
            .values(polled_at=now)
            .execution_options(synchronize_session=False)
        )
