"""Kavenegar (کاوه‌نگار) adapter, built from the provider's public REST documentation.

Wire format
-----------
Every call is ``POST {base}/{API-KEY}/{scope}/{method}.json`` with a form-urlencoded
body (the docs accept GET or POST; ``sms/sendarray`` is POST only, and the official
Python and PHP SDKs post everything). The API key is a path segment: there is no
header alternative, so the key is in every URL, which is why this module strips the
transport's exception chain (the requests error quotes the URL) before raising.

Every answer is the envelope ``{"return": {"status": int, "message": str}, "entries": …}``.
``return.status`` 200 means done; any other value is one of the documented error codes,
and the HTTP status of such an answer is that same code (403, 418, …) with the envelope
as its body (the official Go SDK reads the envelope of non-200 answers).

Endpoints and fields used
-------------------------
``sms/send.json`` (bulk: one text, many receptors)
    ``receptor`` comma-separated, at most 200 per call (return code 414 beyond that);
    ``message``; ``sender`` (omitted: the account's default line); ``localid``
    comma-separated, one per receptor: Kavenegar does not send a local id twice and
    answers with the earlier message instead, which makes a blind retry harmless.
``sms/sendarray.json`` (peer to peer: a text per receptor)
    ``receptor``, ``sender``, ``message`` and ``localmessageids`` as JSON arrays of equal
    length (419 otherwise), at most 200 per call. ``localmessageids`` is a JSON array like
    the other three, not a comma list as ``sms/send``'s ``localid``: kavenegar-python posts
    every list parameter as JSON (``_pars_params_to_json``: the server "expects the
    parameters in a JSON-like array format"), kavenegar-php ``SendArray`` json_encodes
    its local ids, and kavenegar-php pull request #19 reports that ``localmessageids``
    "must be array and its size must be equal to receptors" (419 otherwise).
    kavenegar-dotnet ``SendArray`` alone joins them with commas.
    Both answer ``entries``: one row per receptor with ``messageid``, ``receptor`` (echoed
    as sent), ``status``, ``statustext``, ``cost`` (Rials), …; rows are matched to our
    messages by the echoed receptor, never by position alone.
``sms/status.json``
    ``messageid`` comma-separated, at most 500 per call; the last 48 hours only. Rows:
    ``messageid``, ``status``, ``statustext``. ``statuses()`` chunks by 500.
``sms/statuslocalmessageid.json``
    ``localid`` comma-separated (500 per call, as for status); about 12 hours back.
    Rows: ``messageid``, ``localid``, ``status``, ``statustext``; status 100 = unknown id,
    which ``find_sent`` answers as ``Unseen`` (sending that local id again is harmless).
``sms/receive.json``
    ``linenumber`` (the owner's line, ``Settings.sender``), ``isread=0``: unread
    messages, at most 100 per call, which Kavenegar then marks read; repeated while a
    full page comes back. Rows: ``messageid``, ``message``, ``sender``, ``receptor``,
    ``date`` (Unix time).
``account/info.json``
    ``entries.remaincredit``: the remaining credit, documented in Rials, returned as is.

Receptors go out in the national form the docs use (``09121234567``).

Sources: https://kavenegar.com/rest.html (REST docs); the official SDKs
kavenegar/kavenegar-python ``kavenegar.py``, kavenegar/kavenegar-php
``src/KavenegarApi.php``, kavenegar/kavenegar-go ``client.go`` and
``enums/message/status/type.go``, kavenegar/kavenegar-dotnet
``Kavenegar/Models/Enums/MessageStatus.cs``; the doc's return-code table, limits, time
windows and units as transcribed in ErfanDavoodiNasr/kavenegar-java-sdk (``README.md``,
``support/KavenegarErrorCatalog.java``, ``model/AccountInfo.java``).

What this adapter cannot do
---------------------------
- Tell which receptor a request-level 411 (invalid receptor) or, in a peer-to-peer
  batch, a 413/420/422 (text refused) was about: a one-message batch gets a ``Rejected``;
  a larger one raises ``NotSent`` and only a smaller batch can isolate the culprit.
- Learn anything about a message id older than the status window: Kavenegar answers 100
  ("unknown id") and the message is reported ``expired``.
- Read its documented 501 ("test account: only the owner's number"), which arrives with
  HTTP 501: the shared transport treats every 5xx of a send as ``MaybeSent``.
- Recover inbound messages whose ``sms/receive`` answer was lost: Kavenegar marked them
  read when it answered.
"""

