"""The audit trail: who made each owner-level change, what it was, and when.

Each such action (provider accounts, sending rules, API tokens, users, bulk deletes,
deleted lists, contact exports, retrying messages of unknown fate) calls ``record_audit``
in the same transaction as the change itself; the caller commits, so a change that is
rolled back leaves no entry and an entry never describes a change that did not happen.

An entry holds names, counts and field names, never a secret: ``record_audit`` refuses
details under a key that names one (a provider key, a token's secret, a password).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import has_request_context
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from app.auth.models import AuditEntry, User
from app.extensions import db
from app.persian import show_digits, show_number

ACTIONS = {
    "provider.add": _l("Added a provider account"),
    "provider.edit": _l("Edited a provider account"),
    "provider.test": _l("Tested a provider account"),
    "provider.remove": _l("Removed a provider account"),
    "sending_rules.edit": _l("Changed the sending rules"),
    "api_token.create": _l("Made an API token"),
    "api_token.revoke": _l("Revoked an API token"),
    "user.add": _l("Added a user"),
    "user.role": _l("Changed a user's role"),
    "user.password": _l("Reset a user's password"),
    "user.deactivate": _l("Deactivated a user"),
    "user.reactivate": _l("Reactivated a user"),
    "contacts.bulk_delete": _l("Deleted contacts in bulk"),
    "list.delete": _l("Deleted a list"),
    "contacts.export": _l("Exported contacts"),
    "campaign.retry": _l("Retried messages of unknown fate"),
    "occasions.mourning": _l("Changed the days of mourning"),
    "occasions.shift": _l("Moved a lunar occasion by a day"),
}

DETAIL_LABELS = {
    "fields": _l("Changed"),
    "host": _l("API host"),
    "result": _l("Result"),
    "credit": _l("Credit (Rials)"),
    "error": _l("Error"),
    "role": _l("Role"),
    "from_role": _l("Previous role"),
    "id": _l("Token number"),
    "count": _l("Contacts"),
    "messages": _l("Messages"),
    "format": _l("Format"),
    "search": _l("Search"),
    "list": _l("List"),
    "tag": _l("Tag"),
    "status": _l("Status"),
    "window": _l("Sending window"),
    "frequency_cap_days": _l("Frequency cap (days)"),
    "optout_line": _l("Add the opt-out line"),
    "mourning": _l("Days of mourning"),
    "days": _l("Days moved"),
}

FIELD_LABELS = {
    "name": _l("Account name"),
    "kind": _l("Provider"),
    "api_key": _l("API key"),
    "username": _l("Username"),
    "password": _l("Password"),
    "senders": _l("Sender lines"),
    "base_url": _l("API address"),
    "requests_per_second": _l("Requests per second"),
    "price_per_part": _l("Price of one SMS part"),
    "is_default": _l("Default account"),
}

VALUE_LABELS = {
    "ok": _l("connected"),
    "failed": _l("failed"),
    "owner": _l("Owner"),
    "staff": _l("Staff"),
    "csv": "CSV",
    "xlsx": "Excel",
    "subscribed": _l("Subscribed only"),
    "opted_out": _l("Opted out only"),
}

# Keys a detail may never have: what is stored under them would be a secret.
SECRET_KEYS = {"api_key", "key", "password", "secret", "token"}

PAGE_SIZE = 50


def record_audit(
    action: str, target: str = "", detail: dict | None = None, *, actor: User | None = None
) -> AuditEntry:
    """Note an owner-level change, by ``actor`` (the signed-in user unless given).

    Outside a request (the command line) the entry names no user. The caller commits.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    detail = dict(detail or {})
    leaked = SECRET_KEYS & {key.lower() for key in detail}
    if leaked:
        raise ValueError(f"secrets are never audited: {sorted(leaked)}")
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user
    entry = AuditEntry(
        action=action,
        target=(target or "")[:200],
        detail=detail,
        user_id=actor.id if actor is not None else None,
        actor=actor.email if actor is not None else "",
    )
    db.session.add(entry)
    return entry


