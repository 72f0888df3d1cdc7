"""The protocol every SMS provider adapter implements, and what adapters share.

The dispatcher only knows this module. It hands an adapter a batch of ``Outgoing``
messages and learns, per message, whether the provider accepted it. One ``send`` call
is exactly one request to the provider: the dispatcher sizes batches from the adapter's
limits (``max_batch`` when every message has the same text and the bulk endpoint
applies, ``max_p2p`` for per-recipient texts), so a batch is never half-sent by us.

Two exceptions tell the dispatcher what it may do with a batch without a clear answer:

- ``NotSent``: the provider certainly did not accept it (connection refused, 429, busy,
  bad key, no credit): it may be sent again later.
- ``MaybeSent``: it may have been accepted (timeout after the request left, garbled
  reply, 5xx): the messages become ``unknown`` and are never re-sent automatically.

``HttpProvider`` turns the transport's failures into those two exceptions, so each
adapter only reads its provider's documented answers. The small helpers next to it
(reading numbers, credits, times and echoed mobiles out of loose JSON, scrubbing
secrets, which refusals can be pinned on each message) are shared so that every adapter
reads its provider the same way.
"""

import codecs
import logging
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, NamedTuple, Protocol
from urllib.parse import quote_plus

import orjson
import requests
from flask_babel import lazy_gettext as _l
from urllib3.exceptions import NewConnectionError

from app.contacts.phones import InvalidMobile, normalize_mobile
from app.persian import TEHRAN, ascii_digits

# urllib3 logs every request line at DEBUG, and some providers (Kavenegar) put the API
# key in the URL: its connection log stays quiet even when the app logs at DEBUG.
logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)


class ErrorCode(StrEnum):
    """Why a provider refused a batch or a message, in Vafa's words."""

    BAD_KEY = "bad_key"
    NO_CREDIT = "no_credit"
    BAD_SENDER = "bad_sender"
    INVALID_NUMBER = "invalid_number"
    BLOCKED = "blocked"  # the number refuses advertising SMS (operator blacklist)
    BAD_MESSAGE = "bad_message"  # empty, too long, forbidden words
    RATE_LIMITED = "rate_limited"
    BUSY = "busy"  # unreachable or temporarily unavailable
    PROVIDER_ERROR = "provider_error"  # anything else the provider said
    UNREADABLE_ANSWER = "unreadable_answer"  # a field of the answer we cannot read
    # Ours, not the provider's: the stored key cannot be decrypted (app/crypto.py).
    SECRET_UNREADABLE = "secret_unreadable"


ERROR_MESSAGES = {
    ErrorCode.BAD_KEY: _l("The provider did not accept the API key or username/password."),
    ErrorCode.NO_CREDIT: _l("The provider account has run out of credit."),
    ErrorCode.BAD_SENDER: _l("The sender line is not valid for this account."),
    ErrorCode.INVALID_NUMBER: _l("The provider says this mobile number is not valid."),
    ErrorCode.BLOCKED: _l("This number has blocked advertising SMS (blacklist)."),
    ErrorCode.BAD_MESSAGE: _l("The provider did not accept the message text."),
    ErrorCode.RATE_LIMITED: _l("Too many requests; the provider asked us to slow down."),
    ErrorCode.BUSY: _l("The provider cannot be reached right now."),
    ErrorCode.PROVIDER_ERROR: _l("The provider reported an error."),
    ErrorCode.UNREADABLE_ANSWER: _l("The provider's answer could not be read."),
    ErrorCode.SECRET_UNREADABLE: _l(
        "The stored key cannot be decrypted: the server's encryption key has changed. "
        "Type the key again on the account's page, or restore the old encryption key."
    ),
}

# Errors that will not go away by retrying: the engine pauses the campaign on them.
ACCOUNT_ERRORS = frozenset(
    {ErrorCode.BAD_KEY, ErrorCode.NO_CREDIT, ErrorCode.BAD_SENDER, ErrorCode.SECRET_UNREADABLE}
)


