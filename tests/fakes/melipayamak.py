"""A fake Melipayamak (ملی پیامک) REST web service, from its documentation, not our adapter.

What it speaks (sources: the official SDKs Melipayamak/melipayamak-python
``melipayamak/sms/rest.py``, melipayamak-php ``src/SmsRest.php``, melipayamak-node
``src/sms/rest.js`` and their READMEs; the method pages on https://www.melipayamak.com/api/
and the older help page https://www.melipayamak.com/help/راهنمای-وب-سرویس-send/):

- ``POST /api/SendSMS/<Method>`` with form-encoded (or JSON) parameters, the account's
  ``username`` and ``password`` in every request body. Parameter names are matched without
  regard to case, as the service does (the official Go SDK sends ``UserName``/``PassWord``,
  the Python and PHP ones ``username``/``password``).
- Every answer is HTTP 200 with ``{"Value", "RetStatus", "StrRetStatus"}``; ``RetStatus`` 1
  (``StrRetStatus`` "Ok") is success.
- ``SendSMS`` ``{to, from, text, isFlash}``: the REST method takes one receptor (the SDK
  READMEs: only the SOAP method accepts an array of numbers). Success: ``Value`` is the
  message's recId. Refusals answer the documented send codes (api/sendsms, api/sendsimplesms):
  0 wrong username/password, 2 no credit, 3 daily limit, 4 volume limit, 5 invalid sender,
  6 system updating, 7 filtered word, 9 public lines cannot send through the web service,
  10 user inactive, 11 not sent, 12 user's documents incomplete, 14 text has a link,
  15 more than one number without «لغو11»; 35 is the blacklist code of the delivery table.
  More than one receptor is answered with -2, the code the sibling REST method
  BaseServiceNumber documents for "one mobile number per call" (api/sendbybasenumber2).
- ``GetDeliveries2`` ``{recId}`` (one id): ``Value`` is the delivery code of the help page's
  table (0 at the operator, 1 delivered, 2 not delivered to the phone, 3 operator error,
  5 unknown error, 8 reached the operator, 16 did not reach the operator, 35 blacklist,
  100 unknown, 200 sent, 300 filtered, 400 in the send list, 500 not accepted).
- ``GetCredit``: ``Value`` is the panel's credit as a count of SMS (api/getcredit), "NULL"
  when the credentials are wrong.
- ``GetMessages`` ``{location, index, count, from}``: location 1 is the inbox. The official
  page documents the SOAP class ``MessagesBL``; the REST answer ``{"MyBase": {Value,
  RetStatus, StrRetStatus}, "Data": [{MsgID, Body, SenderNumber, RecipientNumber,
  SendDate}]}`` with ASP.NET dates (``/Date(ms+0330)/``) is the shape independent REST
  clients read.

The documentation gives no code for an invalid receptor; this fake answers 11 ("not sent"),
the documented catch-all. It gives no answer for an unknown recId either; this fake answers
100 ("unknown").

``app.state`` (``fresh_state()``) holds what went over the wire: ``requests`` (every call:
method name, parameters with lower-cased names, content type), ``sent`` (one record per
accepted message), ``deliveries`` (recId → delivery code, for tests to change), ``credit``
(SMS), ``lines``, ``blacklist`` (receptors as sent), ``filtered_words``, ``links_allowed``,
``inbox``, and ``refuse`` — a documented send code every SendSMS is refused with, for the
refusals a test cannot provoke otherwise (a daily limit, an account under maintenance).
"""

import itertools
import math
import re
import threading
from datetime import datetime

from flask import Flask, jsonify, request

from tests.fakes.server import form_or_json, install_faults, written

USERNAME = "vafa-shop"
PASSWORD = "meli-Secret-9d41"
LINE = "50002710012345"
FIRST_REC_ID = 5_170_000_000_000_000_001  # recIds are long numbers (Long in the SOAP docs)

# The panel's words for its send codes (api/sendsms); the fake's StrRetStatus.
SEND_CODES = {
    0: "نام کاربری یا رمز عبور اشتباه می باشد",
    2: "اعتبار کافی نمی باشد",
    3: "محدودیت در ارسال روزانه",
    4: "محدودیت در حجم ارسال",
    5: "شماره فرستنده معتبر نمی باشد",
    6: "سامانه در حال بروزرسانی می باشد",
    7: "متن حاوی کلمه فیلتر شده می باشد",
    9: "ارسال از خطوط عمومی از طریق وب سرویس امکان پذیر نمی باشد",
    10: "کاربر مورد نظر فعال نمی باشد",
    11: "ارسال نشده",
    12: "مدارک کاربر کامل نمی باشد",
    14: "متن حاوی لینک می باشد",
    15: "ارسال به بیش از 1 شماره همراه بدون درج لغو11 ممکن نیست",
    35: "لیست سیاه",
    -2: "محدودیت تعداد شماره، محدودیت هربار ارسال یک شماره موبایل میباشد",
}
NATIONAL_MOBILE = re.compile(r"^09\d{9}$")
LINK = re.compile(r"https?://|www\.", re.IGNORECASE)
INBOX_MAX = 100


def answer(value, ret_status: int, words: str = "Ok"):
    return jsonify({"Value": value, "RetStatus": ret_status, "StrRetStatus": words})


