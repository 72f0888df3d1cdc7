"""Each request of the JSON API, declared once, as a pydantic model (answers: app.api.answers).

The models are the single truth for both sides. A request body (or a page's query) is
validated by its model, and the problems become the documented ``details``: named by
path (``contacts[3].mobile``), worded for people, in the caller's language.
app.api.openapi builds the OpenAPI document from the same models' JSON Schema. A new
endpoint (segments, templates, automations, reports) costs a request model here, an
answer model in app.api.answers and a line in ``openapi.OPERATIONS``.

Why plain pydantic v2 rather than an integration such as spectree or flask-openapi3:
both take over the routes or the error answers (each has its own 422 shape), while the
API has Flask routes and an error format scripts already rely on. Pydantic is the
most used, actively maintained validation library for Python; ``models_json_schema``
writes JSON Schema 2020-12, which is exactly what OpenAPI 3.1 embeds, so nothing needs
translating between the two.

What JSON Schema cannot say is checked here too and refused with the same 422: a list or
provider account that does not exist, a sender line of another account, a moment that
has passed, a day that is not in the calendar, a number sent twice in one request, a
purchase of a number no contact has, more own fields than the shop may have. Such
refusals are the only ones a request valid by the document may get (the document's 422
says so).
"""

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal, get_args

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError
from sqlalchemy import select

from app.api.errors import problem
from app.audience import rules
from app.contacts.importing import (
    ContactRow,
    PurchaseRow,
    RowError,
    parse_date,
    parse_mobile,
    parse_moment,
    split_tags,
)
from app.contacts.models import Contact, ContactList
from app.contacts.service import (
    OWN_FIELD_NAME_MAX,
    OWN_FIELD_VALUE_MAX,
    OwnFieldError,
    check_own_fields,
    own_field_names,
)
from app.coupons.service import LENGTH_DEFAULT, LENGTH_MAX, LENGTH_MIN, PREFIX_MAX
from app.extensions import db
from app.limits import ID_MAX
from app.messaging.audience import AudienceChoice, AudienceError, check_choice
from app.messaging.models import HOLDOUT_PERCENT_MAX
from app.messaging.rendering import text_problems
from app.persian import (
    ascii_digits,
    jalali_month_day,
    normalize_text,
    parse_clock,
    parse_jalali_datetime,
    show_number,
)
from app.reports.effect import DAYS_DEFAULT as EFFECT_DAYS_DEFAULT
from app.reports.effect import DAYS_MAX as EFFECT_DAYS_MAX
from app.sending.models import STATUSES, ProviderAccount
from app.sending.service import default_account
from app.types import utcnow

BATCH_MAX = 1000  # items in one request
PAGE_DEFAULT = 100
PAGE_MAX = 500
CAMPAIGN_NAME_MAX = 200  # Campaign.name
LIST_NAME_MAX = 100  # ContactList.name
CAMPAIGN_TEXT_MAX = 1000  # as the compose form allows
TEXT_FIELD_MAX = 100  # first_name, last_name, city, reference: their columns
AMOUNT_MAX = 10**15  # Rials; far above any purchase, far below a BIGINT
REFERENCE_NUMBER_MAX = 10**18  # a numeric reference, stored as its digits
TAGS_MAX = 100  # tags on one contact in one request
# How far ahead a purchase may be dated (clocks differ), as the importer allows.
PURCHASE_AHEAD = timedelta(days=1)

# Text the database cannot hold (PostgreSQL refuses NUL in text) is refused, never stored.
NO_NUL = r"^[^\x00]*$"
# A name: something that is not a space is left once the ends are trimmed.
NOT_BLANK = r"^[^\x00]*[^\s\x00\u200b][^\x00]*$"
_DIGIT = "[0-9۰-۹٠-٩]"
_SEP = r"[\s().-]*"
# Every form normalize_mobile reads: 0912…, 912…, +98912…, 0098912…, 98912…, with
# spaces, dashes, dots or parentheses, in ASCII, Persian or Arabic-Indic digits.
MOBILE_PATTERN = (
    rf"^{_SEP}(?:(?:\+|[0۰٠]{_SEP}[0۰٠]){_SEP}[9۹٩]{_SEP}[8۸٨]{_SEP}|[9۹٩]{_SEP}[8۸٨]{_SEP}"
    rf"|[0۰٠]{_SEP})?[9۹٩](?:{_SEP}{_DIGIT}){{9}}{_SEP}$"
)
# A coupon code in a path: Latin letters in any case and digits (Persian ones too), as
# read off a customer's phone; app.coupons.service.normalize_code reads it.
COUPON_CODE_PATTERN = r"^[0-9A-Za-z۰-۹٠-٩]{1,20}$"
_MONTH_DAY = r"/(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12][0-9]|3[01])"
JALALI_DAY = rf"^1[34][0-9]{{2}}{_MONTH_DAY}$"
_CLOCK = r"(?:[01]?[0-9]|2[0-3]):[0-5][0-9]"
JALALI_MOMENT = rf"^1[34][0-9]{{2}}{_MONTH_DAY} {_CLOCK}$"
JALALI_DAY_OR_MOMENT = rf"^1[34][0-9]{{2}}{_MONTH_DAY}(?: {_CLOCK})?$"
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


# Refusals ---------------------------------------------------------------------------


def refuse(message, at: str | None = None) -> PydanticCustomError:
    """A problem found by our own checks; ``at`` names a part below the field (jalali)."""
    return PydanticCustomError("vafa", "{message}", {"message": str(message), "at": at})


def _too_long(limit: int) -> str:
    return _("At most %(count)s characters.", count=show_number(limit))


# What pydantic's own checks mean, in the panel's words.
_BY_TYPE = {
    "missing": _l("This field is required."),
    "extra_forbidden": _l("Unknown field."),
    "int_type": _l("Must be a whole number."),
    "int_parsing": _l("Must be a whole number."),
    "int_from_float": _l("Must be a whole number."),
    "string_type": _l("Must be a string."),
    "bool_type": _l("Must be true or false."),
    "bool_parsing": _l("Must be true or false."),
    "model_type": _l("Must be a JSON object."),
    "dict_type": _l("Must be a JSON object."),
    "list_type": _l("Must be a list."),
}
_LISTS = {"contacts", "purchases"}
_BOUNDS = {
    "limit": (1, PAGE_MAX),
    "after_id": (0, ID_MAX),
    "list_id": (1, ID_MAX),
    "provider_account_id": (1, ID_MAX),
    "length": (LENGTH_MIN, LENGTH_MAX),  # a coupon code's random part
    "holdout_percent": (0, HOLDOUT_PERCENT_MAX),
    "days": (1, EFFECT_DAYS_MAX),  # a campaign's effect
}


def _path(loc: tuple) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _own_messages(model: type[BaseModel], loc: tuple) -> dict:
    """The MESSAGES of the model that declares the field at ``loc`` (nested models too)."""
    for part in loc[:-1]:
        if not isinstance(part, str) or part not in model.model_fields:
            continue
        inner = _model_in(model.model_fields[part].annotation)
        if inner is None:
            break
        model = inner
    return getattr(model, "MESSAGES", {})


