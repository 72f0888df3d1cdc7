"""A fake sms.ir REST API v1, from its documentation rather than from our adapter.

What it speaks (sources: https://sms.ir/rest-api/, apidocs.sms.ir, and IPeCompany's
official SDKs SmsPanelV2.DotNet / .Python / .Laravel on GitHub):

- Paths under ``/v1``; the key in the ``X-API-KEY`` header; JSON bodies; every answer the
  envelope ``{"status", "message", "data"}``. HTTP 200 success, 400 logical error
  (status 101–124), 401 authentication error (status 10), 429 too many requests.
- ``POST /v1/send/bulk`` ``{lineNumber, messageText, mobiles}`` and
  ``POST /v1/send/likeToLike`` ``{lineNumber, messageTexts, mobiles}`` → ``{packId,
  messageIds, cost}``; ``messageIds`` in the order of ``mobiles``, 0 for a blacklisted
  number, null for an invalid one; at most 100 mobiles (105) and 100 texts (106).
- ``GET /v1/send/<messageId>`` → the message report with ``deliveryState`` (null until a
  test sets it with ``set_delivery``); an unknown id → 400 status 111.
- ``GET /v1/credit`` → the credit, a decimal count of SMS credits.
- ``GET /v1/line`` → the account's line numbers.
- ``GET /v1/receive/latest?count=`` → unread inbound messages, each handed out once.

The documentation does not say when a bad number refuses the whole request (104) instead
of getting a null id; this fake refuses only when no number in the request is valid.

``app.state`` holds what went over the wire, for tests to read and change (a test that
shares one served app between tests sets ``app.state = fresh_state()`` in between):
``requests`` (every send request: path and JSON body), ``sent`` (one record per accepted
message), ``credit``, ``lines``, ``blacklist`` (mobiles as sent), ``inbox``, and
``refuse`` — an ``(HTTP status, sms.ir status)`` pair every request is refused with, for
the documented refusals a test cannot provoke otherwise (a suspended account, say).
"""

import math
import re
import threading
import uuid

from flask import Flask, jsonify, request

from tests.fakes.server import install_faults, written

API_KEY = "test-smsir-key-7f3a9c"
LINE = 30007732000000
MAX_RECIPIENTS = 100

# The documented messages (Persian, as the panel answers) for the codes the fake uses.
MESSAGES = {
    1: "عملیات با موفقیت انجام شد",
    0: "مشکلی در سامانه رخ داده است، لطفا با پشتیبانی در تماس باشید",
    10: "کلید وب سرویس نامعتبر است",
    11: "کلید وب سرویس غیرفعال است",
    12: "کلید وب سرویس محدود به IPهای تعریف شده میباشد",
    13: "حساب کاربری غیر فعال است",
    14: "حساب کاربری در حالت تعلیق قرار دارد",
    20: "تعداد درخواست بیشتر از حد مجاز است",
    101: "شماره خط نامعتبر میباشد",
    102: "اعتبار کافی نمیباشد",
    103: "درخواست شما دارای متن (های) خالی است",
    104: "درخواست شما دارای موبایل (های) نادرست است",
    105: "تعداد موبایل ها بیشتر از حد مجاز (100 عدد) میباشد",
    106: "تعداد متن ها بیشتر از حد مجاز (100 عدد) میباشد",
    107: "لیست موبایل ها خالی میباشد",
    108: "لیست متن ها خالی میباشد",
    110: "تعداد شماره موبایل ها و تعداد متن ها برابر نیستند",
    111: "با این شناسه ارسالی ثبت نشده است",
    115: "شماره موبایل(ها) در لیست سیاه سامانه است",
    117: "متن ارسالشده مورد تایید نیست",
    118: "تعداد پیامها بیشتر از حد مجاز است",
    123: "خط ارسالکننده نیاز به فعالسازی دارد",
}

# Forms the panel accepts for a mobile: 912…, 0912…, 98912…, 0098912…, +98912….
MOBILE = re.compile(r"^(?:\+98|0098|98|0)?(9\d{9})$")


def envelope(status: int, data=None, http: int = 200):
    return jsonify({"status": status, "message": MESSAGES.get(status, ""), "data": data}), http


def parts(text: str) -> int:
    """SMS parts of a text: 70 characters when it is not plain ASCII, else 160."""
    per_part = 160 if text.isascii() else 70
    return max(1, math.ceil(len(text) / per_part))


def set_delivery(app: Flask, message_id: int, state: int | None) -> None:
    """Let a test say what became of a sent message (sms.ir's deliveryState code)."""
    for record in app.state["sent"]:
        if record["messageId"] == message_id:
            record["deliveryState"] = state
            return
    raise KeyError(message_id)


