"""Each answer of the JSON API, declared once, as a pydantic model.

The views build their answers as plain dicts; these models are what the OpenAPI document
promises about them (every field always present, null when empty, nothing else), and
tests/integration/api/test_api_fuzz.py checks every answer against the document. The
requests are declared in app.api.schemas.
"""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from app.api.schemas import SegmentRules
from app.messaging.models import CAMPAIGN_STATUS_LABELS, HOLDOUT_PERCENT_MAX
from app.sending.models import STATUSES


class Answer(BaseModel):
    """An answer's shape: every field is always present (null when empty)."""

    model_config = ConfigDict(extra="forbid")


MobileOut = Annotated[str, Field(description="Canonical: +989121234567")]

Moment = Annotated[datetime | None, Field(description="UTC, ISO 8601")]
Jalali = Annotated[
    str | None,
    Field(
        description="The same moment in Tehran, Jalali calendar: 1405/09/15 18:30",
        examples=["1405/09/15 18:30"],
    ),
]
Day = Annotated[date | None, Field(examples=["1991-08-03"])]
JalaliDay = Annotated[str | None, Field(examples=["1370/05/12"])]
Count = Annotated[int, Field(ge=0)]


class Problem(Answer):
    field: str = Field(
        description="The field or parameter, by path: audience.list_ids[0], contacts[3].mobile"
    )
    message: str


class ErrorBody(Answer):
    code: str = Field(
        description="Stable, for scripts: bad_request, unauthorized, invalid_token, "
        "not_found, method_not_allowed, too_large, invalid (422), invalid_state (409: the "
        "campaign's state does not allow it), cannot_start (409: e.g. the credit does not "
        "cover the campaign), already_redeemed (409: the coupon code was used before), "
        "server_error."
    )
    message: str = Field(
        description="For people, in Persian (or English with Accept-Language: en)."
    )
    details: list[Problem]


class Error(Answer):
    error: ErrorBody


class AudienceItem(Answer):
    kind: Literal["list", "tag", "segment"]
    id: int | None = Field(description="null once the list or tag was deleted")
    name: str = Field(description="as it is called now; as it was called, once deleted")
    excluded: bool


class CampaignAudience(Answer):
    """Who the campaign goes to: everyone ("all"), or the contacts of any of the lists,
    tags and segments; minus those of the excluded lists and segments. The ids are of
    those that still exist (a campaign whose chosen lists were all deleted goes to
    nobody); ``items`` names them all."""

    all: bool
    list_ids: list[int]
    tag_ids: list[int]
    segment_ids: list[int]
    exclude_list_ids: list[int]
    exclude_segment_ids: list[int]
    items: list[AudienceItem]
    description: str = Field(description="In words, as the panel says it")
    list_id: int | None = Field(
        description="A campaign to exactly one list: that list (null once deleted); otherwise null"
    )
    list_name: str | None = Field(description="A campaign to exactly one list: its name")


class CampaignProvider(Answer):
    id: int
    name: str
    kind: str


CampaignStatus = Literal[tuple(CAMPAIGN_STATUS_LABELS)]
MessageStatus = Literal[STATUSES]


class CampaignCoupon(Answer):
    """How the codes of {کد تخفیف} look (the defaults when the campaign set none)."""

    prefix: str | None
    length: int


class Totals(Answer):
    messages: Count
    waiting: Count = Field(description="queued, sending or held (paused)")
    handed_over: Count = Field(description="accepted by the provider (sent and after)")
    uncertain: Count = Field(
        description="unknown: the provider may or may not have taken them; the campaign is "
        "not done while any is left"
    )
    being_checked: Count = Field(
        description="of the uncertain, those being looked up at the provider (taken ones "
        "become sent, never-taken ones are sent again); the rest wait for the owner's "
        "retry-unknown"
    )


Counts = Annotated[
    dict[MessageStatus, Count],
    WithJsonSchema(
        {
            "type": "object",
            "description": "Messages by state (every state, zeros included).",
            "required": list(STATUSES),
            "additionalProperties": False,
            "properties": {status: {"type": "integer", "minimum": 0} for status in STATUSES},
        }
    ),
]