def _model_in(annotation) -> type[BaseModel] | None:
    """The model inside ``list[NewContact]``, ``NewContact | None``…, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        if found := _model_in(argument):
            return found
    return None


def _message(error: dict, field: str, messages: dict) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "vafa":
        return ctx["message"]
    if kind == "string_too_long":
        return _too_long(ctx["max_length"])
    if kind == "extra_forbidden":
        return str(_BY_TYPE[kind])
    if field in _LISTS and kind == "too_long":
        return _(
            "At most %(max)s items in one request; send the rest in another.",
            max=show_number(BATCH_MAX),
        )
    if field in _LISTS and isinstance(error["loc"][-1], str):
        return _("Send a non-empty list.")
    if isinstance(error["loc"][-1], int) and kind in ("model_type", "dict_type"):
        return _("Each item must be a JSON object.")
    if field == "mobile" and (kind == "missing" or error["input"] is None):
        return _("The mobile number is required.")
    if field in messages:
        return str(messages[field])
    if kind == "missing" and field == "purchased_at":
        return _("The time of the purchase is required.")
    if field in _BOUNDS and kind in ("greater_than_equal", "less_than_equal", "int_type"):
        low, high = _BOUNDS[field]
        return _(
            "A whole number from %(min)s to %(max)s.", min=show_number(low), max=show_number(high)
        )
    return str(_BY_TYPE.get(kind, _l("This value is not valid.")))


def problems_of(error: ValidationError, model: type[BaseModel]) -> list[dict]:
    """The ``details`` of a 422: one per problem, fields of the request itself first,
    unknown fields before the others, then the items in their order.

    A field's refusal is worded by its model's ``MESSAGES`` where it has one (any refusal
    of the field but an unknown field or a too long text), else by the kind of problem.
    """
    problems = []
    for order, item in enumerate(error.errors(include_url=False)):
        loc = item["loc"]
        at = (item.get("ctx") or {}).get("at") if item["type"] == "vafa" else None
        path = _path(loc)
        if at is not None:
            path = f"{path}.{at}" if path else at
        field = next((part for part in reversed(loc) if isinstance(part, str)), "")
        index = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else -1
        rank = (index, 0 if item["type"] == "extra_forbidden" else 1, order)
        message = _message(item, field, _own_messages(model, loc))
        problems.append((rank, problem(path, message)))
    return [found for _rank, found in sorted(problems, key=lambda pair: pair[0])]


class Invalid(ValueError):
    """The request names things that are wrong; ``details`` says which and why."""

    def __init__(self, details: list[dict]):
        super().__init__(details)
        self.details = details


def validate(model: type[BaseModel], payload):
    """``payload`` as ``model``, or ``Invalid`` with every problem."""
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise Invalid(problems_of(error, model)) from None


# Field types ------------------------------------------------------------------------


class Strict(BaseModel):
    """A JSON shape: exact JSON types (no "1" for 1, no 1 for true), no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid")


def _whole(value):
    """3.0 is the integer 3 in JSON Schema (and in JavaScript); 3.5 stays a refusal."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Whole = BeforeValidator(_whole)
Id = Annotated[int, Field(ge=1, le=ID_MAX), Whole]


def _normalized(limit: int):
    """Normalised text, clipped to its column: NFKC can lengthen a rare ligature."""

    def clean(value: str) -> str:
        return normalize_text(value)[:limit]

    return AfterValidator(clean)


def _mobile(value: str) -> str:
    try:
        return parse_mobile(value)
    except RowError as error:
        raise refuse(error.reason) from None


Mobile = Annotated[
    str,
    Field(
        description="Any common form: 09121234567, +989121234567, 9121234567, ۰۹۱۲۱۲۳۴۵۶۷",
        examples=["09121234567"],
        json_schema_extra={"pattern": MOBILE_PATTERN},
    ),
    AfterValidator(_mobile),
]
Text = Annotated[
    str | None, Field(max_length=TEXT_FIELD_MAX, pattern=NO_NUL), _normalized(TEXT_FIELD_MAX)
]


def _jalali(value, pattern: str, message: str) -> str:
    """The text of ``{"jalali": "…"}``; refusals are named at ``….jalali``."""
    extra = [key for key in value if key != "jalali"]
    if extra:
        raise refuse(_("Unknown field."), at=extra[0])
    text = value.get("jalali")
    if not isinstance(text, str) or not re.match(pattern, ascii_digits(text)):
        raise refuse(message, at="jalali")
    return ascii_digits(text)


def _jalali_object(pattern: str, example: str, description: str = "Tehran time") -> dict:
    return {
        "type": "object",
        "required": ["jalali"],
        "additionalProperties": False,
        "properties": {"jalali": {"type": "string", "pattern": pattern, "examples": [example]}},
        "description": description,
    }


def _day(past: bool):
    def parse(value) -> date | None:
        if value is None or value == "":
            return None
        shape = _('Give a date like "1991-08-03" or {"jalali": "1370/05/12"}.')
        at = None
        if isinstance(value, dict):
            text, at = _jalali(value, JALALI_DAY, shape), "jalali"
        elif isinstance(value, str) and _ISO_DAY.fullmatch(value):
            text = value
        else:
            raise refuse(shape)
        try:
            return parse_date(text, past=past)
        except RowError as error:
            raise refuse(error.reason, at=at) from None

    return parse


def _day_type(past: bool, description: str):
    schema = {
        "anyOf": [
            {"type": "string", "format": "date", "examples": ["1991-08-03"]},
            _jalali_object(JALALI_DAY, "1370/05/12", "the Jalali calendar"),
            {"const": ""},
            {"type": "null"},
        ],
        "description": description,
    }
    return Annotated[date | None, BeforeValidator(_day(past)), WithJsonSchema(schema)]


def _gender(value):
    if value in ("male", "female", "", None):
        return value or None
    raise refuse(_('Write "male" or "female".'))


Gender = Annotated[
    Literal["male", "female"] | None,
    BeforeValidator(_gender),
    WithJsonSchema({"enum": ["male", "female", "", None], "description": '"" or null: unknown'}),
]
Tag = Annotated[str, Field(max_length=50, pattern=NO_NUL)]


def _own_fields(value) -> dict[str, str]:
    """The shop's own fields of one contact, normalised; a null value is left out."""
    if not isinstance(value, dict):
        raise refuse(_('An object such as {"club": "gold"}.'))
    limit = current_app.config["VAFA_MAX_OWN_FIELDS"]
    if len(value) > limit:  # the document's maxProperties; refused before any is read
        raise refuse(
            _(
                "A shop can have at most %(max)s fields of its own; this contact has %(count)s.",
                max=show_number(limit),
                count=show_number(len(value)),
            )
        )
    fields: dict[str, str] = {}
    for raw_name, raw in value.items():
        name = normalize_text(raw_name)
        if raw is None:
            text = ""
        elif isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise refuse(_("A field's value is a string or a number."), at=raw_name)
        elif isinstance(raw, str) and "\x00" in raw:
            raise refuse(_("The text holds a NUL character."), at=raw_name)
        else:
            text = normalize_text(str(raw))
        try:
            # Only the limits of this name and value here (it counts as known); the cap on
            # how many names a shop has is checked for the whole request, afterwards.
            check_own_fields({name: text}, known={name})
        except OwnFieldError as error:
            raise refuse(error, at=raw_name) from None
        if text:
            fields[name] = text
    return fields


