"""A fake Ghasedak gateway REST API (v1 "WebService"), from its documentation.

What it speaks (sources: https://ghasedak.me/docs, whose OpenAPI sources are mirrored in
negar8223/ghasedak-doc ``src/data/*ApiSpec.ts``, and the official SDKs
ghasedakapi/GhasedakSms.Core, ghasedakapi/ghasedak_sms_python, ghasedakapi/ghasedaksms-php):

- Paths under ``/rest/api/v1/WebService/``; the key in the ``ApiKey`` header; JSON bodies;
  every answer the envelope ``{isSuccess, statusCode, message, data}``, camelCase as in the
  send pages' samples (``pascal_case=True`` answers in PascalCase, as the
  GetAccountInformation and CheckSmsStatus samples are written; so does
  ``app.state["pascal_case"] = True``).
- ``POST SendBulkSMS`` ``{lineNumber?, receptors[], message, clientReferenceId?}`` →
  ``data = {cost, lineNumber, clientReferenceId, receptors: [{receptor, messageId}],
  message, sendDate}``.
- ``POST SendPairToPairSMS`` ``{items: [{lineNumber, receptor, message,
  clientReferenceId?}]}`` → ``data = {items: [{lineNumber, receptor, messageId, cost,
  clientReferenceId, sendDate, message, statusDescription}]}``.
- ``GET CheckSmsStatus?Ids=&Type=`` (Type 1 messageId, 2 clientReferenceId; ids comma
  separated as the docs write them, or repeated as the .NET SDK sends them; at most 100)
  → ``data = [{messageId, clientReferenceId, message, lineNumber, receptor, status,
  price, sendDate}]``, status 0–8 (0 until a test calls ``set_status``).
- ``GET GetAccountInformation`` → ``data = {credit (Rials), expireDate, plan}``.
- ``GET GetReceivedSmses?lineNumber=&isRead=`` → ``data = {items: [{id, message, sender,
  lineNumber, receiveDate}]}``, the latest 100. Reading does not mark them read (the docs
  do not say it does).

Not in the documentation, so chosen here and flagged as such: the error table (جدول خطاها)
is loaded from the panel at run time, so the refusals use HTTP codes (401 for a bad key,
400 for other refusals, as the docs' 400 sample "پارامترهای ورودی نامعتبر است") with
Persian words of our own (``MESSAGES``). The per-recipient refusal — an entry with an
empty ``messageId`` and a ``statusDescription`` — follows the documented
``statusDescription`` field; the documentation does not describe when it is filled. The
limit of 100 receptors/items per request is the adapter's chosen limit, enforced here so
the two agree.

``app.state`` holds what went over the wire, for tests to read and change: ``requests``
(every send: path, headers, JSON body), ``sent`` (one record per accepted message),
``credit`` (Rials), ``price`` (Rials per message), ``lines``, ``invalid`` and
``blacklist`` (receptors, as sent, that get a per-recipient refusal), ``inbox``,
``pascal_case``. ``reset(app)`` starts a fresh account.
"""

import re
import threading
from datetime import datetime, timedelta

from flask import Flask, jsonify, request

from tests.fakes.server import install_faults, written

API_KEY = "test-ghasedak-key-5d1e0b"
LINE = "30005088"  # the docs' free test line
MAX_RECEPTORS = 100
PREFIX = "/rest/api/v1/WebService"

MESSAGES = {
    "ok": "با موفقیت انجام شد",
    "bad_key": "کلید شناسه (ApiKey) نامعتبر است",
    "bad_input": "پارامترهای ورودی نامعتبر است",
    "no_credit": "اعتبار حساب شما کافی نیست",
    "bad_line": "شماره خط ارسال نامعتبر است",
    "bad_receptor": "شماره گیرنده نامعتبر است",
    "blacklist": "شماره گیرنده در لیست سیاه است",
    "empty_text": "متن پیام خالی است",
    "too_many": f"تعداد گیرندگان بیش از حد مجاز ({MAX_RECEPTORS}) است",
    "too_many_ids": "حداکثر ۱۰۰ شناسه در هر درخواست مجاز است",
}

RECEPTOR = re.compile(r"^09\d{9}$")  # the form the docs show: 0912*******