from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

import orjson

from app.sending.providers.base import (
    FORM_CONTENT_TYPE,
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
    Unseen,
    canonical,
    chunks,
    concerns_every_message,
    form_body,
    integer,
    national,
    rials,
    same_text,
)

OK = 200
STATUS_IDS_PER_CALL = 500  # return code 414: "status: 500 records per call"
INBOX_PAGE = 100  # sms/receive answers at most 100 unread messages per call
INBOX_MAX_PAGES = 50  # a bound, so a provider that never empties its page cannot loop us

# Request-level return codes: the request was refused as a whole, so nothing was sent.
# Account problems map to the codes that pause a campaign; the rest are retried later.
REFUSALS = {
    400: ErrorCode.PROVIDER_ERROR,  # parameters incomplete
    401: ErrorCode.BAD_KEY,  # account disabled
    402: ErrorCode.PROVIDER_ERROR,  # operation failed
    403: ErrorCode.BAD_KEY,  # API key not valid
    404: ErrorCode.PROVIDER_ERROR,  # unknown method
    405: ErrorCode.PROVIDER_ERROR,  # wrong GET/POST
    406: ErrorCode.PROVIDER_ERROR,  # mandatory parameters empty
    407: ErrorCode.BAD_KEY,  # no access to this data (server IP not allowed)
    409: ErrorCode.BUSY,  # server cannot answer, try later
    412: ErrorCode.BAD_SENDER,  # sender line not valid
    414: ErrorCode.PROVIDER_ERROR,  # more than 200 (send) / 500 (status) records
    415: ErrorCode.PROVIDER_ERROR,  # start index beyond the count (postal-code sends)
    416: ErrorCode.BAD_KEY,  # calling IP does not match the account's settings
    417: ErrorCode.PROVIDER_ERROR,  # send date wrong or in the past
    418: ErrorCode.NO_CREDIT,  # credit not enough
    419: ErrorCode.PROVIDER_ERROR,  # sendarray arrays of different lengths
    424: ErrorCode.PROVIDER_ERROR,  # verify template not found
    426: ErrorCode.BAD_KEY,  # method needs the advanced service: an account upgrade
    427: ErrorCode.BAD_SENDER,  # this line needs an access level
    428: ErrorCode.PROVIDER_ERROR,  # verify by call impossible
    429: ErrorCode.RATE_LIMITED,  # IP restricted (HTTP 429 is caught by the transport)
    431: ErrorCode.PROVIDER_ERROR,  # verify token malformed
    432: ErrorCode.PROVIDER_ERROR,  # verify token missing from template
    451: ErrorCode.RATE_LIMITED,  # too many calls in a period: IP restricted
    501: ErrorCode.BAD_KEY,  # test account: only the owner's number (see module docs)
    604: ErrorCode.PROVIDER_ERROR,  # too many numbers
    607: ErrorCode.PROVIDER_ERROR,  # tag name wrong
}
# Request-level codes about the text; in a bulk call every message shares that text.
TEXT_REFUSALS = {
    413: ErrorCode.BAD_MESSAGE,  # message empty or too long
    420: ErrorCode.BAD_MESSAGE,  # links in the text are restricted for this account
    422: ErrorCode.BAD_MESSAGE,  # characters that cannot be processed
}
INVALID_RECEPTOR = 411

