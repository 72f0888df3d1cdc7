"""IPPanel adapter (also sold as Faraz SMS / فراز اس‌ام‌اس and Mediana), for the Edge REST API.

IPPanel has had three HTTP APIs: ``rest.ippanel.com/v1`` (``Authorization: AccessKey``),
``api2.ippanel.com/api/v1`` (header ``apikey``, used by ippanel/python-rest-sdk 2.x) and
the current **Edge** API. Edge is the one the official SDKs of the ippanelcom organisation
target (ippanelcom/laravel-sdk ``src/IPPanel/Client.php``, ippanelcom/python-sdk,
ippanelcom/golang-sdk: default base ``https://edge.ippanel.com/v1/api``), and the only one
whose documentation covers everything Vafa needs: one text to many recipients, different
texts in one request, per-recipient delivery, credit and received messages. api2 has no
documented peer-to-peer send. So this adapter speaks Edge only.

Sources read: the official documentation, https://ippanelcom.github.io/Edge-Document/docs
(repository ippanelcom/Edge-Document: ``docs/**.md``, their Persian versions under
``i18n/fa/docusaurus-plugin-content-docs/current/``, and the one-page ``README.md``).

- Base URL ``https://edge.ippanel.com/v1`` (``docs/index.md``). Every call sends the API
  key as the bare value of ``Authorization`` (``docs/send/index.md``: "Authorization:
  توکن یا کلید دسترسی"; the Laravel SDK sets ``'Authorization' => $this->apiKey``). The
  overview page's ``Bearer`` prefix is for login tokens; a key goes bare.
- Every answer is ``{"data": ..., "meta": {"status", "message", "message_code",
  "errors"}}``. Success is HTTP 200 with ``message_code`` ``200-1``. The Persian send page
  says every successful request answers 200 and any other code means an error occurred and
  *nothing was sent* (fa ``send/index.md``, «ارسال انجام نشده است»): so every 4xx is NotSent.
- ``POST api/send`` ``{"sending_type": "webservice", "from_number", "message",
  "params": {"recipients": [...]}}`` (``docs/send/webservice.md``): one text, many
  recipients; answers ``data.message_outbox_ids`` with ONE id for the whole request.
- ``POST api/send`` ``{"sending_type": "peer_to_peer", "from_number", "params":
  [{"recipients": [...], "message"}, ...]}`` (``docs/send/peer-to-peer.md``): answers
  "one ID per message sent (regardless of how many recipients it had)", i.e. one id per
  ``params`` item, in their order. Vafa sends one recipient per item, so the i-th id is the
  i-th message's.
- Numbers, recipients and ``from_number`` alike, are E.164 (``+989120000000``,
  ``+983000505``): recipients are the canonical form Vafa stores, sent as is; a sender
  line is brought to E.164 from however the owner typed it.
- Texts: at most 1400 characters or 20 parts (fa ``send/webservice.md``,
  ``send/peer-to-peer.md``).
- ``GET api/report/recipients?bulk_id=&page=&per_page=`` (``docs/report/bulk-recipient.md``):
  ``data[] = {recipient, message, is_readable, msg_parts, message_status}``, paginated
  (``meta.current_page``, ``meta.last_page``). ``message_status``: 0 sent to the operator,
  1 operator received it, 2 delivered, 3 not delivered, 4 blacklisted number.
- ``GET api/report/by_bulk?messages_outbox_id=`` (``docs/report/outbox-report-id.md``; the
  older one-page README shows ``POST api/report/by_bulk/{id}``: the published page wins):
  the request's ``state_id``; the outbox report (``docs/report/outbox-report.md``) lists
  0 being created, 1 in monitoring queue, 2 sending, 3 rejected by monitoring, 4 recipients
  invalid, 5 in send queue, 6 sent, 7 cancelled, 8 insufficient credit, 9 system error.
- ``GET api/payment/credit/mine`` (``docs/payment/my-credit.md``): ``data.credit``, a
  decimal. Its unit is not named on that page; the price endpoint of the same API says
  «قیمت‌ها برحسب ریال ارائه می‌شوند» (fa ``send/calculate-price.md``) and the reports' ``cost``
  fields are of the same magnitude, so credit is Rials already: ``credit()`` only drops the
  fraction of a Rial (rounds down). ``gift`` credit is not added.
- ``POST api/report/messages-inbox`` ``{page, per_page, filters: {from_id}}``
  (``docs/report/inbox-report.md``): ``data[] = {messages_inbox_id, from, number, message,
  type, time, seen}``, ``time`` in Unix seconds; ``from_id`` returns messages after it.

Limits. Webservice: «for webservice sends, more than 1000 recipients may make the send
fail; use a file send instead» (fa ``send/index.md``, fa ``send/webservice.md``), so
``max_batch = 1000``. Peer-to-peer: the docs give no number of items per request (only
10,000 rows for the *file* variant), so ``max_p2p`` takes the same 1000 recipients per
request of the same endpoint: an assumption, not a documented number (the dispatcher
must also keep a per-recipient batch to one sender line, see below). The docs also
say two identical requests (same sender, recipients and text) within 40 seconds answer 429.

Error answers, as documented and as mapped here:

=========================================  ================================================
HTTP 401, ``400-1`` (bad or expired key)    NotSent(BAD_KEY)
HTTP 403                                    NotSent(BAD_KEY): keys lack some permissions
HTTP 422, ``400-2``, ``errors.from_number`` NotSent(BAD_SENDER)
HTTP 422, ``errors`` about a recipient      NotSent(INVALID_NUMBER): nothing was sent
HTTP 422, ``errors`` about a message text   NotSent(BAD_MESSAGE)
HTTP 422, anything else (``400-31`` ...)    NotSent(PROVIDER_ERROR)
other 4xx, words about credit (اعتبار)      NotSent(NO_CREDIT)
other 4xx                                   NotSent(PROVIDER_ERROR)
429 / 503 / other 5xx                       NotSent(RATE_LIMITED) / NotSent(BUSY) /
                                            MaybeSent (``HttpProvider``)
200 with an unexpected shape or id count    MaybeSent
=========================================  ================================================

What the adapter cannot do, and the guesses it avoids:

- The docs document no answer for "not enough credit" at send time, only the request
  state 8 afterwards; a refusal is recognised by its words, and a request that reaches
  state 8 turns its messages ``failed`` in ``statuses``.
- Edge takes no client-side id, so ``uses_local_id`` is False and ``find_sent`` returns
  nothing: a batch that ended ``unknown`` cannot be reconciled.
- A validation error refuses the whole request, even when it names one recipient or one
  text, and the contract has no way to say "refused because of that one, retry the
  others". (The names of ``errors`` fields for array elements, such as
  ``params.recipients.2``, are Laravel's and not documented: the adapter reads them only
  to choose an error code, never to match an answer to a message.) So the adapter
  refuses locally, per message, what the docs say the provider would refuse (numbers
  not in E.164 form, empty texts, texts over 1400 characters or 20 parts) and sends
  the rest. A refusal it cannot foresee stays NotSent for the whole batch.
- One request has one ``from_number``: a batch must share one sender line.
- A provider reference is ``"<message_outbox_id>:<recipient>"``, because one outbox id
  covers every recipient of a webservice request. A same-text batch that names a number
  twice goes peer-to-peer, so that every reference stays unique.
- ``send_time`` (scheduling) is never used; Vafa schedules itself.
"""

