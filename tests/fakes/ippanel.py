"""A fake IPPanel Edge API, built from its documentation, for the adapter's tests.

It answers under ``/v1`` as ``https://edge.ippanel.com/v1`` does, so a test points the
adapter at ``<served url>/v1``. Sources: https://ippanelcom.github.io/Edge-Document/docs
(repository ippanelcom/Edge-Document, ``docs/`` and the Persian ``i18n/fa/...`` pages):

- ``POST /v1/api/send`` with ``sending_type`` ``webservice`` (one text, ``params.recipients``)
  or ``peer_to_peer`` (``params`` = items of ``recipients`` and ``message``); one outbox id
  per webservice request, one per peer-to-peer item.
- ``GET /v1/api/report/recipients?bulk_id=&page=&per_page=`` with ``message_status``.
- ``GET /v1/api/report/by_bulk?messages_outbox_id=`` with ``state_id``.
- ``GET /v1/api/payment/credit/mine``.
- ``POST /v1/api/report/messages-inbox`` with ``filters.from_id``.

Every answer has the documented envelope ``{"data", "meta": {"status", "message",
"message_parameters", "message_code"[, "errors"]}}``: 200 ``200-1`` on success, 401 ``400-1``
for a wrong key, 422 ``400-2`` with ``errors`` per field for validation, 429 for the same
request repeated within 40 seconds. The docs leave some answers out; the fake chooses them
inside that envelope, and says so where it does:

- the names of ``errors`` fields for one array element (``params.recipients.2``,
  ``params.1.message``) and the words of validation messages;
- more than 1000 recipients in one request: documented as "may fail", answered here as a
  422 on ``params.recipients``;
- not enough credit: HTTP 400 ``400-1`` «اعتبار کافی نمی باشد» (only the request state 8,
  "insufficient credit", is documented);
- an unknown outbox id in a report: 404, as the documented "message not found" answer of
  ``api/send/cancel``.

``app.state`` holds what went over the wire so tests can assert on it; the helpers at the
bottom let a test deliver a message or receive one.
"""

import math
import re
import time
from typing import Any

from flask import Flask, jsonify, request

from tests.fakes.server import install_faults, written

API_KEY = "edge-test-key-5f1c9a"
LINE = "+983000505"
PRICE_PER_PART = 1463.0  # Rials, a non-MCI Persian part (docs/user/user-tariff.md example)
MAX_RECIPIENTS = 1000
MAX_CHARACTERS = 1400
MAX_PARTS = 20
DUPLICATE_WINDOW = 40.0  # seconds (fa docs/send/index.md)
FIRST_OUTBOX_ID = 1123544244  # as in the docs' examples

_E164 = re.compile(r"\+[1-9]\d{6,14}")