# Message statuses a send answer can carry that say the provider did not take the
# message: both are documented as "cost returned to the account".
REFUNDED_ON_SEND = {
    13: ErrorCode.PROVIDER_ERROR,  # cancelled or failed before sending
    14: ErrorCode.BLOCKED,  # the number refuses advertising SMS
}

# Delivery codes of sms/status (and statuslocalmessageid) in Vafa's words.
DELIVERY = {
    1: "sent",  # queued at Kavenegar
    2: "sent",  # scheduled
    4: "sent",  # sent to the operator
    5: "sent",  # sent to the operator
    6: "failed",  # failed at the sender line: will not arrive
    10: "delivered",
    11: "undeliverable",  # handset off or out of reach
    13: "failed",  # cancelled or failed, cost refunded
    14: "blacklisted",  # the number refuses advertising SMS, cost refunded
    100: "expired",  # unknown id: not ours, or older than the 48-hour status window
}
UNKNOWN_ID = 100


class KavenegarProvider(HttpProvider):
    """Kavenegar's REST API: bulk through sms/send, per-person texts through sms/sendarray.

    Both endpoints take 200 receptors per call (the documented limit behind code 414),
    and both carry Vafa's message id as Kavenegar's local id, so an ``unknown`` message
    can be looked up (``find_sent``) and a repeated send is not delivered twice.
    """

    kind: ClassVar[str] = "kavenegar"
    max_batch: ClassVar[int] = 200
    max_p2p: ClassVar[int] = 200
    uses_local_id: ClassVar[bool] = True
    max_lookup: ClassVar[int] = STATUS_IDS_PER_CALL
    local_ids_kept: ClassVar[timedelta] = timedelta(hours=12)
    default_base_url: ClassVar[str] = "https://api.kavenegar.com/v1"
    api_path: ClassVar[str] = "/v1"  # the documented base path (base.HttpProvider)

    def send(self, batch: Sequence[Outgoing]) -> list[Accepted | Rejected]:
        """One request: sms/send when the batch shares text and sender, else sms/sendarray."""
        if not batch:
            return []
        bulk = same_text(batch)
        if bulk:
            path, form = "sms/send.json", self._bulk_form(batch)
        else:
            path, form = "sms/sendarray.json", self._array_form(batch)
        body = self._call(path, form, sending=True)
        status, words = _return_of(body, sending=True)
        if status != OK:
            return _refused(status, words, batch, bulk)
        return _match(batch, body.get("entries"))

    def statuses(self, refs: Sequence[str]) -> list[StatusUpdate]:
        """Delivery codes for message ids, 500 ids per call (the documented limit)."""
        updates = []
        for chunk in chunks([str(ref) for ref in refs], STATUS_IDS_PER_CALL):
            for entry in self._entries("sms/status.json", {"messageid": ",".join(chunk)}):
                code = integer(entry.get("status"))
                updates.append(
                    StatusUpdate(
                        str(entry.get("messageid", "")),
                        DELIVERY.get(code, "sent"),  # an undocumented code: not final yet
                        _words(code, entry.get("statustext")),
                    )
                )
        return updates

    def credit(self) -> int:
        """``remaincredit`` of account/info; the docs give it in Rials, so no conversion."""
        body = self._call("account/info.json", {})
        status, words = _return_of(body, sending=False)
        if status != OK:
            raise NotSent(REFUSALS.get(status, ErrorCode.PROVIDER_ERROR), _words(status, words))
        entries = body.get("entries")
        remaining = entries.get("remaincredit") if isinstance(entries, dict) else None
        return rials(remaining, "account/info remaincredit")

    def find_sent(self, local_ids: Sequence[int]) -> list[Accepted | Unseen]:
        """Look local ids up in sms/statuslocalmessageid, 500 per call.

        Status 100 ("unknown id") answers ``Unseen``: Kavenegar does not send a local id
        twice, so sending it again is harmless even if it was taken after all. It keeps
        local ids for about 12 hours (``local_ids_kept``); the caller knows which ids
        are older than that, when 100 no longer proves anything.
        """
        wanted = {int(local_id) for local_id in local_ids}
        answers: dict[int, Accepted | Unseen] = {}
        for chunk in chunks([str(local_id) for local_id in sorted(wanted)], STATUS_IDS_PER_CALL):
            path = "sms/statuslocalmessageid.json"
            for entry in self._entries(path, {"localid": ",".join(chunk)}):
                local_id = integer(entry.get("localid"))
                if local_id not in wanted:
                    continue
                code = integer(entry.get("status"))
                ref = integer(entry.get("messageid"))
                if code == UNKNOWN_ID:
                    answers[local_id] = Unseen(local_id)
                elif code is not None and ref is not None and ref > 0:
                    answers[local_id] = Accepted(local_id, str(ref))
        return [answers[local_id] for local_id in sorted(answers)]

    def inbox(self) -> list[Inbound]:
        """Unread messages on the owner's line (``Settings.sender``), which Kavenegar then
        marks read; without a configured line there is nothing to ask for."""
        line = self.settings.sender.strip()
        if not line:
            return []
        received = []
        for _ in range(INBOX_MAX_PAGES):
            page = self._entries("sms/receive.json", {"linenumber": line, "isread": 0})
            for entry in page:
                stamp = integer(entry.get("date"))
                received.append(
                    Inbound(
                        mobile=canonical(entry.get("sender")),
                        text=str(entry.get("message", "")),
                        received_at=datetime.fromtimestamp(stamp or 0, tz=UTC),
                        provider_ref=str(entry.get("messageid", "")),
                    )
                )
            if len(page) < INBOX_PAGE:
                break
        return received

    def _bulk_form(self, batch: Sequence[Outgoing]) -> dict[str, str]:
        form = {
            "receptor": ",".join(national(message.mobile) for message in batch),
            "message": batch[0].body,
            "localid": ",".join(str(message.local_id) for message in batch),
        }
        sender = batch[0].sender or self.settings.sender
        if sender:  # no sender: Kavenegar uses the account's default line
            form["sender"] = sender
        return form

    def _array_form(self, batch: Sequence[Outgoing]) -> dict[str, str]:
        senders = [message.sender or self.settings.sender for message in batch]
        if not all(senders):
            # sendarray has no default line: every row names its sender.
            raise NotSent(ErrorCode.BAD_SENDER, "sendarray needs a sender line for each message")
        return {
            "receptor": _json([national(message.mobile) for message in batch]),
            "sender": _json(senders),
            "message": _json([message.body for message in batch]),
            "localmessageids": _json([message.local_id for message in batch]),
        }

    def _entries(self, path: str, form: dict[str, Any]) -> list[dict]:
        """The rows of a read-only call; an error answer raises NotSent."""
        body = self._call(path, form)
        status, words = _return_of(body, sending=False)
        if status != OK:
            raise NotSent(REFUSALS.get(status, ErrorCode.PROVIDER_ERROR), _words(status, words))
        entries = body.get("entries")
        if entries is None:  # an empty inbox answers null
            return []
        if isinstance(entries, dict):
            entries = [entries]
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise NotSent(ErrorCode.PROVIDER_ERROR, f"{path}: entries of an unknown shape")
        return entries

    def _call(self, path: str, form: dict[str, Any], *, sending: bool = False) -> Any:
        """POST one method and return its JSON, with failures carrying no trace of the key.

        The key is part of every URL, and the transport's exceptions (chained by
        ``HttpProvider``) quote the URL; the chain is cut so no log or report shows it.
        """
        key = self.settings.api_key.strip()
        if not key:
            raise NotSent(ErrorCode.BAD_KEY, "no API key is configured")
        try:
            response = self.request(
                "POST",
                f"{quote(key, safe='')}/{path}",
                sending=sending,
                data=form_body(form),
                headers={"Accept": "application/json", "Content-Type": FORM_CONTENT_TYPE},
            )
            return self.json(response, sending=sending)
        except ProviderError as error:
            failure = error
        failure.__cause__ = failure.__context__ = None
        failure.__suppress_context__ = True
        raise failure


