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
from app.messaging.models import CAMPAIGN_STATUS_LABELS
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
        description="The field or parameter, by path: audience.list_id, contacts[3].mobile"
    )
    message: str


class ErrorBody(Answer):
    code: str = Field(
        description="Stable, for scripts: bad_request, unauthorized, invalid_token, "
        "not_found, method_not_allowed, too_large, invalid (422), invalid_state (409: the "
        "campaign's state does not allow it), cannot_start (409: e.g. the credit does not "
        "cover the campaign), server_error."
    )
    message: str = Field(
        description="For people, in Persian (or English with Accept-Language: en)."
    )
    details: list[Problem]


class Error(Answer):
    error: ErrorBody


class CampaignAudience(Answer):
    """Everyone ({"all": true}), or a list; both null once the list was deleted (the
    campaign then goes to nobody)."""

    all: Literal[True] = None
    list_id: int | None = None
    list_name: str | None = None


class CampaignProvider(Answer):
    id: int
    name: str
    kind: str


CampaignStatus = Literal[tuple(CAMPAIGN_STATUS_LABELS)]
MessageStatus = Literal[STATUSES]


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
    parts: Count = Field(description="SMS parts in all")
    cost: Count = Field(description="Rials")
    credit: int | None = Field(description="Rials left at the provider; null if unreadable")
    covered: bool
    credit_error: str | None


class EstimateFigures(Answer):
    """An estimate inside another answer (no campaign_id)."""

    recipients: Count
    opted_out: Count
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
        "birthday_week, …); null for the shop's own"
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
