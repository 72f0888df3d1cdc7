"""Melipayamak (ملی پیامک, payamak-panel.com) adapter, for the panel's REST web service.

Which API. Melipayamak offers three: the SOAP services (``api.payamak-panel.com/post/
Send.asmx`` …), the REST web service (``rest.payamak-panel.com/api/SendSMS/``) and the
newer console API (``console.melipayamak.com/api/send/…/{key}``). This adapter uses the REST
service: it is the one the official SDKs implement in every language and the method pages on
https://www.melipayamak.com/api/ show (``?type=rest``), with numeric return codes. The
console API's reference sits behind the console login; what is public about it comes from
third-party clients (HRashidi/melipayamak, parsidev/melipayamak-console), and its errors are
free Persian text rather than codes, so they could not be mapped to ``ErrorCode`` faithfully.

Sources read:

- Base URL ``https://rest.payamak-panel.com/api/SendSMS/<Method>``, every call a ``POST``
  with form-encoded ``username`` and ``password``: Melipayamak/melipayamak-python
  ``melipayamak/sms/rest.py``, Melipayamak/melipayamak-php ``src/SmsRest.php``,
  Melipayamak/melipayamak-node ``src/sms/rest.js``.
- Every answer is ``{"Value", "RetStatus", "StrRetStatus"}``; ``RetStatus`` 1 ("Ok") is
  success (https://www.melipayamak.com/api/getcredit/?type=rest).
- ``SendSMS`` ``{to, from, text, isFlash}``, ``Value`` the message's recId or a return code.
  The REST method takes ONE receptor: the READMEs of Melipayamak/melipayamak-python and
  melipayamak-Go-golang say that only the SOAP method accepts an array of numbers instead of
  one (the 100-numbers limit on https://www.melipayamak.com/api/sendsms/ is the SOAP
  ``String[]`` array's). Receptors in the national
  form ``09123456789`` (every SDK's example). Return codes (api/sendsms, api/sendsimplesms):
  see ``REFUSALS`` and ``REJECTIONS``.
- ``GetDeliveries2`` ``{recId}``: one id per call (same READMEs: only SOAP's GetDeliveries
  takes an array);
  ``Value`` is a delivery code of the table on
  https://www.melipayamak.com/help/راهنمای-وب-سرویس-send/ (see ``DELIVERY_CODES``).
- ``GetCredit``: ``Value`` is the panel's remaining credit "as a number of SMS"
  (api/getcredit, updated 1403; the older help page says "in SMS or in Rials depending on
  the panel type"). No REST method reports money: ``GetBasePrice`` exists in the SDKs but its
  unit is not documented. So ``credit()`` returns the SMS count times ``rials_per_sms``, an
  estimate (``DEFAULT_RIALS_PER_SMS``) the owner can override, not a figure from the API.
- ``GetMessages`` ``{location, index, count, from}``, location 1 = received messages
  (https://www.melipayamak.com/api/getmessages/). The page documents the SOAP class
  ``MessagesBL`` (MsgID, Body, Sender, Receiver, SendDate, …); the REST answer
  ``{"MyBase": {Value, RetStatus, StrRetStatus}, "Data": [{MsgID, Body, SenderNumber,
  RecipientNumber, SendDate}]}`` with ASP.NET dates ``/Date(ms+0330)/`` is the shape
  independent REST clients read; both field spellings are accepted.

Limits: ``max_batch = max_p2p = 1`` — one message per ``SendSMS`` request, because the REST
method has one ``to`` and one recId in its answer. (A comma-joined ``to`` is not documented,
nor is how its single ``Value`` would map to several recipients, so it is never sent.)

What the adapter cannot do:

- No bulk or peer-to-peer request: a campaign costs one request per message.
- No client-side id on any REST method: ``uses_local_id`` is False and ``find_sent`` learns
  nothing, so an ``unknown`` message cannot be reconciled.
- No money balance (see ``GetCredit`` above).
- ``GetMessages`` does not mark messages read: each call reads the newest page again. The
  adapter remembers the highest MsgID it handed out, and ``Inbound.provider_ref`` (the
  MsgID) lets the caller drop repeats across processes.
- The sending line is per message (``Outgoing.sender``, else ``Settings.sender``); flash
  SMS and UDH are never used.
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import ClassVar

import requests

from app.sending.providers.base import (
    Accepted,
    ErrorCode,
    HttpProvider,
    Inbound,
    MaybeSent,
    NotSent,
    Outgoing,
    ProviderError,
    Rejected,
    Settings,
    StatusUpdate,
    canonical,
    integer,
    national,
    rials,
    tehran_time,
)

# An estimate of one SMS credit in Rials (about 100 Toman a Persian part). Melipayamak's
# REST service reports credit only as a number of SMS; an owner who needs exact money
# figures passes their own tariff as ``rials_per_sms``.
DEFAULT_RIALS_PER_SMS = 1_000

# Send codes that refuse the request as a whole: the message certainly was not taken and
# may be sent again later (the account ones pause the campaign). Words from api/sendsms.
REFUSALS: dict[int, tuple[ErrorCode, str]] = {
    0: (ErrorCode.BAD_KEY, "نام کاربری یا رمز عبور اشتباه می باشد"),
    2: (ErrorCode.NO_CREDIT, "اعتبار کافی نمی باشد"),
    3: (ErrorCode.RATE_LIMITED, "محدودیت در ارسال روزانه"),
    4: (ErrorCode.RATE_LIMITED, "محدودیت در حجم ارسال"),
    5: (ErrorCode.BAD_SENDER, "شماره فرستنده معتبر نمی باشد"),
    6: (ErrorCode.BUSY, "سامانه در حال بروزرسانی می باشد"),
    9: (ErrorCode.BAD_SENDER, "ارسال از خطوط عمومی از طریق وب سرویس امکان پذیر نمی باشد"),
    10: (ErrorCode.BAD_KEY, "کاربر مورد نظر فعال نمی باشد"),
    12: (ErrorCode.BAD_KEY, "مدارک کاربر کامل نمی باشد"),
    # Documented for BaseServiceNumber, the sibling REST method: one mobile per call.
    -2: (ErrorCode.PROVIDER_ERROR, "محدودیت هربار ارسال یک شماره موبایل"),
}

# Send codes about this message (its text or its receptor): it will not go out as it is.
REJECTIONS: dict[int, tuple[ErrorCode, str]] = {
    7: (ErrorCode.BAD_MESSAGE, "متن حاوی کلمه فیلتر شده می باشد"),
    # "Not sent", with no reason given: final for this message, since sending the same
    # message again would most likely be answered the same way, forever.
    11: (ErrorCode.PROVIDER_ERROR, "ارسال نشده"),
    14: (ErrorCode.BAD_MESSAGE, "متن حاوی لینک می باشد"),
    15: (ErrorCode.BAD_MESSAGE, "ارسال به بیش از 1 شماره بدون درج لغو11 ممکن نیست"),
    # The blacklist code of the delivery table; not on the send page's list as published,
    # but should SendSMS answer it, the number refuses advertising SMS.
    35: (ErrorCode.BLOCKED, "لیست سیاه"),
}

# GetDeliveries2's Value → Vafa's status, and the help page's words.
DELIVERY_CODES: dict[int, tuple[str, str]] = {
    0: ("sent", "ارسال شده به مخابرات"),
    1: ("delivered", "رسیده به گوشی"),
    2: ("undeliverable", "نرسیده به گوشی"),
    3: ("failed", "خطای مخابراتی"),
    5: ("failed", "خطای نامشخص"),
    8: ("sent", "رسیده به مخابرات"),
    16: ("failed", "نرسیده به مخابرات"),
    35: ("blacklisted", "لیست سیاه"),
    100: ("sent", "نامشخص"),
    200: ("sent", "ارسال شده"),
    300: ("failed", "فیلتر شده"),
    400: ("sent", "در لیست ارسال"),
    500: ("failed", "عدم پذیرش"),
}

# A recId is a long unique number; every documented return code is small (-7 … 35).
_REC_ID_FLOOR = 1_000
INBOX_PAGE = 100  # one page of the newest received messages per call
_ASPNET_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


class MelipayamakProvider(HttpProvider):
    """Sends through Melipayamak's REST ``SendSMS``, one message a call; see the module."""

    kind: ClassVar[str] = "melipayamak"
    max_batch: ClassVar[int] = 1
    max_p2p: ClassVar[int] = 1
    uses_local_id: ClassVar[bool] = False
    default_base_url: ClassVar[str] = "https://rest.payamak-panel.com/api/SendSMS"
    api_path: ClassVar[str] = "/api/SendSMS"  # the documented base path (base.HttpProvider)

    def __init__(
        self,
        settings: Settings,
        session: requests.Session | None = None,
        *,
        rials_per_sms: int = DEFAULT_RIALS_PER_SMS,
    ):
        super().__init__(settings, session)
        self.rials_per_sms = rials_per_sms
        self._inbox_seen = 0  # the highest MsgID already handed out by inbox()

    # -- sending ---------------------------------------------------------------------------

    def send(self, batch: Sequence[Outgoing]) -> list[Accepted | Rejected]:
        """One ``SendSMS`` request for the batch's one message.

        The dispatcher sizes batches by ``max_batch``; a larger batch is a programming
        error, refused before any request so nothing is half-sent.
        """
        if not batch:
            return []
        if len(batch) > self.max_batch:
            raise ValueError("Melipayamak's REST SendSMS takes one message per request")
        message = batch[0]
        form = self._account() | {
            "to": national(message.mobile),
            "from": message.sender or self.settings.sender,
            "text": message.body,
            "isFlash": "false",
        }
        response = self.request("POST", "SendSMS", sending=True, data=form)
        ret_status, value, words, _ = self._envelope(response, sending=True)
        if ret_status == 1:
            rec_id = _rec_id(value)
            if rec_id is None:
                # "Ok" without a recId: we cannot tell whether the message went out.
                raise MaybeSent(ErrorCode.PROVIDER_ERROR, self._detail(1, "Ok without a recId"))
            return [Accepted(message.local_id, rec_id)]
        detail = self._detail(ret_status, words)
        if ret_status in REJECTIONS:
            return [Rejected(message.local_id, REJECTIONS[ret_status][0], detail)]
        if ret_status in REFUSALS:
            raise NotSent(REFUSALS[ret_status][0], detail)
        # An undocumented code says nothing certain about the message.
        raise MaybeSent(ErrorCode.PROVIDER_ERROR, detail)

    # -- delivery, credit, inbox -----------------------------------------------------------

    def statuses(self, refs: Sequence[str]) -> list[StatusUpdate]:
        """One ``GetDeliveries2`` per reference: the REST method takes a single recId."""
        updates = []
        for ref in refs:
            if not (ref.isascii() and ref.isdigit()):
                updates.append(StatusUpdate(ref, "sent", "not a Melipayamak recId"))
                continue
            response = self.request("POST", "GetDeliveries2", data=self._account() | {"recId": ref})
            ret_status, value, words, _ = self._envelope(response, sending=False)
            if ret_status != 1:
                raise self._failure(ret_status, words)
            updates.append(_delivery(ref, value))
        return updates

    def credit(self) -> int:
        """Remaining credit in Rials: the panel's SMS count times ``rials_per_sms``.

        ``GetCredit`` reports a number of SMS, not money, and no REST method gives a
        documented price, so the conversion uses an estimate (see the module docstring).
        """
        response = self.request("POST", "GetCredit", data=self._account())
        ret_status, value, words, _ = self._envelope(response, sending=False)
        if ret_status != 1:
            raise self._failure(ret_status, words)
        return rials(value, "Melipayamak credit", self.rials_per_sms)

    def find_sent(self, local_ids: Sequence[int]) -> list[Accepted]:
        """Nothing to learn: no Melipayamak REST method takes or reports a client-side id."""
        return []

    def inbox(self) -> list[Inbound]:
        """The newest received messages not handed out yet by this adapter.

        ``GetMessages`` (location 1, every line) does not mark what it returns as read, so
        the adapter keeps the highest MsgID it has seen; a new process starts afresh and
        relies on the caller dropping MsgIDs it already stored.
        """
        form = self._account() | {"location": 1, "index": 0, "count": INBOX_PAGE, "from": ""}
        response = self.request("POST", "GetMessages", data=form)
        ret_status, _, words, body = self._envelope(response, sending=False)
        if ret_status != 1:
            raise self._failure(ret_status, words)
        items = body.get("Data")
        if items is None:
            items = []
        if not isinstance(items, list):
            raise NotSent(ErrorCode.PROVIDER_ERROR, "Melipayamak inbox is not a list")
        received = []
        highest = self._inbox_seen
        for item in items:
            msg_id = integer(item.get("MsgID")) if isinstance(item, dict) else None
            if msg_id is None or msg_id <= self._inbox_seen:
                continue
            highest = max(highest, msg_id)
            received.append(_inbound(item, msg_id))
        self._inbox_seen = highest
        received.sort(key=lambda inbound: int(inbound.provider_ref))
        return received

    # -- the envelope ----------------------------------------------------------------------

    def _account(self) -> dict[str, str]:
        """The credentials every REST call carries in its body (never in the URL or a log).

        The field is the panel's web-service password; an owner who keeps it in the API key
        setting is served too, since the key is the only secret they entered.
        """
        return {
            "username": self.settings.username,
            "password": self.settings.password or self.settings.api_key,
        }

    def _envelope(self, response, *, sending: bool) -> tuple[int, object, str, dict]:
        """``(RetStatus, Value, StrRetStatus, body)`` of an answer.

        A 4xx (other than 429, which the transport handles) means the request was not
        processed. Any other answer without a readable ``RetStatus`` may hide an accepted
        message when it answers a send. ``GetMessages`` nests the three fields in ``MyBase``.
        """
        if 400 <= response.status_code < 500:
            code = (
                ErrorCode.BAD_KEY
                if response.status_code in (401, 403)
                else ErrorCode.PROVIDER_ERROR
            )
            raise NotSent(code, f"Melipayamak HTTP {response.status_code}")
        body = self.json(response, sending=sending)
        uncertain = MaybeSent if sending else NotSent
        if not isinstance(body, dict):
            raise uncertain(ErrorCode.PROVIDER_ERROR, "Melipayamak answered no JSON object")
        envelope = body.get("MyBase") if isinstance(body.get("MyBase"), dict) else body
        ret_status = envelope.get("RetStatus")
        if not isinstance(ret_status, int) or isinstance(ret_status, bool):
            raise uncertain(ErrorCode.PROVIDER_ERROR, "Melipayamak answered no RetStatus")
        words = envelope.get("StrRetStatus")
        return ret_status, envelope.get("Value"), words if isinstance(words, str) else "", body

    def _failure(self, ret_status: int, words: str) -> ProviderError:
        """The exception for a refused status, credit or inbox call (repeating is harmless)."""
        code = REFUSALS.get(ret_status, (ErrorCode.PROVIDER_ERROR, ""))[0]
        return NotSent(code, self._detail(ret_status, words))

    def _detail(self, ret_status: int, words: str) -> str:
        """The provider's code and words for the log, with our secrets scrubbed just in case."""
        documented = (REFUSALS.get(ret_status) or REJECTIONS.get(ret_status) or (None, ""))[1]
        return self.scrub(f"Melipayamak {ret_status}: {words or documented or 'undocumented code'}")


def _rec_id(value) -> str | None:
    """The recId in a send answer's ``Value``, or None when it is not one."""
    number = integer(value)
    if number is None or number <= _REC_ID_FLOOR:
        return None
    return str(number)


def _delivery(ref: str, value) -> StatusUpdate:
    code = integer(value)
    if code is None:
        return StatusUpdate(ref, "sent", "Melipayamak: unreadable delivery code")
    status, words = DELIVERY_CODES.get(code, ("sent", "undocumented delivery code"))
    return StatusUpdate(ref, status, f"Melipayamak delivery {code}: {words}")


def _inbound(item: dict, msg_id: int) -> Inbound:
    sender = item.get("SenderNumber", item.get("Sender"))
    return Inbound(
        mobile=canonical(sender),
        text=str(item.get("Body") or ""),
        received_at=_received_at(item.get("SendDate")),
        provider_ref=str(msg_id),
    )


def _received_at(value) -> datetime:
    """An ASP.NET ``/Date(ms+0330)/`` (UTC milliseconds), else an ISO time (Tehran if naive)."""
    match = _ASPNET_DATE.match(value.strip()) if isinstance(value, str) else None
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, UTC)
    return tehran_time(value)
