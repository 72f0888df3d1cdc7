"""A fake Kavenegar REST API, written from the provider's documentation, not from our adapter.

What it speaks (https://kavenegar.com/rest.html, and the official SDKs
kavenegar/kavenegar-python, -php, -go, -dotnet):

- ``{GET|POST} /v1/{API-KEY}/{scope}/{method}.json``, parameters in the query or a
  form body; ``sms/sendarray`` is POST only (405 otherwise).
- Every answer is ``{"return": {"status", "message"}, "entries"}``; an error answer has
  that code as its HTTP status too (403, 411, 418, …), as the Go SDK expects.
- A wrong key answers 403 ("کد شناسائی API-Key معتبر نمیباشد").
- ``sms/send``: ``receptor`` comma-separated (at most 200, else 414), ``message``,
  optional ``sender`` (one of the account's lines, else 412) and ``localid``
  (comma-separated, one per receptor). A local id seen before is not sent again: the
  earlier message's row comes back instead.
- ``sms/sendarray``: ``receptor``, ``sender``, ``message`` and optional
  ``localmessageids`` as JSON arrays of equal length (419 otherwise), at most 200.
  ``localmessageids`` in any other form (a comma list, ``null``) is refused with 419, as
  kavenegar-php pull request #19 reports of the real service ("it must be array and its
  size must be equal to receptors").
- A receptor that is not an Iranian mobile in a documented form (0912…, 912…, +98912…,
  0098912…) refuses the whole request with 411; a message that does not fit is 413;
  credit below the cost is 418 and nothing is sent. A number on ``state["blocked"]``
  gets its row with status 14 (blocked, cost refunded) while the others go out.
- ``sms/status`` (``messageid``, ≤ 500) and ``sms/statuslocalmessageid`` (``localid``,
  ≤ 500) answer one row per id, status 100 for ids they do not know.
- ``sms/receive``: ``linenumber`` and ``isread``; at most 100 unread rows per call, which
  then count as read; no rows answers ``entries: null``.
- ``account/info``: ``remaincredit`` in Rials.

``app.state`` holds what the fake saw and knows: ``sent`` (every message accepted, as it
went over the wire), ``requests`` (every call's method and parameters), ``asked``
(how many times each local id came in a send request, repeats included), ``credit``,
``lines``, ``blocked``, ``inbox``; and its indexes of ``sent``, by local id (``by_local``)
and by message id (``by_id``), which ``_accept`` keeps with it. Tests change delivery with
``set_status`` and add inbound messages with ``receive``.
"""

import json
import re
import time
from collections import Counter
from itertools import count

from flask import Flask, Response, request

from tests.fakes.server import form_or_json, install_faults, written

RETURN_MESSAGES = {
    200: "تایید شد",
    400: "پارامترها ناقص هستند",
    401: "حساب کاربری غیرفعال شده است",
    402: "عملیات ناموفق بود",
    403: "کد شناسائی API-Key معتبر نمیباشد",
    404: "متد نامشخص است",
    405: "متد Get/Post اشتباه است",
    406: "پارامترهای اجباری خالی ارسال شده اند",
    407: "دسترسی به اطلاعات مورد نظر برای شما امکان پذیر نیست",
    409: "سرور قادر به پاسخگوئی نیست بعدا تلاش کنید",
    411: "دریافت کننده نامعتبر است",
    412: "ارسال کننده نامعتبر است",
    413: "پیام خالی است و یا طول پیام بیش از حد مجاز میباشد",
    414: "حجم درخواست بیشتر از حد مجاز است",
    417: "تاریخ ارسال اشتباه است و فرمت آن صحیح نمی باشد",
    418: "اعتبار شما کافی نمیباشد",
    419: "طول آرایه متن و گیرنده و فرستنده هم اندازه نیست",
    422: "داده ها به دلیل وجود کاراکتر نامناسب قابل پردازش نیست",
    451: "فراخوانی بیش از حد در بازه زمانی مشخص IP محدود شده",
}
STATUS_TEXTS = {
    1: "در صف ارسال قرار دارد",
    2: "زمان بندی شده (ارسال در تاریخ معین)",
    4: "ارسال شده به مخابرات",
    5: "ارسال شده به مخابرات",
    6: "خطا در ارسال پیام که توسط سر شماره پیش می آید و به معنی عدم رسیدن پیامک میباشد",
    10: "رسیده به گیرنده",
    11: "نرسیده به گیرنده",
    13: "ارسال پیام از سمت کاربر لغو شده یا در ارسال آن مشکلی پیش آمده",
    14: "بلاک شده است، عدم تمایل گیرنده به دریافت پیامک از خطوط تبلیغاتی",
    100: "شناسه پیامک نامعتبر است",
}
MAX_RECEPTORS = 200  # per send / sendarray call (414 beyond)
MAX_IDS = 500  # per status / statuslocalmessageid call (414 beyond)
INBOX_PAGE = 100
MAX_LENGTH = 1800  # characters of one message on an ordinary line
MOBILE = re.compile(r"^(?:\+98|0098|0)?(9\d{9})$")