def _refused(status: int, words: str, batch: Sequence[Outgoing], bulk: bool) -> list[Rejected]:
    """Turn a request-level error code of a send into per-message answers or an exception."""
    detail = _words(status, words)
    code = ErrorCode.INVALID_NUMBER if status == INVALID_RECEPTOR else TEXT_REFUSALS.get(status)
    if code is not None:
        if concerns_every_message(code, batch, bulk):
            return [Rejected(m.local_id, code, detail) for m in batch]
        raise NotSent(code, detail)  # which receptor or text is not said
    if status in REFUSALS:
        raise NotSent(REFUSALS[status], detail)
    # An undocumented code: we cannot say what became of the batch.
    raise MaybeSent(ErrorCode.PROVIDER_ERROR, detail)


def _match(batch: Sequence[Outgoing], entries: Any) -> list[Accepted | Rejected]:
    """Pair each answer row with its message by the echoed receptor.

    A row for every message is required: with rows missing, or rows we cannot place,
    nobody can say which messages were taken, so the whole batch is ``MaybeSent``.
    """
    if not isinstance(entries, list) or len(entries) != len(batch):
        count = len(entries) if isinstance(entries, list) else "no"
        raise MaybeSent(ErrorCode.PROVIDER_ERROR, f"{count} entries for {len(batch)} messages")
    # The usual answer echoes each receptor as sent, in the order sent: no number to read.
    if all(
        isinstance(entry, dict) and entry.get("receptor") == national(message.mobile)
        for message, entry in zip(batch, entries, strict=True)
    ):
        return [_answer(message, entry) for message, entry in zip(batch, entries, strict=True)]
    waiting: dict[str, deque[Outgoing]] = {}
    for message in batch:  # each receptor as sent; the same number twice in the order sent
        waiting.setdefault(canonical(national(message.mobile)), deque()).append(message)
    answers: dict[int, Accepted | Rejected] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            raise MaybeSent(ErrorCode.PROVIDER_ERROR, "an entry that is not an object")
        queue = waiting.get(canonical(entry.get("receptor")))
        if not queue:
            raise MaybeSent(ErrorCode.PROVIDER_ERROR, "an entry for a receptor not in the batch")
        message = queue.popleft()
        answers[message.local_id] = _answer(message, entry)
    return [answers[message.local_id] for message in batch]