def create_app(
    api_key: str = API_KEY, lines: tuple[str, ...] = (LINE,), credit: float = 50_000_000.5
) -> Flask:
    app = Flask(__name__)
    app.state = {
        "api_key": api_key,
        "lines": set(lines),
        "credit": credit,  # Rials
        "credit_form": "number",  # how credit/mine writes it (server.AMOUNT_FORMS)
        "requests": [],  # every JSON body POSTed to api/send, accepted or not
        "sent": [],  # one row per accepted recipient: outbox_id, sending_type, from_number...
        "bulks": {},  # outbox id -> {"state_id", "type", "from_number", "recipients": [...]}
        "inbox": [],  # received messages, as the inbox report lists them
        "refused_numbers": set(),  # well-formed numbers the provider still refuses
        "recent": {},  # request fingerprint -> when it was accepted (the 40 s rule)
        "next_id": FIRST_OUTBOX_ID,
    }
    install_faults(app)

    @app.post("/v1/api/send")
    def send():
        if not _authorised(app):
            return _bad_key()
        body = request.get_json(silent=True)
        app.state["requests"].append(body)
        if not isinstance(body, dict):
            return _invalid({"sending_type": ["تکمیل گزینه sending type الزامی است"]})
        items = _items(body)
        if items is None:
            return _invalid({"sending_type": ["sending type انتخاب شده معتبر نیست"]})
        errors = _validate(app, body, items)
        if errors:
            return _invalid(errors)
        fingerprint = repr((body.get("from_number"), items))
        now = time.monotonic()
        if now - app.state["recent"].get(fingerprint, -math.inf) < DUPLICATE_WINDOW:
            return _envelope(429, "درخواست تکراری است", "429-1")
        cost = sum(len(recipients) * _parts(text) * PRICE_PER_PART for recipients, text in items)
        if cost > app.state["credit"]:
            return _envelope(400, "اعتبار کافی نمی باشد", "400-1")
        app.state["credit"] -= cost
        app.state["recent"][fingerprint] = now
        ids = []
        groups = [items] if body["sending_type"] == "webservice" else [[item] for item in items]
        for group in groups:
            outbox_id = app.state["next_id"]
            app.state["next_id"] += 2  # the docs' examples are not consecutive either
            ids.append(outbox_id)
            bulk = {
                "state_id": 6,
                "type": body["sending_type"],
                "from_number": body["from_number"],
                "recipients": [],
            }
            app.state["bulks"][outbox_id] = bulk
            for recipients, text in group:
                for recipient in recipients:
                    row = {"recipient": recipient, "message": text, "message_status": "0"}
                    bulk["recipients"].append(row)
                    app.state["sent"].append(
                        {
                            "outbox_id": outbox_id,
                            "sending_type": body["sending_type"],
                            "from_number": body["from_number"],
                            "recipient": recipient,
                            "message": text,
                        }
                    )
        return _success({"message_outbox_ids": ids})

    @app.get("/v1/api/report/recipients")
    def recipients():
        if not _authorised(app):
            return _bad_key()
        bulk_id = request.args.get("bulk_id", "")
        if not bulk_id:
            return _invalid({"bulk_id": ["تکمیل گزینه bulk_id الزامی است"]})
        bulk = app.state["bulks"].get(int(bulk_id)) if bulk_id.isdigit() else None
        if bulk is None:
            return _envelope(404, "پیام مورد نظر یافت نشد", "400-1")
        rows = [
            {
                "recipient": row["recipient"],
                "message": row["message"],
                "is_readable": True,
                "msg_parts": str(_parts(row["message"])),
                "message_status": row["message_status"],
            }
            for row in bulk["recipients"]
        ]
        return _page(rows, request.args.get("page", 1), request.args.get("per_page", 10))

    @app.get("/v1/api/report/by_bulk")
    def by_bulk():
        if not _authorised(app):
            return _bad_key()
        bulk_id = request.args.get("messages_outbox_id", "")
        bulk = app.state["bulks"].get(int(bulk_id)) if bulk_id.isdigit() else None
        if bulk is None:
            return _envelope(404, "پیام مورد نظر یافت نشد", "400-1")
        return _success(
            {
                "number": bulk["from_number"],
                "messages_outbox_id": bulk_id,
                "type": bulk["type"],
                "rcpts_count": str(len(bulk["recipients"])),
                "state_id": bulk["state_id"],
            }
        )

    @app.get("/v1/api/payment/credit/mine")
    def credit():
        if not _authorised(app):
            return _bad_key()
        return _success(
            {
                "credit": written(app.state["credit"], app.state["credit_form"]),
                "yesterday_credit": app.state["credit"],
                "gift": 0,
                "gift_expires_at": None,
                "updated_at": "2025-06-30 18:07:06",
            }
        )

    @app.post("/v1/api/report/messages-inbox")
    def inbox():
        if not _authorised(app):
            return _bad_key()
        body = request.get_json(silent=True) or {}
        filters = body.get("filters") or {}
        from_id = filters.get("from_id")
        rows = [
            row
            for row in app.state["inbox"]
            if from_id is None or row["messages_inbox_id"] > int(from_id)
        ]
        rows.sort(key=lambda row: row["messages_inbox_id"], reverse=True)  # newest first
        return _page(rows, body.get("page", 1), body.get("per_page", 10))

    return app


# --- helpers for tests -------------------------------------------------------------


def set_status(app: Flask, outbox_id: int, recipient: str, message_status: str | None) -> None:
    """Set the ``message_status`` the recipients report shows for one recipient."""
    for row in app.state["bulks"][outbox_id]["recipients"]:
        if row["recipient"] == recipient:
            row["message_status"] = message_status


def receive(app: Flask, sender: str, text: str, when: int, number: str = LINE) -> int:
    """A contact's message arrives on ``number``; returns its ``messages_inbox_id``."""
    inbox_id = 120 + len(app.state["inbox"])
    app.state["inbox"].append(
        {
            "messages_inbox_id": inbox_id,
            "from": sender,
            "number": number,
            "message": text,
            "type": "normal",
            "time": when,
            "seen": "0",
        }
    )
    return inbox_id


