"""Ghasedak (قاصدک) adapter, for the gateway REST API ("WebService", v1).

Sources read: the REST documentation at https://ghasedak.me/docs (the panel's "راهنمای وب
سرویس REST" pages; their OpenAPI sources are mirrored in negar8223/ghasedak-doc
``src/data/*ApiSpec.ts``) and Ghasedak's official SDKs on GitHub: ghasedakapi/GhasedakSms.Core
(``Ghasedak.cs``, ``Dto/*.cs``, ``Enum/MessageIdType.cs``), ghasedakapi/ghasedak_sms_python
(``ghasedak_sms/ghasedak.py``, ``dto.py``) and ghasedakapi/ghasedaksms-php
(``src/GhasedaksmsApi.php``, ``src/Constants.php``).

- Base URL ``https://gateway.ghasedak.me/rest/api/v1/WebService`` (the docs; the SDKs use
  the alias ``gw.ghasedak.me/Rest/api/v1/WebService``). The key goes in the ``ApiKey``
  header. Bodies are JSON.
- Every answer is the envelope ``{isSuccess, statusCode, message, data}``; ``statusCode``
  200 is success. The documentation's samples spell the keys in camelCase on some pages
  and PascalCase on others (GetAccountInformation, CheckSmsStatus), so keys are read
  without regard to case.
- ``POST SendBulkSMS`` ``{lineNumber, receptors[], message, clientReferenceId}`` (one text,
  many receptors, one optional ``clientReferenceId`` for the whole request) →
  ``data = {cost, lineNumber, clientReferenceId, receptors: [{receptor, messageId}],
  message, sendDate}``. ``lineNumber`` may be left out: the account's highest-priority line is used.
- ``POST SendPairToPairSMS`` ``{items: [{lineNumber, receptor, message,
  clientReferenceId}]}`` (a text per receptor) → ``data = {items: [{lineNumber, receptor,
  messageId, cost, clientReferenceId, sendDate, message, statusDescription}]}``.
- Receptors are sent as the docs show them, ``09121234567`` (``base.national``). Results
  are matched to messages by the echoed ``clientReferenceId``, else by the echoed receptor
  (and text): the docs promise no order.
- ``GET CheckSmsStatus?Ids=1,2&Type=1`` (``Type`` 1: ``messageId``, 2:
  ``clientReferenceId``), "the status of 100 messages per call" →
  ``data = [{messageId, clientReferenceId, message, lineNumber, receptor, status, price,
  sendDate}]``. ``status``: 0 no status yet, 1 cancelled, 2 blacklist, 3 handed to the
  operator, 4 did not reach the phone, 5 reached the phone, 6 sending failed, 7 debug
  mode, 8 unknown (see ``DELIVERY``).
- ``GET GetAccountInformation`` → ``data = {credit, expireDate, plan}``; the docs call
  ``credit`` "the remaining credit in Rials" (مقدار ریالی اعتبار باقیمانده), so ``credit()``
  returns it unchanged.
- ``GET GetReceivedSmses?lineNumber=&isRead=false`` → the latest 100 received messages,
  ``data = {items: [{id, message, sender, lineNumber, receiveDate}]}``.

Limits: the documentation gives no maximum number of receptors for SendBulkSMS or items
for SendPairToPairSMS. ``max_batch = max_p2p = 100`` is our conservative choice: it is
CheckSmsStatus's documented 100 ids per call (so one status call covers a batch) and the
100-number array limit of Ghasedak's older SOAP service.

Errors: the docs' error table (جدول خطاها) is loaded at run time from the panel and is not in
the published pages or SDKs. The codes the gateway is documented or seen to use are HTTP
codes (200; 400 "invalid input parameters"; 401; 500), so a refusal is read from
``statusCode`` where it says enough (401/403 key, 429 rate, 5xx server) and otherwise from
the Persian words of ``message`` (``REFUSAL_WORDS``), falling back to PROVIDER_ERROR. A
result entry without ``messageId`` but with ``statusDescription`` is a per-recipient
refusal, classified from its words the same way.

What the adapter cannot do:

- SendBulkSMS takes one ``clientReferenceId`` per request, not one per receptor: a bulk
  batch of several messages is sent without local ids and ``find_sent`` cannot reconcile
  it. Per-recipient batches and one-message batches carry the local id.
- No endpoint reports an expiry, so no status maps to "expired".
- The docs do not say whether reading received messages marks them read; ``inbox`` asks
  for unread ones and returns the provider's ``id`` as ``provider_ref`` for de-duplication.
- Scheduled sending (``sendDate``), ``udh`` and voice messages are not used.
"""

