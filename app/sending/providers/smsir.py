"""sms.ir (ایده‌پردازان) adapter, for the panel's REST API v1.

Sources read (the official REST page, https://sms.ir/rest-api/ and https://apidocs.sms.ir,
and the official SDKs of IPeCompany, sms.ir's company, on GitHub):

- Base URL ``https://api.sms.ir/v1`` and header ``X-API-KEY``: IPeCompany/SmsPanelV2.DotNet
  ``IPE.SmsIrClient/SmsIr.cs``, IPeCompany/SmsPanelV2.Python ``sms_ir/services.py``.
- Every answer is the envelope ``{"status", "message", "data"}``; ``status`` 1 is success.
  HTTP 200 success, 400 logical error, 401 authentication error, 429 too many requests,
  500 unexpected error (apidocs.sms.ir "HTTP STATUS CODE"; the .NET SDK's
  ``Extensions/HttpRequestExtensions.cs`` reads the envelope out of 400/401/429/500 too).
- ``POST send/bulk`` ``{lineNumber, messageText, mobiles[]}`` and ``POST send/likeToLike``
  ``{lineNumber, messageTexts[], mobiles[]}`` (pairwise) both answer
  ``data = {packId, messageIds[], cost}`` (.NET ``Models/Requests/BulkSendRequest.cs``,
  ``LikeToLikeSendRequest.cs``, ``Models/Results/SendResult.cs``). ``messageIds`` follows
  the order of ``mobiles`` and its elements are nullable (``int?[]``): no id means that
  recipient got no message. The REST page says 0 marks a blacklisted number and null an
  invalid one (as quoted in fstarlike/smsir-agent-skill ``references/sending.md``; the
  official SDKs only show the type). ``sendDateTime`` (scheduling) is never sent.
- Limits: status 105 "more than 100 mobiles" and 106 "more than 100 texts" (official
  Laravel SDK IPeCompany/SmsPanelV2.Laravel ``resources/lang/fa.php``), so
  ``max_batch = max_p2p = 100``.
- ``GET send/{messageId}``: ``data = {messageId, mobile, messageText, sendDateTime,
  lineNumber, cost, deliveryState, deliveryDateTime}``, ``deliveryState`` null until known
  (.NET ``Models/Results/MessageReportResult.cs``). One id per call, no multi-id lookup,
  so ``statuses`` asks once per reference. Delivery codes (Laravel ``fa.php``):
  1 reached the phone, 2 did not reach the phone, 3 processing at the operator,
  4 did not reach the operator, 5 reached the operator, 6 error, 7 blacklist. Any other
  value (darinehgroup/sms-ir-sdk-go lists 8, "unknown") is read as still on its way.
- ``GET credit``: ``data`` is a decimal (.NET ``SmsIrResult<decimal>``). Its unit is the
  panel's *credit*, the same unit as ``cost`` in a send answer (1.0 for a one-part message)
  and ``returnedCreditCount`` when a schedule is cancelled: a count of SMS credits, not
  money. No endpoint reports a price, so ``credit()`` converts with ``rials_per_credit``
  (see ``DEFAULT_RIALS_PER_CREDIT``: an estimate, not a documented figure).
- ``GET receive/latest?count=`` (max 100): unread inbound messages ``{receiveReturnId,
  messageText, number, mobile, receivedDateTime}``; each is returned once and then marked
  read (.NET ``Routes/ReceiveRoutes.cs``, ``Models/Results/ReceivedMessageResult.cs``).
- Status codes 0–113 from the Laravel SDK's ``fa.php``; 15, 16 and 114–124 from the REST
  page's table as reproduced in darinehgroup/sms-ir-sdk-go ``errors.go`` and
  fstarlike/smsir-agent-skill ``references/errors.md``: see ``STATUS_CODES`` below.

What the adapter cannot do:

- sms.ir takes no client-side id on bulk or likeToLike, so ``uses_local_id`` is False and
  ``find_sent`` learns nothing: a batch that ended ``unknown`` cannot be reconciled.
- One request carries one ``lineNumber``: a per-recipient batch must share one sender.
- A request-level refusal of numbers or texts (104, 115, 117) does not say which
  recipient it meant; only a batch of one can be answered per message.
- Times are Unix seconds in UTC; scheduled sending is not used.
"""

import math
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
    concerns_every_message,
    integer,
    national,
    rials,
    same_text,
)

# An estimate of what one sms.ir credit costs, in Rials (about 100 Toman per Persian SMS
# part). sms.ir sells credits at prices that depend on the amount bought; the API reports
# only the number of credits, so an owner who needs exact money figures overrides this.
DEFAULT_RIALS_PER_CREDIT = 1_000