import math
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import requests

from app.persian import ascii_digits
from app.sending.providers.base import (
    Accepted,
    ErrorCode,
    HttpProvider,
    Inbound,
    MaybeSent,
    NotSent,
    Outgoing,
    Rejected,
    Settings,
    StatusUpdate,
    canonical,
    integer,
    parse_json,
    rials,
    same_text,
)

MAX_RECIPIENTS = 1000  # per request of api/send (fa send/index.md)
MAX_CHARACTERS = 1400  # per text (fa send/webservice.md)
MAX_PARTS = 20  # per text (fa send/webservice.md)
REPORT_PAGE = 100  # recipients asked per report page; the server's own limit may be lower
REPORT_PAGES = 50  # a request has at most 1000 recipients: far more pages than needed
INBOX_PAGE = 100
INBOX_PAGES = 20  # received messages read per inbox() call: at most 2000

# message_status in api/report/recipients (docs/report/bulk-recipient.md).
DELIVERY: dict[int, tuple[str, str]] = {
    0: ("sent", "sent to the operator"),
    1: ("sent", "the operator received the message"),
    2: ("delivered", "delivered to the recipient"),
    3: ("failed", "not delivered to the recipient"),
    4: ("blacklisted", "blacklisted number"),
}

# state_id of a whole request (docs/report/outbox-report.md) that means its recipients
# will never get it. The other states (0-2, 5, 6) leave them at "sent".
FINAL_STATES: dict[int, tuple[str, str]] = {
    3: ("failed", "rejected by the monitoring system"),
    4: ("undeliverable", "recipients entered incorrectly or not valid"),
    7: ("failed", "sending cancelled"),
    8: ("failed", "insufficient credit for sending"),
    9: ("failed", "not sent due to a system error"),
}