def fresh_state() -> dict:
    """A new account: 1000 credits, one line, nothing sent or received yet."""
    return {
        "requests": [],
        "sent": [],
        "credit": 1000.0,
        "credit_form": "number",  # how GET credit writes it (server.AMOUNT_FORMS)
        "lines": [LINE],
        "blacklist": set(),
        "inbox": [],
        "refuse": None,  # (HTTP status, sms.ir status): answer every request with it
    }


def create_app(api_key: str = API_KEY) -> Flask:
    app = Flask(__name__)
    app.state = fresh_state()
    lock = threading.Lock()
    next_id = iter(range(86_522_023, 10**12))
    install_faults(app)

    @app.before_request
    def authenticate():
        if request.headers.get("X-API-KEY") != api_key:
            return envelope(10, http=401)
        if app.state["refuse"] is not None:
            http, status = app.state["refuse"]
            return envelope(status, http=http)
        return None

    def accept(line, texts: list[str], mobiles: list) -> tuple:
        """Validate and record one send request; texts[i] goes to mobiles[i]."""
        if line not in app.state["lines"]:
            return envelope(101, http=400)
        if any(not isinstance(text, str) or not text.strip() for text in texts):
            return envelope(103, http=400)
        valid = [isinstance(m, str) and MOBILE.match(m) is not None for m in mobiles]
        if not any(valid):
            return envelope(104, http=400)
        blacklisted = [m in app.state["blacklist"] for m in mobiles]
        cost = sum(
            parts(text)
            for text, ok, black in zip(texts, valid, blacklisted, strict=True)
            if ok and not black
        )
        if cost > app.state["credit"]:
            return envelope(102, http=400)
        app.state["credit"] -= cost
        pack_id = str(uuid.uuid4())
        ids = []
        for text, mobile, ok, black in zip(texts, mobiles, valid, blacklisted, strict=True):
            if not ok:
                ids.append(None)
            elif black:
                ids.append(0)
            else:
                message_id = next(next_id)
                ids.append(message_id)
                app.state["sent"].append(
                    {
                        "messageId": message_id,
                        "packId": pack_id,
                        "mobile": mobile,
                        "messageText": text,
                        "lineNumber": line,
                        "cost": float(parts(text)),
                        "deliveryState": None,
                        "deliveryDateTime": None,
                    }
                )
        return envelope(1, {"packId": pack_id, "messageIds": ids, "cost": float(cost)})

    def mobile_list(body: dict) -> list | None:
        mobiles = body.get("mobiles")
        return mobiles if isinstance(mobiles, list) else None

    @app.post("/v1/send/bulk")
    def send_bulk():
        body = request.get_json(silent=True) or {}
        with lock:
            app.state["requests"].append({"path": request.path, "json": body})
            mobiles = mobile_list(body)
            if not mobiles:
                return envelope(107, http=400)
            if len(mobiles) > MAX_RECIPIENTS:
                return envelope(105, http=400)
            text = body.get("messageText")
            return accept(body.get("lineNumber"), [text] * len(mobiles), mobiles)

    @app.post("/v1/send/likeToLike")
    def send_like_to_like():
        body = request.get_json(silent=True) or {}
        with lock:
            app.state["requests"].append({"path": request.path, "json": body})
            mobiles = mobile_list(body)
            texts = body.get("messageTexts")
            if not mobiles:
                return envelope(107, http=400)
            if not isinstance(texts, list) or not texts:
                return envelope(108, http=400)
            if len(mobiles) > MAX_RECIPIENTS:
                return envelope(105, http=400)
            if len(texts) > MAX_RECIPIENTS:
                return envelope(106, http=400)
            if len(texts) != len(mobiles):
                return envelope(110, http=400)
            return accept(body.get("lineNumber"), texts, mobiles)

    @app.get("/v1/send/<int:message_id>")
    def report(message_id: int):
        for record in app.state["sent"]:
            if record["messageId"] == message_id:
                match = MOBILE.match(record["mobile"])
                return envelope(
                    1,
                    {
                        "messageId": message_id,
                        "mobile": int(match.group(1)),
                        "messageText": record["messageText"],
                        "sendDateTime": 1_700_000_000,
                        "lineNumber": record["lineNumber"],
                        "cost": record["cost"],
                        "deliveryState": record["deliveryState"],
                        "deliveryDateTime": record["deliveryDateTime"],
                    },
                )
        return envelope(111, http=400)

    @app.get("/v1/credit")
    def credit():
        return envelope(1, written(app.state["credit"], app.state["credit_form"]))

    @app.get("/v1/line")
    def lines():
        return envelope(1, app.state["lines"])

    @app.get("/v1/receive/latest")
    def receive_latest():
        count = min(request.args.get("count", MAX_RECIPIENTS, type=int), MAX_RECIPIENTS)
        with lock:
            unread, app.state["inbox"] = app.state["inbox"][:count], app.state["inbox"][count:]
        return envelope(1, unread)

    return app
