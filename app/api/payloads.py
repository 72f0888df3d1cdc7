"""Reading what a script sends: every field checked, every problem named.

Nothing here touches the request; a view passes the parsed JSON and gets back the
arguments of a service function, or ``Invalid`` with one entry per wrong field.
"""

from datetime import UTC, datetime

from flask_babel import gettext as _

from app.api.errors import problem
from app.contacts.models import ContactList
from app.extensions import db
from app.messaging.text import unknown_placeholders
from app.persian import ascii_digits, parse_jalali_datetime, show_number
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
        unknown = unknown_placeholders(text)
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