class Refused(Exception):
    """A documented error answer: ``return.status`` and HTTP status ``code``."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def create_app(
    api_key: str = "kave-test-key",
    *,
    credit: int = 10_000_000,
    lines: tuple[str, ...] = ("10004346", "30002626"),
    price_per_part: int = 1_500,
) -> Flask:
    """A fake account: ``credit`` in Rials, ``lines`` it may send from (the first is the
    default line), ``price_per_part`` Rials for each SMS part."""
    app = Flask(__name__)
    ids = count(8_792_343)
    app.state = {
        "api_key": api_key,
        "credit": credit,
        "credit_form": "number",  # how account/info writes it (server.AMOUNT_FORMS)
        "lines": list(lines),
        "price_per_part": price_per_part,
        "blocked": set(),  # national numbers that refuse advertising SMS
        "sent": [],  # one dict per message accepted, as it came over the wire
        "by_local": {},  # local id → its record in "sent" (Kavenegar sends a local id once)
        "by_id": {},  # message id (as text) → its record in "sent": sms/status looks it up
        "requests": [],  # (method, path, parameters) of every call with the right key
        "asked": Counter(),  # local id → how many send requests carried it
        "inbox": [],  # inbound messages; "read" flips when sms/receive hands them out
        "next_id": lambda: next(ids),
    }
    install_faults(app)

    @app.route("/v1/<key>/<scope>/<method>.json", methods=["GET", "POST"])
    def call(key: str, scope: str, method: str):
        if key != app.state["api_key"]:
            return _answer(403)
        params = form_or_json()
        app.state["requests"].append((request.method, f"{scope}/{method}", params))
        handler = HANDLERS.get((scope, method))
        if handler is None:
            return _answer(404)
        try:
            return _answer(200, handler(app.state, params))
        except Refused as refusal:
            return _answer(refusal.code)

    return app


def set_status(app: Flask, messageid: int, status: int) -> None:
    """What the operator later reported for a message (10 delivered, 11 undelivered, …)."""
    app.state["by_id"][str(messageid)]["status"] = status


def receive(app: Flask, sender: str, line: str, text: str, date: int | None = None) -> int:
    """A contact texts the owner's ``line``; returns the inbound message id."""
    messageid = app.state["next_id"]()
    app.state["inbox"].append(
        {
            "messageid": messageid,
            "message": text,
            "sender": sender,
            "receptor": line,
            "date": int(time.time()) if date is None else date,
            "read": False,
        }
    )
    return messageid


def _answer(status: int, entries=None) -> Response:
    body = {"return": {"status": status, "message": RETURN_MESSAGES.get(status, "")}}
    body["entries"] = entries
    return Response(
        json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json"
    )


def _send(state: dict, params: dict) -> list[dict]:
    receptors = _split(params.get("receptor"))
    message = params.get("message")
    if not receptors or message is None:
        raise Refused(400)
    sender = params.get("sender") or state["lines"][0]
    local_ids = _split(params.get("localid"))
    if local_ids and len(local_ids) != len(receptors):
        raise Refused(400)
    rows = [(receptor, sender, message) for receptor in receptors]
    return _accept(state, rows, local_ids or [None] * len(rows), "sms/send")


def _sendarray(state: dict, params: dict) -> list[dict]:
    if request.method != "POST":
        raise Refused(405)
    try:
        receptors = _array(params.get("receptor"))
        senders = _array(params.get("sender"))
        messages = _array(params.get("message"))
    except ValueError:
        raise Refused(400) from None
    local_ids = []
    if "localmessageids" in params:
        try:
            local_ids = [_local_id(item) for item in _array(params["localmessageids"])]
        except ValueError:
            raise Refused(419) from None
    if not receptors:
        raise Refused(400)
    if len(senders) != len(receptors) or len(messages) != len(receptors):
        raise Refused(419)
    if "localmessageids" in params and len(local_ids) != len(receptors):
        raise Refused(419)
    rows = list(zip(receptors, senders, messages, strict=True))
    return _accept(state, rows, local_ids or [None] * len(rows), "sms/sendarray")