@dataclass(frozen=True)
class Settings:
    """An owner's account at a provider. Which fields matter depends on the provider."""

    # Secrets stay out of the repr: a logged Settings (or a Call holding one) shows none.
    api_key: str = field(default="", repr=False)
    sender: str = ""
    base_url: str | None = None  # None: the provider's documented address
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 10.0  # seconds, for connecting and for each read


class Outgoing(NamedTuple):
    """One message of a request (a named tuple: a worker makes one for every message)."""

    local_id: int  # Vafa's message id; sent as the provider's own id field where it has one
    mobile: str  # canonical +989XXXXXXXXX
    body: str
    sender: str


class Accepted(NamedTuple):
    """A message the provider took, with its own id for it (a named tuple, as Outgoing:
    made for nearly every message a worker sends)."""

    local_id: int
    provider_ref: str


@dataclass(frozen=True)
class Rejected:
    local_id: int
    code: ErrorCode
    detail: str = ""  # the provider's own code or words, for the log


@dataclass(frozen=True)
class Unseen:
    """A provider's lookup answered that it never took this local id.

    Adapters answer it only where the provider's documentation makes sending the id
    again harmless (it does not deliver a repeated local id twice), since the message
    then goes out again (app/sending/reconcile.py).
    """

    local_id: int


@dataclass(frozen=True)
class StatusUpdate:
    provider_ref: str
    # "delivered", "failed", "undeliverable", "blacklisted", "expired", or "sent" while
    # the message is still at the operator.
    status: str
    detail: str = ""


@dataclass(frozen=True)
class Inbound:
    """A message a contact sent to the owner's line (e.g. «۱۱» to opt out)."""

    mobile: str
    text: str
    received_at: datetime
    provider_ref: str = ""


class ProviderError(Exception):
    """A provider call failed; ``code`` says why and ``detail`` what the provider said."""

    def __init__(self, code: ErrorCode, detail: str = "", retry_after: float | None = None):
        super().__init__(f"{code}: {detail}" if detail else str(code))
        self.code = code
        self.detail = detail
        self.retry_after = retry_after

    @property
    def message(self) -> str:
        """What the owner reads (in the request's language)."""
        return str(ERROR_MESSAGES[self.code])


class NotSent(ProviderError):
    """The provider certainly did not accept the batch; it may be sent again later."""


class MaybeSent(ProviderError):
    """The batch may have reached the provider; it must not be sent again blindly."""


class Provider(Protocol):
    kind: ClassVar[str]
    max_batch: ClassVar[int]  # recipients of one text in one bulk call
    max_p2p: ClassVar[int]  # messages with different texts in one call
    uses_local_id: ClassVar[bool]  # send() passes Outgoing.local_id to the provider
    max_lookup: ClassVar[int]  # local ids one find_sent request may carry (0: no lookup)
    local_ids_kept: ClassVar[timedelta]  # how long the provider's lookup knows a local id

    def send(self, batch: Sequence[Outgoing]) -> list[Accepted | Rejected]: ...

    def statuses(self, refs: Sequence[str]) -> list[StatusUpdate]: ...

    def credit(self) -> int:
        """Remaining credit, in Rials."""
        ...

    def find_sent(self, local_ids: Sequence[int]) -> list[Accepted | Unseen]:
        """What the provider knows of these local ids (to reconcile ``unknown``; callers
        pass at most ``max_lookup``, one request's worth): ``Accepted`` for those it took,
        ``Unseen`` for those it certainly never took; an id it cannot tell about is left out.

        Providers without a local id return an empty list: nothing can be learnt.
        """
        ...

    def inbox(self) -> list[Inbound]:
        """Messages received on the owner's lines since the last call."""
        ...