# --- the wire format ---------------------------------------------------------------


def _authorised(app: Flask) -> bool:
    """The key is the bare value of Authorization (a token may come as ``Bearer ...``)."""
    value = request.headers.get("Authorization", "")
    return value.removeprefix("Bearer ") == app.state["api_key"] != ""


def _items(body: dict) -> list[tuple[list, Any]] | None:
    """(recipients, text) pairs of a send request, or None for an unknown sending type."""
    params = body.get("params")
    if body.get("sending_type") == "webservice":
        recipients = params.get("recipients") if isinstance(params, dict) else None
        return [(recipients if isinstance(recipients, list) else [], body.get("message"))]
    if body.get("sending_type") == "peer_to_peer":
        if not isinstance(params, list):
            return []
        return [
            (
                item.get("recipients") if isinstance(item.get("recipients"), list) else [],
                item.get("message"),
            )
            for item in params
            if isinstance(item, dict)
        ]
    return None


def _validate(app: Flask, body: dict, items: list[tuple[list, Any]]) -> dict[str, list[str]]:
    """Laravel-style validation errors, field path -> messages; empty when all is well."""
    errors: dict[str, list[str]] = {}
    if not body.get("from_number"):
        errors["from_number"] = ["تکمیل گزینه from number الزامی است"]
    elif body["from_number"] not in app.state["lines"]:
        errors["from_number"] = ["from number انتخاب شده معتبر نیست"]
    webservice = body["sending_type"] == "webservice"
    if not items or not any(recipients for recipients, _ in items):
        errors["params"] = ["تکمیل گزینه params الزامی است"]
    total = sum(len(recipients) for recipients, _ in items)
    if total > MAX_RECIPIENTS:
        errors["params.recipients"] = [f"تعداد گیرندگان نباید بیشتر از {MAX_RECIPIENTS} باشد"]
        return errors
    for index, (recipients, text) in enumerate(items):
        prefix = "params" if webservice else f"params.{index}"
        message_field = "message" if webservice else f"{prefix}.message"
        if not isinstance(text, str) or not text.strip():
            errors[message_field] = ["تکمیل گزینه پیام الزامی است"]
        elif len(text) > MAX_CHARACTERS or _parts(text) > MAX_PARTS:
            errors[message_field] = ["پیام نباید بیش از 1400 کاراکتر یا 20 پارت باشد"]
        for position, recipient in enumerate(recipients):
            if (
                not isinstance(recipient, str)
                or not _E164.fullmatch(recipient)
                or recipient in app.state["refused_numbers"]
            ):
                errors[f"{prefix}.recipients.{position}"] = ["فرمت شماره گیرنده صحیح نیست"]
    return errors


def _parts(text: str) -> int:
    if text.isascii():
        length, single, multi = len(text), 160, 153
    else:
        length, single, multi = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if length <= single else math.ceil(length / multi)


def _page(rows: list, page: Any, per_page: Any):
    page, per_page = max(int(page), 1), min(max(int(per_page), 1), 100)
    last = max(math.ceil(len(rows) / per_page), 1)
    chunk = rows[(page - 1) * per_page : page * per_page]
    return jsonify(
        {
            "data": chunk,
            "meta": {
                "current_page": page,
                "from": (page - 1) * per_page + 1 if chunk else None,
                "last_page": last,
                "path": request.path.removeprefix("/v1"),
                "per_page": per_page,
                "to": (page - 1) * per_page + len(chunk) if chunk else None,
                "total": len(rows),
                "status": True,
                "message": "انجام شد",
                "message_code": "200-1",
            },
        }
    )


def _success(data: Any):
    meta = {
        "status": True,
        "message": "انجام شد",
        "message_parameters": [],
        "message_code": "200-1",
    }
    return jsonify({"data": data, "meta": meta})


def _envelope(status: int, message: str, code: str, errors: dict | None = None):
    meta = {
        "status": False,
        "message": message,
        "message_parameters": [],
        "message_code": code,
        "errors": errors or {},
    }
    return jsonify({"data": None, "meta": meta}), status


def _bad_key():
    return _envelope(401, "اطلاعات وارد شده صحیح نمی باشد", "400-1")


def _invalid(errors: dict[str, list[str]]):
    first = next(iter(errors.values()))[0]
    more = f" (و {len(errors) - 1} خطای دیگر)" if len(errors) > 1 else ""
    return _envelope(422, first + more, "400-2", errors)