OwnFields = Annotated[
    dict[str, str] | None,
    BeforeValidator(lambda value: None if value is None else _own_fields(value)),
    WithJsonSchema(
        {
            "type": ["object", "null"],
            "propertyNames": {"maxLength": OWN_FIELD_NAME_MAX, "pattern": NOT_BLANK},
            "additionalProperties": {
                "anyOf": [
                    {"type": "string", "maxLength": OWN_FIELD_VALUE_MAX, "pattern": NO_NUL},
                    {"type": "number"},
                    {"type": "null"},
                ]
            },
            "description": "The shop's own fields, merged into those stored; null removes "
            "nothing. A shop has at most VAFA_MAX_OWN_FIELDS (100) distinct names.",
        }
    ),
]


# Campaigns --------------------------------------------------------------------------


AUDIENCE_IDS_MAX = 100  # lists, tags or segments in one part of an audience
# The parts of an audience, and what each is called in app.messaging.audience.
_AUDIENCE_PARTS = {
    "list_ids": "lists",
    "tag_ids": "tags",
    "segment_ids": "segments",
    "exclude_list_ids": "exclude_lists",
    "exclude_segment_ids": "exclude_segments",
}
_INCLUDED = ("list_ids", "tag_ids", "segment_ids")


def _ids(value, at: str) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise refuse(_("Must be a list."), at=at)
    if len(value) > AUDIENCE_IDS_MAX:
        raise refuse(
            _("At most %(max)s ids.", max=show_number(AUDIENCE_IDS_MAX)),
            at=at,
        )
    ids = []
    for index, item in enumerate(value):
        item = _whole(item)
        if not isinstance(item, int) or isinstance(item, bool) or not 1 <= item <= ID_MAX:
            raise refuse(
                _(
                    "A whole number from %(min)s to %(max)s.",
                    min=show_number(1),
                    max=show_number(ID_MAX),
                ),
                at=f"{at}[{index}]",
            )
        ids.append(item)
    return tuple(dict.fromkeys(ids))


def _audience(value) -> AudienceChoice:
    """``{"all": true}`` (everyone), ``{"list_id": 3}`` (one list, as before), or
    ``{"list_ids": […], "tag_ids": […], "segment_ids": […]}``; the last two may leave
    out ``exclude_list_ids`` and ``exclude_segment_ids``."""
    shape = _(
        'Choose the audience: {"all": true}, or lists, tags and segments: '
        '{"list_ids": […], "tag_ids": […], "segment_ids": […]}, each with '
        '"exclude_list_ids": […] and "exclude_segment_ids": […] if you like.'
    )
    if not isinstance(value, dict) or not value:
        raise refuse(shape)
    for key in value:
        if key not in ("all", "list_id", *_AUDIENCE_PARTS):
            raise refuse(_("Unknown field."), at=key)
    if "list_id" in value:
        if len(value) != 1:
            raise refuse(
                _('Give "list_id" alone (the older way), or "list_ids" and the rest; not both.')
            )
        list_id = _whole(value["list_id"])
        if not isinstance(list_id, int) or isinstance(list_id, bool):
            raise refuse(_("Must be a whole number."), at="list_id")
        _existing_list(list_id, at="list_id")
        return AudienceChoice(lists=(list_id,))
    if "all" in value and value["all"] is not True:
        raise refuse(shape, at="all")
    parts = {key: _ids(value[key], key) for key in _AUDIENCE_PARTS if key in value}
    everyone = "all" in value
    if everyone and any(parts.get(key) for key in _INCLUDED):
        raise refuse(
            _('Send to all contacts ("all": true) or to lists, tags and segments, not both.'),
            at=next(key for key in _INCLUDED if parts.get(key)),
        )
    choice = AudienceChoice(everyone, **{_AUDIENCE_PARTS[key]: ids for key, ids in parts.items()})
    try:
        check_choice(choice, {name: key for key, name in _AUDIENCE_PARTS.items()})
    except AudienceError as error:
        raise refuse(str(error), at=error.at or None) from None
    return choice


def _existing_list(list_id: int | None, at: str | None = None) -> int | None:
    if list_id is None:
        return None
    if not 1 <= list_id <= ID_MAX or db.session.get(ContactList, list_id) is None:
        raise refuse(_("There is no list with id %(id)s.", id=list_id), at=at)
    return list_id


_ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": ID_MAX}
_IDS_SCHEMA = {"type": "array", "maxItems": AUDIENCE_IDS_MAX, "items": _ID_SCHEMA}
_EXCLUDED_SCHEMA = {
    "exclude_list_ids": {**_IDS_SCHEMA, "description": "Never to the contacts of these lists."},
    "exclude_segment_ids": {
        **_IDS_SCHEMA,
        "description": "Never to the contacts of these segments.",
    },
}
Audience = Annotated[
    AudienceChoice,
    BeforeValidator(_audience),
    WithJsonSchema(
        {
            "oneOf": [
                {
                    "type": "object",
                    "required": ["all"],
                    "additionalProperties": False,
                    "properties": {"all": {"const": True}, **_EXCLUDED_SCHEMA},
                },
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "list_ids": _IDS_SCHEMA,
                        "tag_ids": _IDS_SCHEMA,
                        "segment_ids": {
                            **_IDS_SCHEMA,
                            "description": "Segments: the contacts their rules match when "
                            "the messages are written.",
                        },
                        **_EXCLUDED_SCHEMA,
                    },
                    "anyOf": [
                        {"required": [key], "properties": {key: {"minItems": 1}}}
                        for key in _INCLUDED
                    ],
                },
                {
                    "type": "object",
                    "required": ["list_id"],
                    "additionalProperties": False,
                    "properties": {"list_id": _ID_SCHEMA},
                    "description": "One list (the older way to say it).",
                },
            ],
            "description": "Every contact, or those in any of the lists, tags and segments; "
            "either way minus those in the excluded lists and segments. A contact gets one "
            "message however many of them it is in; opted-out contacts get no marketing SMS. "
            "A list or segment both chosen and excluded is refused, and so is a segment "
            "whose rules name a list, tag or campaign that was deleted.",
        }
    ),
]


def _future(moment: datetime) -> datetime:
    if moment <= utcnow():
        raise refuse(_("This moment has passed; choose a time in the future."))
    return moment