def same_text(batch: Sequence[Outgoing]) -> bool:
    """True when one bulk call (one text, many recipients) can carry the batch.

    Compared with the first message, not gathered in a set: a batch of personal texts
    is told at its second message, without hashing the other texts.
    """
    if not batch:
        return False
    body, sender = batch[0].body, batch[0].sender
    return all(message.body == body and message.sender == sender for message in batch)


def national(mobile: str) -> str:
    """09121234567: the form most Iranian provider APIs document for receptors."""
    return "0" + mobile.removeprefix("+98")


def canonical(number) -> str:
    """Vafa's ``+989XXXXXXXXX`` form of a number a provider reports (a sender, a receptor).

    Providers echo numbers in whatever form they keep them (0912…, 98912…, 912…, even a
    JSON number), so they are read as the contact pages read what people type. Anything
    that is not a mobile (a short code, a landline) is no contact's number, but the owner
    may still want to read it: it comes back as the provider wrote it.
    """
    text = str(number or "").strip()
    try:
        return normalize_mobile(text)
    except InvalidMobile:
        return text


def concerns_every_message(code: ErrorCode, batch: Sequence[Outgoing], bulk: bool) -> bool:
    """Can a refusal of the whole request be answered as a ``Rejected`` for each message?

    A refused text concerns every recipient of a bulk request (they all share it); a
    refused number can be pinned only on the one recipient of a one-message batch. Other
    refusals (account, limits, unknown) leave the messages for a later attempt.
    """
    if code is ErrorCode.BAD_MESSAGE:
        return bulk or len(batch) == 1
    return code in (ErrorCode.INVALID_NUMBER, ErrorCode.BLOCKED) and len(batch) == 1


def integer(value) -> int | None:
    """An integer a provider sent as a JSON number or as a string of digits; else None.

    Providers send ids, codes and times either way, sometimes both in one API. None
    tells a garbled field apart from 0; a bool (JSON true) or a float is not an integer.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        digits = text.removeprefix("-")
        if digits.isascii() and digits.isdigit():
            return int(text)
    return None


# What providers put between the digits of a number: thousands separators (Latin, Arabic
# and Persian «٬», spaces, thin spaces) go; the Arabic decimal separator «٫» is a point.
_AMOUNT_GROUPING = str.maketrans({",": None, "\u066c": None, "_": None, "\u066b": "."})
_AMOUNT = re.compile(r"-?\d+(\.\d+)?", re.ASCII)


def rials(value, what: str, per_unit: int = 1) -> int:
    """A credit (or cost) as a provider wrote it, in whole Rials; unreadable raises NotSent.

    Providers write amounts as JSON integers, floats (``1000000000000.0``) or text, with
    separators (``"1,234,567"``, ``"1 234"``) and in Persian or Arabic-Indic digits
    (``"۱٬۲۳۴"``). ``per_unit`` converts a count of SMS credits into Rials; the fraction
    of a Rial is dropped, since it cannot pay for anything. ``what`` names the field in
    the refusal, so the log says which answer could not be read.
    """
    number = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = Decimal(str(value))
    elif isinstance(value, str):
        text = "".join(ascii_digits(value).translate(_AMOUNT_GROUPING).split())
        if _AMOUNT.fullmatch(text):
            number = Decimal(text)
    if number is None or not number.is_finite():
        shown = repr(value)[:40]
        raise NotSent(ErrorCode.UNREADABLE_ANSWER, f"{what} is not an amount: {shown}")
    return math.floor(number * per_unit)


def tehran_time(value) -> datetime:
    """An ISO 8601 time a provider wrote; without a zone it is Tehran time.

    Iranian panels write local times without a zone. A missing or unreadable time is
    taken as now, the moment we read the message, so the message is kept, not dropped.
    """
    if not isinstance(value, str):
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=TEHRAN)


# Each octet as application/x-www-form-urlencoded writes it (urllib's quote_plus).
_FORM_OCTETS = [quote_plus(bytes([octet])) for octet in range(256)]
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def form_body(form: dict[str, Any]) -> bytes:
    """``form`` form-urlencoded, as every form parser reads it.

    Written by hand because urllib (which requests calls) quotes a value octet by octet
    in Python: for a 200-text Persian sendarray, the largest share of a send thread's
    CPU. A value in ASCII (numbers, ids, JSON of them) is written as requests writes it,
    in one ``str.translate`` over its octets; any other value (Persian text) has each of
    its UTF-8 octets written as ``%XX``, by ``bytes.hex`` in one go. Nearly all of them
    would be written so anyway, and the form's rules let any octet be.
    """
    return "&".join(
        f"{quote_plus(name)}={_form_value(str(value))}" for name, value in form.items()
    ).encode("ascii")


def _form_value(value: str) -> str:
    if value.isascii():
        return value.translate(_FORM_OCTETS)
    return "%" + value.encode().hex("%").upper()


# The longest answer read from a provider: its largest documented one (a sendarray of 200
# texts echoed back, about 50 KB; an inbox page of 100 messages) many times over.
MAX_ANSWER_BYTES = 2 * 2**20


class Answer(NamedTuple):
    """A provider's HTTP answer, read whole: what adapters look at."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes


