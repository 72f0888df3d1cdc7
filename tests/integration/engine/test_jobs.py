"""Claim limits and the periodic jobs' settings (moved from test_campaigns.py)."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.extensions import db
from app.jobs import run_all_once
from app.sending import service as sending
from app.sending.models import Message
from app.types import utcnow


def statuses() -> list[str]:
    db.session.expire_all()
    return db.session.scalars(select(Message.status).order_by(Message.id)).all()


def test_a_claim_takes_at_most_its_limit_and_never_the_same_message(started_campaign, scripted):
    started_campaign(names=[f"n{i}" for i in range(5)])
    now = utcnow()
    claims = [[m.id for m in sending.claim_queued(2, now, sending.load_policy())] for _ in range(4)]
    assert [len(claim) for claim in claims] == [2, 2, 1, 0]
    assert (
        sorted(sum(claims, [])) == db.session.scalars(select(Message.id).order_by(Message.id)).all()
    )
    assert statuses() == ["sending"] * 5


def test_the_expiry_job_uses_the_configured_claim_timeout(
    app, started_campaign, scripted, time_machine
):
    time_machine.move_to(datetime(2026, 5, 1, 12, 0, tzinfo=UTC), tick=False)
    started_campaign()
    sending.claim_queued(500, utcnow(), sending.load_policy())
    app.config["VAFA_CLAIM_TIMEOUT"] = 60

    time_machine.shift(timedelta(seconds=59))
    run_all_once(app)
    assert statuses() == ["sending"] * 3

    time_machine.shift(timedelta(seconds=2))
    run_all_once(app)
    # Expired, then looked up: the provider never saw them, so they went out, once each.
    assert statuses() == ["sent"] * 3
    assert sorted(m.local_id for call in scripted.calls for m in call) == sorted(
        db.session.scalars(select(Message.id))
    )
    assert scripted.lookups