def refusal(code: int):
    return answer(str(code), code, SEND_CODES[code])


def parts(text: str) -> int:
    """SMS parts of a text: 70 characters per part when not plain ASCII, else 160."""
    per_part = 160 if text.isascii() else 70
    return max(1, math.ceil(len(text) / per_part))


def aspnet_date(moment: datetime) -> str:
    """``/Date(ms+0330)/``: milliseconds since the epoch, with Tehran's offset as a note."""
    return f"/Date({int(moment.timestamp() * 1000)}+0330)/"


def fresh_state() -> dict:
    return {
        "requests": [],
        "sent": [],
        "deliveries": {},
        "credit": 1_000.0,
        "credit_form": "number",  # how GetCredit writes it (server.AMOUNT_FORMS)
        "lines": {LINE},
        "blacklist": set(),
        "filtered_words": {"قمار"},
        "links_allowed": True,
        "inbox": [],
        "refuse": None,
    }


def set_delivery(app: Flask, rec_id: str | int, code: int) -> None:
    """What ``GetDeliveries2`` will say about a message from now on."""
    app.state["deliveries"][str(rec_id)] = code


def receive(app: Flask, sender: str, text: str, at: datetime, to: str = LINE) -> int:
    """A contact's message arriving on one of the account's lines; returns its MsgID."""
    msg_id = next(app.msg_ids)
    app.state["inbox"].insert(
        0,  # newest first, as the panel lists its inbox
        {
            "MsgID": msg_id,
            "Body": text,
            "SenderNumber": sender,
            "RecipientNumber": to,
            "SendDate": aspnet_date(at),
            "IsRead": False,
        },
    )
    return msg_id


def create_app(username: str = USERNAME, password: str = PASSWORD) -> Flask:
    app = Flask(__name__)
    app.state = fresh_state()
    app.rec_ids = itertools.count(FIRST_REC_ID)
    app.msg_ids = itertools.count(88_000_001)
    lock = threading.Lock()

    def params(method: str) -> dict:
        # Model binding is case-insensitive: userName, UserName and username are one field.
        values = {key.lower(): value for key, value in form_or_json().items()}
        with lock:
            app.state["requests"].append(
                {"method": method, "params": dict(values), "content_type": request.mimetype}
            )
        return values

    def signed_in(values: dict) -> bool:
        return values.get("username") == username and values.get("password") == password

    @app.post("/api/SendSMS/SendSMS")
    def send_sms():
        values = params("SendSMS")
        if not signed_in(values):
            return refusal(0)
        state = app.state
        if state["refuse"] is not None:
            return refusal(state["refuse"])
        receptors = [to for to in str(values.get("to", "")).split(",") if to.strip()]
        if len(receptors) > 1:
            return refusal(-2)
        if str(values.get("from", "")) not in state["lines"]:
            return refusal(5)
        text = str(values.get("text", ""))
        receptor = receptors[0].strip() if receptors else ""
        if not text.strip() or not NATIONAL_MOBILE.match(receptor):
            return refusal(11)
        if any(word in text for word in state["filtered_words"]):
            return refusal(7)
        if not state["links_allowed"] and LINK.search(text):
            return refusal(14)
        if receptor in state["blacklist"]:
            return refusal(35)
        with lock:
            cost = parts(text)
            if cost > state["credit"]:
                return refusal(2)
            state["credit"] -= cost
            rec_id = str(next(app.rec_ids))
            state["sent"].append(
                {
                    "recId": rec_id,
                    "to": receptor,
                    "from": values["from"],
                    "text": text,
                    "isFlash": values.get("isflash"),
                }
            )
            state["deliveries"][rec_id] = 0  # handed to the operator
        return answer(rec_id, 1)

    @app.post("/api/SendSMS/GetDeliveries2")
    def get_deliveries2():
        values = params("GetDeliveries2")
        if not signed_in(values):
            return refusal(0)
        code = app.state["deliveries"].get(str(values.get("recid", "")), 100)
        return answer(str(code), 1)

    @app.post("/api/SendSMS/GetCredit")
    def get_credit():
        values = params("GetCredit")
        if not signed_in(values):
            return answer("NULL", 0, "InvalidUserPass")
        return answer(str(written(app.state["credit"], app.state["credit_form"])), 1)

    @app.post("/api/SendSMS/GetMessages")
    def get_messages():
        values = params("GetMessages")
        if not signed_in(values):
            base = {"Value": "NULL", "RetStatus": 0, "StrRetStatus": "InvalidUserPass"}
            return jsonify({"MyBase": base, "Data": None})
        try:
            location = int(values.get("location", 1))
            index = max(0, int(values.get("index", 0)))
            count = min(INBOX_MAX, max(0, int(values.get("count", INBOX_MAX))))
        except ValueError:
            base = {"Value": "NULL", "RetStatus": 11, "StrRetStatus": "InvalidData"}
            return jsonify({"MyBase": base, "Data": None})
        line = str(values.get("from") or "")
        inbox = app.state["inbox"] if location in (1, -1) else []
        chosen = [m for m in inbox if not line or m["RecipientNumber"] == line]
        page = chosen[index : index + count]
        base = {"Value": str(len(page)), "RetStatus": 1, "StrRetStatus": "Ok"}
        return jsonify({"MyBase": base, "Data": page})

    install_faults(app)
    return app