class AnswerTooLarge(Exception):
    """The answer is longer than ``MAX_ANSWER_BYTES``."""


def _read_capped(response: requests.Response) -> bytes:
    """The body of a streamed response (decoded, if compressed), refused once it is longer
    than ``MAX_ANSWER_BYTES``: by its declared length before any of it is read, else as
    it arrives."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
        raise AnswerTooLarge
    body = bytearray()
    for piece in response.iter_content(64 * 1024):
        body += piece
        if len(body) > MAX_ANSWER_BYTES:
            raise AnswerTooLarge
    return bytes(body)


def parse_json(response: Answer) -> Any:
    """An answer's JSON, read by orjson: the answer to a request of 200 texts echoes them
    all, and the standard library's parser took a tenth of a send thread's time on it.
    JSON is UTF-8 (RFC 8259), which a byte order mark may open (some servers write one;
    the standard library skips it, orjson does not); a body that is not UTF-8, or not
    JSON, raises ValueError."""
    return orjson.loads(response.content.removeprefix(codecs.BOM_UTF8))


def chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """``items`` in slices of at most ``size``: the ids one status call may carry."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def provider_session(base_url: str | None) -> requests.Session:
    """A session for one provider address that reads the environment once.

    A session that trusts the environment reads every variable (for proxies, honouring
    ``NO_PROXY``) and looks for ``~/.netrc`` at each request: in a worker sending 200
    texts a request, that was a tenth of its CPU per message. Here the proxies and CA
    bundle the environment names for ``base_url`` are read when the session is made.
    """
    session = requests.Session()
    if base_url:
        session.proxies.update(requests.utils.get_environ_proxies(base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    session.verify = bundle or True
    session.trust_env = False
    return session


class HttpProvider:
    """Shared transport for HTTP adapters: one session, explicit timeouts, clear failures.

    ``request(..., sending=True)`` is for calls that may hand messages to the provider:
    when their fate is uncertain they raise MaybeSent. Other calls (status, credit)
    raise NotSent for every failure, since repeating them is harmless.
    """

    default_base_url: ClassVar[str]
    # No lookup by local id unless an adapter documents one.
    max_lookup: ClassVar[int] = 0
    local_ids_kept: ClassVar[timedelta] = timedelta(0)
    # The path every documented method sits under (``/v1`` for Kavenegar): an address the
    # owner types must end with it, or every call goes to a page that does not exist.
    api_path: ClassVar[str]

    def __init__(self, settings: Settings, session: requests.Session | None = None):
        self.settings = settings
        self.base_url = (settings.base_url or self.default_base_url).rstrip("/")
        self.session = session or provider_session(self.base_url)

    def request(self, method: str, path: str, *, sending: bool = False, **kwargs) -> Answer:
        """One request, and its answer read whole (``Answer``): never more than
        ``MAX_ANSWER_BYTES`` of it, so a provider (or whatever answers at its address)
        cannot fill the worker's memory; a longer answer is a garbled one."""
        uncertain = MaybeSent if sending else NotSent
        url = f"{self.base_url}/{path.lstrip('/')}"
        failure = None
        try:
            with self.session.request(
                method,
                url,
                timeout=self.settings.timeout,
                allow_redirects=False,
                stream=True,
                **kwargs,
            ) as streamed:
                response = Answer(streamed.status_code, streamed.headers, _read_capped(streamed))
        except AnswerTooLarge:
            failure = uncertain(
                ErrorCode.PROVIDER_ERROR, f"answer longer than {MAX_ANSWER_BYTES // 2**20} MB"
            )
        except requests.ConnectTimeout as error:
            raise NotSent(ErrorCode.BUSY, "connect timeout") from error
        except requests.ConnectionError as error:
            if _refused(error):
                raise NotSent(ErrorCode.BUSY, "connection refused") from error
            raise uncertain(ErrorCode.BUSY, "connection lost") from error
        except requests.Timeout as error:
            raise uncertain(ErrorCode.BUSY, "no answer in time") from error
        except requests.RequestException as error:
            # Anything else of the transport (an address it cannot parse, a body cut
            # short). Its text quotes the URL, which holds Kavenegar's key: only the
            # kind of failure is kept, and it is raised outside this block: no chain.
            refused = isinstance(error, _BEFORE_SENDING)
            failure = (NotSent if refused else uncertain)(
                ErrorCode.PROVIDER_ERROR, type(error).__name__
            )
        if failure is not None:
            raise failure
        if response.status_code == 429:
            raise NotSent(ErrorCode.RATE_LIMITED, "HTTP 429", _retry_after(response))
        if response.status_code == 503:
            raise NotSent(ErrorCode.BUSY, "HTTP 503", _retry_after(response))
        if response.status_code >= 500:
            raise uncertain(ErrorCode.PROVIDER_ERROR, f"HTTP {response.status_code}")
        return response

    def json(self, response, *, sending: bool = False):
        """The response's JSON body; a body that is not JSON is a garbled answer."""
        try:
            return parse_json(response)
        except ValueError as error:
            uncertain = MaybeSent if sending else NotSent
            raise uncertain(
                ErrorCode.PROVIDER_ERROR, f"HTTP {response.status_code}: not JSON"
            ) from error

    def body(self, response, *, sending: bool = False):
        """The JSON body of an answer, or None for a 4xx answer without one.

        A 4xx means the request was refused, so its body can only say why, and may be
        missing or HTML; any other body that is not JSON is a garbled answer (``json``).
        """
        if 400 <= response.status_code < 500:
            try:
                return parse_json(response)
            except ValueError:
                return None
        return self.json(response, sending=sending)

    def scrub(self, text: str) -> str:
        """``text`` without the account's secrets, in case a provider echoes one back.

        Error details go to the log and to the owner's pages; a key or password must not.
        """
        for secret in (self.settings.password, self.settings.api_key):
            if secret:
                text = text.replace(secret, "***")
        return text


# Transport errors raised while the request was being prepared: nothing left.
_BEFORE_SENDING = (
    requests.exceptions.URLRequired,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidHeader,
    requests.exceptions.InvalidJSONError,
)


def _refused(error: requests.ConnectionError) -> bool:
    """Did the connection fail before any byte of the request left?"""
    reason = error.args[0] if error.args else None
    reason = getattr(reason, "reason", reason)  # MaxRetryError wraps the cause
    return isinstance(reason, NewConnectionError)


def _retry_after(response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.replace(".", "", 1).isdigit() else None
