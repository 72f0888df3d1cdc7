"""The automations' engine: the scheduler's job that makes each automation's runs.

At every tick (app.jobs, ``run_automations``) every active automation's runs due
within the grace window (``VAFA_AUTOMATION_GRACE`` hours back from now), and since the
automation was last saved or switched on (``Automation.updated_at``: a survey saved at
20:48 for 18:30 waits for tomorrow rather than go out at once), that have not been
made yet are made: one campaign per run (``Campaign.automation_id`` and
``Campaign.occurrence``, unique), materialised with the run's trigger and idempotency
key (app.occasions.triggers). So after downtime the runs missed within the window are
caught up, those further back are let go (a birthday greeted three days late is worse
than none), and a run is never made twice: the campaign's unique pair stops a second
one, the messages' keys a second message.

A run stopped half-way (a crash while its messages were written) is still
``preparing``: the next tick within the window writes the rest (materialise resumes
after the last contact written); past the window it goes out as far as it got.

Messages are marketing: opted-out contacts and the frequency cap are skipped as a
campaign's are, and the dispatcher holds them outside the sending window and on quiet
and mourning days (app.sending.policy).
"""

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError

from app.contacts.models import Contact, ContactList, Tag
from app.extensions import db
from app.messaging.audience import (
    AudienceChoice,
    audience_condition,
    audience_entries,
    audience_problem,
)
from app.messaging.models import Campaign
from app.messaging.service import Trigger, materialise
from app.occasions.automations import audience_choice
from app.occasions.models import Automation
from app.occasions.triggers import Run, runs_between
from app.persian import jalali_date, persian_digits
from app.sending.models import Message, ProviderAccount
from app.sending.service import default_account
from app.types import utcnow

log = logging.getLogger("vafa.automations")
# A moment's worth past "now", so a run due this very instant is due.
_NOW = timedelta(microseconds=1)


def grace() -> timedelta:
    """How far back missed runs are still made (VAFA_AUTOMATION_GRACE, in hours)."""
    return timedelta(hours=current_app.config["VAFA_AUTOMATION_GRACE"])


def run_automations(now: datetime | None = None) -> int:
    """Make every active automation's due runs; return how many messages were written."""
    now = now or utcnow()
    since = now - grace()
    written = 0
    automations = db.session.scalars(
        select(Automation).where(Automation.active.is_(True)).order_by(Automation.id)
    ).all()
    for automation in automations:
        try:
            written += _run_due(automation, since, now)
        except Exception:  # one automation's trouble must not stop the others
            log.exception("automation %s failed", automation.id)
            db.session.rollback()
    _let_go(since)
    return written


def _existing(choice: AudienceChoice) -> AudienceChoice:
    """The choice without the lists, tags and segments deleted since it was saved."""
    from app.audience.models import Segment

    def kept(model, ids):
        if not ids:
            return ()
        found = set(db.session.scalars(select(model.id).where(model.id.in_(ids))))
        return tuple(i for i in ids if i in found)

    return AudienceChoice(
        everyone=choice.everyone,
        lists=kept(ContactList, choice.lists),
        tags=kept(Tag, choice.tags),
        segments=kept(Segment, choice.segments),
        exclude_lists=kept(ContactList, choice.exclude_lists),
        exclude_segments=kept(Segment, choice.exclude_segments),
    )


def _run_due(automation: Automation, since: datetime, now: datetime) -> int:
    written = 0
    # Nothing due before it was last saved or switched on (its moment had passed then).
    since = max(since, automation.updated_at or since)
    due = runs_between(automation, since, now + _NOW)
    if not due:
        return 0
    choice = _existing(audience_choice(automation.audience))
    if audience_problem(choice):
        # A segment of its audience needs fixing (its page says so): its runs wait
        # rather than go to people the owner never meant; past the grace window, they
        # are let go.
        return 0
    made = {
        campaign.occurrence: campaign
        for campaign in db.session.scalars(
            select(Campaign).where(
                Campaign.automation_id == automation.id,
                Campaign.occurrence.in_([run.occurrence for run in due]),
            )
        )
    }
    for run in due:
        campaign = made.get(run.occurrence)
        if campaign is None:
            if not _anyone(choice, run):
                continue
            campaign = _open_run(automation, choice, run, now)
            if campaign is None:
                continue
        elif not _resumable(campaign, run):
            continue
        condition = run.condition
        if run.again:  # those it already has are not read again
            condition = condition & ~exists().where(
                Message.campaign_id == campaign.id, Message.contact_id == Contact.id
            )
        count = materialise(campaign, Trigger(condition, run.key, run.again))
        written += count
        if campaign.status == "preparing" or (count and campaign.status in ("done", "checking")):
            campaign.status = "sending"
        db.session.commit()
    return written


def _resumable(campaign: Campaign, run: Run) -> bool:
    """Is a run's campaign to be written to again? Stopped half-way (still preparing),
    or a welcome's, whose contacts become due through the day (unless paused or
    cancelled by the owner)."""
    if campaign.status in ("paused", "cancelled"):
        return False
    return campaign.status == "preparing" or run.again


def _anyone(choice: AudienceChoice, run: Run) -> bool:
    """Is anyone of the audience due in this run? (No campaign is made for nobody.)"""
    found = select(Contact.id).where(audience_condition(choice), run.condition).limit(1)
    return db.session.scalar(found) is not None


def run_name(automation: Automation, run: Run) -> str:
    """«تبریک تولد · ۱۴۰۵/۰۹/۳۰»: the automation and the Jalali day of the run."""
    return f"{automation.name} · {persian_digits(jalali_date(run.day))}"


def _open_run(
    automation: Automation, choice: AudienceChoice, run: Run, now: datetime
) -> Campaign | None:
    """The campaign of a run, committed as ``preparing``; None if another made it."""
    account = (
        db.session.get(ProviderAccount, automation.provider_id) if automation.provider_id else None
    ) or default_account()
    lines = account.sender_lines
    sender = automation.sender if automation.sender in lines else (lines[0] if lines else "")
    campaign = Campaign(
        name=run_name(automation, run),
        body=automation.body,
        to_everyone=choice.everyone,
        audience=audience_entries(choice),
        provider_id=account.id,
        sender=sender,
        marketing=True,
        coupon_prefix=automation.coupon_prefix,
        coupon_length=automation.coupon_length,
        holdout_percent=automation.holdout_percent,
        status="preparing",
        scheduled_at=run.due,
        started_at=now,
        automation_id=automation.id,
        occurrence=run.occurrence,
    )
    db.session.add(campaign)
    try:
        db.session.commit()
    except IntegrityError:  # made a moment ago by another process
        db.session.rollback()
        return None
    return campaign


def _let_go(since: datetime) -> None:
    """Runs still ``preparing`` that will not be resumed (due before the grace window,
    of an automation switched off, or due before it was saved again) go out as far as
    they got."""
    inactive = select(Automation.id).where(Automation.active.is_(False))
    saved_since = exists().where(
        Automation.id == Campaign.automation_id, Automation.updated_at > Campaign.scheduled_at
    )
    stale = (
        Campaign.automation_id.is_not(None),
        Campaign.status == "preparing",
        (Campaign.scheduled_at < since) | Campaign.automation_id.in_(inactive) | saved_since,
    )
    # Looked for first: nearly always there is none, and a read costs no commit.
    if db.session.scalar(select(Campaign.id).where(*stale).limit(1)) is None:
        return
    db.session.execute(
        update(Campaign)
        .where(*stale)
        .values(status="sending")
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
