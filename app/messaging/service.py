"""Campaigns: from a composed text to one outbox row per recipient, and their control."""

from collections.abc import Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from flask import current_app
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from app.contacts.models import Contact
from app.contacts.service import own_field_names
from app.coupons.service import CouponSettings, coupon_writer, fresh_codes
from app.extensions import db
from app.messaging.audience import (
    AudienceChoice,
    audience_condition,
    audience_entries,
    audience_problem,
    choice_of,
)
from app.messaging.models import Campaign
from app.messaging.rendering import column, message_template
from app.messaging.text import COUPON, count_parts, parts_of, ucs2_length, ucs2_parts
from app.occasions.service import campaign_occasion
from app.persian import to_tehran
from app.sending.leases import scheduler_alive
from app.sending.models import HANDED_OVER, HOLDOUT, LEFT_TO_OWNER, Message, ProviderAccount
from app.sending.policy import SendingPolicy, load_policy, marketing_allowance
from app.sending.providers.base import ProviderError
from app.sending.service import (
    adapter_for,
    driver_mark,
    driver_slices,
    driver_value,
    queued_here,
    retry_unknown,
)
from app.types import utcnow

MATERIALISE_CHUNK = 5_000
# The first window of a campaign's outbox is this small, and each next one four times
# larger up to MATERIALISE_CHUNK: its first messages are committed, and can leave,
# after a few milliseconds rather than after the writing of the first 5,000.
FIRST_WINDOW = 500
# Outbox rows per INSERT statement: one statement runs in one go, where an executemany
# steps the database once per row, giving up the interpreter's lock at each step and
# queueing to take it back behind the dispatcher's threads. A power of two, as
# driver_slices cuts; prepared statements of 256 rows keep a worker's memory small.
ROWS_PER_INSERT = 256
# Why a campaign is paused: a segment of its audience needs fixing (ERROR_LABELS).
AUDIENCE_UNUSABLE = "audience_unusable"
# A chunk whose new coupon code another process took in the same instant is written
# again with fresh codes; this many times before giving up (it would take a miracle).
COUPON_RETRIES = 5


def audience_query(choice: AudienceChoice, window: tuple | None = None):
    """The contacts an audience holds, whichever of their columns a caller picks
    (with_only_columns); ``window``: (low, high), those with ids from low to high only."""
    return select(Contact).select_from(Contact).where(audience_condition(choice, window))


def campaign_audience(campaign: Campaign, window: tuple | None = None):
    """The contacts a campaign goes to (nobody, if all its chosen lists have been deleted)."""
    return audience_query(choice_of(campaign), window)


def next_window(
    after: int, condition: ColumnElement[bool] | None = None, size: int = MATERIALISE_CHUNK
) -> tuple[int, int] | None:
    """The next ``size`` contact ids to read an audience in, from the first contact
    after ``after`` (meeting ``condition``, when given: an automation's run jumps from
    one contact whose moment it is to the next); None past the last."""
    low = db.session.scalar(
        select(func.min(Contact.id)).where(Contact.id > after, *_given(condition))
    )
    return None if low is None else (low, low + size - 1)


def _given(condition: ColumnElement[bool] | None) -> list[ColumnElement[bool]]:
    return [] if condition is None else [condition]


@dataclass(frozen=True)
class Trigger:
    """What narrows a campaign an automation's run made to the contacts whose moment it
    is (app.occasions.triggers), and the idempotency key of each message: ``key`` with
    ``{contact}`` standing for the contact's id (``birthday:3:{contact}:1405``).

    ``again``: the run is read from its first contact each time, not resumed after the
    last one written (contacts become due through the day: a welcome); its condition
    leaves out those it already has.
    """

    condition: ColumnElement[bool]
    key: str
    again: bool = False


# Which contacts a campaign keeps back (held_out): the contact's id and the campaign's,
# mixed linearly modulo one prime, then squared modulo another, into 100 buckets.
_HOLDOUT_PRIME = 1_000_003
_HOLDOUT_SQUARE_PRIME = 999_983
_HOLDOUT_CONTACT_FACTOR = 2_654_435_761  # Knuth's multiplicative-hash constant
_HOLDOUT_CAMPAIGN_FACTOR = 40_503


