"""Serve a fake provider (a small Flask app) on a loopback port for one test.

Each fake in this folder speaks one provider's documented wire format and keeps what it
received in ``app.state``, so a test asserts on what really went over HTTP. ``Faults``
lets a test make the next calls misbehave the way real providers do.
"""

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import Flask, Response, request
from werkzeug.serving import make_server


@dataclass
class Faults:
    """Misbehaviour for the next ``times`` requests (0: every request)."""

    status: int | None = None  # answer with this HTTP status and an empty body
    body: str | None = None  # answer 200 with this raw body (garbage)
    streamed: bool = False  # send ``body`` in pieces, without saying its length first
    delay: float = 0.0  # seconds to sleep before answering (after reading the request)
    after_handling: bool = False  # sleep/answer after the fake recorded the request
    times: int = 0
    retry_after: str | None = None
    seen: int = field(default=0, init=False)

    def active(self) -> bool:
        return self.times == 0 or self.seen < self.times


def install_faults(app: Flask) -> Faults:
    """Attach a Faults object to a fake app; returns it for the test to set."""
    app.faults = Faults(times=-1)  # inactive until a test sets it

    def injected() -> Response | None:
        faults: Faults = app.faults
        if faults.times < 0 or not faults.active():
            return None
        faults.seen += 1
        if faults.delay:
            time.sleep(faults.delay)
        if faults.status:
            headers = {"Retry-After": faults.retry_after} if faults.retry_after else {}
            return Response("", status=faults.status, headers=headers)
        if faults.body is not None:
            body = faults.body
            if faults.streamed:
                pieces = (body[start : start + 65536] for start in range(0, len(body), 65536))
                return Response(pieces, status=200, mimetype="application/json")
            return Response(body, status=200, mimetype="application/json")
        return None

    @app.before_request
    def before():
        if not app.faults.after_handling:
            return injected()
        return None

    @app.after_request
    def after(response):
        if app.faults.after_handling:
            replaced = injected()
            if replaced is not None:
                return replaced
        return response

    return app.faults


@contextmanager
def serving(app: Flask):
    """Run ``app`` on 127.0.0.1 on a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


# The ways providers write an amount (a credit) in their answers; a fake's state names
# one in ``credit_form``, so a test can make it answer in each form the adapters must read.
AMOUNT_FORMS = {
    "number": lambda amount: amount,  # as kept: 1234567 or 1234.5
    "float": float,  # 1234567.0
    "separated": lambda amount: f"{amount:,}",  # "1,234,567"
    "spaced": lambda amount: f"{amount:,}".replace(",", " "),  # "1 234 567"
    "persian": lambda amount: f"{amount:,}".translate(_PERSIAN),  # "۱٬۲۳۴٬۵۶۷"
    "garbage": lambda amount: "نامشخص",  # noqa: ARG005 (an answer nobody can read)
}
_PERSIAN = str.maketrans("0123456789,.", "۰۱۲۳۴۵۶۷۸۹٬٫")


def written(amount, form: str):
    """``amount`` as a provider that writes amounts in ``form`` (AMOUNT_FORMS) answers it."""
    return AMOUNT_FORMS[form](amount)


def form_or_json() -> dict:
    """The request's parameters whether sent as query, form or JSON (as providers accept)."""
    data = dict(request.args)
    data.update(request.form)
    if request.is_json:
        data.update(request.get_json(silent=True) or {})
    return data