_E164 = re.compile(r"\+[1-9]\d{6,14}")
_PUNCTUATION = re.compile(r"[\s\-()\u200c\u200e\u200f]")
_CREDIT_WORDS = ("اعتبار", "موجودی", "credit", "balance")
_RECIPIENT_FIELD = re.compile(r"(^|\.)recipients\.\d+$")
_MESSAGE_FIELD = re.compile(r"(^|\.)message$")


class IppanelProvider(HttpProvider):
    """IPPanel Edge: webservice for one text, peer_to_peer for per-recipient texts.

    ``inbox_from_id`` is the id of the last received message already returned; a caller
    that keeps it between processes can set it before calling ``inbox``.
    """

    kind: ClassVar[str] = "ippanel"
    max_batch: ClassVar[int] = MAX_RECIPIENTS
    max_p2p: ClassVar[int] = MAX_RECIPIENTS
    uses_local_id: ClassVar[bool] = False
    default_base_url: ClassVar[str] = "https://edge.ippanel.com/v1"
    api_path: ClassVar[str] = "/v1"  # the documented base path (base.HttpProvider)

    def __init__(self, settings: Settings, session: requests.Session | None = None):
        super().__init__(settings, session)
        self.inbox_from_id: int | None = None

    # --- sending -------------------------------------------------------------------

    def send(self, batch: Sequence[Outgoing]) -> list[Accepted | Rejected]:
        """Send the batch in exactly one request (none when every message is refused here).

        Messages the provider would refuse anyway are answered ``Rejected`` without being
        sent, because a refusal of one of them would refuse the whole request.
        """
        if not batch:
            return []
        if len(batch) > MAX_RECIPIENTS:
            raise NotSent(
                ErrorCode.PROVIDER_ERROR,
                f"{len(batch)} messages in one call; IPPanel takes {MAX_RECIPIENTS}",
            )
        from_number = self._from_number(batch)
        answers: dict[int, Accepted | Rejected] = {}
        ready: list[Outgoing] = []
        for message in batch:
            refusal = _refusal_here(message)
            if refusal:
                answers[message.local_id] = refusal
            else:
                ready.append(message)
        if ready:
            recipients = [message.mobile for message in ready]
            bulk = same_text(batch) and len(set(recipients)) == len(recipients)
            ids = self._post_send(from_number, ready, bulk)
            for index, message in enumerate(ready):
                outbox_id = ids[0] if bulk else ids[index]
                ref = f"{outbox_id}:{message.mobile}"
                answers[message.local_id] = Accepted(message.local_id, ref)
        return [answers[message.local_id] for message in batch]

    def _from_number(self, batch: Sequence[Outgoing]) -> str:
        senders = {(message.sender or self.settings.sender).strip() for message in batch}
        if len(senders) > 1:
            raise NotSent(
                ErrorCode.PROVIDER_ERROR,
                f"one IPPanel request has one sender line; this batch has {len(senders)}",
            )
        sender = senders.pop()
        if not sender:
            raise NotSent(ErrorCode.BAD_SENDER, "no sender line configured")
        return _e164_line(sender)

    def _post_send(self, from_number: str, ready: list[Outgoing], bulk: bool) -> list[str]:
        """POST api/send; the outbox ids, one for a webservice request or one per item."""
        if bulk:
            payload: dict[str, Any] = {
                "sending_type": "webservice",
                "from_number": from_number,
                "message": ready[0].body,
                "params": {"recipients": [message.mobile for message in ready]},
            }
        else:
            payload = {
                "sending_type": "peer_to_peer",
                "from_number": from_number,
                "params": [
                    {"recipients": [message.mobile], "message": message.body} for message in ready
                ],
            }
        response = self.request(
            "POST", "api/send", sending=True, json=payload, headers=self._headers()
        )
        if response.status_code != 200:
            if 200 < response.status_code < 300:
                raise MaybeSent(ErrorCode.PROVIDER_ERROR, f"HTTP {response.status_code}")
            raise self._refused(response)
        answer = self.json(response, sending=True)
        ids = _outbox_ids(answer)
        expected = 1 if bulk else len(ready)
        if ids is None or len(ids) != expected:
            found = "no message_outbox_ids" if ids is None else f"{len(ids)} outbox ids"
            raise MaybeSent(
                ErrorCode.PROVIDER_ERROR,
                self.scrub(f"HTTP 200 with {found} for {expected} expected: {_words(answer)}"),
            )
        return ids

    # --- reading -------------------------------------------------------------------

    def statuses(self, refs: Sequence[str]) -> list[StatusUpdate]:
        """Delivery of each reference, asking once per outbox id (page by page).

        A recipient the report does not list yet stays ``sent``, unless the whole request
        ended in a state that means it will never be delivered (no credit, cancelled...).
        References not of this adapter's ``"<outbox id>:<recipient>"`` form are skipped.
        """
        wanted: dict[str, dict[str, list[str]]] = {}
        for ref in refs:
            outbox_id, _, recipient = ref.partition(":")
            if outbox_id and recipient:
                wanted.setdefault(outbox_id, {}).setdefault(recipient, []).append(ref)
        updates: list[StatusUpdate] = []
        for outbox_id, by_recipient in wanted.items():
            found = self._recipient_statuses(outbox_id, set(by_recipient))
            missing = [recipient for recipient in by_recipient if recipient not in found]
            final = self._final_state(outbox_id) if missing else None
            for recipient, refs_of_recipient in by_recipient.items():
                if recipient in found:
                    status, detail = _delivery(found[recipient])
                elif final:
                    status, detail = final
                else:
                    status, detail = "sent", "not in the delivery report yet"
                updates += [StatusUpdate(ref, status, detail) for ref in refs_of_recipient]
        return updates

    def _recipient_statuses(self, outbox_id: str, wanted: set[str]) -> dict[str, Any]:
        """``message_status`` of the wanted recipients of one request, as far as listed."""
        found: dict[str, Any] = {}
        for rows in self._pages(
            "GET",
            "api/report/recipients",
            lambda page: {"params": {"bulk_id": outbox_id, "page": page, "per_page": REPORT_PAGE}},
            REPORT_PAGES,
        ):
            for row in rows:
                if isinstance(row, dict) and isinstance(row.get("recipient"), str):
                    recipient = canonical(row["recipient"])
                    if recipient in wanted:
                        found[recipient] = row.get("message_status")
            if wanted <= found.keys():
                break
        return found

    def _final_state(self, outbox_id: str) -> tuple[str, str] | None:
        answer = self._get_json(
            "GET", "api/report/by_bulk", params={"messages_outbox_id": outbox_id}
        )
        data = answer.get("data") if isinstance(answer, dict) else None
        state = integer(data.get("state_id")) if isinstance(data, dict) else None
        if state in FINAL_STATES:
            status, words = FINAL_STATES[state]
            return status, f"request state {state}: {words}"
        return None

    def credit(self) -> int:
        """The account's credit in Rials (Edge reports Rials; the fraction is dropped)."""
        answer = self._get_json("GET", "api/payment/credit/mine")
        data = answer.get("data") if isinstance(answer, dict) else None
        return rials(data.get("credit") if isinstance(data, dict) else None, "ippanel credit")

    def find_sent(self, local_ids: Sequence[int]) -> list[Accepted]:
        """Nothing can be learnt: Edge takes no client-side id."""
        return []

    def inbox(self) -> list[Inbound]:
        """Messages received after ``inbox_from_id``, oldest first.

        Without a ``from_id`` the report lists every message ever received, newest first,
        so the first call only reads its first page and starts counting from there.
        """
        since = self.inbox_from_id
        filters = {} if since is None else {"filters": {"from_id": since}}
        rows: list[dict] = []
        for page_rows in self._pages(
            "POST",
            "api/report/messages-inbox",
            lambda page: {"json": {"page": page, "per_page": INBOX_PAGE, **filters}},
            1 if since is None else INBOX_PAGES,
        ):
            rows += [row for row in page_rows if isinstance(row, dict)]
        received: dict[int, Inbound] = {}
        for row in rows:
            inbox_id = integer(row.get("messages_inbox_id"))
            moment = integer(row.get("time"))
            if inbox_id is None or moment is None or (since is not None and inbox_id <= since):
                continue
            received[inbox_id] = Inbound(
                mobile=canonical(row.get("from")),
                text=str(row.get("message") or ""),
                received_at=datetime.fromtimestamp(moment, UTC),
                provider_ref=str(inbox_id),
            )
        if received:
            self.inbox_from_id = max(received)
        return [received[inbox_id] for inbox_id in sorted(received)]

    # --- transport helpers ---------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        if not self.settings.api_key:
            raise NotSent(ErrorCode.BAD_KEY, "no API key configured")
        return {"Authorization": self.settings.api_key, "Accept": "application/json"}

    def _get_json(self, method: str, path: str, **kwargs) -> Any:
        """A call that hands over no message: every failure is NotSent."""
        response = self.request(method, path, headers=self._headers(), **kwargs)
        if response.status_code != 200:
            raise self._refused(response)
        answer = self.json(response)
        if not isinstance(answer, dict):
            raise NotSent(ErrorCode.PROVIDER_ERROR, "answer is not a JSON object")
        return answer

    def _pages(
        self, method: str, path: str, arguments: Callable[[int], dict[str, Any]], limit: int
    ) -> Iterator[list]:
        """The ``data`` list of each page in turn, until ``meta.last_page`` or ``limit``."""
        for page in range(1, limit + 1):
            answer = self._get_json(method, path, **arguments(page))
            rows = answer.get("data")
            if not isinstance(rows, list):
                raise NotSent(ErrorCode.PROVIDER_ERROR, f"{path}: data is not a list")
            yield rows
            meta = answer.get("meta") if isinstance(answer.get("meta"), dict) else {}
            last = integer(meta.get("last_page"))
            if not rows or last is None or page >= last:
                return

    def _refused(self, response) -> NotSent:
        """What a non-200 answer means; the docs say nothing was sent."""
        try:
            answer = parse_json(response)
        except ValueError:
            answer = None
        meta = answer.get("meta") if isinstance(answer, dict) else None
        meta = meta if isinstance(meta, dict) else {}
        errors = meta.get("errors") if isinstance(meta.get("errors"), dict) else {}
        status = response.status_code
        detail = f"HTTP {status}"
        if meta.get("message_code"):
            detail += f" {meta['message_code']}"
        if meta.get("message"):
            detail += f": {meta['message']}"
        if errors:
            detail += " " + "; ".join(
                f"{field}: {_words(words)}" for field, words in errors.items()
            )
        detail = self.scrub(detail)
        if status in (401, 403):
            return NotSent(ErrorCode.BAD_KEY, detail)
        fields = [str(field) for field in errors]
        if any(field == "from_number" or field.endswith(".from_number") for field in fields):
            return NotSent(ErrorCode.BAD_SENDER, detail)
        if any(_RECIPIENT_FIELD.search(field) for field in fields):
            return NotSent(ErrorCode.INVALID_NUMBER, detail)
        if any(_MESSAGE_FIELD.search(field) for field in fields):
            return NotSent(ErrorCode.BAD_MESSAGE, detail)
        if any(word in str(meta.get("message", "")).lower() for word in _CREDIT_WORDS):
            return NotSent(ErrorCode.NO_CREDIT, detail)
        return NotSent(ErrorCode.PROVIDER_ERROR, detail)