# The panel's status codes: what they mean for Vafa, and the documentation's words.
STATUS_CODES: dict[int, tuple[ErrorCode, str]] = {
    0: (ErrorCode.PROVIDER_ERROR, "system problem, contact support"),
    10: (ErrorCode.BAD_KEY, "invalid API key"),
    11: (ErrorCode.BAD_KEY, "API key disabled"),
    12: (ErrorCode.BAD_KEY, "API key restricted to other IP addresses"),
    13: (ErrorCode.BAD_KEY, "user account inactive"),
    14: (ErrorCode.BAD_KEY, "user account suspended"),
    15: (ErrorCode.BAD_KEY, "plan must be upgraded to use the web service"),
    16: (ErrorCode.PROVIDER_ERROR, "invalid parameter value"),
    20: (ErrorCode.RATE_LIMITED, "too many requests"),
    101: (ErrorCode.BAD_SENDER, "invalid line number"),
    102: (ErrorCode.NO_CREDIT, "insufficient credit"),
    103: (ErrorCode.BAD_MESSAGE, "empty message text(s)"),
    104: (ErrorCode.INVALID_NUMBER, "invalid mobile number(s)"),
    105: (ErrorCode.PROVIDER_ERROR, "more than 100 mobiles"),
    106: (ErrorCode.PROVIDER_ERROR, "more than 100 texts"),
    107: (ErrorCode.PROVIDER_ERROR, "mobile list empty"),
    108: (ErrorCode.PROVIDER_ERROR, "text list empty"),
    109: (ErrorCode.PROVIDER_ERROR, "invalid send time"),
    110: (ErrorCode.PROVIDER_ERROR, "numbers of mobiles and texts differ"),
    111: (ErrorCode.PROVIDER_ERROR, "no message with this id"),
    112: (ErrorCode.PROVIDER_ERROR, "no record to delete"),
    113: (ErrorCode.PROVIDER_ERROR, "template not found"),
    114: (ErrorCode.PROVIDER_ERROR, "parameter value longer than 25 characters"),
    115: (ErrorCode.BLOCKED, "mobile number(s) in the system blacklist"),
    116: (ErrorCode.PROVIDER_ERROR, "parameter name empty"),
    117: (ErrorCode.BAD_MESSAGE, "text not approved"),
    118: (ErrorCode.PROVIDER_ERROR, "more messages than allowed"),
    119: (ErrorCode.PROVIDER_ERROR, "plan must be upgraded for custom templates"),
    123: (ErrorCode.BAD_SENDER, "sender line must be activated"),
    124: (ErrorCode.PROVIDER_ERROR, "only OTP templates may be sent"),
}

# deliveryState of GET send/{messageId} → Vafa's status, and the panel's words.
DELIVERY_STATES: dict[int, tuple[str, str]] = {
    1: ("delivered", "رسیده به گوشی"),
    2: ("undeliverable", "نرسیده به گوشی"),
    3: ("sent", "پردازش در مخابرات"),
    4: ("failed", "نرسیده به مخابرات"),
    5: ("sent", "رسیده به مخابرات"),
    6: ("failed", "خطا"),
    7: ("blacklisted", "لیست سیاه"),
}

INBOX_PAGE = 100  # documented maximum of receive/latest's count
INBOX_PAGES = 10  # a bound, so a misbehaving answer cannot keep us reading forever


