"""Reading what a script sends: every field checked, every problem named.

Nothing here touches the request; a view passes the parsed JSON and gets back the
arguments of a service function, or ``Invalid`` with one entry per wrong field.
"""

from datetime import UTC, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from app.api.errors import problem
from app.contacts.importing import (
    ON_DUPLICATE,
    ContactRow,
    PurchaseRow,
    RowError,
    parse_date,
    parse_gender,
    parse_mobile,
    parse_moment,
    split_tags,
)
from app.contacts.models import Contact, ContactList
from app.contacts.service import own_field_names
from app.extensions import db
from app.messaging.text import unknown_placeholders
from app.persian import (
    ascii_digits,
    jalali_month_day,
    normalize_text,
    parse_jalali_datetime,
    show_number,
)
from app.sending.models import STATUSES, ProviderAccount
from app.sending.service import default_account
from app.types import utcnow

CAMPAIGN_FIELDS = (
    "name",
    "text",
    "audience",
    "provider_account_id",
    "sender",
    "scheduled_at",
    "marketing",
)
NAME_MAX = 200  # Campaign.name
TEXT_MAX = 1000  # as the compose form allows
PAGE_DEFAULT = 100
PAGE_MAX = 500


class Invalid(ValueError):
    """The request names things that are wrong; ``details`` says which and why."""

    def __init__(self, details: list[dict]):
        super().__init__(details)
        self.details = details


# Ids are 32-bit on PostgreSQL; SQLite refuses Python ints beyond 64 bits outright.
ID_MAX = 2**31 - 1


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_id(value) -> bool:
    """A whole number that can be a row id (so the database is never asked a bad one)."""
    return _is_int(value) and 1 <= value <= ID_MAX


def _number(raw: str) -> int | None:
    """An ASCII (or Persian) digit string as an int; None for anything else."""
    raw = ascii_digits(raw).strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        return None
    return int(raw)


def campaign_from_json(payload: dict) -> dict:
    """The arguments of ``create_campaign`` (without ``created_by_id``), or ``Invalid``.

    ``default_account()`` may add the console account to the session; the caller rolls
    back when this raises, so a refused request leaves nothing behind.
    """
    problems: list[dict] = []
    for key in payload:
        if key not in CAMPAIGN_FIELDS:
            problems.append(problem(key, _("Unknown field.")))

    name = payload.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(problem("name", _("Give the campaign a name.")))
    elif len(name.strip()) > NAME_MAX:
        problems.append(problem("name", _too_long(NAME_MAX)))
    else:
        name = name.strip()

    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        problems.append(problem("text", _("Write the message text.")))
    else:
        text = text.replace("\r\n", "\n")
        unknown = unknown_placeholders(text, own_field_names())
        if len(text) > TEXT_MAX:
            problems.append(problem("text", _too_long(TEXT_MAX)))
        if unknown:
            names = "، ".join(f"{{{n}}}" for n in unknown)
            problems.append(problem("text", _("Unknown placeholder: %(names)s", names=names)))

    list_id = _audience(payload.get("audience"), problems)
    account = _account(payload, problems)
    sender = _sender(payload.get("sender"), account, problems) if account else None
    scheduled_at = _moment(payload.get("scheduled_at"), problems)

    marketing = payload.get("marketing", True)
    if not isinstance(marketing, bool):
        problems.append(problem("marketing", _("Must be true or false.")))

    if problems:
        raise Invalid(problems)
    return {
        "name": name,
        "body": text,
        "list_id": list_id,
        "provider_id": account.id,
        "sender": sender,
        "scheduled_at": scheduled_at,
        "marketing": marketing,
    }


def _too_long(limit: int) -> str:
    return _("At most %(count)s characters.", count=show_number(limit))