import re
from collections.abc import Sequence
from typing import ClassVar

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
    StatusUpdate,
    canonical,
    chunks,
    concerns_every_message,
    national,
    rials,
    same_text,
    tehran_time,
)

# CheckSmsStatus ``status`` → Vafa's status, and the documentation's words.
DELIVERY: dict[int, tuple[str, str]] = {
    0: ("sent", "بدون وضعیت"),  # no report yet
    1: ("failed", "لغو شده"),  # cancelled
    2: ("blacklisted", "بلک لیست"),
    3: ("sent", "تحویل به اپراتور"),  # at the operator
    4: ("undeliverable", "به گوشی نرسیده"),
    5: ("delivered", "رسیده به گوشی"),
    6: ("failed", "ارسال با خطا"),
    7: ("failed", "حالت خطایابی"),  # debug mode: never handed to an operator
    8: ("sent", "نامشخص"),  # unknown yet
}

# Words of a refusal (``message`` or ``statusDescription``) → Vafa's reason. Checked in
# order, the first match wins; words of our own choosing, since the table is not public.
REFUSAL_WORDS: tuple[tuple[ErrorCode, re.Pattern], ...] = (
    (
        ErrorCode.NO_CREDIT,
        re.compile(r"(اعتبار|موجودی|شارژ)[^.]*(کافی|ناکافی|کم)|insufficient|credit|balance", re.I),
    ),
    (ErrorCode.BAD_KEY, re.compile(r"api\s*key|کلید|احراز هویت|unauthori[sz]ed", re.I)),
    (
        ErrorCode.BAD_SENDER,
        re.compile(r"شماره خط|خط ارسال|خط اختصاصی|شماره فرستنده|line\s*number|sender", re.I),
    ),
    (ErrorCode.BLOCKED, re.compile(r"بلک ?لیست|لیست سیاه|black\s*list", re.I)),
    (ErrorCode.INVALID_NUMBER, re.compile(r"گیرنده|موبایل|receptor|mobile", re.I)),
    (ErrorCode.BAD_MESSAGE, re.compile(r"متن|پیام خالی|فیلتر|message text", re.I)),
)

STATUS_IDS_PER_CALL = 100  # CheckSmsStatus: "the status of 100 messages per call"
BY_MESSAGE_ID, BY_CLIENT_REFERENCE_ID = 1, 2  # CheckSmsStatus ``Type``