def _send_time(value) -> datetime | None:
    """``"2026-12-06T18:30:00+03:30"`` or ``{"jalali": "1405/09/15 18:30"}`` (Tehran)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise refuse(
                _("Write the time in ISO 8601 with its offset, like 2026-12-06T18:30:00+03:30.")
            )
        return _future(moment.astimezone(UTC))
    if isinstance(value, dict) and "jalali" in value:
        shape = _("Enter a Jalali date like 1405/09/15 and a time like 18:30.")
        text = _jalali(value, JALALI_MOMENT, shape)
        day, _space, clock = text.partition(" ")
        try:
            moment = parse_jalali_datetime(day, clock)
        except ValueError:  # written right, but not in the calendar: 1405/07/31
            raise refuse(
                _("“%(value)s” is not a real date: there is no such day.", value=text),
                at="jalali",
            ) from None
        try:
            return _future(moment)
        except PydanticCustomError as error:
            raise refuse(error.context["message"], at="jalali") from None
    raise refuse(_('Give an ISO 8601 time or {"jalali": "1405/09/15 18:30"} (Tehran time).'))


SendTime = Annotated[
    datetime | None,
    BeforeValidator(_send_time),
    WithJsonSchema(
        {
            "oneOf": [
                {
                    "type": "string",
                    "format": "date-time",
                    "description": "ISO 8601 with an offset: 2026-12-06T18:30:00+03:30",
                },
                _jalali_object(JALALI_MOMENT, "1405/09/15 18:30", "Jalali date and time, Tehran"),
            ],
            "description": "When to send, in the future; default: as soon as it is started.",
        }
    ),
]


_TEXT_DESCRIPTION = (
    "With placeholders, Persian or English names: {نام} {first_name}, {نام خانوادگی} "
    "{last_name}, {نام کامل} {full_name}, {عنوان} {title} («آقای»/«خانم»), {شهر} {city}, "
    "{تاریخ تولد} {birth_date} (Jalali), {روز تا تولد} {days_to_birthday}, {تاریخ سالگرد} "
    "{anniversary}, {نام کسب‌وکار} {business_name}, {تاریخ امروز} {today}, {کد تخفیف} "
    "{coupon} (a discount code of its own in each message; see a campaign's coupon), and "
    "the shop's own fields by name; a fallback for empty values after a bar: "
    "{نام|مشتری عزیز}."
)


def _campaign_text(text: str) -> str:
    """A message text: placeholders the shop has, braces that open and close."""
    text = text.replace("\r\n", "\n")
    problems = text_problems(text)
    if problems:
        raise refuse(" ".join(problems))
    return text


class CouponShape(Strict):
    """How the codes {کد تخفیف} puts in each message look: prefix, then random characters."""

    MESSAGES: ClassVar = {
        "prefix": _l("The code prefix may hold only Latin letters (A to Z) and digits."),
    }

    prefix: Annotated[
        str,
        Field(
            max_length=PREFIX_MAX,
            pattern=r"^[A-Za-z0-9]*$",
            description="Latin letters (stored in capitals) and digits; may be empty.",
            examples=["YALDA"],
        ),
        AfterValidator(str.upper),
    ] = ""
    length: Annotated[
        int,
        Field(
            ge=LENGTH_MIN,
            le=LENGTH_MAX,
            description="Random characters after the prefix, from "
            "23456789ABCDEFGHJKMNPQRSTUVWXYZ (no 0, O, 1, I or L).",
        ),
        Whole,
    ] = LENGTH_DEFAULT


HoldoutPercent = Annotated[
    int,
    Field(
        ge=0,
        le=HOLDOUT_PERCENT_MAX,
        description="The share of the audience (per cent) kept unsent, chosen at random, to "
        "measure the effect against (GET /campaigns/{id}/effect); 0: none.",
    ),
    Whole,
]


class NewCampaign(Strict):
    """A campaign to create, as a draft."""

    MESSAGES: ClassVar = {
        "name": _l("Give the campaign a name."),
        "text": _l("Write the message text."),
        "marketing": _l("Must be true or false."),
        "sender": _l("Must be a string of digits."),
    }

    name: Annotated[
        str,
        Field(min_length=1, max_length=CAMPAIGN_NAME_MAX, pattern=NOT_BLANK),
        AfterValidator(str.strip),
    ]
    text: Annotated[
        str,
        Field(
            min_length=1,
            max_length=CAMPAIGN_TEXT_MAX,
            pattern=NOT_BLANK,
            description=f"The message. {_TEXT_DESCRIPTION}",
            examples=["سلام {نام|مشتری عزیز}، تخفیف یلدا تا جمعه"],
        ),
        AfterValidator(_campaign_text),
    ]
    audience: Audience
    provider_account_id: Annotated[
        int, Field(ge=1, le=ID_MAX, description="Default: the default provider account."), Whole
    ] = None
    sender: Annotated[
        str,
        Field(
            max_length=32,
            pattern=NO_NUL,
            description="One of the account's sender lines; default: its first.",
        ),
    ] = None
    scheduled_at: SendTime = None
    marketing: bool = Field(
        True,
        description="Marketing messages keep to the sending window, skip opted-out contacts "
        "and the frequency cap, and carry the opt-out line.",
    )
    coupon: CouponShape = Field(
        None, description="The codes of {کد تخفیف}; default: no prefix, 8 characters."
    )
    holdout_percent: HoldoutPercent = 0

    _account: ProviderAccount | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _account_and_sender(self):
        """The provider account (the default one when none is named) and its sender line.

        ``default_account()`` may add the console account to the session; the caller
        rolls back when this refuses, so a refused request leaves nothing behind.
        """
        if self.provider_account_id is None:
            account = default_account()
        else:
            account = db.session.get(ProviderAccount, self.provider_account_id)
            if account is None:
                raise refuse(
                    _(
                        "There is no provider account with id %(id)s.",
                        id=self.provider_account_id,
                    ),
                    at="provider_account_id",
                )
        lines = account.sender_lines
        if self.sender is None:
            if not lines:
                raise refuse(_("This provider account has no sender line."), at="sender")
            self.sender = lines[0]
        else:
            sender = ascii_digits(self.sender).strip().replace(" ", "")
            if sender not in lines:
                raise refuse(
                    _(
                        "%(sender)s is not a sender line of this account; its lines are: %(lines)s",
                        sender=sender,
                        lines=", ".join(lines),
                    ),
                    at="sender",
                )
            self.sender = sender
        self._account = account
        return self

    def arguments(self) -> dict:
        """The arguments of ``create_campaign`` (without ``created_by_id``)."""
        return {
            "name": self.name,
            "body": self.text,
            "audience": self.audience,
            "provider_id": self._account.id,
            "sender": self.sender,
            "scheduled_at": self.scheduled_at,
            "marketing": self.marketing,
            "coupon_prefix": (self.coupon.prefix or None) if self.coupon else None,
            "coupon_length": self.coupon.length if self.coupon else None,
            "holdout_percent": self.holdout_percent,
        }


# Templates --------------------------------------------------------------------------

TemplateText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=CAMPAIGN_TEXT_MAX,
        pattern=NOT_BLANK,
        description=_TEXT_DESCRIPTION,
        examples=["سلام {عنوان} {نام|مشتری عزیز}، تولدت مبارک!"],
    ),
    AfterValidator(_campaign_text),
]


class RenderRequest(Strict):
    """A text to render: for one contact, or as a sample."""

    MESSAGES: ClassVar = {
        "body": _l("Write the message text."),
        "contact_id": _l("A whole number from 1 up: a contact's id."),
        "marketing": _l("Must be true or false."),
    }

    body: TemplateText
    contact_id: Annotated[
        int,
        Field(
            ge=1,
            le=ID_MAX,
            description="The contact to render for; without it, a sample: each placeholder "
            "shows its fallback, or an example value where it has none.",
        ),
        Whole,
    ] = None
    marketing: bool = Field(
        True, description="Count it as a marketing SMS is sent: with the opt-out line."
    )

    @model_validator(mode="after")
    def _contact(self):
        if self.contact_id is not None and db.session.get(Contact, self.contact_id) is None:
            raise refuse(
                _("There is no contact with id %(id)s.", id=self.contact_id), at="contact_id"
            )
        return self


class TemplateIn(Strict):
    """A template of the library: its name and text."""

    MESSAGES: ClassVar = {
        "name": _l("Give the template a name."),
        "body": _l("Write the message text."),
    }

    name: Annotated[
        str,
        Field(min_length=1, max_length=100, pattern=NOT_BLANK),
        AfterValidator(str.strip),
    ]
    body: TemplateText


# Lists -----------------------------------------------------------------------------


def _list_name(value: str) -> str:
    name = normalize_text(value)[:LIST_NAME_MAX]
    if not name:
        raise refuse(_("Give the list a name."))
    return name


class ListName(Strict):
    """A list's name: a new list's, or an existing one's new name."""

    MESSAGES: ClassVar = {"name": _l("Give the list a name.")}

    name: Annotated[
        str,
        Field(min_length=1, max_length=LIST_NAME_MAX, pattern=NOT_BLANK),
        AfterValidator(_list_name),
    ]


