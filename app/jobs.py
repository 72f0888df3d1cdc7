"""Every periodic job, declared once with a stable id.

APScheduler runs in exactly one process (a job store cannot be shared by several
schedulers): ``vafa run`` starts it beside the web server. Each job opens its own app
context, since it runs in a scheduler thread without a request.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask, current_app

from app.extensions import db
from app.messaging import service as campaigns
from app.sending import service as sending

log = logging.getLogger("vafa.jobs")


@dataclass(frozen=True)
class Job:
    id: str
    run: Callable[[], object]


def _dispatch() -> None:
    batch = current_app.config["VAFA_DISPATCH_BATCH"]
    while sending.dispatch_queued(batch) == batch:
        pass


def _expire_claims() -> None:
    sending.expire_stale_claims(timedelta(seconds=current_app.config["VAFA_CLAIM_TIMEOUT"]))


JOBS = (
    Job("start_due_campaigns", campaigns.start_due_campaigns),
    Job("dispatch_outbox", _dispatch),
    Job("finish_campaigns", campaigns.finish_campaigns),
    Job("poll_delivery", lambda: sending.poll_delivery(5000)),
    Job("expire_stale_claims", _expire_claims),
)


def run_job(app: Flask, job: Job) -> None:
    with app.app_context():
        try:
            job.run()
        except Exception:
            log.exception("job %s failed", job.id)
            db.session.rollback()
        finally:
            db.session.remove()


def start_scheduler(app: Flask) -> BackgroundScheduler:
    """Start the in-process scheduler with every job ticking at VAFA_TICK_SECONDS.

    One executor thread runs the jobs one after another: they hand work to each other
    in the order of JOBS, and SQLite takes one writer at a time anyway.
    """
    scheduler = BackgroundScheduler(
        timezone="UTC", executors={"default": ThreadPoolExecutor(max_workers=1)}
    )
    for job in JOBS:
        scheduler.add_job(
            run_job,
            "interval",
            args=(app, job),
            id=job.id,
            name=job.id,
            seconds=app.config["VAFA_TICK_SECONDS"],
            max_instances=1,
            coalesce=True,
            replace_existing=True,
        )
    scheduler.start()
    return scheduler


def run_all_once(app: Flask) -> None:
    """One pass of every job, in order (used by `vafa tick` and by tests)."""
    for job in JOBS:
        run_job(app, job)