def entries_page(before: int | None = None, size: int = PAGE_SIZE):
    """Newest first, ``size`` at a time, from the entry ids below ``before`` (keyset).

    Returns (entries, the ``before`` of the next page or None).
    """
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(size + 1)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    entries = db.session.scalars(query).all()
    if len(entries) > size:
        return entries[:size], entries[size - 1].id
    return entries, None


# Details of particular changes -------------------------------------------------------

PROVIDER_FIELDS = (
    "name",
    "kind",
    "senders",
    "base_url",
    "requests_per_second",
    "price_per_part",
    "is_default",
)
PROVIDER_SECRETS = ("api_key", "username", "password")


def provider_snapshot(account) -> dict:
    """The account's settings that may be shown, before a change (empty for a new one)."""
    if account is None:
        return {}
    return {field: getattr(account, field) for field in PROVIDER_FIELDS}


def provider_change(before: dict, account, typed: Iterable[str]) -> dict:
    """Which of the account's settings changed, and the API host it now talks to.

    ``typed`` names the secrets typed into the form: whether a key was given is worth
    knowing, the key itself is not kept.
    """
    fields = [field for field in PROVIDER_FIELDS if before.get(field) != getattr(account, field)]
    fields += [name for name in PROVIDER_SECRETS if name in set(typed)]
    detail: dict = {"fields": fields}
    if account.base_url:
        detail["host"] = urlsplit(account.base_url).hostname or ""
    return detail


def provider_test(account, credit: int | None) -> dict:
    """What a connection test found: the credit, or the error code the account now has."""
    if credit is None:
        return {"result": "failed", "error": account.last_error}
    return {"result": "ok", "credit": credit}


def sending_rules(policy) -> dict:
    """The sending rules as saved, for the entry that says who changed them."""
    from app.sending.policy import quiet_days_text

    return {
        "window": f"{policy.window_start:%H:%M}–{policy.window_end:%H:%M}",
        "quiet_days": quiet_days_text(policy),
        "daily_cap": policy.daily_cap,
        "frequency_cap_days": policy.frequency_cap_days,
        "optout_line": policy.optout_line,
    }


def search_detail(contact_filter) -> dict:
    """A contact search in words that stay true after a list or tag is renamed."""
    from app.contacts.models import ContactList, Tag

    detail: dict = {}
    if contact_filter.query:
        detail["search"] = contact_filter.query
    if contact_filter.list_id:
        found = db.session.get(ContactList, contact_filter.list_id)
        detail["list"] = found.name if found else str(contact_filter.list_id)
    if contact_filter.tag_id:
        found = db.session.get(Tag, contact_filter.tag_id)
        detail["tag"] = found.name if found else str(contact_filter.tag_id)
    if contact_filter.status:
        detail["status"] = contact_filter.status
    return detail


# Showing entries ------------------------------------------------------------------------


@dataclass
class DetailLine:
    label: str
    value: str


_LABELLED_VALUES = {"result", "role", "from_role", "format", "status"}


def _show_value(key: str, value) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, int | float):
        return show_number(value) if isinstance(value, int) else show_digits(str(value))
    if key == "window":  # written by Vafa: 08:00–22:00
        return show_digits(value)
    if key == "error":
        from app.sending.models import ERROR_LABELS

        return str(ERROR_LABELS.get(value, value))
    if isinstance(value, list):
        labels = FIELD_LABELS if key == "fields" else VALUE_LABELS
        return _list_separator().join(str(labels.get(item, item)) for item in value) or "—"
    return str(VALUE_LABELS.get(value, value)) if key in _LABELLED_VALUES else str(value)


def _list_separator() -> str:
    """The Persian comma in Persian, the Latin one in English."""
    locale = get_locale()
    return "، " if locale is None or locale.language == "fa" else ", "


def _label(key: str, detail: dict) -> str:
    if key == "role" and "from_role" in detail:
        return _("New role")  # beside "Previous role", a bare "Role" reads as either
    return str(DETAIL_LABELS.get(key, key))


def describe(entry: AuditEntry) -> list[DetailLine]:
    """The entry's details as labelled lines, in the page's language."""
    detail = entry.detail or {}
    return [
        DetailLine(_label(key, detail), _show_value(key, value)) for key, value in detail.items()
    ]