def held_out(campaign_id: int, percent: int) -> ColumnElement[bool]:
    """The contacts a campaign keeps unsent to measure its effect: ``percent`` of its
    audience, chosen pseudo-randomly but always the same for one campaign and contact (a
    resumed materialise, the estimate and the report agree). The one definition:
    estimate counts it and materialise reads it as a column. ::

        x = (contact_id × 2654435761 + campaign_id × 40503) mod 1000003
        kept back ⇔ (x² mod 999983) mod 100 < percent

    The square matters: with the linear step alone, the next campaign's buckets would be
    this one's shifted by a few, and seven in ten of the contacts one campaign keeps back
    would be kept back by the next as well; squared, two campaigns' holdouts overlap as
    two independent draws would. In bigint (PostgreSQL's integer would overflow; x² is
    below 10¹²). 10,000 consecutive ids at 10 % keep back between 9 % and 11 %
    (tests/integration/test_holdout.py).
    """
    if not percent:
        return false()
    shift = (campaign_id * _HOLDOUT_CAMPAIGN_FACTOR) % _HOLDOUT_PRIME
    mixed = (
        cast(Contact.id, BigInteger) * literal(_HOLDOUT_CONTACT_FACTOR, BigInteger)
        + literal(shift, BigInteger)
    ) % literal(_HOLDOUT_PRIME, BigInteger)
    bucket = (mixed * mixed) % literal(_HOLDOUT_SQUARE_PRIME, BigInteger) % literal(100, BigInteger)
    return bucket < literal(percent, BigInteger)


def audience_now(campaign: Campaign) -> int | None:
    """How many contacts a campaign would be sent to if it went out now: what a scheduled
    campaign's page and the campaigns list show before its messages are written (for
    marketing, those materialise would skip are left out: opted out, or over the
    frequency cap; and those it keeps back as its holdout). None while a segment of its
    audience needs fixing (``campaign_audience_problem`` says which)."""
    choice = choice_of(campaign)
    if audience_problem(choice):
        return None
    return audience_size(
        choice, campaign.marketing, holdout=held_out(campaign.id, campaign.holdout_percent)
    )


def campaign_audience_problem(campaign: Campaign) -> str | None:
    """Why the campaign's audience cannot be read now (a segment whose rules name a
    deleted list, tag or campaign), in Persian; None when it can."""
    return audience_problem(choice_of(campaign))


def audience_size(
    choice: AudienceChoice,
    marketing: bool = True,
    holdout: ColumnElement[bool] | None = None,
) -> int:
    """How many contacts an audience would be sent to (marketing: not the opted-out, nor
    those the frequency cap holds back; nor those ``holdout`` keeps back: ``held_out``)."""
    query = audience_query(choice).with_only_columns(func.count())
    if marketing:
        query = query.where(Contact.opted_out_at.is_(None), ~capped_now(load_policy()))
    if holdout is not None:
        query = query.where(~holdout)
    return db.session.scalar(query)


def capped_now(policy: SendingPolicy) -> ColumnElement[bool]:
    """A contact that already got a marketing SMS within the frequency cap, as
    materialise decides it (false when there is no cap)."""
    if not policy.frequency_cap_days:
        return false()
    since = utcnow() - timedelta(days=policy.frequency_cap_days)
    return exists().where(
        Message.contact_id == Contact.id,
        Message.marketing.is_(True),
        Message.created_at >= since,
        Message.status.in_(("queued", "sending", "unknown", *HANDED_OVER)),
    )