def _accept(state: dict, rows: list[tuple], local_ids: list, endpoint: str) -> list[dict]:
    """Check a whole request as Kavenegar does, then take every row or none."""
    if len(rows) > MAX_RECEPTORS:
        raise Refused(414)
    for receptor, sender, message in rows:
        if not MOBILE.match(str(receptor)):
            raise Refused(411)
        if str(sender) not in state["lines"]:
            raise Refused(412)
        if not str(message).strip() or len(str(message)) > MAX_LENGTH:
            raise Refused(413)
    state["asked"].update(str(local_id) for local_id in local_ids if local_id is not None)
    by_local = state["by_local"]
    fresh = [
        (row, local_id)
        for row, local_id in zip(rows, local_ids, strict=True)
        if local_id is None or str(local_id) not in by_local
    ]
    cost = sum(
        _parts(str(message)) * state["price_per_part"]
        for (receptor, _, message), _ in fresh
        if _national(receptor) not in state["blocked"]
    )
    if cost > state["credit"]:
        raise Refused(418)
    entries = []
    for (receptor, sender, message), local_id in zip(rows, local_ids, strict=True):
        earlier = by_local.get(str(local_id)) if local_id is not None else None
        if earlier is not None:  # a local id is sent once; its first row comes back
            entries.append(_row(earlier))
            continue
        blocked = _national(receptor) in state["blocked"]
        record = {
            "messageid": state["next_id"](),
            "receptor": str(receptor),
            "sender": str(sender),
            "message": str(message),
            "localid": None if local_id is None else str(local_id),
            "status": 14 if blocked else 1,
            "date": int(time.time()),
            "cost": 0 if blocked else _parts(str(message)) * state["price_per_part"],
            "endpoint": endpoint,
        }
        state["credit"] -= record["cost"]
        state["sent"].append(record)
        state["by_id"][str(record["messageid"])] = record
        if record["localid"] is not None:
            by_local[record["localid"]] = record
        entries.append(_row(record))
    return entries


def _row(record: dict) -> dict:
    return {
        "messageid": record["messageid"],
        "message": record["message"],
        "status": record["status"],
        "statustext": STATUS_TEXTS[record["status"]],
        "sender": record["sender"],
        "receptor": record["receptor"],
        "date": record["date"],
        "cost": record["cost"],
    }


def _status(state: dict, params: dict) -> list[dict]:
    ids = _split(params.get("messageid"))
    if not ids:
        raise Refused(400)
    if len(ids) > MAX_IDS:
        raise Refused(414)
    known = state["by_id"]
    entries = []
    for messageid in ids:
        status = known[messageid]["status"] if messageid in known else 100
        entries.append(
            {
                "messageid": int(messageid) if messageid.isdigit() else messageid,
                "status": status,
                "statustext": STATUS_TEXTS[status],
            }
        )
    return entries


def _statuslocal(state: dict, params: dict) -> list[dict]:
    local_ids = _split(params.get("localid"))
    if not local_ids:
        raise Refused(400)
    if len(local_ids) > MAX_IDS:
        raise Refused(414)
    known = state["by_local"]
    entries = []
    for local_id in local_ids:
        record = known.get(local_id)
        status = record["status"] if record else 100
        entries.append(
            {
                "messageid": record["messageid"] if record else 0,
                "localid": local_id,
                "status": status,
                "statustext": STATUS_TEXTS[status],
            }
        )
    return entries


def _receive(state: dict, params: dict) -> list[dict] | None:
    line = params.get("linenumber")
    if not line or "isread" not in params:
        raise Refused(400)
    want_read = str(params["isread"]) == "1"
    rows = [m for m in state["inbox"] if m["receptor"] == line and m["read"] == want_read]
    rows = rows[:INBOX_PAGE]
    for message in rows:
        message["read"] = True
    fields = ("messageid", "message", "sender", "receptor", "date")
    return [{field: m[field] for field in fields} for m in rows] or None


def _info(state: dict, params: dict) -> dict:
    credit = written(state["credit"], state["credit_form"])
    return {"remaincredit": credit, "expiredate": 1_893_456_000, "type": "master"}


HANDLERS = {
    ("sms", "send"): _send,
    ("sms", "sendarray"): _sendarray,
    ("sms", "status"): _status,
    ("sms", "statuslocalmessageid"): _statuslocal,
    ("sms", "receive"): _receive,
    ("account", "info"): _info,
}


def _split(value) -> list[str]:
    return [part.strip() for part in str(value).split(",") if part.strip()] if value else []


def _array(value) -> list:
    items = json.loads(value) if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError("not a JSON array")
    return items


def _local_id(item) -> str:
    """One element of ``localmessageids``: a number, or its digits as a string."""
    if isinstance(item, bool) or not isinstance(item, int | str) or not str(item).isdigit():
        raise ValueError(f"not a local id: {item!r}")
    return str(item)


def _national(receptor) -> str:
    match = MOBILE.match(str(receptor))
    return "0" + match.group(1) if match else str(receptor)


def _parts(text: str) -> int:
    """SMS parts: 70 characters (67 when split) for Persian, 160 (153) for GSM text."""
    single, split = (160, 153) if text.isascii() else (70, 67)
    return 1 if len(text) <= single else -(-len(text) // split)
