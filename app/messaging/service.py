"""Campaigns: from a composed text to one outbox row per recipient."""

from datetime import datetime

from sqlalchemy import func, insert, select, update

from app.contacts.models import Contact, list_members
from app.extensions import db
from app.messaging.models import Campaign
from app.messaging.text import count_parts, render
from app.sending.models import Message
from app.types import utcnow

MATERIALISE_CHUNK = 2000


def audience_query(list_id: int | None):
    """The contacts a campaign to ``list_id`` (None: everyone) goes to."""
    query = select(Contact)
    if list_id is not None:
        query = query.join(list_members, list_members.c.contact_id == Contact.id).where(
            list_members.c.list_id == list_id
        )
    return query


def audience_size(list_id: int | None) -> int:
    subquery = audience_query(list_id).with_only_columns(Contact.id).subquery()
    return db.session.scalar(select(func.count()).select_from(subquery))


def create_campaign(
    *,
    name: str,
    body: str,
    list_id: int | None,
    provider: str,
    sender: str,
    scheduled_at: datetime | None,
    created_by_id: int | None,
) -> Campaign:
    """Record a campaign; the scheduler starts it when ``scheduled_at`` (or now) comes."""
    campaign = Campaign(
        name=name,
        body=body,
        list_id=list_id,
        provider=provider,
        sender=sender,
        scheduled_at=scheduled_at or utcnow(),
        created_by_id=created_by_id,
    )
    db.session.add(campaign)
    db.session.flush()
    return campaign


def materialise(campaign: Campaign) -> int:
    """Write one queued message per recipient, in committed chunks; return how many.

    Contacts are walked in id order, so a run interrupted by a crash resumes after the
    last contact it wrote, and the idempotency key keeps any overlap from sending twice.
    """
    done_up_to = (
        db.session.scalar(
            select(func.max(Message.contact_id)).where(Message.campaign_id == campaign.id)
        )
        or 0
    )
    written = 0
    while True:
        contacts = db.session.scalars(
            audience_query(campaign.list_id)
            .where(Contact.id > done_up_to)
            .order_by(Contact.id)
            .limit(MATERIALISE_CHUNK)
        ).all()
        if not contacts:
            return written
        now = utcnow()
        rows = []
        for contact in contacts:
            body = render(campaign.body, contact)
            rows.append(
                {
                    "campaign_id": campaign.id,
                    "contact_id": contact.id,
                    "mobile": contact.mobile,
                    "body": body,
                    "parts": count_parts(body).parts,
                    "provider": campaign.provider,
                    "sender": campaign.sender,
                    "status": "queued",
                    "idempotency_key": f"campaign:{campaign.id}:{contact.id}",
                    "created_at": now,
                }
            )
        db.session.execute(insert(Message), rows)
        db.session.commit()
        written += len(rows)
        done_up_to = contacts[-1].id


def start_due_campaigns() -> int:
    """Materialise every campaign whose time has come; return how many started."""
    due = db.session.scalars(
        select(Campaign)
        .where(Campaign.status.in_(("scheduled", "preparing")), Campaign.scheduled_at <= utcnow())
        .order_by(Campaign.scheduled_at)
    ).all()
    for campaign in due:
        campaign.status = "preparing"
        campaign.started_at = campaign.started_at or utcnow()
        db.session.commit()
        materialise(campaign)
        campaign.status = "sending"
        db.session.commit()
    return len(due)


def finish_campaigns() -> int:
    """Mark sending campaigns with nothing left to hand to a provider as done."""
    pending = (
        select(Message.id)
        .where(Message.campaign_id == Campaign.id, Message.status.in_(("queued", "sending")))
        .exists()
    )
    result = db.session.execute(
        update(Campaign)
        .where(Campaign.status == "sending", ~pending)
        .values(status="done", finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount


def campaign_counts(campaign_id: int) -> dict[str, int]:
    """Messages of a campaign by status."""
    rows = db.session.execute(
        select(Message.status, func.count())
        .where(Message.campaign_id == campaign_id)
        .group_by(Message.status)
    ).all()
    return dict(rows)