class SmsirProvider(HttpProvider):
    """Sends through sms.ir's bulk and like-to-like endpoints; see the module docstring."""

    kind: ClassVar[str] = "smsir"
    max_batch: ClassVar[int] = 100
    max_p2p: ClassVar[int] = 100
    uses_local_id: ClassVar[bool] = False
    default_base_url: ClassVar[str] = "https://api.sms.ir/v1"
    api_path: ClassVar[str] = "/v1"  # the documented base path (base.HttpProvider)

    def __init__(
        self,
        settings: Settings,
        session: requests.Session | None = None,
        *,
        rials_per_credit: int = DEFAULT_RIALS_PER_CREDIT,
    ):
        super().__init__(settings, session)
        self.rials_per_credit = rials_per_credit

    # -- sending ---------------------------------------------------------------------------

    def send(self, batch: Sequence[Outgoing]) -> list[Accepted | Rejected]:
        """At most one request for the whole batch; answers per message, in batch order.

        A blank text is refused here (sms.ir would refuse the whole request with 103
        without saying which text), so such a batch may need no request at all.
        """
        blank = {m.local_id for m in batch if not m.body.strip()}
        to_send = [m for m in batch if m.local_id not in blank]
        answers: dict[int, Accepted | Rejected] = {
            local_id: Rejected(local_id, ErrorCode.BAD_MESSAGE, "empty text, not sent")
            for local_id in blank
        }
        if to_send:
            for answer in self._send(to_send):
                answers[answer.local_id] = answer
        return [answers[m.local_id] for m in batch]

    def _send(self, batch: Sequence[Outgoing]) -> list[Accepted | Rejected]:
        line = self._line_number(batch)
        mobiles = [national(m.mobile) for m in batch]
        bulk = same_text(batch)
        if bulk:
            path = "send/bulk"
            payload = {"lineNumber": line, "messageText": batch[0].body, "mobiles": mobiles}
        else:
            path = "send/likeToLike"
            payload = {
                "lineNumber": line,
                "messageTexts": [m.body for m in batch],
                "mobiles": mobiles,
            }
        response = self.request("POST", path, sending=True, json=payload, headers=self._headers())
        status, words, data = self._envelope(response, sending=True)
        if status != 1:
            whole = self._refused_whole(batch, status, words, bulk)
            if whole is not None:
                return whole
            raise self._refusal(status, words, response.status_code, sending=True)
        return self._answers(batch, data)

    def _line_number(self, batch: Sequence[Outgoing]) -> int:
        """The one ``lineNumber`` of the request: sms.ir documents it as a number."""
        senders = {m.sender or self.settings.sender for m in batch}
        if len(senders) != 1:
            # The dispatcher must group per-recipient batches by sender line.
            raise ValueError("sms.ir sends from one line per request; the batch mixes lines")
        sender = senders.pop().strip()
        if not sender.isdecimal():
            raise NotSent(ErrorCode.BAD_SENDER, "sms.ir line numbers are digits only")
        return int(sender)

    def _refused_whole(
        self, batch: Sequence[Outgoing], status: int, words: str, bulk: bool
    ) -> list[Accepted | Rejected] | None:
        """Per-message answers for a refusal that can only concern every message.

        Text refusals of a bulk request concern its one text, hence every recipient; a
        number refusal can be pinned on a recipient only when there is one.
        """
        code = STATUS_CODES.get(status, (None, ""))[0]
        if code is None or not concerns_every_message(code, batch, bulk):
            return None
        detail = self._detail(status, words)
        return [Rejected(m.local_id, code, detail) for m in batch]

    def _answers(self, batch: Sequence[Outgoing], data) -> list[Accepted | Rejected]:
        """Match ``messageIds`` to the batch by position, as the API documents them."""
        ids = data.get("messageIds") if isinstance(data, dict) else None
        if not isinstance(ids, list) or len(ids) != len(batch):
            count = len(ids) if isinstance(ids, list) else "no"
            raise MaybeSent(
                ErrorCode.PROVIDER_ERROR,
                f"sms.ir answered {count} message ids for {len(batch)} messages",
            )
        parsed = [_message_id(value) for value in ids]
        if any(value is _INVALID for value in parsed):
            raise MaybeSent(ErrorCode.PROVIDER_ERROR, "sms.ir answered unreadable message ids")
        answers: list[Accepted | Rejected] = []
        for message, message_id in zip(batch, parsed, strict=True):
            if message_id is None:
                answers.append(
                    Rejected(message.local_id, ErrorCode.INVALID_NUMBER, "sms.ir: no message id")
                )
            elif message_id == 0:
                answers.append(
                    Rejected(message.local_id, ErrorCode.BLOCKED, "sms.ir: message id 0")
                )
            else:
                answers.append(Accepted(message.local_id, str(message_id)))
        return answers

    # -- delivery, credit, inbox -----------------------------------------------------------

    def statuses(self, refs: Sequence[str]) -> list[StatusUpdate]:
        """One ``GET send/{messageId}`` per reference: the API has no multi-id report."""
        updates = []
        for ref in refs:
            if not ref.isdecimal():
                updates.append(StatusUpdate(ref, "sent", "not an sms.ir message id"))
                continue
            response = self.request("GET", f"send/{ref}", headers=self._headers())
            status, words, data = self._envelope(response, sending=False)
            if status == 111:
                updates.append(StatusUpdate(ref, "sent", self._detail(status, words)))
                continue
            if status != 1:
                raise self._refusal(status, words, response.status_code, sending=False)
            updates.append(_delivery(ref, data))
        return updates

    def credit(self) -> int:
        """Remaining credit in Rials: sms.ir's credit count times ``rials_per_credit``."""
        response = self.request("GET", "credit", headers=self._headers())
        status, words, data = self._envelope(response, sending=False)
        if status != 1:
            raise self._refusal(status, words, response.status_code, sending=False)
        return rials(data, "sms.ir credit", self.rials_per_credit)

    def find_sent(self, local_ids: Sequence[int]) -> list[Accepted]:
        """Nothing to learn: sms.ir never saw our ids."""
        return []

    def inbox(self) -> list[Inbound]:
        """Unread messages from ``receive/latest``, which hands each one out only once."""
        received: list[Inbound] = []
        for _ in range(INBOX_PAGES):
            response = self.request(
                "GET", "receive/latest", params={"count": INBOX_PAGE}, headers=self._headers()
            )
            status, words, data = self._envelope(response, sending=False)
            if status != 1:
                raise self._refusal(status, words, response.status_code, sending=False)
            if not isinstance(data, list):
                raise NotSent(ErrorCode.PROVIDER_ERROR, "sms.ir inbox is not a list")
            received += [
                _inbound(item) for item in data if isinstance(item, dict) and item.get("mobile")
            ]
            if len(data) < INBOX_PAGE:
                break
        return received

    # -- the envelope ----------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        # Per request, never on the session: a shared session must not carry our key.
        return {"X-API-KEY": self.settings.api_key, "Accept": "application/json"}

    def _envelope(self, response, *, sending: bool) -> tuple[int, str, object]:
        """``(status, message, data)`` of an answer; raises when there is no envelope.

        A 4xx is a refusal even without a readable body (the request was not processed);
        any other unreadable answer to a send may hide an accepted batch.
        """
        uncertain = MaybeSent if sending else NotSent
        refused = 400 <= response.status_code < 500
        body = self.body(response, sending=sending)
        status = body.get("status") if isinstance(body, dict) else None
        if not isinstance(status, int) or isinstance(status, bool):
            if refused:
                code = (
                    ErrorCode.BAD_KEY
                    if response.status_code in (401, 403)
                    else ErrorCode.PROVIDER_ERROR
                )
                raise NotSent(code, f"sms.ir HTTP {response.status_code}")
            raise uncertain(
                ErrorCode.PROVIDER_ERROR, f"sms.ir HTTP {response.status_code}: no status"
            )
        if status == 1 and refused:
            raise uncertain(
                ErrorCode.PROVIDER_ERROR, f"sms.ir HTTP {response.status_code} with status 1"
            )
        words = body.get("message")
        return status, words if isinstance(words, str) else "", body.get("data")

    def _refusal(
        self, status: int, words: str, http_status: int, *, sending: bool
    ) -> ProviderError:
        """The exception for a non-success status.

        Every documented code but 0 is a refusal: the request was not carried out. Code 0
        ("system problem") and undocumented codes in a 2xx answer to a send may hide an
        accepted batch.
        """
        detail = self._detail(status, words)
        known = STATUS_CODES.get(status)
        if known is not None and status != 0:
            return NotSent(known[0], detail)
        if 400 <= http_status < 500 or not sending:
            return NotSent(ErrorCode.PROVIDER_ERROR, detail)
        return MaybeSent(ErrorCode.PROVIDER_ERROR, detail)

    def _detail(self, status: int, words: str) -> str:
        """The provider's code and words for the log, with our key scrubbed just in case."""
        documented = STATUS_CODES.get(status, (None, "undocumented status"))[1]
        return self.scrub(f"sms.ir {status}: {words or documented}")