def _e164_line(number: str) -> str:
    """A sender line in E.164 (``+983000505``), the form Edge documents for every number.

    Vafa's mobiles are stored in it already and go out as they are; sender lines are
    often typed as the panel shows them: without the plus, with 0098, or nationally
    (``03000505`` or ``3000505``).
    """
    number = _PUNCTUATION.sub("", ascii_digits(number))
    if number.startswith("+"):
        return number
    if number.startswith("0098"):
        return "+" + number[2:]
    if number.startswith("98"):
        return "+" + number
    return "+98" + number.removeprefix("0")


def _refusal_here(message: Outgoing) -> Rejected | None:
    """What the provider would refuse in this message, without asking it."""
    if not _E164.fullmatch(message.mobile):
        return Rejected(message.local_id, ErrorCode.INVALID_NUMBER, "not an E.164 number")
    if not message.body.strip():
        return Rejected(message.local_id, ErrorCode.BAD_MESSAGE, "empty text")
    if len(message.body) > MAX_CHARACTERS:
        return Rejected(
            message.local_id, ErrorCode.BAD_MESSAGE, f"more than {MAX_CHARACTERS} characters"
        )
    if _parts(message.body) > MAX_PARTS:
        return Rejected(message.local_id, ErrorCode.BAD_MESSAGE, f"more than {MAX_PARTS} parts")
    return None


