"""Every periodic job, declared once with a stable id, and the processes that run them.

- The scheduler (exactly one active: APScheduler's job store cannot be shared) starts
  due campaigns, pauses those of failing accounts, closes finished ones and scores
  every buyer's RFM groups once a night. ``vafa
  scheduler`` takes a lock first, so a second one waits instead of running the jobs
  twice.
- Workers (any number) dispatch the outbox continuously in one thread and run their
  periodic jobs (delivery reports, replies, imports, …) in another, so a slow delivery
  poll never holds up sending. Each reads its own share of the queue, and a message is
  taken by one hand-over only, so they never send the same message.
- Both hold a lease (``app.sending.leases``) renewed from a thread of its own; what a
  worker that dies had in flight becomes ``unknown`` when its lease runs out (the rest
  of its claim never left the queue), and a worker that sees no scheduler while
  campaigns are due says so in its log.
- The scheduler keeps its jobs in the app's database (APScheduler's SQLAlchemyJobStore,
  table ``scheduler_jobs``), each referenced by text (``app.jobs:run_scheduled``, its
  id as argument) so it is stored without pickling the app. Automations catch up on
  runs missed while it was down by themselves (app.occasions.engine, within
  ``VAFA_AUTOMATION_GRACE``).
- ``vafa run`` runs the web panel, the scheduler and one worker in one process: a
  campaign sent now is started at once (``campaigns.start_soon``), and the worker claims each chunk
  of its outbox as it is committed (``sending.queued_here``).

Each job opens its own app context: it runs in a thread, without a request.
"""

import ctypes
import fcntl
import gc
import logging
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask, current_app
from sqlalchemy import text

from app.audience import rfm
from app.audience import service as segments
from app.contacts import importing
from app.extensions import db
from app.messaging import service as campaigns
from app.occasions import engine as automations
from app.reports import dashboard
from app.sending import reconcile
from app.sending import service as sending
from app.sending.leases import LeaseKeeper, scheduler_alive
from app.types import utcnow

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


def _lease() -> timedelta:
    return timedelta(seconds=_config("VAFA_CLAIM_LEASE"))


def _reconcile() -> int:
    outcome = reconcile.reconcile_unknown(
        reconcile.request_over_after(_lease()), campaigns.send_again, _config("VAFA_CONCURRENCY")
    )
    return outcome.settled


def _poll_delivery() -> int:
    return sending.poll_delivery(
        5000,
        first_after=timedelta(seconds=_config("VAFA_POLL_AFTER")),
        every=timedelta(seconds=_config("VAFA_POLL_EVERY")),
    )


class SchedulerWatch:
    """Says once in the log when campaigns are due and no scheduler has run for a while.

    Without ``vafa scheduler`` (or ``vafa run``) a scheduled campaign never starts, and
    a worker alone would wait for it in silence.
    """

    after = timedelta(minutes=3)

    def __init__(self):
        self.missing_since: datetime | None = None
        self.said = False

    def __call__(self) -> None:
        now = utcnow()
        if scheduler_alive(now):
            if self.said:
                log.info("a scheduler is running again")
            self.missing_since, self.said = None, False
            return
        self.missing_since = self.missing_since or now
        if self.said or now - self.missing_since < self.after:
            return
        due = campaigns.due_campaigns(now)
        if due:
            log.warning(
                "%d campaigns are due but no scheduler has run for %d minutes: "
                "start `vafa scheduler` (or `vafa run`)",
                due,
                (now - self.missing_since).total_seconds() // 60,
            )
            self.said = True


