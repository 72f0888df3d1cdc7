"""The dispatcher: claims queued messages, hands them to providers, records the answers.

It never imports web code: ``vafa run`` drives it from scheduler threads and a worker
process can drive it without a request. Every function leaves the session committed,
because each step must be durable before the next one talks to a provider.
"""

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select, update

from app.extensions import db
from app.sending.models import Message
from app.sending.providers import make_provider
from app.sending.providers.base import Accepted, MaybeSent, NotSent, Outgoing, Provider
from app.types import utcnow

log = logging.getLogger("vafa.sending")


def claim_queued(limit: int, now: datetime) -> list[Message]:
    """Move up to ``limit`` queued messages to ``sending`` and return them.

    The claim is a conditional UPDATE, so two dispatchers never claim the same row;
    on PostgreSQL ``SKIP LOCKED`` lets them take different rows instead of waiting.
    The candidates are read first, in the same transaction: inside ``UPDATE … WHERE id
    IN (subquery)`` PostgreSQL may run a ``LIMIT … SKIP LOCKED`` subquery once per row,
    skipping the rows it has just updated, and so claim far more than ``limit``.
    """
    candidates = (
        select(Message.id).where(Message.status == "queued").order_by(Message.id).limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    ids = db.session.scalars(candidates).all()
    if not ids:
        db.session.commit()
        return []
    claimed = db.session.scalars(
        update(Message)
        .where(Message.id.in_(ids), Message.status == "queued")
        .values(status="sending", claimed_at=now)
        .returning(Message)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return sorted(claimed, key=lambda message: message.id)


def _send_batch(provider: Provider, batch: list[Message], now: datetime) -> bool:
    """Hand one batch to the provider and record its answer; False if it went back to the queue."""
    outgoing = [Outgoing(m.id, m.mobile, m.body, m.sender) for m in batch]
    taken = True
    try:
        answers = provider.send(outgoing)
    except NotSent as error:
        log.warning("provider %s did not take %d messages: %s", provider.kind, len(batch), error)
        changes = [{"id": m.id, "status": "queued", "claimed_at": None} for m in batch]
        taken = False
    except MaybeSent as error:
        log.error("provider %s may have taken %d messages: %s", provider.kind, len(batch), error)
        changes = [{"id": m.id, "status": "unknown", "error": "maybe_sent"} for m in batch]
    else:
        changes = []
        for answer in answers:
            if isinstance(answer, Accepted):
                changes.append(
                    {
                        "id": answer.local_id,
                        "status": "sent",
                        "provider_ref": answer.provider_ref,
                        "sent_at": now,
                    }
                )
            else:
                changes.append(
                    {
                        "id": answer.local_id,
                        "status": "rejected",
                        "error": str(answer.code),
                        "done_at": now,
                    }
                )
        # A message the provider did not answer for may or may not have been taken.
        answered = {change["id"] for change in changes}
        changes += [
            {"id": m.id, "status": "unknown", "error": "no_answer"}
            for m in batch
            if m.id not in answered
        ]
    db.session.execute(update(Message), changes)
    db.session.commit()
    return taken


def dispatch_queued(limit: int) -> int:
    """Send one claim's worth of queued messages; return how many left the queue.

    Messages a provider refused (NotSent) are back in the queue and not counted, so a
    caller that repeats while whole claims go out stops while the provider refuses,
    instead of asking it again and again in a busy loop.
    """
    now = utcnow()
    claimed = claim_queued(limit, now)
    by_provider: dict[str, list[Message]] = defaultdict(list)
    for message in claimed:
        by_provider[message.provider].append(message)
    handed_over = len(claimed)
    for name, messages in by_provider.items():
        provider = make_provider(name)
        for start in range(0, len(messages), provider.max_batch):
            batch = messages[start : start + provider.max_batch]
            if not _send_batch(provider, batch, now):
                handed_over -= len(batch)
    return handed_over


def poll_delivery(limit: int) -> int:
    """Ask providers what became of sent messages; return how many changed status."""
    sent = db.session.execute(
        select(Message.id, Message.provider, Message.provider_ref)
        .where(Message.status == "sent")
        .order_by(Message.id)
        .limit(limit)
    ).all()
    refs_by_provider: dict[str, dict[str, int]] = defaultdict(dict)
    for message_id, provider_name, ref in sent:
        refs_by_provider[provider_name][ref] = message_id
    now = utcnow()
    changes = []
    for name, ids_by_ref in refs_by_provider.items():
        for update_ in make_provider(name).statuses(list(ids_by_ref)):
            if update_.status != "sent" and update_.provider_ref in ids_by_ref:
                changes.append(
                    {
                        "id": ids_by_ref[update_.provider_ref],
                        "status": update_.status,
                        "done_at": now,
                    }
                )
    if changes:
        db.session.execute(update(Message), changes)
    db.session.commit()
    return len(changes)


def expire_stale_claims(timeout: timedelta) -> int:
    """Mark messages claimed longer than ``timeout`` ago as ``unknown``.

    Their dispatcher died between claiming and recording the provider's answer, so the
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