class Campaign(Answer):
    id: int
    name: str
    text: str
    status: CampaignStatus = Field(
        description="draft → scheduled → preparing → sending ⇄ paused → done | cancelled; "
        "sending ⇄ checking (nothing left to send, some messages' fate not known yet) → done"
    )
    status_label: str
    audience: CampaignAudience
    provider: CampaignProvider
    sender: str
    marketing: bool
    paused_reason: str | None = Field(description="owner, or the provider error that paused it")
    paused_reason_label: str | None
    paused_detail: str | None
    coupon: CampaignCoupon
    holdout_percent: int = Field(
        ge=0,
        le=HOLDOUT_PERCENT_MAX,
        description="The share of the audience (per cent) kept unsent; 0: none.",
    )
    counts: Counts
    totals: Totals
    scheduled_at: Moment
    scheduled_at_jalali: Jalali
    started_at: Moment
    started_at_jalali: Jalali
    finished_at: Moment
    finished_at_jalali: Jalali
    created_at: Moment
    created_at_jalali: Jalali
    planned_start: Moment = Field(
        description="When the sending window lets its first (or, while sending, its next) "
        "marketing SMS leave, if the window holds it back now; null otherwise"
    )
    planned_start_jalali: Jalali


class CampaignPage(Answer):
    data: list[Campaign]
    next_after_id: int | None = Field(
        description="Pass as after_id for the next page; null at the end."
    )


class Estimate(Answer):
    campaign_id: int
    recipients: Count = Field(description="messages that will be sent")
    opted_out: Count = Field(description="audience members skipped")
    capped: Count = Field(
        description="audience members the frequency cap would hold back if it were sent now"
    )
    held_out: Count = Field(
        description="audience members kept unsent to measure the effect (holdout_percent)"
    )
    parts: Count = Field(description="SMS parts in all")
    cost: Count = Field(description="Rials")
    credit: int | None = Field(description="Rials left at the provider; null if unreadable")
    covered: bool
    credit_error: str | None


class EstimateFigures(Answer):
    """An estimate inside another answer (no campaign_id)."""

    recipients: Count
    opted_out: Count
    capped: Count
    held_out: Count
    parts: Count
    cost: Count
    credit: int | None
    covered: bool
    credit_error: str | None


class CampaignAction(Answer):
    campaign: Campaign
    estimate: EstimateFigures = Field(None, description="start only")
    cancelled_messages: Count = Field(None, description="cancel only")
    requeued_messages: Count = Field(None, description="retry-unknown only")


class Message(Answer):
    id: int
    contact_id: int | None
    mobile: MobileOut
    body: str
    parts: Count
    sender: str
    marketing: bool
    status: MessageStatus
    status_label: str
    provider_ref: str | None
    error: str | None
    error_label: str | None
    error_detail: str | None
    attempts: Count
    created_at: Moment
    created_at_jalali: Jalali
    sent_at: Moment
    sent_at_jalali: Jalali
    done_at: Moment
    done_at_jalali: Jalali


class MessagePage(Answer):
    data: list[Message]
    next_after_id: int | None


class ContactResult(Answer):
    mobile: MobileOut
    id: int
    result: Literal["created", "updated", "skipped"]


class ContactUpsertResult(Answer):
    created: Count
    updated: Count
    skipped: Count
    contacts: list[ContactResult] = Field(description="One per item sent, in order.")


class ListRef(Answer):
    id: int
    name: str


class Contact(Answer):
    id: int
    mobile: MobileOut
    first_name: str
    last_name: str
    gender: Literal["male", "female"] | None
    city: str
    birth_date: Day
    birth_date_jalali: JalaliDay
    anniversary: Day
    anniversary_jalali: JalaliDay
    fields: dict[str, str]
    tags: list[str]
    lists: list[ListRef]
    opted_out: bool
    purchase_count: Count
    total_spent: int = Field(description="Rials")
    first_purchase_at: Moment
    first_purchase_at_jalali: Jalali
    last_purchase_at: Moment
    last_purchase_at_jalali: Jalali
    opted_out_at: Moment
    opted_out_at_jalali: Jalali
    created_at: Moment
    created_at_jalali: Jalali


class PurchaseResult(Answer):
    reference: str | None
    mobile: MobileOut
    result: Literal["created", "duplicate"]


class PurchaseBatchResult(Answer):
    created: Count
    duplicates: Count
    purchases: list[PurchaseResult] = Field(description="One per item sent, in order.")


class Coupon(Answer):
    """A coupon code, the message it went out in, and whether it was used."""

    code: str = Field(examples=["NOWRUZ7K2MPQ9A"])
    campaign_id: int | None
    campaign_name: str | None
    contact_id: int | None = Field(description="null once the contact was deleted")
    contact_name: str | None
    mobile: MobileOut | None = Field(description="The number the code was sent to")
    message_id: int | None
    sent_at: Moment = Field(description="When the provider took the message; null before")
    sent_at_jalali: Jalali
    created_at: Moment
    created_at_jalali: Jalali
    redeemed: bool
    redeemed_at: Moment
    redeemed_at_jalali: Jalali
    redeemed_by: str | None = Field(description='A user\'s email, or "API: <token name>"')
    note: str | None