def _digits(value):
    """A query parameter's digits (ASCII or Persian) as an int; other text as it is."""
    if isinstance(value, str):
        text = ascii_digits(value).strip()
        if text.isascii() and text.isdigit() and len(text) <= 20:
            return int(text)
    return value


class Page(BaseModel):
    """The query of a list paged by id (other parameters are ignored)."""

    model_config = ConfigDict(strict=True, extra="ignore")

    limit: Annotated[int, Field(ge=1, le=PAGE_MAX), BeforeValidator(_digits)] = PAGE_DEFAULT
    after_id: Annotated[
        int,
        Field(ge=0, le=ID_MAX, description="Items with a greater id (the previous next_after_id)."),
        BeforeValidator(_digits),
    ] = 0


def _status(value):
    if value not in STATUSES:
        raise refuse(_("Unknown status; one of: %(statuses)s", statuses=", ".join(STATUSES)))
    return value


class MessagesPage(Page):
    """The query of a campaign's messages."""

    status: Annotated[
        Literal[STATUSES],
        BeforeValidator(_status),
        Field(description="Only messages in this state."),
    ] = None


# Contacts ---------------------------------------------------------------------------


class NewContact(Strict):
    """A contact to create or update; what is not sent is kept."""

    MESSAGES: ClassVar = {
        "mobile": _l("Write the mobile number as a string."),
        "gender": _l('Write "male" or "female".'),
        "tags": _l('A list of names, like ["vip", "tehran"].'),
    }

    mobile: Mobile
    first_name: Text = None
    last_name: Text = None
    gender: Gender = None
    birth_date: _day_type(past=True, description="Not after today.") = None
    anniversary: _day_type(past=True, description="Wedding or membership day.") = None
    city: Text = None
    tags: Annotated[
        list[Tag] | None, Field(max_length=TAGS_MAX, description="Added, never removed.")
    ] = None
    fields: OwnFields = None
    opted_out: bool = Field(
        False,
        description="true opts the contact out of marketing SMS; false never opts anyone "
        "back in (only the owner can, in the panel).",
    )

    def row(self, index: int) -> ContactRow:
        """The importer's row for this item, stored by the importer's own functions."""
        values: dict[str, object] = {}
        for name in ("first_name", "last_name", "city", "gender"):
            if value := getattr(self, name):
                values[name] = value
        for name, prefix in (("birth_date", "birth"), ("anniversary", "anniversary")):
            if (day := getattr(self, name)) is not None:
                values[name] = day
                values[f"{prefix}_jmonth"], values[f"{prefix}_jday"] = jalali_month_day(day)
        tags = list(dict.fromkeys(name for tag in self.tags or () for name in split_tags(tag)))
        return ContactRow(index, [], self.mobile, values, self.fields or {}, tags, self.opted_out)


class ContactUpsert(Strict):
    """Up to 1000 contacts; one wrong item and nothing is written."""

    MESSAGES: ClassVar = {"on_duplicate": _l('Write "update" or "skip".')}

    contacts: Annotated[
        list[NewContact],
        Field(min_length=1, max_length=BATCH_MAX, description="Each number once."),
    ]
    on_duplicate: Literal["update", "skip"] = Field(
        "update",
        description="A number already stored: update it with the values sent (those not "
        "sent are kept) or leave it as it was.",
    )
    list_id: Annotated[
        Id | None,
        AfterValidator(_existing_list),
        Field(description="Put every contact sent in this list (skipped ones too)."),
    ] = None


def _purchase_time(value) -> datetime:
    """ISO 8601 with an offset, a date (midnight in Tehran) or {"jalali": "…"} (Tehran)."""
    shape = _(
        "Give an ISO 8601 time with its offset, like 2026-11-23T18:30:00+03:30, "
        'a date, or {"jalali": "1405/09/02 18:30"} (Tehran time).'
    )
    if value is None:
        raise refuse(_("The time of the purchase is required."))
    at = None
    if isinstance(value, dict):
        text, at = _jalali(value, JALALI_DAY_OR_MOMENT, shape), "jalali"
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
            if moment > utcnow() + PURCHASE_AHEAD:
                raise refuse(_("This moment is in the future."))
            return moment
        if not _ISO_DAY.fullmatch(text):
            raise refuse(shape)  # a time without its offset, or no date at all
    else:
        raise refuse(shape)
    try:
        return parse_moment(text)  # a day, with or without its time, in Tehran
    except RowError as error:
        raise refuse(error.reason, at=at) from None


PurchaseTime = Annotated[
    datetime,
    BeforeValidator(_purchase_time),
    WithJsonSchema(
        {
            "oneOf": [
                {
                    "type": "string",
                    "format": "date-time",
                    "description": "ISO 8601 with its offset: 2026-11-23T18:30:00+03:30",
                },
                {"type": "string", "format": "date", "description": "midnight in Tehran"},
                _jalali_object(JALALI_DAY_OR_MOMENT, "1405/09/02 18:30"),
            ],
            "description": "Not more than a day ahead.",
        }
    ),
]


