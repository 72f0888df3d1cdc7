"""Provider accounts: adding, editing and testing them."""

import re
from ipaddress import ip_address
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError

from app.crypto import SecretUnreadable, reseal
from app.extensions import db
from app.limits import ID_MAX
from app.persian import ascii_digits, normalize_text
from app.sending.models import Message, ProviderAccount
from app.sending.providers import KINDS, provider_class
from app.sending.providers.base import ProviderError
from app.sending.service import adapter_for
from app.types import utcnow

# Providers that log in with a username and password rather than an API key.
PASSWORD_KINDS = {"melipayamak"}
_SENDER = re.compile(r"^\+?\d{3,20}$")


class AccountError(ValueError):
    """Why an account cannot be saved; the message is shown to the owner, under ``field``
    (the form field at fault) when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


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
    if base_url:
        check_base_url(base_url, kind)
    if requests_per_second is not None and not 0 < requests_per_second <= 1000:
        raise AccountError(_("Requests per second must be between 0 and 1000."))
    if price_per_part < 0:
        raise AccountError(_("The price per part cannot be negative."))
    typed_key, typed_username, typed_password = api_key.strip(), username.strip(), password
    if account is not None and kind != "console" and _moves(account, kind, base_url):
        # The stored secret was typed for the old host: it goes to a new one only when
        # the owner types it again, else anyone who may edit the account could point it
        # at their own server and press «test connection».
        if kind in PASSWORD_KINDS and not (typed_username and typed_password):
            raise AccountError(
                _(
                    "The provider or its API address has changed: type the username and "
                    "password again, so they are not sent to a new address unnoticed."
                )
            )
        if kind not in PASSWORD_KINDS and not typed_key:
            raise AccountError(
                _(
                    "The provider or its API address has changed: type the API key again, "
                    "so it is not sent to a new address unnoticed."
                )
            )
    # Blank secrets keep the stored ones: check what the account will have, before
    # anything of it is written.
    api_key, key_unreadable = _typed_or_stored(typed_key, account, "api_key")
    password, password_unreadable = _typed_or_stored(typed_password, account, "password")
    if (kind in PASSWORD_KINDS and password_unreadable) or (
        kind not in PASSWORD_KINDS and kind != "console" and key_unreadable
    ):
        raise AccountError(
            _(
                "The stored key cannot be decrypted: the server's encryption key has "
                "changed. Type the key (or password) again."
            )
        )
    username = typed_username or (account.username if account else "")
    if kind in PASSWORD_KINDS and not (username and password):
        raise AccountError(_("This provider needs the panel's username and password."))
    if kind not in PASSWORD_KINDS and kind != "console" and not api_key:
        raise AccountError(_("Enter the API key from your provider's panel."))

    if account is None:
        account = ProviderAccount()
        db.session.add(account)
    account.name, account.kind = name, kind
    account.username = username
    # Sealed only when typed: an edit of the name leaves the stored secrets alone.
    if typed_key or not account.sealed_api_key:
        account.api_key = api_key
    if typed_password or not account.sealed_password:
        account.password = password
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


def _typed_or_stored(
    typed: str, account: ProviderAccount | None, attribute: str
) -> tuple[str, bool]:
    """The secret the account will use, and whether the stored one could not be opened."""
    if typed or account is None:
        return typed, False
    try:
        return getattr(account, attribute), False
    except SecretUnreadable:
        return "", True


def _moves(account: ProviderAccount, kind: str, base_url: str | None) -> bool:
    """Would the stored secret now go to another host (another provider or address)?"""
    return kind != account.kind or (base_url or None) != (account.base_url or None)


def check_base_url(base_url: str, kind: str) -> None:
    """Refuse an API address the key must not travel to: https only, http on loopback.

    Keys cross the network with every request; plain http would hand them to anyone on
    the way. Loopback (127.0.0.0/8, ::1, localhost) stays open for a local proxy or a
    test server, since it never leaves the machine. The address must also end with the
    provider's documented base path (``api_path``, e.g. Kavenegar's ``/v1``): without it
    every call would reach a page that does not exist, and the owner would only read
    "the provider reported an error".
    """
    try:
        parts = urlsplit(base_url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (raises ValueError for a port that is not one)
    except ValueError:
        host = ""
    if re.search(r"\s", base_url) or not host or parts.scheme not in ("http", "https"):
        raise AccountError(
            _("The API address must look like https://api.example.com/v1."), "base_url"
        )
    if parts.username or parts.password:
        raise AccountError(_("The API address must not hold a username or password."), "base_url")
    if parts.scheme == "http" and not _loopback(host):
        raise AccountError(
            _(
                "The API address must start with https:// (http:// only for this computer: "
                "127.0.0.1 or localhost)."
            ),
            "base_url",
        )
    adapter = provider_class(kind)
    api_path = getattr(adapter, "api_path", "")
    if api_path and not parts.path.rstrip("/").endswith(api_path):
        # The path and the address are isolated left-to-right (LRI…PDI), as the preview
        # isolates a number: in a Persian sentence «/v1» would otherwise read «v1/».
        raise AccountError(
            _(
                "The API address must end with %(path)s, for example %(example)s.",
                path=f"\u2066{api_path}\u2069",
                example=f"\u2066{adapter.default_base_url}\u2069",
            ),
            "base_url",
        )


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def make_default(account: ProviderAccount) -> None:
    db.session.execute(update(ProviderAccount).values(is_default=False))
    account.is_default = True


def check_credit(account: ProviderAccount) -> tuple[int | None, str | None]:
    """Test the connection: (credit in Rials, None) or (None, the reason it failed).

    The result is the account's state on the providers page, until the next test or
    the next request of a campaign, and the credit the dashboard shows; the caller commits.
    """
    account.checked_at = utcnow()
    try:
        credit = adapter_for(account).credit()
    except ProviderError as error:
        account.last_error = str(error.code)
        return None, error.message
    account.last_error = account.last_error_detail = account.failing_since = None
    account.failures = 0
    account.credit, account.credit_read_at = credit, account.checked_at
    return credit, None


def find_account(reference: str) -> ProviderAccount | None:
    """The account an operator names: by its id (``3``, ``۳``) or by its exact name."""
    digits = ascii_digits(reference).strip()
    if digits.isascii() and digits.isdigit():
        # Beyond ID_MAX no account has that id (and the database would refuse the number).
        return db.session.get(ProviderAccount, int(digits)) if int(digits) <= ID_MAX else None
    name = normalize_text(reference)
    return db.session.scalar(select(ProviderAccount).where(ProviderAccount.name == name))


def remove_account(account: ProviderAccount) -> None:
    """Delete an account nothing points to; the caller commits.

    An account a campaign (even a draft) or a message points to is refused, not hidden:
    the delivery log and the campaign pages name it. The database's foreign keys say
    whether anything does, so no list of the tables that may point here is kept.
    """
    name = account.name
    try:
        with db.session.begin_nested():
            db.session.delete(account)
    except IntegrityError:
        raise AccountError(
            _(
                "The account “%(name)s” has campaigns or messages, and their delivery log "
                "needs it, so it is kept. Make another account the default instead.",
                name=name,
            )
        ) from None
    if account.is_default:
        following = db.session.scalar(select(ProviderAccount).order_by(ProviderAccount.id))
        if following is not None:
            make_default(following)


def accounts_that_sent() -> set[int]:
    """Ids of the accounts the provider has accepted a message through: their state is
    known without a test. One index lookup per account (provider_id, provider_ref)."""
    accepted = exists().where(
        Message.provider_id == ProviderAccount.id, Message.provider_ref.is_not(None)
    )
    return set(db.session.scalars(select(ProviderAccount.id).where(accepted)))


def all_accounts() -> list[ProviderAccount]:
    return db.session.scalars(
        select(ProviderAccount).order_by(ProviderAccount.is_default.desc(), ProviderAccount.name)
    ).all()


def rotate_keys() -> tuple[int, list[str]]:
    """Encrypt every stored key and password again under the current encryption key.

    Returns how many accounts were re-encrypted and the names of those no configured key
    opens (left as they are: an old key may still be missing from the settings). The
    caller commits.
    """
    rotated, unreadable = 0, []
    query = select(ProviderAccount).order_by(ProviderAccount.id).with_for_update()
    for account in db.session.scalars(query):
        try:
            api_key, password = reseal(account.sealed_api_key), reseal(account.sealed_password)
        except SecretUnreadable:
            unreadable.append(account.name)
            continue
        if api_key or password:
            account.sealed_api_key, account.sealed_password = api_key, password
            rotated += 1
    return rotated, unreadable
