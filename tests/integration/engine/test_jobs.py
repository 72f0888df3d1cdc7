"""Claim limits, leases and the periodic jobs' settings (moved from test_campaigns.py)."""

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.extensions import db
from app.jobs import SchedulerWatch, Worker, start_scheduler
from app.sending import service as sending
from app.sending.leases import begin_lease, scheduler_alive
from app.sending.models import Message, Process
from app.types import utcnow


def statuses() -> list[str]:
    db.session.expire_all()
    return db.session.scalars(select(Message.status).order_by(Message.id)).all()


def test_a_claim_takes_at_most_its_limit_and_never_what_the_worker_holds(
    started_campaign, scripted
):
    started_campaign(names=[f"n{i}" for i in range(5)])
    now = utcnow()
    worker = begin_lease("worker", timedelta(seconds=30))
    claims, holding = [], None
    for _ in range(4):
        claims.append(
            [m.id for m in sending.claim_queued(2, now, sending.load_policy(), worker, holding)]
        )
        held = sum(claims, [])
        holding = (min(held), max(held)) if held else None
    assert [len(claim) for claim in claims] == [2, 2, 1, 0]
    assert (
        sorted(sum(claims, [])) == db.session.scalars(select(Message.id).order_by(Message.id)).all()
    )
    assert statuses() == ["queued"] * 5, "a claim is only read"


def test_a_worker_holds_a_lease_of_the_configured_length_until_it_stops(app):
    app.config["VAFA_CLAIM_LEASE"] = 60
    worker = Worker(app)
    try:
        process = db.session.scalars(select(Process)).one()
        assert process.role == "worker"
        assert process.expires_at - process.seen_at == timedelta(seconds=60)
    finally:
        worker.dispatcher.close()
    db.session.expire_all()
    assert db.session.scalars(select(Process)).all() == []


def test_the_scheduler_holds_a_lease_while_it_runs(app):
    assert not scheduler_alive()
    scheduler = start_scheduler(app)
    try:
        assert scheduler_alive()
    finally:
        scheduler.shutdown()
    assert not scheduler_alive()


def test_a_worker_says_once_that_due_campaigns_wait_for_a_missing_scheduler(
    started_campaign, scripted, caplog, time_machine
):
    from app.messaging import service as campaigns

    time_machine.move_to(datetime(2026, 5, 1, 12, 0, tzinfo=UTC), tick=False)
    campaign, _ = started_campaign()
    campaign.status = "scheduled"  # due, but not started: no scheduler has run
    db.session.commit()
    assert campaigns.due_campaigns(utcnow()) == 1
    watch = SchedulerWatch()
    caplog.set_level(logging.INFO, logger="vafa.jobs")

    def said() -> list[str]:
        return [r.getMessage() for r in caplog.records if "no scheduler" in r.getMessage()]

    watch()
    time_machine.shift(timedelta(minutes=2))
    watch()
    assert said() == [], "a scheduler may be restarting: not yet"
    time_machine.shift(timedelta(minutes=2))
    watch()
    watch()
    assert said() == [
        "1 campaigns are due but no scheduler has run for 4 minutes: "
        "start `vafa scheduler` (or `vafa run`)"
    ]

    begin_lease("scheduler", timedelta(seconds=30))
    watch()
    assert "a scheduler is running again" in caplog.text