def _reference(value) -> str | None:
    if value is None:
        return None
    value = _whole(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= REFERENCE_NUMBER_MAX:
            raise refuse(
                _(
                    "A numeric reference is from 0 to %(max)s.",
                    max=show_number(REFERENCE_NUMBER_MAX),
                )
            )
        return str(value)
    if not isinstance(value, str):
        raise refuse(_("Must be a string."))
    if len(value) > TEXT_FIELD_MAX:
        raise refuse(_too_long(TEXT_FIELD_MAX))
    if "\x00" in value:
        raise refuse(_("The text holds a NUL character."))
    return normalize_text(value)[:TEXT_FIELD_MAX] or None


Reference = Annotated[
    str | None,
    BeforeValidator(_reference),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "maxLength": TEXT_FIELD_MAX, "pattern": NO_NUL},
                {"type": "integer", "minimum": 0, "maximum": REFERENCE_NUMBER_MAX},
                {"type": "null"},
            ],
            "description": "The invoice or order number; a reference already recorded is "
            "reported as a duplicate and counted once, so retrying is safe.",
        }
    ),
]


class NewPurchase(Strict):
    """One purchase of a contact."""

    MESSAGES: ClassVar = {
        "mobile": _l("Write the mobile number as a string."),
        "amount": _l("The amount is a whole number of Rials above zero."),
    }

    mobile: Mobile
    purchased_at: PurchaseTime
    amount: Annotated[int, Field(ge=1, le=AMOUNT_MAX, description="Rials"), Whole]
    reference: Reference = None

    def row(self, index: int) -> PurchaseRow:
        return PurchaseRow(index, [], self.mobile, self.purchased_at, self.amount, self.reference)


class PurchaseBatch(Strict):
    """Up to 1000 purchases; one wrong item and nothing is written."""

    purchases: Annotated[list[NewPurchase], Field(min_length=1, max_length=BATCH_MAX)]
    create_contacts: bool = Field(
        False,
        description="Add unknown numbers as new contacts; otherwise an unknown number is a "
        "wrong item.",
    )


# Reading requests: the model's checks, then those across items ----------------------


def _bad_items(problems: list[dict], key: str) -> set[int]:
    found = set()
    for detail in problems:
        match = re.match(rf"{key}\[(\d+)\]", detail["field"])
        if match:
            found.add(int(match.group(1)))
    return found


def _good_items(payload, key: str, model: type[BaseModel], bad: set[int]) -> dict[int, Any]:
    """The items the model found no fault with, validated on their own."""
    items = payload.get(key) if isinstance(payload, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= BATCH_MAX:
        return {}
    good = {}
    for index, item in enumerate(items):
        if index not in bad:
            try:
                good[index] = model.model_validate(item)
            except ValidationError:
                continue
    return good


def _repeats(mobiles: dict[int, str], key: str) -> list[dict]:
    """A problem for each item whose number an earlier item has."""
    seen: dict[str, int] = {}
    problems = []
    for index, mobile in mobiles.items():
        if mobile in seen:
            problems.append(
                problem(
                    f"{key}[{index}].mobile",
                    _(
                        "%(key)s[%(this)s] has the same number as %(key)s[%(first)s]; "
                        "send each number once.",
                        key=key,
                        this=index,
                        first=seen[mobile],
                    ),
                )
            )
        else:
            seen[mobile] = index
    return problems


def _own_field_cap(items: dict[int, NewContact]) -> list[dict]:
    """The first item that would take the shop past VAFA_MAX_OWN_FIELDS names."""
    if not any(item.fields for item in items.values()):
        return []  # the shop's names are read (every contact's fields) only when needed
    known = set(own_field_names())
    for index, item in items.items():
        try:
            check_own_fields(item.fields or {}, known)
        except OwnFieldError as error:
            return [problem(f"contacts[{index}].fields", str(error))]
        known |= set(item.fields or {})
    return []


def _in_order(problems: list[dict]) -> list[dict]:
    """Fields of the request itself first, then by item, each item's as found."""

    def rank(pair):
        order, detail = pair
        match = re.match(r"\w+\[(\d+)\]", detail["field"])
        return (int(match.group(1)) if match else -1, order)

    return [detail for _order, detail in sorted(enumerate(problems), key=rank)]


def contacts_from_json(payload) -> dict:
    """The arguments of ``store_contacts`` (rows, on_duplicate, list_id), or ``Invalid``."""
    try:
        request = ContactUpsert.model_validate(payload)
        problems: list[dict] = []
        items = dict(enumerate(request.contacts))
    except ValidationError as error:
        request = None
        problems = problems_of(error, ContactUpsert)
        items = _good_items(payload, "contacts", NewContact, _bad_items(problems, "contacts"))
    problems += _repeats({i: item.mobile for i, item in items.items()}, "contacts")
    if not problems:
        problems = _own_field_cap(items)
    if problems:
        raise Invalid(_in_order(problems))
    return {
        "rows": [item.row(index) for index, item in items.items()],
        "on_duplicate": request.on_duplicate,
        "list_id": request.list_id,
    }


def purchases_from_json(payload) -> dict:
    """The arguments of ``store_purchases`` (rows, create_contacts), or ``Invalid``.

    Without ``create_contacts`` a number no contact has is a wrong item. A repeated
    reference is not: it is stored once and the others are reported as duplicates.
    """
    try:
        request = PurchaseBatch.model_validate(payload)
        problems: list[dict] = []
        items = dict(enumerate(request.purchases))
        create_contacts = request.create_contacts
    except ValidationError as error:
        problems = problems_of(error, PurchaseBatch)
        items = _good_items(payload, "purchases", NewPurchase, _bad_items(problems, "purchases"))
        create_contacts = payload.get("create_contacts", False)
    if create_contacts is False and items:
        mobiles = {item.mobile for item in items.values()}
        known = set(db.session.scalars(select(Contact.mobile).where(Contact.mobile.in_(mobiles))))
        for index, item in items.items():
            if item.mobile not in known:
                problems.append(
                    problem(
                        f"purchases[{index}].mobile",
                        _(
                            "No contact has this number; add the contact first or send "
                            '"create_contacts": true.'
                        ),
                    )
                )
    if problems:
        raise Invalid(_in_order(problems))
    return {
        "rows": [item.row(index) for index, item in items.items()],
        "create_contacts": create_contacts,
    }


def campaign_from_json(payload) -> dict:
    """The arguments of ``create_campaign`` (without ``created_by_id``), or ``Invalid``."""
    return validate(NewCampaign, payload).arguments()


def render_from_json(payload) -> RenderRequest:
    """What ``POST /templates/render`` asks for, or ``Invalid``."""
    return validate(RenderRequest, payload)


def template_from_json(payload) -> TemplateIn:
    """A template's name and text, or ``Invalid``."""
    return validate(TemplateIn, payload)


def list_name_from_json(payload) -> str:
    """The (normalised) name of a list to create or rename, or ``Invalid``."""
    return validate(ListName, payload).name


def page_args(args, statuses: bool = False) -> Page:
    """``limit``, ``after_id`` (and ``status``) of a paged list, or ``Invalid``."""
    return validate(MessagesPage if statuses else Page, args.to_dict())


# Segments ----------------------------------------------------------------------------


def _rule_value_schema(kind: str) -> dict:
    """The JSON Schema of a rule's value, by the kind app.audience.rules gives it."""
    text = {"type": "string", "minLength": 1, "maxLength": rules.TEXT_MAX, "pattern": NOT_BLANK}
    number = {
        rules.DAYS: (0, rules.DAYS_MAX, "Days (Tehran days; today is 0)"),
        rules.WINDOW: (0, rules.WINDOW_MAX, "Days after today (today through today + N)"),
        rules.MONTH: (1, 12, "A Jalali month: 1 Farvardin … 12 Esfand"),
        rules.COUNT: (0, rules.COUNT_MAX, "Purchases"),
        rules.RIALS: (0, rules.RIALS_MAX, "Rials"),
        rules.LIST: (1, ID_MAX, "A list's id"),
        rules.TAG: (1, ID_MAX, "A tag's id"),
        rules.CAMPAIGN: (1, ID_MAX, "A campaign's id"),
        rules.SCORE: (1, 5, "An RFM score: 1 (lowest fifth of the buyers) to 5 (highest)"),
    }
    if kind in number:
        low, high, description = number[kind]
        return {"type": "integer", "minimum": low, "maximum": high, "description": description}
    return {
        rules.TEXT: text,
        rules.TEXTS: {"type": "array", "minItems": 1, "maxItems": rules.TEXTS_MAX, "items": text},
        rules.GENDER: {"enum": list(rules.GENDER_VALUES)},
        rules.RFM: {
            "type": "array",
            "minItems": 1,
            "maxItems": rules.TEXTS_MAX,
            "items": {"enum": list(rules.RFM_GROUPS)},
            "description": "RFM group keys",
        },
        rules.NONE: {"type": "null"},
    }[kind]


def _rule_schemas() -> list[dict]:
    """One schema per field and kind of value, naming the operators that take it."""
    groups: dict[tuple[str, str], list[str]] = {}
    for condition in (*rules.CONDITIONS, *rules.OWN_CONDITIONS):
        groups.setdefault((condition.field, condition.value), []).append(condition.op)
    own_field = {
        "type": "string",
        "maxLength": len(rules.OWN_FIELD) + rules.OWN_NAME_MAX,
        "pattern": r"^own:[^\x00]*[^\s\x00\u200b][^\x00]*$",
        "description": "own:<name>, one of the shop's own contact fields",
    }
    schemas = []
    for (field, kind), ops in groups.items():
        schema = {
            "type": "object",
            "additionalProperties": False,
            "required": ["field", "op"] if kind == rules.NONE else ["field", "op", "value"],
            "properties": {
                "field": own_field if field == rules.OWN_FIELD else {"const": field},
                "op": {"enum": ops},
                "value": _rule_value_schema(kind),
            },
        }
        schemas.append(schema)
    return schemas


def _rules_schema() -> dict:
    one_rule = _rule_schemas()

    def group(items: list[dict], description: str) -> dict:
        return {
            "type": "object",
            "additionalProperties": False,
            "required": ["match", "rules"],
            "description": description,
            "properties": {
                "match": {"enum": list(rules.MATCHES)},
                "rules": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": rules.MAX_RULES,
                    "items": {"anyOf": items},
                },
            },
        }

    nested = group(one_rule, "A group of rules inside the segment's rules (one level only).")
    return group(
        [*one_rule, nested],
        f"A contact matches all or any of the rules; at most {rules.MAX_RULES} rules in all "
        "(a group's included). Days are Tehran days, today being day 0.",
    )