def _answer(message: Outgoing, entry: dict) -> Accepted | Rejected:
    code = integer(entry.get("status"))
    if code in REFUNDED_ON_SEND:
        detail = _words(code, entry.get("statustext"))
        return Rejected(message.local_id, REFUNDED_ON_SEND[code], detail)
    ref = integer(entry.get("messageid"))
    if ref is None or ref <= 0:
        raise MaybeSent(ErrorCode.PROVIDER_ERROR, f"an entry without a message id (status {code})")
    # Any other status (queued, at the operator, even failed later) means Kavenegar took
    # and charged it; statuses() reports what became of it.
    return Accepted(message.local_id, str(ref))


def _return_of(body: Any, *, sending: bool) -> tuple[int, str]:
    """``return.status`` and ``return.message``; an answer without them is garbled."""
    ret = body.get("return") if isinstance(body, dict) else None
    status = integer(ret.get("status")) if isinstance(ret, dict) else None
    if status is None:
        uncertain = MaybeSent if sending else NotSent
        raise uncertain(ErrorCode.PROVIDER_ERROR, "an answer without return.status")
    return status, str(ret.get("message") or "")


def _words(code: int | None, text: Any) -> str:
    """The provider's code and words, for the log."""
    return f"{code}: {text}" if text else str(code)


def _json(values: list) -> str:
    # Persian text stays readable on the wire (and shorter than \u escapes).
    return orjson.dumps(values).decode()
