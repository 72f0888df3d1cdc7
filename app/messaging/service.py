"""Campaigns: from a composed text to one outbox row per recipient, and their control."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import false, func, insert, select, update

from app.contacts.models import Contact, ContactList, list_members
from app.contacts.service import own_field_names
from app.extensions import db
from app.messaging.models import Campaign
from app.messaging.text import count_parts, render
from app.sending.models import HANDED_OVER, Message, ProviderAccount
from app.sending.policy import SendingPolicy, load_policy
from app.sending.providers.base import ProviderError
from app.sending.service import adapter_for, retry_unknown
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


def campaign_audience(campaign: Campaign):
    """The contacts a campaign goes to (nobody, if its list has been deleted)."""
    if campaign.to_everyone:
        return audience_query(None)
    if campaign.list_id is None:
        return audience_query(None).where(false())
    return audience_query(campaign.list_id)


def audience_now(campaign: Campaign) -> int:
    """How many contacts a campaign would go to if it went out now: what a scheduled
    campaign's page and the campaigns list show before its messages are written."""
    if campaign.to_everyone:
        return db.session.scalar(select(func.count()).select_from(Contact))
    return campaign.contact_list.member_count if campaign.contact_list else 0


def audience_size(list_id: int | None) -> int:
    subquery = audience_query(list_id).with_only_columns(Contact.id).subquery()
    return db.session.scalar(select(func.count()).select_from(subquery))


def create_campaign(
    *,
    name: str,
    body: str,
    list_id: int | None,
    provider_id: int,
    sender: str,
    scheduled_at: datetime | None,
    created_by_id: int | None,
    marketing: bool = True,
) -> Campaign:
    """Record a draft campaign; it starts once the owner confirms the estimate."""
    campaign = Campaign(
        name=name,
        body=body,
        list_id=list_id,
        list_name=db.session.get(ContactList, list_id).name if list_id is not None else None,
        to_everyone=list_id is None,
        provider_id=provider_id,
        sender=sender,
        marketing=marketing,
        status="draft",
        scheduled_at=scheduled_at or utcnow(),
        created_by_id=created_by_id,
    )
    db.session.add(campaign)
    db.session.flush()
    return campaign


@dataclass(frozen=True)
class Estimate:
    recipients: int  # messages that will be sent
    opted_out: int  # audience members who will be skipped
    parts: int  # SMS parts in all
    cost: int  # Rials, from the account's price per part
    credit: int | None  # Rials left at the provider; None when it could not be read
    credit_error: str | None = None

    @property
    def covered(self) -> bool:
        """Does the credit pay for the campaign? (Unknown credit is not proof it does.)"""
        return self.credit is not None and self.credit >= self.cost


def body_for(
    campaign: Campaign, contact, policy: SendingPolicy, own_fields: Collection[str] = ()
) -> str:
    body = render(campaign.body, contact, own_fields)
    return policy.with_optout(body) if campaign.marketing else body


def estimate(campaign: Campaign) -> Estimate:
    """Recipients, parts and cost of a campaign, and whether the credit covers it.

    Parts are counted on each recipient's own text (names differ in length), reading
    only the columns the text needs.
    """
    policy = load_policy()
    own_fields = own_field_names()
    audience = campaign_audience(campaign).subquery()
    rows = db.session.execute(
        select(
            audience.c.first_name, audience.c.last_name, audience.c.fields, audience.c.opted_out_at
        )
    )
    recipients = opted_out = parts = 0
    for first_name, last_name, fields, opted_out_at in rows:
        if opted_out_at is not None and campaign.marketing:
            opted_out += 1
            continue
        recipients += 1
        person = _Names(first_name, last_name, fields or {})
        parts += count_parts(body_for(campaign, person, policy, own_fields)).parts
    account = campaign.provider
    cost = parts * account.price_per_part
    if account.is_test:
        return Estimate(recipients, opted_out, parts, cost, credit=cost)
    try:
        credit = adapter_for(account).credit()
    except ProviderError as error:
        return Estimate(recipients, opted_out, parts, cost, None, error.message)
    return Estimate(recipients, opted_out, parts, cost, credit)


@dataclass(frozen=True)
class _Names:
    first_name: str
    last_name: str
    fields: dict

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


def materialise(campaign: Campaign) -> int:
    """Write one queued message per recipient, in committed chunks; return how many.

    Opted-out contacts and those over the frequency cap get a ``skipped`` row saying
    why, so every member of the audience is accounted for. Contacts are walked in id
    order: a run interrupted by a crash resumes after the last contact it wrote, and the
    idempotency key keeps any overlap from sending twice.
    """
    policy = load_policy()
    own_fields = own_field_names()
    done_up_to = (
        db.session.scalar(
            select(func.max(Message.contact_id)).where(Message.campaign_id == campaign.id)
        )
        or 0
    )
    written = 0
    while True:
        # Each commit reloads the campaign: the owner may pause or cancel it meanwhile.
        if campaign.status == "cancelled":
            return written
        waiting = "held" if campaign.status == "paused" else "queued"
        contacts = db.session.scalars(
            campaign_audience(campaign)
            .where(Contact.id > done_up_to)
            .order_by(Contact.id)
            .limit(MATERIALISE_CHUNK)
        ).all()
        if not contacts:
            return written
        capped = (
            _recently_messaged([c.id for c in contacts], policy) if campaign.marketing else set()
        )
        now = utcnow()
        rows = []
        for contact in contacts:
            body = body_for(campaign, contact, policy, own_fields)
            skip = None
            if campaign.marketing and contact.opted_out_at is not None:
                skip = "opted_out"
            elif contact.id in capped:
                skip = "frequency_cap"
            rows.append(
                {
                    "campaign_id": campaign.id,
                    "contact_id": contact.id,
                    "provider_id": campaign.provider_id,
                    "mobile": contact.mobile,
                    "body": body,
                    "parts": count_parts(body).parts,
                    "sender": campaign.sender,
                    "marketing": campaign.marketing,
                    "status": "skipped" if skip else waiting,
                    "error": skip,
                    "done_at": now if skip else None,
                    "idempotency_key": f"campaign:{campaign.id}:{contact.id}",
                    "created_at": now,
                }
            )
        db.session.execute(insert(Message), rows)
        db.session.commit()
        written += len(rows)
        done_up_to = contacts[-1].id