RULES_SCHEMA = _rules_schema()
SegmentRules = Annotated[dict, WithJsonSchema(RULES_SCHEMA)]


class NewSegment(Strict):
    """A segment to create, or a segment's new name, description and rules (PUT)."""

    MESSAGES: ClassVar = {
        "name": _l("Give the segment a name (at most 100 characters)."),
        "rules": _l('Rules are a JSON object: {"match": "all", "rules": [...]}.'),
    }

    name: Annotated[str, Field(min_length=1, max_length=100, pattern=NOT_BLANK)]
    description: Annotated[str, Field(max_length=500, pattern=NO_NUL)] = ""
    rules: SegmentRules


def segment_from_json(payload) -> NewSegment:
    """The fields of a segment to save, or ``Invalid``; the rules are checked on saving."""
    return validate(NewSegment, payload)


# Reports -----------------------------------------------------------------------------

_REPORT_DAY = r"^[0-9۰-۹]{4}-[0-9۰-۹]{2}-[0-9۰-۹]{2}$"


def _report_day(value):
    """A period's day: 2026-11-22 (Gregorian) or 1405-09-01 (Jalali: a year below 1700)."""
    if not isinstance(value, str) or not re.match(_REPORT_DAY, value):
        raise refuse(_('Give a day like "2026-11-22" or, in the Jalali calendar, "1405-09-01".'))
    try:
        return parse_date(value, past=True)
    except RowError as error:
        raise refuse(error.reason) from None


def _not_before_start(value: date, info) -> date:
    start = info.data.get("start")
    if start is not None and value < start:
        raise refuse(_("The period ends before it starts."))
    return value


_REPORT_DAY_SCHEMA = {
    "type": "string",
    "pattern": _REPORT_DAY,
    "examples": ["2026-11-22", "1405-09-01"],
}


class RetentionQuery(BaseModel):
    """The query of the retention report: the period's first and last Tehran days."""

    model_config = ConfigDict(strict=True, extra="ignore")

    start: Annotated[
        date,
        BeforeValidator(_report_day),
        WithJsonSchema(_REPORT_DAY_SCHEMA),
        Field(
            alias="from",
            description="The period's first day, Gregorian (2026-11-22) or Jalali (1405-09-01); "
            "not after today (Tehran).",
        ),
    ]
    end: Annotated[
        date,
        BeforeValidator(_report_day),
        AfterValidator(_not_before_start),
        WithJsonSchema(_REPORT_DAY_SCHEMA),
        Field(
            alias="to",
            description="The period's last day (included), as from; not before from nor "
            "after today.",
        ),
    ]


def retention_args(args) -> RetentionQuery:
    """``from`` and ``to`` of the retention report, or ``Invalid`` naming each."""
    return validate(RetentionQuery, args.to_dict())


class EffectQuery(BaseModel):
    """The query of a campaign's effect: how many days after its start purchases count."""

    model_config = ConfigDict(strict=True, extra="ignore")

    days: Annotated[
        int,
        Field(
            ge=1,
            le=EFFECT_DAYS_MAX,
            description="Purchases from the campaign's start to this many days later count.",
        ),
        BeforeValidator(_digits),
    ] = EFFECT_DAYS_DEFAULT


def effect_args(args) -> EffectQuery:
    """``days`` of a campaign's effect, or ``Invalid``."""
    return validate(EffectQuery, args.to_dict())


# Occasions ---------------------------------------------------------------------------

OCCASION_RANGE_MAX_DAYS = 3 * 366  # three years: a calendar, not an archive


def _iso_day(value):
    """A query parameter's Gregorian day, 2026-12-21 (Persian digits too)."""
    if isinstance(value, str):
        text = ascii_digits(value).strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            try:
                return date.fromisoformat(text)
            except ValueError:
                raise refuse(_("There is no such day in the calendar: %(day)s", day=text)) from None
    raise refuse(_("A Gregorian day written like 2026-12-21."))