class GhasedakProvider(HttpProvider):
    """Sends through Ghasedak's SendBulkSMS and SendPairToPairSMS; see the module docstring."""

    kind: ClassVar[str] = "ghasedak"
    max_batch: ClassVar[int] = 100  # no documented limit: our conservative choice
    max_p2p: ClassVar[int] = 100  # no documented limit: our conservative choice
    uses_local_id: ClassVar[bool] = True  # clientReferenceId, except in multi-message bulk
    # CheckSmsStatus by clientReferenceId finds what Ghasedak took; the docs do not say a
    # repeated clientReferenceId is refused, so an id it does not find stays the owner's.
    max_lookup: ClassVar[int] = STATUS_IDS_PER_CALL
    default_base_url: ClassVar[str] = "https://gateway.ghasedak.me/rest/api/v1/WebService"
    api_path: ClassVar[str] = (
        "/rest/api/v1/WebService"  # the documented base path (base.HttpProvider)
    )

    # -- sending ---------------------------------------------------------------------------

    def send(self, batch: Sequence[Outgoing]) -> list[Accepted | Rejected]:
        """One request for the whole batch; answers per message, in the batch's order."""
        if not batch:
            return []
        bulk = same_text(batch)
        if bulk:
            path, payload = "SendBulkSMS", self._bulk_payload(batch)
        else:
            path, payload = "SendPairToPairSMS", self._pair_payload(batch)
        response = self.request("POST", path, sending=True, json=payload, headers=self._headers())
        try:
            data = self._data(response, sending=True)
        except NotSent as refusal:
            if concerns_every_message(refusal.code, batch, bulk):
                return [Rejected(m.local_id, refusal.code, refusal.detail) for m in batch]
            raise
        entries = _lower(data).get("receptors" if path == "SendBulkSMS" else "items")
        if not isinstance(entries, list):
            raise MaybeSent(ErrorCode.PROVIDER_ERROR, f"ghasedak {path}: no result list")
        return self._answers(batch, entries, path)

    def _bulk_payload(self, batch: Sequence[Outgoing]) -> dict:
        payload: dict = {
            "receptors": [national(m.mobile) for m in batch],
            "message": batch[0].body,
        }
        line = self._line(batch[0])
        if line:  # optional: Ghasedak picks the highest-priority line
            payload["lineNumber"] = line
        if len(batch) == 1:  # one clientReferenceId per request: only then is it ours
            payload["clientReferenceId"] = str(batch[0].local_id)
        return payload

    def _pair_payload(self, batch: Sequence[Outgoing]) -> dict:
        items = []
        for m in batch:
            line = self._line(m)
            if not line:  # required per item in SendPairToPairSMS
                raise NotSent(ErrorCode.BAD_SENDER, "ghasedak: no sender line for this message")
            items.append(
                {
                    "lineNumber": line,
                    "receptor": national(m.mobile),
                    "message": m.body,
                    "clientReferenceId": str(m.local_id),
                }
            )
        return {"items": items}

    def _line(self, message: Outgoing) -> str:
        return (message.sender or self.settings.sender).strip()

    def _answers(
        self, batch: Sequence[Outgoing], entries: list, path: str
    ) -> list[Accepted | Rejected]:
        """Match result entries to messages by echoed local id, else receptor and text.

        Several messages with the same receptor and text are interchangeable, so which
        entry goes to which does not matter. Anything that leaves a message without an
        entry, or an entry without a message, leaves the batch's fate unknown.
        """
        by_local_id = {str(m.local_id): m for m in batch}
        unmatched = list(batch)
        answers: dict[int, Accepted | Rejected] = {}
        for raw in entries:
            entry = _lower(raw)
            if not entry:
                raise MaybeSent(ErrorCode.PROVIDER_ERROR, f"ghasedak {path}: unreadable entry")
            message = self._match(entry, by_local_id, unmatched, path)
            unmatched.remove(message)
            answers[message.local_id] = self._answer(message, entry, path)
        if unmatched:
            raise MaybeSent(
                ErrorCode.PROVIDER_ERROR,
                f"ghasedak {path}: {len(entries)} results for {len(batch)} messages",
            )
        return [answers[m.local_id] for m in batch]

    def _match(
        self, entry: dict, by_local_id: dict[str, Outgoing], unmatched: list, path: str
    ) -> Outgoing:
        echoed = _text(entry.get("clientreferenceid"))
        if echoed in by_local_id and by_local_id[echoed] in unmatched:
            return by_local_id[echoed]
        receptor = canonical(entry.get("receptor"))
        text = entry.get("message")
        candidates = [  # each receptor as sent, so that even a non-mobile meets its echo
            m
            for m in unmatched
            if canonical(national(m.mobile)) == receptor
            and (not isinstance(text, str) or text == m.body)
        ]
        if not candidates or len({m.body for m in candidates}) > 1:
            raise MaybeSent(
                ErrorCode.PROVIDER_ERROR, f"ghasedak {path}: a result matches no one message"
            )
        return candidates[0]

    def _answer(self, message: Outgoing, entry: dict, path: str) -> Accepted | Rejected:
        message_id = _text(entry.get("messageid"))
        if message_id and message_id != "0":
            return Accepted(message.local_id, message_id)
        reason = _text(entry.get("statusdescription"))
        if not reason:  # no id and no reason: accepted or not, we cannot tell
            raise MaybeSent(ErrorCode.PROVIDER_ERROR, f"ghasedak {path}: result without id")
        code = _classify(reason) or ErrorCode.PROVIDER_ERROR
        return Rejected(message.local_id, code, self._detail(None, reason))

    # -- delivery, credit, reconciliation, inbox -------------------------------------------

    def statuses(self, refs: Sequence[str]) -> list[StatusUpdate]:
        """Delivery reports by Ghasedak ``messageId``, 100 ids per call as documented."""
        wanted = set(refs)
        updates = []
        for rows in self._check(list(dict.fromkeys(refs)), BY_MESSAGE_ID):
            for row in rows:
                ref = _text(row.get("messageid"))
                if ref in wanted:
                    updates.append(_delivery(ref, row.get("status")))
        return updates

    def credit(self) -> int:
        """Remaining credit: GetAccountInformation's ``credit``, documented in Rials."""
        response = self.request("GET", "GetAccountInformation", headers=self._headers())
        return rials(_lower(self._data(response, sending=False)).get("credit"), "ghasedak credit")

    def find_sent(self, local_ids: Sequence[int]) -> list[Accepted]:
        """Which local ids Ghasedak holds, looked up as ``clientReferenceId`` (Type 2)."""
        wanted = {str(local_id) for local_id in local_ids}
        found: dict[str, Accepted] = {}
        for rows in self._check(sorted(wanted), BY_CLIENT_REFERENCE_ID):
            for row in rows:
                local_id = _text(row.get("clientreferenceid"))
                message_id = _text(row.get("messageid"))
                if local_id in wanted and message_id and message_id != "0":
                    found[local_id] = Accepted(int(local_id), message_id)
        return [found[key] for key in sorted(found, key=int)]

    def inbox(self) -> list[Inbound]:
        """Unread messages on the owner's line (the latest 100 Ghasedak keeps)."""
        line = self.settings.sender.strip()
        if not line:  # the endpoint needs a line number
            return []
        response = self.request(
            "GET",
            "GetReceivedSmses",
            params={"lineNumber": line, "isRead": "false"},
            headers=self._headers(),
        )
        items = _lower(self._data(response, sending=False)).get("items")
        if not isinstance(items, list):
            raise NotSent(ErrorCode.PROVIDER_ERROR, "ghasedak: received messages not a list")
        return [_inbound(_lower(item)) for item in items if isinstance(item, dict)]

    def _check(self, ids: list[str], id_type: int):
        """CheckSmsStatus rows (keys lower-cased), one call per 100 ids."""
        for chunk in chunks(ids, STATUS_IDS_PER_CALL):
            response = self.request(
                "GET",
                "CheckSmsStatus",
                params={"Ids": ",".join(chunk), "Type": id_type},
                headers=self._headers(),
            )
            data = self._data(response, sending=False)
            if data is None:
                data = []
            if not isinstance(data, list):
                raise NotSent(ErrorCode.PROVIDER_ERROR, "ghasedak: status answer not a list")
            yield [_lower(row) for row in data if isinstance(row, dict)]

    # -- the envelope ----------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        # Per request, never on the session: a shared session must not carry our key.
        return {"ApiKey": self.settings.api_key, "Accept": "application/json"}

    def _data(self, response, *, sending: bool):
        """The envelope's ``data`` on success; otherwise raises what the answer means.

        A 4xx is a refusal even without a readable body (the request was not carried
        out); any other unreadable answer to a send may hide an accepted batch.
        """
        uncertain = MaybeSent if sending else NotSent
        refused = 400 <= response.status_code < 500
        envelope = _lower(self.body(response, sending=sending))
        success = envelope.get("issuccess")
        if not isinstance(success, bool):
            if refused:
                raise self._refusal(response.status_code, "", sending=sending)
            raise uncertain(
                ErrorCode.PROVIDER_ERROR, f"ghasedak HTTP {response.status_code}: no isSuccess"
            )
        if success and not refused:
            return envelope.get("data")
        status = envelope.get("statuscode")
        if not isinstance(status, int) or isinstance(status, bool) or status == 200:
            status = response.status_code if refused else None
        words = _text(envelope.get("message"))
        raise self._refusal(status, words, sending=sending)

    def _refusal(self, status: int | None, words: str, *, sending: bool) -> ProviderError:
        """The exception for an answer with ``isSuccess`` false.

        Ghasedak's own code says enough for keys, rate limits and server trouble; for
        the rest its words decide. A server error may have sent part of a batch.
        """
        detail = self._detail(status, words)
        if status in (401, 403):
            return NotSent(ErrorCode.BAD_KEY, detail)
        if status == 429:
            return NotSent(ErrorCode.RATE_LIMITED, detail)
        if status == 503:
            return NotSent(ErrorCode.BUSY, detail)
        if status is not None and status >= 500:
            return (MaybeSent if sending else NotSent)(ErrorCode.PROVIDER_ERROR, detail)
        return NotSent(_classify(words) or ErrorCode.PROVIDER_ERROR, detail)

    def _detail(self, status: int | None, words: str) -> str:
        """The provider's code and words for the log, with our key scrubbed just in case."""
        return self.scrub(f"ghasedak {status}: {words}" if status else f"ghasedak: {words}")


def _classify(words: str) -> ErrorCode | None:
    for code, pattern in REFUSAL_WORDS:
        if pattern.search(words):
            return code
    return None


def _lower(value) -> dict:
    """A JSON object with lower-cased keys (the docs mix camelCase and PascalCase)."""
    if not isinstance(value, dict):
        return {}
    return {str(key).lower(): item for key, item in value.items()}


def _text(value) -> str:
    """An id or a message as text: numbers and strings alike, anything else empty."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | str):
        return str(value).strip()
    return ""


def _delivery(ref: str, status) -> StatusUpdate:
    if isinstance(status, int) and not isinstance(status, bool) and status in DELIVERY:
        vafa, words = DELIVERY[status]
        return StatusUpdate(ref, vafa, f"ghasedak status {status}: {words}")
    return StatusUpdate(ref, "sent", f"ghasedak status {status!r}: undocumented")


def _inbound(item: dict) -> Inbound:
    message = item.get("message")
    return Inbound(
        mobile=canonical(item.get("sender")),
        text=message if isinstance(message, str) else "",
        received_at=tehran_time(item.get("receivedate")),
        provider_ref=_text(item.get("id")),
    )