def _audience(audience, problems: list[dict]) -> int | None:
    """``{"list_id": 3}`` → 3; ``{"all": true}`` → None (everyone)."""
    shape = _('Choose the audience: {"list_id": …} or {"all": true}.')
    if not isinstance(audience, dict) or not audience:
        problems.append(problem("audience", shape))
        return None
    for key in audience:
        if key not in ("list_id", "all"):
            problems.append(problem(f"audience.{key}", _("Unknown field.")))
    if "list_id" in audience and "all" in audience:
        problems.append(problem("audience", shape))
        return None
    if "all" in audience:
        if audience["all"] is not True:
            problems.append(problem("audience.all", shape))
        return None
    if "list_id" not in audience:
        problems.append(problem("audience", shape))
        return None
    list_id = audience["list_id"]
    if not _is_int(list_id):
        problems.append(problem("audience.list_id", _("Must be a whole number.")))
        return None
    if not is_id(list_id) or db.session.get(ContactList, list_id) is None:
        problems.append(
            problem("audience.list_id", _("There is no list with id %(id)s.", id=list_id))
        )
    return list_id


def _account(payload: dict, problems: list[dict]) -> ProviderAccount | None:
    account_id = payload.get("provider_account_id")
    if account_id is None:
        return default_account()
    if not _is_int(account_id):
        problems.append(problem("provider_account_id", _("Must be a whole number.")))
        return None
    account = db.session.get(ProviderAccount, account_id) if is_id(account_id) else None
    if account is None:
        problems.append(
            problem(
                "provider_account_id",
                _("There is no provider account with id %(id)s.", id=account_id),
            )
        )
    return account


def _sender(sender, account: ProviderAccount, problems: list[dict]) -> str | None:
    """The sender line: one of the account's, its first when none is given."""
    lines = account.sender_lines
    if sender is None:
        if lines:
            return lines[0]
        problems.append(problem("sender", _("This provider account has no sender line.")))
        return None
    if not isinstance(sender, str):
        problems.append(problem("sender", _("Must be a string of digits.")))
        return None
    sender = ascii_digits(sender).strip().replace(" ", "")
    if sender not in lines:
        problems.append(
            problem(
                "sender",
                _(
                    "%(sender)s is not a sender line of this account; its lines are: %(lines)s",
                    sender=sender,
                    lines=", ".join(lines),
                ),
            )
        )
        return None
    return sender


def _moment(value, problems: list[dict]) -> datetime | None:
    """``"2026-12-06T18:30:00+03:30"`` or ``{"jalali": "1405/09/15 18:30"}`` (Tehran)."""
    if value is None:
        return None
    field = "scheduled_at"
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(ascii_digits(value.strip()))
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            problems.append(
                problem(
                    field,
                    _(
                        "Write the time in ISO 8601 with its offset, "
                        "like 2026-12-06T18:30:00+03:30."
                    ),
                )
            )
            return None
        moment = moment.astimezone(UTC)
    elif isinstance(value, dict) and list(value) == ["jalali"] and isinstance(value["jalali"], str):
        field = "scheduled_at.jalali"
        day, _space, clock = ascii_digits(value["jalali"]).strip().partition(" ")
        try:
            moment = parse_jalali_datetime(day, clock)
        except ValueError:
            problems.append(
                problem(field, _("Enter a Jalali date like 1405/09/15 and a time like 18:30."))
            )
            return None
    else:
        problems.append(
            problem(
                field,
                _('Give an ISO 8601 time or {"jalali": "1405/09/15 18:30"} (Tehran time).'),
            )
        )
        return None
    if moment <= utcnow():
        problems.append(problem(field, _("This moment has passed; choose a time in the future.")))
        return None
    return moment


def page_args(args, statuses: bool = False) -> tuple[int, int, str | None]:
    """``limit``, ``after_id`` (and ``status``) of a paged list, or ``Invalid``."""
    problems: list[dict] = []
    limit, after_id, status = PAGE_DEFAULT, 0, None
    if "limit" in args:
        limit = _number(args["limit"])
        if limit is None or not 1 <= limit <= PAGE_MAX:
            problems.append(
                problem("limit", _("A whole number from 1 to %(max)s.", max=show_number(PAGE_MAX)))
            )
    if "after_id" in args:
        after_id = _number(args["after_id"])
        if after_id is None:
            problems.append(problem("after_id", _("Must be a whole number.")))
    if statuses and args.get("status"):
        status = args["status"].strip()
        if status not in STATUSES:
            problems.append(
                problem(
                    "status",
                    _("Unknown status; one of: %(statuses)s", statuses=", ".join(STATUSES)),
                )
            )
    if problems:
        raise Invalid(problems)
    return limit, after_id, status