def create_app(*, pascal_case: bool = False) -> Flask:
    app = Flask(__name__)
    reset(app, pascal_case=pascal_case)
    lock = threading.Lock()
    install_faults(app)

    def answer(data=None, *, ok=True, code=200, words=None, http=200):
        body = {
            "isSuccess": ok,
            "statusCode": code,
            "message": MESSAGES["ok"] if words is None else words,
            "data": data,
        }
        return jsonify(_pascal(body) if app.state["pascal_case"] else body), http

    def refuse(key: str, code: int = 400):
        return answer(ok=False, code=code, words=MESSAGES[key], http=code)

    @app.before_request
    def authenticate():
        if request.headers.get("ApiKey") != API_KEY:
            return refuse("bad_key", 401)
        return None

    def record(path: str, body) -> None:
        app.state["requests"].append({"path": path, "headers": dict(request.headers), "json": body})

    def accept(receptor: str, text: str, line: str, reference: str) -> dict:
        """Store an accepted message; the caller holds the lock."""
        app.state["next_id"] += 1
        sent = {
            "messageId": str(app.state["next_id"]),
            "clientReferenceId": reference,
            "receptor": receptor,
            "message": text,
            "lineNumber": line,
            "status": 0,
            "price": app.state["price"],
            "sendDate": datetime.now().isoformat(),  # noqa: DTZ005 - Tehran local, as sampled
        }
        app.state["sent"].append(sent)
        app.state["credit"] -= app.state["price"]
        return sent

    def per_recipient_refusal(receptor: str) -> str:
        if not RECEPTOR.match(receptor) or receptor in app.state["invalid"]:
            return MESSAGES["bad_receptor"]
        if receptor in app.state["blacklist"]:
            return MESSAGES["blacklist"]
        return ""

    @app.post(f"{PREFIX}/SendBulkSMS")
    def send_bulk():
        body = request.get_json(silent=True)
        record("SendBulkSMS", body)
        if not isinstance(body, dict):
            return refuse("bad_input")
        receptors = body.get("receptors")
        text = body.get("message")
        line = body.get("lineNumber") or min(app.state["lines"])
        reference = body.get("clientReferenceId") or ""
        if not isinstance(receptors, list) or not receptors or not isinstance(text, str):
            return refuse("bad_input")
        if len(receptors) > MAX_RECEPTORS:
            return refuse("too_many")
        if not text.strip():
            return refuse("empty_text")
        if line not in app.state["lines"]:
            return refuse("bad_line")
        reasons = [per_recipient_refusal(str(r)) for r in receptors]
        if all(reasons):
            return refuse("bad_receptor")
        with lock:
            if app.state["credit"] < app.state["price"] * reasons.count(""):
                return refuse("no_credit")
            results = []
            for receptor, reason in zip(receptors, reasons, strict=True):
                if reason:
                    results.append(
                        {"receptor": receptor, "messageId": "", "statusDescription": reason}
                    )
                else:
                    sent = accept(receptor, text, line, reference)
                    results.append({"receptor": receptor, "messageId": sent["messageId"]})
        return answer(
            {
                "cost": app.state["price"] * reasons.count(""),
                "lineNumber": line,
                "clientReferenceId": reference,
                "receptors": results,
                "message": text,
                "sendDate": datetime.now().isoformat(),  # noqa: DTZ005 - as sampled
            }
        )

    @app.post(f"{PREFIX}/SendPairToPairSMS")
    def send_pair():
        body = request.get_json(silent=True)
        record("SendPairToPairSMS", body)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            return refuse("bad_input")
        if len(items) > MAX_RECEPTORS:
            return refuse("too_many")
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("message"), str):
                return refuse("bad_input")
            if not item["message"].strip():
                return refuse("empty_text")
            if item.get("lineNumber") not in app.state["lines"]:
                return refuse("bad_line")
        reasons = [per_recipient_refusal(str(item.get("receptor"))) for item in items]
        if all(reasons):
            return refuse("bad_receptor")
        with lock:
            if app.state["credit"] < app.state["price"] * reasons.count(""):
                return refuse("no_credit")
            results = []
            for item, reason in zip(items, reasons, strict=True):
                reference = item.get("clientReferenceId") or ""
                result = {
                    "lineNumber": item["lineNumber"],
                    "receptor": item.get("receptor"),
                    "messageId": "",
                    "cost": 0,
                    "clientReferenceId": reference,
                    "sendDate": datetime.now().isoformat(),  # noqa: DTZ005 - as sampled
                    "message": item["message"],
                    "statusDescription": reason,
                }
                if not reason:
                    sent = accept(item["receptor"], item["message"], item["lineNumber"], reference)
                    result.update(messageId=sent["messageId"], cost=sent["price"])
                results.append(result)
        return answer({"items": results})

    @app.get(f"{PREFIX}/CheckSmsStatus")
    def check_status():
        ids = [part.strip() for value in request.args.getlist("Ids") for part in value.split(",")]
        ids = [value for value in ids if value]
        kind = request.args.get("Type")
        if not ids or kind not in ("1", "2"):
            return refuse("bad_input")
        if len(ids) > 100:
            return refuse("too_many_ids")
        key = "messageId" if kind == "1" else "clientReferenceId"
        wanted = set(ids)
        rows = [dict(sent) for sent in app.state["sent"] if sent[key] in wanted]
        return answer(rows)

    @app.get(f"{PREFIX}/GetAccountInformation")
    def account():
        expires = (datetime.now() + timedelta(days=200)).isoformat()  # noqa: DTZ005
        credit = written(app.state["credit"], app.state["credit_form"])
        return answer({"credit": credit, "expireDate": expires, "plan": "نقره ای"})

    @app.get(f"{PREFIX}/GetReceivedSmses")
    def received():
        line = request.args.get("lineNumber", "")
        if not line:
            return refuse("bad_input")
        is_read = request.args.get("isRead", "false").lower() in ("true", "1")
        items = [
            {key: item[key] for key in ("id", "message", "sender", "lineNumber", "receiveDate")}
            for item in app.state["inbox"]
            if item["lineNumber"] == line and bool(item.get("isRead")) == is_read
        ]
        return answer({"items": items[-100:]})

    return app


def reset(app: Flask, *, pascal_case: bool = False) -> None:
    """A fresh account: what a new app starts with (lets tests share one server)."""
    app.state = {
        "requests": [],
        "sent": [],
        "credit": 5_000_000,
        "credit_form": "number",  # how GetAccountInformation writes it (server.AMOUNT_FORMS)
        "price": 1_805,
        "lines": {LINE},
        "invalid": set(),
        "blacklist": set(),
        "inbox": [],
        "next_id": 4248,
        "pascal_case": pascal_case,
    }


def set_status(app: Flask, message_id: str, status: int) -> None:
    """Let a test decide a message's delivery status (CheckSmsStatus ``status``, 0–8)."""
    for sent in app.state["sent"]:
        if sent["messageId"] == message_id:
            sent["status"] = status
            return
    raise KeyError(message_id)


def _pascal(value):
    """The same answer with PascalCase keys, as some documentation samples are written."""
    if isinstance(value, dict):
        return {key[:1].upper() + key[1:]: _pascal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_pascal(item) for item in value]
    return value
