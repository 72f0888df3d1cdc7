"""Every periodic job, declared once with a stable id, and the processes that run them.

- The scheduler (exactly one active: APScheduler's job store cannot be shared) starts
  due campaigns and closes finished ones. ``vafa scheduler`` takes a lock first, so a
  second one waits instead of running the jobs twice.
- Workers (any number) dispatch the outbox, recover stale claims, poll delivery reports
  and replies. Their claims are row-level, so they never take the same message.
- ``vafa run`` runs the web panel, the scheduler and one worker in one process.

Each job opens its own app context: it runs in a thread, without a request.
"""

import fcntl
import logging
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask, current_app
from sqlalchemy import text

from app.contacts import importing
from app.extensions import db
from app.messaging import service as campaigns
from app.sending import reconcile
from app.sending import service as sending

log = logging.getLogger("vafa.jobs")


@dataclass(frozen=True)
class Job:
    id: str
    run: Callable[..., object]
    every: float  # seconds (a multiple of VAFA_TICK_SECONDS in practice)
    # When it returns more than nothing, the worker goes round again at once instead of
    # waiting a tick: there is more of the same work (a large import's next slice).
    continues: bool = False


def _config(name: str):
    return current_app.config[name]


def _expire_claims() -> int:
    return sending.expire_stale_claims(timedelta(seconds=_config("VAFA_CLAIM_TIMEOUT")))


def _reconcile() -> int:
    claim_timeout = timedelta(seconds=_config("VAFA_CLAIM_TIMEOUT"))
    outcome = reconcile.reconcile_unknown(
        claim_timeout, campaigns.send_again, _config("VAFA_CONCURRENCY")
    )
    return outcome.settled


def _poll_delivery() -> int:
    return sending.poll_delivery(
        5000,
        first_after=timedelta(seconds=_config("VAFA_POLL_AFTER")),
        every=timedelta(seconds=_config("VAFA_POLL_EVERY")),
    )


SCHEDULER_JOBS = (
    Job("start_due_campaigns", campaigns.start_due_campaigns, every=2),
    Job("finish_campaigns", campaigns.finish_campaigns, every=2),
)

# The dispatcher is the worker's first job; it runs again at once while there is work.
WORKER_JOBS = (
    Job("expire_stale_claims", _expire_claims, every=5),
    Job("reconcile_unknown", _reconcile, every=5),
    Job("poll_delivery", _poll_delivery, every=5),
    Job("poll_inbox", sending.poll_inbox, every=60),
    # Imports run a slice of a few seconds at a time, so sending goes on between slices.
    Job("run_imports", importing.run_imports, every=0, continues=True),
)


def run_job(app: Flask, job: Job, *args):
    with app.app_context():
        try:
            return job.run(*args)
        except Exception:
            log.exception("job %s failed", job.id)
            db.session.rollback()
            return None
        finally:
            db.session.remove()


def start_scheduler(app: Flask) -> BackgroundScheduler:
    """Start the scheduler's jobs in background threads of this process.

    One executor thread runs the jobs one after another: they hand work to each other
    in order, and SQLite takes one writer at a time anyway.
    """
    scheduler = BackgroundScheduler(
        timezone="UTC", executors={"default": ThreadPoolExecutor(max_workers=1)}
    )
    for job in SCHEDULER_JOBS:
        scheduler.add_job(
            run_job,
            "interval",
            args=(app, job),
            id=job.id,
            name=job.id,
            seconds=min(job.every, app.config["VAFA_TICK_SECONDS"]),
            max_instances=1,
            coalesce=True,
            replace_existing=True,
        )
    scheduler.start()
    return scheduler


class Worker:
    """Dispatch the outbox and run the worker jobs until ``stop`` is set."""

    def __init__(self, app: Flask, stop: threading.Event | None = None):
        self.app = app
        self.stop = stop or threading.Event()
        self.dispatcher = sending.Dispatcher(
            app.config["VAFA_CONCURRENCY"], timedelta(seconds=app.config["VAFA_CLAIM_TIMEOUT"])
        )
        self._dispatch = Job("dispatch_outbox", self.dispatcher.dispatch, every=0)
        self._due: dict[str, float] = {}

    def run_once(self) -> int:
        """One pass: any job that is due, then dispatch one claim's worth.

        Returns how much was done (0: nothing to do, so the worker may wait a tick).
        """
        now = time.monotonic()
        busy = 0
        for job in WORKER_JOBS:
            if now >= self._due.get(job.id, 0):
                result = run_job(self.app, job)
                self._due[job.id] = now + job.every
                if job.continues:
                    busy += result or 0
        return busy + (
            run_job(self.app, self._dispatch, self.app.config["VAFA_DISPATCH_BATCH"]) or 0
        )

    def run(self) -> None:
        log.info("worker started")
        try:
            while not self.stop.is_set():
                if not self.run_once():
                    self.stop.wait(self.app.config["VAFA_TICK_SECONDS"])
        finally:
            self.dispatcher.close()
            importing.close_open_import()
            log.info("worker stopped")

    def drain(self) -> None:
        """Send until nothing due is left in the queue, then stop."""
        try:
            while self.run_once():
                pass
        finally:
            self.dispatcher.close()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="vafa-worker", daemon=True)
        thread.start()
        return thread


@contextmanager
def scheduler_lock(app: Flask, poll_seconds: float = 5.0):
    """Hold the one-active-scheduler lock for the duration; wait while another holds it.

    PostgreSQL: a session advisory lock, so schedulers on different machines exclude
    each other. SQLite: a file lock beside the database (one machine by nature).
    """
    with app.app_context():
        engine = db.engine
        database = engine.url.database
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                waiting = False
                while not connection.execute(text("SELECT pg_try_advisory_lock(4242)")).scalar():
                    if not waiting:
                        log.info("another scheduler is active; waiting")
                        waiting = True
                    time.sleep(poll_seconds)
                connection.commit()
                try:
                    yield
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(4242)"))
                    connection.commit()
            return
    path = (
        Path(f"{database}.scheduler.lock")
        if database
        else Path(app.instance_path) / "scheduler.lock"
    )
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another scheduler is active; waiting")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def run_all_once(app: Flask) -> None:
    """One pass of every job, in order (``vafa tick``, and tests)."""
    for job in SCHEDULER_JOBS:
        run_job(app, job)
    Worker(app).drain()
    for job in (*WORKER_JOBS, *SCHEDULER_JOBS):
        run_job(app, job)