# Contacts and purchases ---------------------------------------------------------------
#
# Each item is read with the importer's own parsers (numbers, dates, genders, amounts),
# so the API accepts every form a file may hold, and becomes the importer's ContactRow
# or PurchaseRow, stored by the same functions. Every item is checked before anything
# is written: one wrong item refuses the whole request.

BATCH_MAX = 1000
CONTACT_ITEM_FIELDS = (
    "mobile",
    "first_name",
    "last_name",
    "gender",
    "birth_date",
    "anniversary",
    "city",
    "tags",
    "fields",
    "opted_out",
)
CONTACTS_FIELDS = ("contacts", "on_duplicate", "list_id")
PURCHASE_ITEM_FIELDS = ("mobile", "purchased_at", "amount", "reference")
PURCHASES_FIELDS = ("purchases", "create_contacts")
TEXT_FIELD_MAX = 100  # first_name, last_name, city, reference
FIELD_NAME_MAX = 50
FIELD_VALUE_MAX = 500
AMOUNT_MAX = 10**15  # Rials; far above any purchase, far below a BIGINT
# How far ahead a purchase may be dated (clocks differ), as the importer allows.
PURCHASE_AHEAD = timedelta(days=1)


def _items(payload: dict, key: str, allowed: tuple[str, ...], problems: list[dict]) -> list:
    """The list under ``key``: present, non-empty, at most BATCH_MAX items."""
    for name in payload:
        if name not in allowed:
            problems.append(problem(name, _("Unknown field.")))
    items = payload.get(key)
    if not isinstance(items, list) or not items:
        problems.append(problem(key, _("Send a non-empty list.")))
        return []
    if len(items) > BATCH_MAX:
        problems.append(
            problem(
                key,
                _(
                    "At most %(max)s items in one request; send the rest in another.",
                    max=show_number(BATCH_MAX),
                ),
            )
        )
        return []
    return items


def _item_fields(item, where: str, allowed: tuple[str, ...], problems: list[dict]) -> bool:
    """Whether ``item`` is an object with only known fields (problems added if not)."""
    if not isinstance(item, dict):
        problems.append(problem(where, _("Each item must be a JSON object.")))
        return False
    for name in item:
        if name not in allowed:
            problems.append(problem(f"{where}.{name}", _("Unknown field.")))
    return True


def _mobile(item: dict, where: str, problems: list[dict]) -> str | None:
    value = item.get("mobile")
    if value is None or (isinstance(value, str) and not value.strip()):
        problems.append(problem(f"{where}.mobile", _("The mobile number is required.")))
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        problems.append(problem(f"{where}.mobile", _("Write the mobile number as a string.")))
        return None
    try:
        return parse_mobile(str(value))
    except RowError as error:
        problems.append(problem(f"{where}.mobile", error.reason))
        return None


def _repeated(key: str, index: int, seen: dict[str, int], where: str, message) -> dict | None:
    """A problem when ``key`` came earlier in the list (at ``seen[key]``)."""
    if key in seen:
        return problem(where, message(seen[key], index))
    seen[key] = index
    return None


def _text(item: dict, name: str, where: str, problems: list[dict]) -> str:
    value = item.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.append(problem(f"{where}.{name}", _("Must be a string.")))
        return ""
    text = normalize_text(value)
    if len(text) > TEXT_FIELD_MAX:
        problems.append(problem(f"{where}.{name}", _too_long(TEXT_FIELD_MAX)))
        return ""
    return text


def _day(item: dict, name: str, where: str, problems: list[dict]):
    """``"1991-08-03"`` or ``{"jalali": "1370/05/12"}`` (any form the importer reads)."""
    value = item.get(name)
    if value is None or value == "":
        return None
    field = f"{where}.{name}"
    if isinstance(value, dict) and list(value) == ["jalali"] and isinstance(value["jalali"], str):
        field, value = f"{field}.jalali", value["jalali"]
    elif not isinstance(value, str):
        problems.append(
            problem(field, _('Give a date like "1991-08-03" or {"jalali": "1370/05/12"}.'))
        )
        return None
    try:
        return parse_date(value, past=name == "birth_date")
    except RowError as error:
        problems.append(problem(field, error.reason))
        return None