class RenderedText(Answer):
    text: str = Field(description="The text as sent, opt-out line included for marketing.")
    chars: Count = Field(
        description="What the operator counts: UTF-16 units in UCS-2 (an emoji is two), "
        "GSM-7 characters (extension characters such as { € count two)"
    )
    encoding: Literal["gsm7", "ucs2"] = Field(
        description="gsm7: 160 characters in one part, 153 per part beyond; ucs2 (any "
        "Persian letter): 70, then 67"
    )
    parts: Count


class MessageTemplate(Answer):
    id: int
    name: str
    body: str
    key: str | None = Field(
        description="A built-in's stable key (welcome, birthday, purchase_anniversary, "
        "yalda, nowruz, winback, survey, discount, order_thanks); null for the owner's own"
    )
    builtin: bool = Field(description="Built-ins can be edited but not deleted.")
    created_at: Moment
    created_at_jalali: Jalali


class TemplateList(Answer):
    items: list[MessageTemplate]


class Deleted(Answer):
    deleted: Literal[True]


class ListItem(Answer):
    id: int
    name: str
    member_count: Count


class ListItems(Answer):
    items: list[ListItem]


class TagItem(Answer):
    id: int
    name: str
    member_count: Count = Field(description="contacts with the tag")


class TagItems(Answer):
    items: list[TagItem]


SegmentCount = Annotated[
    int | None,
    Field(
        ge=0,
        description="Contacts who match now; null when the rules name a list, tag or "
        "campaign deleted since (edit the rules)",
    ),
]


class SegmentItem(Answer):
    id: int
    key: str | None = Field(
        description="The built-in segment's key (new, active, at_risk, lost, never_bought, "
        "birthday_week, champions, …); null for the shop's own"
    )
    name: str
    count: SegmentCount
    builtin: bool


class SegmentList(Answer):
    items: list[SegmentItem]


class Segment(SegmentItem):
    description: str
    rules: SegmentRules
    created_at: Moment
    created_at_jalali: Jalali
    updated_at: Moment
    updated_at_jalali: Jalali


class SampleContact(Answer):
    id: int
    mobile: MobileOut
    first_name: str
    last_name: str
    city: str


class SegmentSample(Answer):
    count: SegmentCount
    items: list[SampleContact] = Field(description="Up to 20 matching contacts, newest first.")


# Reports -----------------------------------------------------------------------------

Rate = Annotated[
    float | None, Field(description="A percentage, to two decimals; null when its divisor is 0.")
]


class Retention(Answer):
    """The retention report of a period (see the panel's page for every formula)."""

    start: date = Field(alias="from", description="The period's first Tehran day (Gregorian).")
    end: date = Field(alias="to", description="Its last day, included.")
    from_jalali: str = Field(examples=["1405/09/01"])
    to_jalali: str = Field(examples=["1405/09/30"])
    lost_days: int = Field(
        description="A customer counts on a day when their last purchase up to it is fewer "
        "days old than this (the threshold of the built-in segment lost; 180 by default)."
    )
    customers_start: Count = Field(description="Customers at the close of the day before from.")
    customers_end: Count = Field(description="Customers at the close of to.")
    new_customers: Count = Field(description="First purchase in the period.")
    new_customers_at_end: Count = Field(
        description="Those of new_customers who are still customers at the end: all of them "
        "unless the period is longer than lost_days."
    )
    returning_customers: Count = Field(
        description="Customers at the end who bought before the period but were not customers "
        "at its start: they had lapsed and came back."
    )
    retention_rate: Rate = Field(
        description="(customers_end − new_customers_at_end − returning_customers) ÷ "
        "customers_start × 100: the share of the start's customers still customers at the end."
    )
    churn_rate: Rate = Field(description="100 − retention_rate")
    repeat_purchase_rate: Rate = Field(
        description="Customers with 2+ purchases in the period ÷ customers with 1+ × 100"
    )
    purchase_frequency: float | None = Field(
        description="Orders ÷ customers who bought in the period, to two decimals."
    )
    average_order_value: int | None = Field(description="Revenue ÷ orders, in whole Rials.")
    clv: int | None = Field(
        description="average_order_value × purchase_frequency × lifespan, where the lifespan is "
        "1 ÷ churn periods (null when no one was lost), in whole Rials."
    )
    customers_who_bought: Count
    orders: Count
    revenue: int = Field(description="Rials")