def _parts(text: str) -> int:
    """SMS parts, counted strictly: any non-ASCII character makes the text UCS-2.

    (The exact GSM 03.38 count lives in app.messaging.text, which sending may not
    import; this one can only overcount, for rare Latin letters such as é.)
    """
    if text.isascii():
        length, single, multi = len(text), 160, 153
    else:
        length, single, multi = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if length <= single else math.ceil(length / multi)


def _outbox_ids(answer: Any) -> list[str] | None:
    data = answer.get("data") if isinstance(answer, dict) else None
    meta = answer.get("meta") if isinstance(answer, dict) else None
    if isinstance(meta, dict) and meta.get("status") is False:
        return None
    ids = data.get("message_outbox_ids") if isinstance(data, dict) else None
    if not isinstance(ids, list) or not all(integer(item) is not None for item in ids):
        return None
    return [str(integer(item)) for item in ids]


def _delivery(code: Any) -> tuple[str, str]:
    number = integer(code)
    if number is None:
        return "sent", "delivery not final yet"
    status, words = DELIVERY.get(number, ("sent", "unknown message_status"))
    return status, f"message_status {number}: {words}"


def _words(value: Any) -> str:
    """The provider's own words from a ``meta.message`` or an ``errors`` entry."""
    if isinstance(value, dict):
        meta = value.get("meta")
        return str(meta.get("message", "")) if isinstance(meta, dict) else ""
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    return str(value)
