"""Leases: which worker and scheduler processes are alive, and what a dead one leaves.

Every worker and scheduler holds a row in ``processes`` and renews it every few seconds
(a quarter of its lease) from a thread of its own, so a long provider call or a long
materialisation never lets it lapse. A worker claims messages only in its memory
(``service.claim_queued``); the ones it hands over to a provider carry its id. When a
lease is not renewed in time, whichever live process notices first retires it:

- messages it claimed but never handed over need nothing: they were never written as
  its own, and other workers may take them at once;
- messages it handed over and had no answer for become ``unknown`` (they may have
  reached the provider);
- its rate-limit reservations need nothing: a worker reserves a request's slot only
  just before that request (see ``service.take_slot``), so a dead one holds none ahead.

Retiring deletes the lease row first, conditionally, in the same transaction as the
update: of two processes noticing the same expiry, one deletes it and does the work,
the other deletes nothing and does none. A worker that was only slow, not dead, finds
its lease gone at its next renewal and takes a new one; a hand-over under the retired
lease finds no lease to hold (``hold_lease``) and sends nothing.

Written by hand: the lease is three statements on a table the engine already shares;
a coordination service (etcd, Redis) would be a second database to run for a shop.
"""

import logging
import os
import socket
import threading
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import bindparam, delete, select, update

from app.extensions import db
from app.sending.models import Message, Process
from app.types import utcnow

log = logging.getLogger("vafa.sending")


def begin_lease(role: str, length: timedelta) -> int:
    """Register this process; return its lease id. Commits."""
    now = utcnow()
    process = Process(
        role=role,
        host=socket.gethostname()[:255],
        pid=os.getpid(),
        started_at=now,
        seen_at=now,
        expires_at=now + length,
    )
    db.session.add(process)
    db.session.commit()
    return process.id


def renew_lease(process_id: int, length: timedelta) -> bool:
    """Extend the lease; False when it was already retired (this process was too slow)."""
    now = utcnow()
    renewed = db.session.execute(
        update(Process)
        .where(Process.id == process_id)
        .values(seen_at=now, expires_at=now + length)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(renewed)


def end_lease(process_id: int) -> None:
    """A clean stop: delete the lease (a message still in flight becomes unknown). Commits."""
    _retire(process_id, utcnow(), expired_only=False)
    db.session.commit()


def reap_expired_leases(now: datetime | None = None) -> int:
    """Retire every lease that has run out; return how many this call retired. Commits."""
    now = now or utcnow()
    expired = db.session.scalars(select(Process.id).where(Process.expires_at < now)).all()
    retired = 0
    for process_id in expired:
        if _retire(process_id, now, expired_only=True):
            retired += 1
        db.session.commit()
    return retired


def _retire(process_id: int, now: datetime, expired_only: bool) -> bool:
    """Delete a lease and make its worker's messages in flight ``unknown``, in the
    caller's transaction."""
    gone = delete(Process).where(Process.id == process_id)
    if expired_only:
        gone = gone.where(Process.expires_at < now)
    if not db.session.execute(gone.execution_options(synchronize_session=False)).rowcount:
        return False
    uncertain = db.session.execute(
        update(Message)
        .where(Message.status == "sending", Message.worker_id == process_id)
        .values(status="unknown", error="dispatcher_stopped")
        .execution_options(synchronize_session=False)
    ).rowcount
    if uncertain:
        log.warning("worker %s stopped: %d messages in flight now unknown", process_id, uncertain)
    return True


# hold_lease's statement, built once: the dispatcher asks it every round.
_HELD = (
    select(Process.id)
    .where(Process.id == bindparam("process"))
    .with_for_update(read=True, key_share=True)
)


def hold_lease(process_id: int) -> bool:
    """Is the lease still there? If so it stays, to the end of the caller's transaction:
    on PostgreSQL its row is locked against retiring, not against renewing (``FOR KEY
    SHARE``; on SQLite the transaction is the only writer), so whatever the transaction
    marks with the lease's id is settled with the lease if it is retired later."""
    return db.session.connection().execute(_HELD, {"process": process_id}).first() is not None


def worker_share(process_id: int, now: datetime) -> tuple[int, int]:
    """(rank, count) among the live workers, in lease order: the share of the queue
    worker ``process_id`` reads (ids equal to its rank modulo the count)."""
    workers = db.session.scalars(
        select(Process.id)
        .where(Process.role == "worker", Process.expires_at >= now)
        .order_by(Process.id)
    ).all()
    return (workers.index(process_id), len(workers)) if process_id in workers else (0, 1)


def scheduler_alive(now: datetime | None = None) -> bool:
    """Does a scheduler hold a live lease?"""
    now = now or utcnow()
    return (
        db.session.scalar(
            select(Process.id)
            .where(Process.role == "scheduler", Process.expires_at >= now)
            .limit(1)
        )
        is not None
    )


class LeaseKeeper:
    """Holds this process's lease: renews it, and retires the leases of dead processes.

    Runs in a thread of its own with its own app context and database session. ``id``
    is the current lease; it changes only if this process was too slow to renew in time.
    """

    def __init__(self, app: Flask, role: str, length: timedelta):
        self.app = app
        self.role = role
        self.length = length
        self._stop = threading.Event()
        with app.app_context():
            self.id = begin_lease(role, length)
            db.session.remove()
        self._thread = threading.Thread(target=self._run, name=f"vafa-lease-{role}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        every = self.length.total_seconds() / 4
        while not self._stop.wait(every):
            with self.app.app_context():
                try:
                    self.renew()
                except Exception:
                    log.exception("renewing the %s lease failed", self.role)
                    db.session.rollback()
                finally:
                    db.session.remove()

    def renew(self) -> None:
        """One heartbeat: renew this lease (or take a new one), then retire dead ones."""
        if not renew_lease(self.id, self.length):
            log.error("the %s lease %s ran out before it was renewed", self.role, self.id)
            self.id = begin_lease(self.role, self.length)
        reap_expired_leases()

    def close(self) -> None:
        """Stop renewing and delete the lease."""
        self._stop.set()
        self._thread.join()
        with self.app.app_context():
            end_lease(self.id)
            db.session.remove()
