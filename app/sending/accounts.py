"""Provider accounts: adding, editing and testing them."""

import re

from flask_babel import gettext as _
from sqlalchemy import select, update

from app.extensions import db
from app.persian import ascii_digits, normalize_text
from app.sending.models import ProviderAccount
from app.sending.providers import KINDS
from app.sending.providers.base import ProviderError
from app.sending.service import adapter_for

# Providers that log in with a username and password rather than an API key.
PASSWORD_KINDS = {"melipayamak"}
_SENDER = re.compile(r"^\+?\d{3,20}$")


class AccountError(ValueError):
    """Why an account cannot be saved; the message is shown to the owner."""


def save_account(
    account: ProviderAccount | None,
    *,
    name: str,
    kind: str,
    api_key: str = "",
    username: str = "",
    password: str = "",
    senders: str = "",
    base_url: str | None = None,
    requests_per_second: float | None = None,
    price_per_part: int = 0,
    is_default: bool = False,
) -> ProviderAccount:
    """Create or update an account; blank secrets keep the stored ones. Caller commits."""
    name = normalize_text(name)
    if not name:
        raise AccountError(_("Give the account a name."))
    if kind not in KINDS:
        raise AccountError(_("Unknown provider."))
    clash = db.session.scalar(select(ProviderAccount).where(ProviderAccount.name == name))
    if clash is not None and clash is not account:
        raise AccountError(_("Another account already has this name."))
    lines = [ascii_digits(line).strip().replace(" ", "") for line in senders.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise AccountError(_("Enter at least one sender line, like 3000123456."))
    for line in lines:
        if not _SENDER.match(line):
            raise AccountError(_("The sender line “%(line)s” should be digits only.", line=line))
    base_url = (base_url or "").strip() or None
    if base_url and not re.match(r"^https?://[^\s/]+", base_url):
        raise AccountError(_("The API address must start with http:// or https://."))
    if requests_per_second is not None and not 0 < requests_per_second <= 1000:
        raise AccountError(_("Requests per second must be between 0 and 1000."))
    if price_per_part < 0:
        raise AccountError(_("The price per part cannot be negative."))
    # Blank secrets keep the stored ones: check what the account will have, before
    # anything of it is written.
    api_key = api_key.strip() or (account.api_key if account else "")
    username = username.strip() or (account.username if account else "")
    password = password or (account.password if account else "")
    if kind in PASSWORD_KINDS and not (username and password):
        raise AccountError(_("This provider needs the panel's username and password."))
    if kind not in PASSWORD_KINDS and kind != "console" and not api_key:
        raise AccountError(_("Enter the API key from your provider's panel."))

    if account is None:
        account = ProviderAccount()
        db.session.add(account)
    account.name, account.kind = name, kind
    account.api_key, account.username, account.password = api_key, username, password
    account.senders = "\n".join(lines)
    account.base_url = base_url
    account.price_per_part = price_per_part
    if requests_per_second is not None:
        account.requests_per_second = requests_per_second
    elif account.requests_per_second is None:
        account.requests_per_second = 100.0 if kind == "console" else 5.0
    db.session.flush()
    if is_default or not db.session.scalar(
        select(ProviderAccount.id).where(ProviderAccount.is_default.is_(True))
    ):
        make_default(account)
    return account


def make_default(account: ProviderAccount) -> None:
    db.session.execute(update(ProviderAccount).values(is_default=False))
    account.is_default = True


def check_credit(account: ProviderAccount) -> tuple[int | None, str | None]:
    """Test the connection: (credit in Rials, None) or (None, the reason it failed).

    The result is the account's state on the providers page, until the next test or
    the next request of a campaign; the caller commits.
    """
    try:
        credit = adapter_for(account).credit()
    except ProviderError as error:
        account.last_error = str(error.code)
        return None, error.message
    account.last_error = None
    account.failures = 0
    return credit, None


def all_accounts() -> list[ProviderAccount]:
    return db.session.scalars(
        select(ProviderAccount).order_by(ProviderAccount.is_default.desc(), ProviderAccount.name)
    ).all()