_INVALID = object()


def _message_id(value) -> int | None | object:
    """A ``messageIds`` element: an id, 0, null, or ``_INVALID`` for anything else."""
    if value is None:
        return None
    number = integer(value)
    return number if number is not None and number >= 0 else _INVALID


def _delivery(ref: str, data) -> StatusUpdate:
    state = data.get("deliveryState") if isinstance(data, dict) else None
    if state is None:
        return StatusUpdate(ref, "sent", "sms.ir: no delivery report yet")
    if not isinstance(state, int) or isinstance(state, bool):
        return StatusUpdate(ref, "sent", f"sms.ir deliveryState {state!r}: unreadable")
    status, words = DELIVERY_STATES.get(state, ("sent", "undocumented state"))
    return StatusUpdate(ref, status, f"sms.ir deliveryState {state}: {words}")


def _inbound(item: dict) -> Inbound:
    stamp = item.get("receivedDateTime")
    if isinstance(stamp, int | float) and math.isfinite(stamp):
        received_at = datetime.fromtimestamp(stamp, UTC)
    else:
        received_at = datetime.now(UTC)
    ref = item.get("receiveReturnId")
    return Inbound(
        mobile=canonical(item.get("mobile")),
        text=str(item.get("messageText") or ""),
        received_at=received_at,
        provider_ref="" if ref is None else str(ref),
    )