class CampaignEffect(Answer):
    """Did the campaign bring customers back: its recipients' purchases against its
    holdout's over ``days`` Tehran days from the midnight that begins the day it started
    (the panel's campaign page shows the same)."""

    campaign_id: int
    days: int = Field(ge=1, le=365)
    recipients: Count = Field(description="Contacts its messages went to.")
    holdout: Count = Field(description="Contacts kept unsent (error holdout).")
    recipient_conversions: Count = Field(description="Recipients who bought in the days.")
    holdout_conversions: Count = Field(description="Holdout contacts who bought in the days.")
    recipient_rate: float | None = Field(
        description="recipient_conversions ÷ recipients (a fraction, 0 to 1); null if none."
    )
    holdout_rate: float | None = Field(description="holdout_conversions ÷ holdout; null if none.")
    uplift: float | None = Field(
        description="recipient_rate − holdout_rate; null without both groups."
    )
    z: float | None = Field(
        description="Two-proportion z statistic (pooled); null when nobody bought or a group "
        "is empty."
    )
    p_value: float | None = Field(description="Two-sided: erfc(|z| ÷ √2).")
    interval: list[float] | None = Field(
        min_length=2,
        max_length=2,
        description="[low, high]: the uplift's 95 % interval (unpooled standard error).",
    )
    revenue: int = Field(description="Rials the recipients spent in the days.")
    coupons_redeemed: Count = Field(description="The campaign's coupon codes used.")
    summary: str = Field(description="What it means, in the request's language.")


class OccasionItem(Answer):
    key: str = Field(
        description="The occasion: nowruz, yalda, eid_fitr, tasua, …; custom_<id> for the "
        "shop's own"
    )
    name: str = Field(description="In Persian, whatever the request's language")
    calendar: Literal["jalali", "hijri", "gregorian"]
    date: Annotated[date, Field(description="The Gregorian day it falls on in Iran")]
    jalali: str = Field(examples=["1405/09/30"])
    estimate: bool = Field(
        description="A lunar day computed ahead of the official calendar: it may move by a day"
    )


class OccasionList(Answer):
    items: list[OccasionItem]


class AutomationAudience(Answer):
    """Who may receive it: everyone ("all"), or the contacts of any of the lists, tags and
    segments; minus those of the excluded lists and segments (ids as saved)."""

    all: bool
    list_ids: list[int]
    tag_ids: list[int]
    segment_ids: list[int]
    exclude_list_ids: list[int]
    exclude_segment_ids: list[int]


class Automation(Answer):
    id: int
    name: str
    kind: Literal["birthday", "anniversary", "occasion", "winback", "welcome", "followup"]
    kind_label: str
    active: bool
    text: str
    time: str = Field(description="Tehran time of day, HH:MM", examples=["10:00"])
    days_before: Count
    days_after: Count
    delay_minutes: Count
    counts_from: Literal["signup", "first_purchase"]
    occasion: str | None
    audience: AutomationAudience
    provider_account_id: int | None = Field(description="null: the default account")
    sender: str | None = Field(description="null: the account's first line")
    coupon: CampaignCoupon | None = Field(description="null: the text has no {کد تخفیف}")
    holdout_percent: int = Field(
        ge=0,
        le=HOLDOUT_PERCENT_MAX,
        description="The share of each send's audience (per cent) kept unsent.",
    )
    next_send_at: datetime | None = Field(
        description="When it next sends to someone, ISO 8601 in Tehran time (+03:30); null "
        "when it is off or nobody is due within a year"
    )
    created_at: Moment
    created_at_jalali: Jalali
    updated_at: Moment
    updated_at_jalali: Jalali


class AutomationList(Answer):
    items: list[Automation]


class PlannedSend(Answer):
    contact_id: int
    mobile: MobileOut
    send_at: datetime = Field(
        description="ISO 8601 in Tehran time, as the sending rules time it",
        examples=["2026-12-21T10:00:00+03:30"],
    )
    occurrence: str = Field(
        description="The run it belongs to: its day (2026-12-21) or, for an occasion, the "
        "occurrence (yalda:1405)"
    )


class AutomationPlan(Answer):
    items: list[PlannedSend] = Field(description="By time, then contact; at most limit")
    more: bool = Field(description="More sends fall in the range than limit")