def _own_fields(item: dict, where: str, problems: list[dict]) -> dict[str, str]:
    value = item.get("fields")
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(problem(f"{where}.fields", _('An object such as {"club": "gold"}.')))
        return {}
    fields: dict[str, str] = {}
    for raw_name, raw in value.items():
        name = normalize_text(raw_name)
        at = f"{where}.fields.{raw_name}"
        if not name or len(name) > FIELD_NAME_MAX:
            problems.append(
                problem(
                    at,
                    _("A field name has 1 to %(max)s characters.", max=show_number(FIELD_NAME_MAX)),
                )
            )
        elif raw is None:
            continue
        elif isinstance(raw, bool) or not isinstance(raw, str | int | float):
            problems.append(problem(at, _("A field's value is a string or a number.")))
        else:
            text = normalize_text(str(raw))
            if len(text) > FIELD_VALUE_MAX:
                problems.append(problem(at, _too_long(FIELD_VALUE_MAX)))
            elif text:
                fields[name] = text
    return fields


def _tags(item: dict, where: str, problems: list[dict]) -> list[str]:
    value = item.get("tags")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        problems.append(problem(f"{where}.tags", _('A list of names, like ["vip", "tehran"].')))
        return []
    return list(dict.fromkeys(name for tag in value for name in split_tags(tag)))


def _contact_item(item, index: int, problems: list[dict]) -> ContactRow | None:
    where = f"contacts[{index}]"
    if not _item_fields(item, where, CONTACT_ITEM_FIELDS, problems):
        return None
    before = len(problems)
    mobile = _mobile(item, where, problems)
    values: dict[str, object] = {}
    for name in ("first_name", "last_name", "city"):
        text = _text(item, name, where, problems)
        if text:
            values[name] = text
    gender = item.get("gender")
    if gender not in (None, ""):
        try:
            gender = parse_gender(gender) if isinstance(gender, str) else None
        except RowError:
            gender = None
        if gender is None:
            problems.append(problem(f"{where}.gender", _('Write "male" or "female".')))
        else:
            values["gender"] = gender
    for name, prefix in (("birth_date", "birth"), ("anniversary", "anniversary")):
        day = _day(item, name, where, problems)
        if day is not None:
            values[name] = day
            values[f"{prefix}_jmonth"], values[f"{prefix}_jday"] = jalali_month_day(day)
    fields = _own_fields(item, where, problems)
    tags = _tags(item, where, problems)
    opted_out = item.get("opted_out", False)
    if not isinstance(opted_out, bool):
        problems.append(problem(f"{where}.opted_out", _("Must be true or false.")))
    if len(problems) > before:
        return None
    return ContactRow(index, [], mobile, values, fields, tags, opted_out)


def contacts_from_json(payload: dict) -> dict:
    """The arguments of ``store_contacts`` (rows, on_duplicate, list_id), or ``Invalid``."""
    problems: list[dict] = []
    items = _items(payload, "contacts", CONTACTS_FIELDS, problems)
    on_duplicate = payload.get("on_duplicate", "update")
    if on_duplicate not in ON_DUPLICATE:
        problems.append(problem("on_duplicate", _('Write "update" or "skip".')))
    list_id = payload.get("list_id")
    if list_id is not None:
        if not _is_int(list_id):
            problems.append(problem("list_id", _("Must be a whole number.")))
        elif not is_id(list_id) or db.session.get(ContactList, list_id) is None:
            problems.append(problem("list_id", _("There is no list with id %(id)s.", id=list_id)))
    rows: list[ContactRow] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        row = _contact_item(item, index, problems)
        if row is None:
            continue
        repeat = _repeated(
            row.mobile,
            index,
            seen,
            f"contacts[{index}].mobile",
            lambda first, this: _(
                "contacts[%(this)s] has the same number as contacts[%(first)s]; "
                "send each number once.",
                this=this,
                first=first,
            ),
        )
        if repeat:
            problems.append(repeat)
        rows.append(row)
    if problems:
        raise Invalid(problems)
    return {"rows": rows, "on_duplicate": on_duplicate, "list_id": list_id}