SCHEDULER_JOBS = (
    Job("start_due_campaigns", campaigns.start_due_campaigns, every=2),
    Job("pause_failing_accounts", campaigns.pause_campaigns_of_failing_accounts, every=2),
    Job("finish_campaigns", campaigns.finish_campaigns, every=2),
    # Scores only at the first tick after 03:00 Tehran (and on a fresh install): one
    # query per tick otherwise.
    Job("score_rfm_nightly", rfm.score_if_due, every=60),
    # Each segment's count once a Tehran day (a cheap look at today's rows otherwise).
    Job("record_segment_counts", segments.record_segment_counts, every=60),
    # Every active automation's runs due now, and those missed within the grace window.
    Job("run_automations", automations.run_automations, every=60),
    # The dashboard's figures: the last week's days counted again, older ones once.
    Job("count_dashboard_days", dashboard.count_recent_days, every=300),
    # Each real account's credit, for the dashboard, every half hour.
    Job("read_credits", dashboard.read_credits, every=60),
)
SCHEDULER_JOBS_BY_ID = {job.id: job for job in SCHEDULER_JOBS}
# The table APScheduler keeps the scheduler's jobs in (declared in app.sending.models).
JOBS_TABLE = "scheduler_jobs"

# The dispatcher runs beside these, in its own thread (Worker.run).
WORKER_JOBS = (
    Job("watch_scheduler", SchedulerWatch(), every=30),
    Job("reconcile_unknown", _reconcile, every=5),
    Job("poll_delivery", _poll_delivery, every=5),
    Job("poll_inbox", sending.poll_inbox, every=60),
    # Imports run a slice of a few seconds at a time, so sending goes on between slices.
    Job("run_imports", importing.run_imports, every=0, continues=True),
)


def settle() -> None:
    """Set the garbage collector and the allocator for a long-running worker or scheduler,
    as it starts.

    What the process has built so far (the app, every module) is taken out of the
    collector's sight: it is never freed, yet each full collection walked all of it,
    about 0.1 s with the interpreter stopped, a dozen times while a campaign of 100,000
    is written and sent (bench/send.py). And the youngest objects are collected after
    50,000 allocations, not 700: a worker makes rows and tuples by the hundred thousand,
    nearly all freed at once by their count, and each collection that found them alive
    was work for nothing (0.4 s of collections in that campaign; 0.12 to 0.19 s after
    10,000 allocations; 0.02 s after 50,000, at the same peak memory). ``gc.freeze`` and
    ``gc.set_threshold`` are Python's own ways.

    And C's allocator keeps two arenas, not eight per core: each of a worker's threads
    (sixteen send threads, the writer, the claimer) would get one of its own, each holding
    freed memory back (a peak of 145 MB in bench/send.py, 137 MB with two). glibc reads
    MALLOC_ARENA_MAX when a process starts; from a running one, ``mallopt`` is the way in.
    """
    gc.freeze()
    gc.set_threshold(50_000, 10, 10)
    _limit_malloc_arenas(2)


M_ARENA_MAX = -8  # glibc's malloc.h


def _limit_malloc_arenas(count: int) -> None:
    """At most ``count`` glibc malloc arenas from now on; nothing elsewhere (no glibc)."""
    if sys.platform != "linux":
        return
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(M_ARENA_MAX, count)


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


# The app whose scheduler runs in this process (one at most: ``vafa scheduler`` or
# ``vafa run``); the stored jobs name only their id, run_scheduled finds the app here.
_running: dict[str, Flask] = {}


def run_scheduled(job_id: str):
    """What the stored jobs call: the scheduler job ``job_id``, in the running app."""
    app = _running.get("app")
    if app is None:  # the scheduler is shutting down
        return None
    return run_job(app, SCHEDULER_JOBS_BY_ID[job_id])


class AppJobStore(SQLAlchemyJobStore):
    """APScheduler's SQLAlchemy job store on the app's own engine, which it leaves open when
    the scheduler stops: the engine is the app's (its requests and workers use it), and
    disposing of it under them orphans the connections they hold."""

    def shutdown(self) -> None:
        pass