def _recently_messaged(contact_ids: list[int], policy: SendingPolicy) -> set[int]:
    """Contacts that already got a marketing SMS within the frequency cap."""
    if not policy.frequency_cap_days:
        return set()
    since = utcnow() - timedelta(days=policy.frequency_cap_days)
    return set(
        db.session.scalars(
            select(Message.contact_id).where(
                Message.contact_id.in_(contact_ids),
                Message.marketing.is_(True),
                Message.created_at >= since,
                Message.status.in_(("queued", "sending", "unknown", *HANDED_OVER)),
            )
        )
    )


class CampaignError(ValueError):
    """Why a campaign cannot be started; shown to the owner as it is."""


def confirm_campaign(campaign: Campaign) -> Estimate:
    """Start (or schedule) a draft after checking the provider's credit covers it."""
    from flask_babel import gettext as _

    from app.persian import show_number

    if campaign.status != "draft":
        raise CampaignError(_("This campaign has already been started."))
    figures = estimate(campaign)
    if figures.recipients == 0:
        raise CampaignError(_("Nobody would receive this campaign."))
    if not figures.covered:
        if figures.credit is None:
            raise CampaignError(
                _(
                    "The provider's credit could not be read: %(reason)s",
                    reason=figures.credit_error,
                )
            )
        raise CampaignError(
            _(
                "The campaign costs %(cost)s Rials but the provider credit is %(credit)s Rials.",
                cost=show_number(figures.cost),
                credit=show_number(figures.credit),
            )
        )
    campaign.status = "scheduled"
    return figures


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
        # A pause or cancel that came while its messages were written applies to all.
        if campaign.status == "preparing":
            campaign.status = "sending"
        elif campaign.status == "paused":
            _move(campaign.id, "queued", "held")
        elif campaign.status == "cancelled":
            _move(campaign.id, ("queued", "held"), "cancelled", done_at=utcnow())
        db.session.commit()
    return len(due)


def pause_campaign(campaign: Campaign, reason: str = "owner", detail: str | None = None) -> None:
    """Hold a campaign's queued messages; in-flight requests finish normally."""
    if campaign.status not in ("sending", "preparing", "scheduled"):
        return
    campaign.status = "paused"
    campaign.paused_reason = reason
    campaign.paused_detail = detail
    _move(campaign.id, "queued", "held")


def resume_campaign(campaign: Campaign) -> None:
    if campaign.status != "paused":
        return
    campaign.status = "sending" if campaign.started_at else "scheduled"
    campaign.paused_reason = campaign.paused_detail = None
    account = db.session.get(ProviderAccount, campaign.provider_id)
    account.failures = 0
    account.last_error = None
    _move(campaign.id, "held", "queued", next_attempt_at=None)


def cancel_campaign(campaign: Campaign) -> int:
    """Stop a campaign for good: what has not left yet never will. Returns how many."""
    if campaign.status in ("done", "cancelled"):
        return 0
    campaign.status = "cancelled"
    campaign.finished_at = utcnow()
    return _move(campaign.id, ("queued", "held"), "cancelled", done_at=utcnow())


def retry_unknown_messages(campaign: Campaign) -> int:
    """Send a campaign's ``unknown`` messages again, as the owner chose.

    A paused campaign holds them until it resumes; a cancelled one sends nothing more.
    """
    if campaign.status == "cancelled":
        return 0
    count = retry_unknown(campaign.id, "held" if campaign.status == "paused" else "queued")
    if count and campaign.status == "done":
        campaign.status = "sending"
    return count


def pause_campaigns_of_account(account_id: int, reason: str, detail: str | None) -> None:
    """A provider account keeps failing: pause every campaign sending through it."""
    campaigns = db.session.scalars(
        select(Campaign).where(Campaign.provider_id == account_id, Campaign.status == "sending")
    ).all()
    for campaign in campaigns:
        pause_campaign(campaign, reason, detail)
    # Messages a failing request just put back in the queue join the held ones.
    paused = select(Campaign.id).where(
        Campaign.provider_id == account_id, Campaign.status == "paused"
    )
    db.session.execute(
        update(Message)
        .where(Message.status == "queued", Message.campaign_id.in_(paused))
        .values(status="held")
        .execution_options(synchronize_session=False)
    )


def _move(campaign_id: int, old, new: str, **values) -> int:
    old = (old,) if isinstance(old, str) else old
    return db.session.execute(
        update(Message)
        .where(Message.campaign_id == campaign_id, Message.status.in_(old))
        .values(status=new, **values)
        .execution_options(synchronize_session=False)
    ).rowcount


def finish_campaigns() -> int:
    """Mark sending campaigns with nothing left to hand to a provider as done."""
    pending = (
        select(Message.id)
        .where(
            Message.campaign_id == Campaign.id,
            Message.status.in_(("queued", "sending", "held")),
        )
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


def throughput(campaign_id: int, window: timedelta = timedelta(seconds=30)) -> float:
    """Messages per second handed to the provider over the last ``window``."""
    since = utcnow() - window
    sent = db.session.scalar(
        select(func.count(Message.id)).where(
            Message.campaign_id == campaign_id, Message.sent_at >= since
        )
    )
    return sent / window.total_seconds()