def _purchase_moment(value, where: str, problems: list[dict]) -> datetime | None:
    """ISO 8601 with an offset, a date (midnight in Tehran) or {"jalali": "…"} (Tehran)."""
    field = f"{where}.purchased_at"
    shape = _(
        "Give an ISO 8601 time with its offset, like 2026-11-23T18:30:00+03:30, "
        'a date, or {"jalali": "1405/09/02 18:30"} (Tehran time).'
    )
    if isinstance(value, dict) and list(value) == ["jalali"] and isinstance(value["jalali"], str):
        field, value = f"{field}.jalali", value["jalali"]
    elif not isinstance(value, str) or not value.strip():
        problems.append(problem(field, shape))
        return None
    text = ascii_digits(value.strip())
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is not None and moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
        if moment > utcnow() + PURCHASE_AHEAD:
            problems.append(problem(field, _("This moment is in the future.")))
            return None
        return moment
    if moment is not None and (":" in text):
        problems.append(problem(field, shape))  # a time without its offset
        return None
    try:
        return parse_moment(text)  # a date, Jalali or Gregorian, with or without a time
    except RowError as error:
        problems.append(problem(field, error.reason))
        return None


def _purchase_item(item, index: int, problems: list[dict]) -> PurchaseRow | None:
    where = f"purchases[{index}]"
    if not _item_fields(item, where, PURCHASE_ITEM_FIELDS, problems):
        return None
    before = len(problems)
    mobile = _mobile(item, where, problems)
    purchased_at = None
    if item.get("purchased_at") is None:
        problems.append(
            problem(f"{where}.purchased_at", _("The time of the purchase is required."))
        )
    else:
        purchased_at = _purchase_moment(item["purchased_at"], where, problems)
    amount = item.get("amount")
    if not _is_int(amount) or not 0 < amount <= AMOUNT_MAX:
        problems.append(
            problem(f"{where}.amount", _("The amount is a whole number of Rials above zero."))
        )
    reference = item.get("reference")
    if reference is not None:
        if isinstance(reference, int) and not isinstance(reference, bool):
            reference = str(reference)
        if not isinstance(reference, str):
            problems.append(problem(f"{where}.reference", _("Must be a string.")))
        else:
            reference = normalize_text(reference) or None
            if reference and len(reference) > TEXT_FIELD_MAX:
                problems.append(problem(f"{where}.reference", _too_long(TEXT_FIELD_MAX)))
    if len(problems) > before:
        return None
    return PurchaseRow(index, [], mobile, purchased_at, amount, reference)


def purchases_from_json(payload: dict) -> dict:
    """The arguments of ``store_purchases`` (rows, create_contacts), or ``Invalid``.

    Without ``create_contacts`` a number no contact has is a wrong item. A repeated
    reference is not: it is stored once and the others are reported as duplicates.
    """
    problems: list[dict] = []
    items = _items(payload, "purchases", PURCHASES_FIELDS, problems)
    create_contacts = payload.get("create_contacts", False)
    if not isinstance(create_contacts, bool):
        problems.append(problem("create_contacts", _("Must be true or false.")))
    rows = [
        row for index, item in enumerate(items) if (row := _purchase_item(item, index, problems))
    ]
    if create_contacts is False and rows:
        mobiles = {row.mobile for row in rows}
        known = set(db.session.scalars(select(Contact.mobile).where(Contact.mobile.in_(mobiles))))
        for row in rows:
            if row.mobile not in known:
                problems.append(
                    problem(
                        f"purchases[{row.line}].mobile",
                        _(
                            "No contact has this number; add the contact first or send "
                            '"create_contacts": true.'
                        ),
                    )
                )
    if problems:
        raise Invalid(sorted(problems, key=_item_order))
    return {"rows": rows, "create_contacts": create_contacts}


def _item_order(detail: dict) -> tuple:
    """Problems by item index, then as found (fields of the request itself first)."""
    field, _dot, _rest = detail["field"].partition(".")
    if "[" in field:
        return (1, int(field[field.index("[") + 1 : field.index("]")]))
    return (0, 0)