class Scheduler(BackgroundScheduler):
    """APScheduler's background scheduler, holding the scheduler lease while it runs,
    with its jobs stored in the app's database."""

    def __init__(self, app: Flask):
        with app.app_context():
            store = AppJobStore(engine=db.engine, tablename=JOBS_TABLE)
        # One executor thread runs the jobs one after another: they hand work to each
        # other in order, and SQLite takes one writer at a time anyway.
        super().__init__(
            timezone="UTC",
            jobstores={"default": store},
            executors={"default": ThreadPoolExecutor(max_workers=1)},
        )
        self.app = app
        self.lease: LeaseKeeper | None = None

    def start(self, *args, **kwargs) -> None:
        settle()
        _running["app"] = self.app
        super().start(*args, **kwargs)
        with self.app.app_context():
            self.lease = LeaseKeeper(self.app, "scheduler", _lease())
        self.app.extensions["vafa.scheduler"] = self

    def start_due_now(self) -> None:
        """Run the start job now, not at its next tick: a campaign was sent now."""
        self.modify_job("start_due_campaigns", next_run_time=datetime.now(UTC))

    def shutdown(self, wait: bool = True) -> None:
        self.app.extensions.pop("vafa.scheduler", None)
        super().shutdown(wait)
        if _running.get("app") is self.app:
            del _running["app"]
        if self.lease is not None:
            self.lease.close()


def start_scheduler(app: Flask) -> Scheduler:
    """Start the scheduler's jobs in a background thread of this process."""
    scheduler = Scheduler(app)
    for job in SCHEDULER_JOBS:
        scheduler.add_job(
            f"{__name__}:run_scheduled",
            "interval",
            args=(job.id,),
            id=job.id,
            name=job.id,
            seconds=min(job.every, app.config["VAFA_TICK_SECONDS"]),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,  # a late tick still runs (once: coalesced)
            replace_existing=True,
        )
    scheduler.start()
    return scheduler


class Worker:
    """Dispatch the outbox and run the worker jobs until ``stop`` is set."""

    def __init__(self, app: Flask, stop: threading.Event | None = None):
        self.app = app
        self.stop = stop or threading.Event()
        with app.app_context():
            self.dispatcher = sending.Dispatcher(
                app.config["VAFA_CONCURRENCY"], _lease(), app.config["VAFA_DISPATCH_BATCH"]
            )
        self._due: dict[str, float] = {}

    def run_once(self) -> int:
        """One pass of the worker jobs that are due.

        Returns how much the continuing ones did (0: the jobs may wait a tick).
        """
        now = time.monotonic()
        busy = 0
        for job in WORKER_JOBS:
            if now >= self._due.get(job.id, 0):
                result = run_job(self.app, job)
                self._due[job.id] = now + job.every
                if job.continues:
                    busy += result or 0
        return busy

    def _run_jobs(self) -> None:
        while not self.stop.is_set():
            if not self.run_once():
                self.stop.wait(self.app.config["VAFA_TICK_SECONDS"])

    def _dispatch(self) -> None:
        tick = self.app.config["VAFA_TICK_SECONDS"]
        while not self.stop.is_set():
            with self.app.app_context():
                try:
                    self.dispatcher.run(self.stop, tick)
                except Exception:  # the database went away a moment: try again
                    log.exception("dispatching failed")
                    db.session.rollback()
                    self.stop.wait(tick)

    def run(self) -> None:
        settle()
        log.info("worker started")
        jobs = threading.Thread(target=self._run_jobs, name="vafa-jobs", daemon=True)
        jobs.start()
        try:
            self._dispatch()
        finally:
            self.stop.set()
            jobs.join()
            self.dispatcher.close()
            importing.close_open_import()
            log.info("worker stopped")

    def drain(self) -> None:
        """Send until nothing due is left in the queue, then stop."""
        try:
            while True:
                busy = self.run_once()
                with self.app.app_context():
                    busy += self.dispatcher.run(threading.Event(), until_idle=True)
                if not busy:
                    break
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