def create_campaign(
    *,
    name: str,
    body: str,
    provider_id: int,
    sender: str,
    scheduled_at: datetime | None,
    created_by_id: int | None,
    audience: AudienceChoice | None = None,
    list_id: int | None = None,
    marketing: bool = True,
    coupon_prefix: str | None = None,
    coupon_length: int | None = None,
    holdout_percent: int = 0,
) -> Campaign:
    """Record a draft campaign; it starts once the owner confirms the estimate.

    ``audience`` is checked by the caller (audience.check_choice). ``list_id`` is the
    older way to say it: one list, or everyone when neither is given. ``coupon_prefix``
    and ``coupon_length`` shape the codes of {کد تخفیف} (None: the defaults); the form
    checks them (app/messaging/forms.py). ``holdout_percent`` (0–50, checked by the form)
    of the audience is kept unsent to measure the campaign's effect (``held_out``).
    """
    if audience is None:
        audience = AudienceChoice(lists=(list_id,)) if list_id else AudienceChoice(everyone=True)
    campaign = Campaign(
        name=name,
        body=body,
        to_everyone=audience.everyone,
        audience=audience_entries(audience),
        provider_id=provider_id,
        sender=sender,
        marketing=marketing,
        coupon_prefix=coupon_prefix or None,
        coupon_length=coupon_length,
        holdout_percent=holdout_percent,
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
    capped: int = 0  # audience members the frequency cap holds back (if it were sent now)
    held_out: int = 0  # audience members kept unsent to measure the effect (the holdout)

    @property
    def covered(self) -> bool:
        """Does the credit pay for the campaign? (Unknown credit is not proof it does.)"""
        return self.credit is not None and self.credit >= self.cost


class CampaignText:
    """A campaign's text, prepared once for all its recipients.

    The template is parsed once; ``columns`` are the only contact values it reads (as SQL
    expressions, so a query fetches just those), and ``compose`` turns them into the
    text as sent — the opt-out line added to marketing — and its SMS parts. Recipients
    whose values are alike (a text without placeholders: everyone) share one rendering.
    """

    def __init__(self, campaign: Campaign, policy: SendingPolicy, own_fields: Collection[str]):
        self.template = message_template(campaign.body, own_fields, campaign_occasion(campaign))
        reads = self.template.reads
        # Where the recipient's coupon code goes among the values the text reads; it is
        # made for each message, not read from the contact. None: the text has none.
        self.coupon_at = reads.index(COUPON) if COUPON in reads else None
        self.coupons = CouponSettings.of(campaign) if self.coupon_at is not None else None
        self._sample = self.coupons.sample() if self.coupons else None
        self.columns = [column(value) for value in reads if value != COUPON]
        self.optout = policy.with_optout if campaign.marketing else None
        self.compose = lru_cache(maxsize=4096)(self._compose)
        self._around = self._length_around_slots(policy)

    def _length_around_slots(self, policy: SendingPolicy) -> int | None:
        """The UCS-2 length of the text as sent with its slots empty, when a recipient's
        length is that plus what the slots show; else None.

        So it is when the text around the slots is not GSM (then every recipient's text
        is UCS-2, whatever the values) and the opt-out line, if any, is added or not
        whatever the values: the text after the last slot, its trailing spaces aside, is
        at least as long as the line (``SendingPolicy.with_optout`` looks at that end).
        """
        template = self.template
        around = template.fill_slots([""] * len(template.slots))
        if self.optout:
            if len(template.ending.rstrip()) < len(policy.optout_text.strip()):
                return None
            around = self.optout(around)
        return ucs2_length(around) if count_parts(around).unicode else None

    def _compose(self, *values) -> tuple[str, int]:
        # With a coupon: a code of the campaign's width stands in for each recipient's
        # own (codes are Latin letters and digits of one length: the same parts).
        body = self.render(values, self._sample)
        return body, parts_of(body)

    def parts(self, values) -> int:
        """The SMS parts of the text for these values (``compose``'s, without its cache):
        counted from the slots' lengths alone when the text allows it (the estimate
        counts them for every distinct name)."""
        if self._around is None:
            return parts_of(self.render(values, self._sample))
        shown = self.template.slot_texts(self._with_coupon(values, self._sample))
        return ucs2_parts(self._around + sum(map(ucs2_length, shown)))

    def render(self, values, coupon: str | None = None) -> str:
        """The text as sent for these contact values (in the order of ``columns``)."""
        body = self.template.fill(self._with_coupon(values, coupon))
        return self.optout(body) if self.optout else body

    def _with_coupon(self, values, coupon: str | None):
        """The values the template reads: ``values`` and, if the text has one, the code."""
        if self.coupon_at is None:
            return values
        return [*values[: self.coupon_at], coupon, *values[self.coupon_at :]]


def estimate(campaign: Campaign) -> Estimate:
    """Recipients, parts and cost of a campaign, and whether the credit covers it.

    Parts are counted on each recipient's own text (names differ in length), rendered
    once for each distinct set of the values the text reads: the database groups the
    audience by them (one group for a text without placeholders).

    CampaignError when a segment of the audience needs fixing: no figure is given for
    an audience that cannot be read as the owner meant it.
    """
    problem = campaign_audience_problem(campaign)
    if problem:
        raise CampaignError(problem)
    policy = load_policy()
    text = CampaignText(campaign, policy, own_field_names())
    marketing = campaign.marketing
    # Skipped for the frequency cap: not opted out (that comes first), messaged lately.
    capped_members = case((and_(Contact.opted_out_at.is_(None), capped_now(policy)), 1))
    # Kept back as the holdout: those neither skip reason took first (as materialise).
    kept = held_out(campaign.id, campaign.holdout_percent)
    if marketing:
        kept = and_(Contact.opted_out_at.is_(None), ~capped_now(policy), kept)
    groups = (
        campaign_audience(campaign)
        .with_only_columns(
            *text.columns,
            func.count(),
            func.count(Contact.opted_out_at),
            func.count(capped_members) if marketing else literal(0),
            func.count(case((kept, 1))) if campaign.holdout_percent else literal(0),
        )
        .group_by(*text.columns)
        .execution_options(yield_per=MATERIALISE_CHUNK)
    )
    recipients = opted_out = capped = kept_back = parts = 0
    reads = len(text.columns)
    account = campaign.provider
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The provider is asked for the credit while the database counts the audience.
        credit_asked = None if account.is_test else _ask_credit(pool, account)
        for partition in db.session.connection().execute(groups).partitions():
            for row in partition:
                members, members_opted_out, members_capped, members_kept = row[reads:]
                if marketing:
                    opted_out += members_opted_out
                    capped += members_capped
                    members -= members_opted_out + members_capped
                kept_back += members_kept
                members -= members_kept
                if members:
                    recipients += members
                    # Each group's values are its own (GROUP BY): no cache would be hit.
                    parts += text.parts(row[:reads]) * members
    cost = parts * account.price_per_part
    skipped = {"capped": capped, "held_out": kept_back}
    if credit_asked is None:
        return Estimate(recipients, opted_out, parts, cost, credit=cost, **skipped)
    try:
        credit = credit_asked.result()
    except ProviderError as error:
        return Estimate(recipients, opted_out, parts, cost, None, error.message, **skipped)
    account.credit, account.credit_read_at = credit, utcnow()
    return Estimate(recipients, opted_out, parts, cost, credit, **skipped)


def _ask_credit(pool: ThreadPoolExecutor, account: ProviderAccount) -> Future[int]:
    """The account's credit, asked on one of ``pool``'s threads; the adapter is made
    here, where the account's stored key can be read (a key that cannot fails at once)."""
    try:
        adapter = adapter_for(account)
    except ProviderError as error:
        refused: Future[int] = Future()
        refused.set_exception(error)
        return refused
    return pool.submit(adapter.credit)


# The outbox row of a campaign's message, as the database driver takes it.
_MESSAGE_COLUMNS = (
    "campaign_id",
    "contact_id",
    "provider_id",
    "mobile",
    "body",
    "parts",
    "sender",
    "marketing",
    "status",
    "error",
    "done_at",
    "idempotency_key",
    "attempts",
    "created_at",
)


def materialise(campaign: Campaign, trigger: Trigger | None = None) -> int:
    """Write one queued message per recipient, in committed chunks; return how many.

    Opted-out contacts and those over the frequency cap get a ``skipped`` row saying
    why, so every member of the audience is accounted for; so do the rest the campaign
    keeps back as its holdout (``held_out``: error ``holdout``). Contacts are walked in id
    order, a window of ids at a time (next_window; ``FIRST_WINDOW`` first, growing to
    ``MATERIALISE_CHUNK``), reading only the audience's contacts in it and only the
    values the text needs: a run interrupted by a crash resumes after the last contact
    it wrote, and the idempotency key keeps any overlap from sending twice (a row whose
    key exists is left out, not an error).

    The rows go to the database driver as multi-row INSERTs (``ROWS_PER_INSERT``): for a
    million recipients, SQLAlchemy's per-row parameter processing would cost more than
    the database's own work (as for imports, app/contacts/importing/storing.py).

    A text with {کد تخفیف} gets a fresh code per message (app/coupons/service.py), in its
    text and in ``coupons``, written with the chunk in the same transaction: a resumed
    run gives no recipient a second code. Skipped messages get one too (every row's text
    is the text as it would have gone out); the campaign page counts the codes sent.

    ``trigger``: an automation's run (app.occasions.engine) adds its condition and its
    own idempotency key per message.
    """
    policy = load_policy()
    text = CampaignText(campaign, policy, own_field_names())
    condition = trigger.condition if trigger else None
    done_up_to = 0
    if trigger is None or not trigger.again:
        done_up_to = (
            db.session.scalar(
                select(func.max(Message.contact_id)).where(Message.campaign_id == campaign.id)
            )
            or 0
        )
    key_of = trigger.key if trigger else f"campaign:{campaign.id}:{{contact}}"
    # The audience in windows of ids (see app.messaging.audience): at most one chunk each.
    chunk = (
        campaign_audience(campaign, (bindparam("low"), bindparam("high")))
        .where(*_given(condition))
        .with_only_columns(
            Contact.id,
            Contact.mobile,
            Contact.opted_out_at.is_not(None),
            held_out(campaign.id, campaign.holdout_percent),
            *text.columns,
        )
        .order_by(Contact.id)
    )
    mark = driver_mark(db.session.connection())
    width = len(_MESSAGE_COLUMNS)
    row_marks = f"({', '.join([mark] * width)})"
    campaign_id, provider_id, sender = campaign.id, campaign.provider_id, campaign.sender
    marketing = campaign.marketing
    marketing_flag = driver_value(db.session.connection(), "marketing", marketing)
    written = retries = 0
    size = min(FIRST_WINDOW, MATERIALISE_CHUNK)
    while True:
        # Each commit reloads the campaign: the owner may pause or cancel it meanwhile.
        if campaign.status == "cancelled":
            return written
        waiting = "held" if campaign.status == "paused" else "queued"
        window = next_window(done_up_to, condition, size)
        if window is None:
            return written
        low, high = window
        size = min(4 * size, MATERIALISE_CHUNK)
        contacts = db.session.connection().execute(chunk, {"low": low, "high": high}).all()
        if not contacts:
            done_up_to = high
            continue
        capped = _recently_messaged([row[0] for row in contacts], policy) if marketing else ()
        connection = db.session.connection()
        now = driver_value(connection, "created_at", utcnow())
        # A text with {کد تخفیف}: each message gets a code of its own, in its text.
        codes = fresh_codes(connection, text.coupons, len(contacts)) if text.coupons else None
        # Every row's values one after another, as the driver takes a statement's.
        written_values: list = []
        coupons = []
        for index, (contact_id, mobile, opted_out, kept, *values) in enumerate(contacts):
            body, parts = text.compose(*values)
            key = key_of.format(contact=contact_id)
            if codes is not None:
                body = text.render(values, codes[index])
                coupons.append((codes[index], campaign_id, contact_id, now, key, body))
            skip = None
            if marketing and opted_out:
                skip = "opted_out"
            elif contact_id in capped:
                skip = "frequency_cap"
            elif kept:
                skip = HOLDOUT
            written_values += (
                campaign_id,
                contact_id,
                provider_id,
                mobile,
                body,
                parts,
                sender,
                marketing_flag,
                "skipped" if skip else waiting,
                skip,
                now if skip else None,
                key,
                0,
                now,
            )
        for some in driver_slices(range(len(contacts)), ROWS_PER_INSERT):
            connection.exec_driver_sql(
                f"INSERT INTO messages ({', '.join(_MESSAGE_COLUMNS)})"
                f" VALUES {', '.join([row_marks] * len(some))}"
                " ON CONFLICT (idempotency_key) DO NOTHING",
                tuple(written_values[some.start * width : some.stop * width]),
            )
        if coupons:
            try:
                connection.exec_driver_sql(coupon_writer(connection), coupons)
            except IntegrityError:
                # Another process took one of these codes since they were checked.
                db.session.rollback()
                retries += 1
                if retries > COUPON_RETRIES:
                    raise
                continue  # the same window again, with fresh codes
        db.session.commit()
        queued_here()  # a dispatcher in this process sends them while the rest is written
        written += len(contacts)
        done_up_to = high


def _recently_messaged(contact_ids: list[int], policy: SendingPolicy) -> set[int]:
    """Contacts that already got a marketing SMS within the frequency cap."""
    if not policy.frequency_cap_days:
        return set()
    return set(
        db.session.scalars(
            select(Contact.id).where(Contact.id.in_(contact_ids), capped_now(policy))
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


@dataclass(frozen=True)
class RulesWait:
    """Why the sending rules hold a campaign's marketing SMS back, and until when.

    ``reason``: "window" (outside the sending window), "quiet" (``quiet_day`` has no
    marketing SMS at all) or "cap" (today's daily cap is reached).
    """

    opens: datetime
    reason: str
    quiet_day: date | None = None


def rules_wait(
    campaign: Campaign, policy: SendingPolicy, now: datetime | None = None
) -> RulesWait | None:
    """When a campaign the sending rules hold back will send, and why; None if none holds it.

    Marketing SMS leave only inside the owner's window, never on a quiet day and not past
    the daily cap (the engine claims none then), so a campaign sent now at 23:00, or
    scheduled for then, is written to the outbox on time but its first message waits for
    the window to open; one already sending waits the same way for the rest. A draft is
    asked about as if it were sent now.
    """
    if not campaign.marketing or campaign.status not in (
        "draft", "scheduled", "preparing", "sending",
    ):  # fmt: skip
        return None
    now = now or utcnow()
    due = max(campaign.scheduled_at, now) if campaign.status != "sending" else now
    return wait_for_rules(policy, due, now)


def wait_for_rules(policy: SendingPolicy, due: datetime, now: datetime) -> RulesWait | None:
    """Why and until when marketing SMS due at ``due`` wait; None if they may leave then."""
    opens = policy.window_opens(due)
    if opens > due:
        first, last = to_tehran(due).date(), to_tehran(opens).date()
        days = (first + timedelta(days=offset) for offset in range((last - first).days + 1))
        quiet = next((day for day in days if policy.is_quiet(day)), None)
        return RulesWait(opens, "quiet" if quiet else "window", quiet)
    if due <= now and marketing_allowance(policy, now) == 0:
        return RulesWait(policy.next_day_opens(now), "cap")
    return None


def planned_start(
    campaign: Campaign, policy: SendingPolicy, now: datetime | None = None
) -> datetime | None:
    """When a campaign the sending rules hold back will send (``rules_wait``), or None."""
    wait = rules_wait(campaign, policy, now)
    return wait.opens if wait else None


def start_due_campaigns() -> int:
    """Materialise every campaign whose time has come; return how many were due."""
    due = db.session.scalars(
        select(Campaign)
        .where(
            Campaign.status.in_(("scheduled", "preparing")),
            Campaign.scheduled_at <= utcnow(),
            # An automation's runs are made and resumed by its engine (app.occasions.engine).
            Campaign.automation_id.is_(None),
        )
        .order_by(Campaign.scheduled_at)
    ).all()
    for campaign in due:
        problem = campaign_audience_problem(campaign)
        if problem:
            # A segment's rules broke after it was confirmed (a list they name was
            # deleted): it waits, paused, rather than go to people the owner never meant.
            # Resumed, it is scheduled again and checked again; one whose messages were
            # being written when it stopped (a crash) goes on after the last one written.
            campaign.started_at = None
            pause_campaign(campaign, AUDIENCE_UNUSABLE, problem)
            db.session.commit()
            continue
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


def start_soon(campaign: Campaign) -> None:
    """After a campaign is confirmed: if it is due now and this process runs the
    scheduler (``vafa run``), the scheduler starts it at once; a scheduler in another
    process finds it at its next tick (``VAFA_TICK_SECONDS``)."""
    scheduler = current_app.extensions.get("vafa.scheduler")
    if scheduler is not None and campaign.scheduled_at <= utcnow():
        scheduler.start_due_now()


def due_campaigns(now: datetime) -> int:
    """How many campaigns are due to start (the scheduler starts them)."""
    return db.session.scalar(
        select(func.count(Campaign.id)).where(
            Campaign.status.in_(("scheduled", "preparing")),
            Campaign.scheduled_at <= now,
            Campaign.automation_id.is_(None),
        )
    )


def waits_for_scheduler(campaign: Campaign) -> bool:
    """Is the campaign due, but no scheduler is running to start it?"""
    now = utcnow()
    return (
        campaign.status in ("scheduled", "preparing")
        and campaign.scheduled_at <= now
        and not scheduler_alive(now)
    )


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
    account.last_error = account.last_error_detail = account.failing_since = None
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
    if count and campaign.status in ("done", "checking"):
        campaign.status = "sending"
    return count


def send_again(message_ids: list[int]) -> None:
    """Uncertain messages the provider certainly never took go out again, as their
    campaign allows: held while it is paused, never once it is cancelled.

    Reconciliation (app/sending/reconcile.py) learns which; the campaign decides.
    """
    unknown = (Message.id.in_(message_ids), Message.status == "unknown")
    fresh = {
        "worker_id": None,
        "handed_over_at": None,
        "polled_at": None,
        "error": None,
        "error_detail": None,
    }
    for state, values in (
        ("cancelled", {"status": "cancelled", "done_at": utcnow()}),
        ("paused", {"status": "held", **fresh}),
    ):
        in_state = select(Campaign.id).where(Campaign.status == state)
        db.session.execute(
            update(Message)
            .where(*unknown, Message.campaign_id.in_(in_state))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    db.session.execute(
        update(Message)
        .where(*unknown)
        .values(status="queued", next_attempt_at=None, **fresh)
        .execution_options(synchronize_session=False)
    )


def pause_campaigns_of_failing_accounts() -> int:
    """Pause the campaigns sending through accounts the engine marked failing.

    The engine only records what happened to an account (``failing_since``, with the
    last refusal); deciding what that means for campaigns is theirs. Returns how many
    campaigns were paused now.
    """
    failing = db.session.execute(
        select(
            ProviderAccount.id, ProviderAccount.last_error, ProviderAccount.last_error_detail
        ).where(ProviderAccount.failing_since.is_not(None))
    ).all()
    paused = 0
    for account_id, reason, detail in failing:
        campaigns = db.session.scalars(
            select(Campaign).where(Campaign.provider_id == account_id, Campaign.status == "sending")
        ).all()
        for campaign in campaigns:
            pause_campaign(campaign, reason or "provider_error", detail)
        paused += len(campaigns)
        # Messages a refused request put back in the queue join the held ones.
        db.session.execute(
            update(Message)
            .where(
                Message.status == "queued",
                Message.campaign_id.in_(
                    select(Campaign.id).where(
                        Campaign.provider_id == account_id, Campaign.status == "paused"
                    )
                ),
            )
            .values(status="held")
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return paused


def _move(campaign_id: int, old, new: str, **values) -> int:
    old = (old,) if isinstance(old, str) else old
    return db.session.execute(
        update(Message)
        .where(Message.campaign_id == campaign_id, Message.status.in_(old))
        .values(status=new, **values)
        .execution_options(synchronize_session=False)
    ).rowcount


def finish_campaigns() -> int:
    """Move campaigns on as their messages settle; return how many became done.

    Nothing left to hand to a provider: done, unless some messages' fate is still
    unknown, in which case the campaign is ``checking`` until reconciliation (or the
    owner's retry) settles them. Messages queued again send it back to ``sending``.
    """

    def having(*statuses: str):
        return (
            select(Message.id)
            .where(Message.campaign_id == Campaign.id, Message.status.in_(statuses))
            .exists()
        )

    pending, uncertain = having("queued", "sending", "held"), having("unknown")
    db.session.execute(
        update(Campaign)
        .where(Campaign.status == "checking", pending)
        .values(status="sending")
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Campaign)
        .where(Campaign.status == "sending", ~pending, uncertain)
        .values(status="checking")
        .execution_options(synchronize_session=False)
    )
    result = db.session.execute(
        update(Campaign)
        .where(Campaign.status.in_(("sending", "checking")), ~pending, ~uncertain)
        .values(status="done", finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount


def left_to_owner(campaign_ids: list[int]) -> dict[int, int]:
    """Uncertain messages per campaign whose fate no provider lookup can learn: only the
    owner can decide to send them again (the rest of ``unknown`` is being checked)."""
    if not campaign_ids:
        return {}
    rows = db.session.execute(
        select(Message.campaign_id, func.count())
        .where(
            Message.campaign_id.in_(campaign_ids),
            Message.status == "unknown",
            Message.error == LEFT_TO_OWNER,
        )
        .group_by(Message.campaign_id)
    ).all()
    return dict(rows)


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