IsoDay = Annotated[
    date,
    BeforeValidator(_iso_day),
    WithJsonSchema({"type": "string", "format": "date", "examples": ["2026-12-21"]}),
]


class OccasionRange(BaseModel):
    """The days whose occasions are asked for: ``from`` to ``to``, both included."""

    model_config = ConfigDict(strict=True, extra="ignore")

    start: IsoDay = Field(alias="from", description="The first day, Gregorian: 2026-12-01")
    end: IsoDay = Field(
        alias="to",
        description=f"The last day, Gregorian: 2027-03-20; at most {OCCASION_RANGE_MAX_DAYS} "
        "days after the first",
    )

    @model_validator(mode="after")
    def _bounded(self):
        if self.end < self.start:
            raise refuse(_("The last day comes before the first."), at="to")
        if (self.end - self.start).days > OCCASION_RANGE_MAX_DAYS:
            raise refuse(
                _(
                    "At most %(count)s days at a time; ask for the rest in another request.",
                    count=show_number(OCCASION_RANGE_MAX_DAYS),
                ),
                at="to",
            )
        return self


def occasion_range_args(args) -> OccasionRange:
    """``from`` and ``to`` of GET /occasions, or ``Invalid``."""
    return validate(OccasionRange, args.to_dict())


# Automations -------------------------------------------------------------------------

AUTOMATION_NAME_MAX = 100  # Automation.name
_CLOCK_PATTERN = r"^\s*[0-9۰-۹٠-٩]{1,2}\s*:\s*[0-9۰-۹٠-٩]{2}\s*$"


def _clock(value: str) -> str:
    """A Tehran time of day, 10:00 or ۱۰:۰۰, as HH:MM."""
    try:
        clock = parse_clock(value)
    except ValueError:
        raise refuse(_("Give a time of day such as 10:00.")) from None
    return f"{clock.hour:02d}:{clock.minute:02d}"


class NewAutomation(Strict):
    """An automation to create, or one's new settings (PUT; PATCH sends only those that
    change). A kind reads only its own fields; the others are kept as sent."""

    MESSAGES: ClassVar = {
        "name": _l("Give the automation a name (at most 100 characters)."),
        "text": _l("Write the message text."),
        "time": _l("Give a time of day such as 10:00."),
        "occasion": _l("Choose an occasion from the calendar."),
    }

    name: Annotated[
        str,
        Field(min_length=1, max_length=AUTOMATION_NAME_MAX, pattern=NOT_BLANK),
        AfterValidator(str.strip),
    ]
    kind: Literal["birthday", "anniversary", "occasion", "winback", "welcome", "followup"] = Field(
        description="birthday and anniversary: days_before the day; occasion: the occasion "
        "(GET /occasions) days_before it; winback: days_after the last purchase, once per "
        "quiet spell; welcome: delay_minutes after the contact was added or first bought "
        "(counts_from); followup: days_after each purchase. All but welcome send at time."
    )
    text: Annotated[
        str,
        Field(
            min_length=1,
            max_length=CAMPAIGN_TEXT_MAX,
            pattern=NOT_BLANK,
            description=f"The message. {_TEXT_DESCRIPTION}",
            examples=["{نام} عزیز، تولدت مبارک!"],
        ),
        AfterValidator(_campaign_text),
    ]
    time: Annotated[
        str,
        Field(pattern=_CLOCK_PATTERN, description="Tehran time of day", examples=["10:00"]),
        AfterValidator(_clock),
    ] = "10:00"
    days_before: Annotated[int, Field(ge=0, le=60), Whole] = 0
    days_after: Annotated[int, Field(ge=0, le=730, description="winback: at least 1."), Whole] = 0
    delay_minutes: Annotated[
        int, Field(ge=0, le=20_160, description="Two weeks at most."), Whole
    ] = 0
    counts_from: Literal["signup", "first_purchase"] = Field(
        "first_purchase",
        description="anniversary and welcome: the day the contact was added, or its first "
        "purchase.",
    )
    occasion: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            pattern=r"^[A-Za-z0-9_:-]+$",
            description="occasion: the occasion's key (GET /occasions), e.g. yalda.",
        ),
    ] = None
    audience: Audience = Field(
        None, description="Who may receive it, as a campaign's audience; default: everyone."
    )
    active: bool = Field(False, description="On: it sends when its moments come.")
    provider_account_id: Annotated[
        int, Field(ge=1, le=ID_MAX, description="Default: the default provider account."), Whole
    ] = None
    sender: Annotated[
        str,
        Field(
            max_length=32,
            pattern=NO_NUL,
            description="One of the account's sender lines; default: its first.",
        ),
    ] = None
    coupon: CouponShape = Field(
        None, description="The codes of {کد تخفیف}; default: no prefix, 8 characters."
    )
    holdout_percent: HoldoutPercent = 0


class AutomationChanges(NewAutomation):
    """Some of an automation's settings (PATCH): those left out keep their values, and
    the result is checked as NewAutomation."""

    name: Annotated[
        str,
        Field(min_length=1, max_length=AUTOMATION_NAME_MAX, pattern=NOT_BLANK),
        AfterValidator(str.strip),
    ] = None
    kind: Literal["birthday", "anniversary", "occasion", "winback", "welcome", "followup"] = None


def automation_from_json(payload) -> NewAutomation:
    """An automation's settings as sent, or ``Invalid``; the rest is checked on saving
    (app.occasions.automations.check_automation)."""
    return validate(NewAutomation, payload)


def _iso_day(value):
    if not isinstance(value, str) or not _ISO_DAY.fullmatch(value):
        raise refuse(_('Give a date like "2026-12-21".'))
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise refuse(_('Give a date like "2026-12-21".')) from None


PLAN_DAYS_MAX = 366
PLAN_ITEMS_MAX = 10_000


class PlanQuery(BaseModel):
    """The days an automation's plan covers (Tehran days, both included)."""

    model_config = ConfigDict(strict=True, extra="ignore", populate_by_name=True)

    start: Annotated[
        date,
        BeforeValidator(_iso_day),
        WithJsonSchema({"type": "string", "format": "date", "examples": ["2026-12-01"]}),
        Field(alias="from"),
    ]
    end: Annotated[
        date,
        BeforeValidator(_iso_day),
        WithJsonSchema({"type": "string", "format": "date", "examples": ["2026-12-31"]}),
        Field(alias="to", description=f"At most {PLAN_DAYS_MAX} days after from."),
    ]
    limit: Annotated[int, Field(ge=1, le=PLAN_ITEMS_MAX), BeforeValidator(_digits)] = 1000

    @model_validator(mode="after")
    def _span(self):
        if self.end < self.start:
            raise refuse(_("“to” comes before “from”."), at="to")
        if (self.end - self.start).days > PLAN_DAYS_MAX:
            raise refuse(
                _("At most %(days)s days at a time.", days=show_number(PLAN_DAYS_MAX)), at="to"
            )
        return self


def plan_args(args) -> PlanQuery:
    return validate(PlanQuery, args.to_dict())
