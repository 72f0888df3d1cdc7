"""What a request may hold before it is read: body sizes, JSON depth, ids in URLs.

Everything that arrives is measured against these limits before it is parsed or stored,
and refused with a message that names the limit (DESIGN.md, trust boundaries):

- bodies: VAFA_MAX_FORM_BODY for the panel's forms (Flask's MAX_CONTENT_LENGTH),
  VAFA_MAX_API_BODY for the JSON API and VAFA_MAX_UPLOAD for the import upload only
  (a shop's 1,000,000-row file is 100-200 MB); larger bodies get 413, as JSON under
  /api/ and as a Persian page in the panel;
- JSON: malformed → 400 naming where; nested deeper than VAFA_MAX_JSON_DEPTH → 400;
- ids: an ``<int:…>`` in any URL beyond ID_MAX (2**31-1, what a PostgreSQL INTEGER
  holds) matches no route (404), and ``request.args.get(…, type=int)`` treats such a
  number as absent, instead of an integer overflow in the database (500).
"""

import json

from flask import Flask, current_app, render_template, request, url_for
from flask.wrappers import Request
from flask_babel import gettext as _
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from app.persian import show_number

# The largest id both databases can hold: the primary keys are INTEGER, 32-bit on
# PostgreSQL (SQLite's are 64-bit). Ids beyond are refused before a query is built:
# PostgreSQL answers a larger one with "integer out of range", SQLite one beyond 2**63-1
# with an OverflowError, and either was a 500.
ID_MAX = 2**31 - 1

# Endpoints that take a file: the import upload.
UPLOAD_ENDPOINTS = {"contacts.import_contacts"}
MB = 1024 * 1024


class BoundedInt(IntegerConverter):
    """``<int:…>`` for every route: at most ID_MAX, so a 20-digit id is simply not found."""

    def __init__(self, map, *args, **kwargs):
        super().__init__(map, *args, **kwargs)
        if self.max is None or self.max > ID_MAX:
            self.max = ID_MAX


def _bounded_int(value) -> int:
    number = int(value)
    if not -ID_MAX <= number <= ID_MAX:
        raise ValueError("out of range")
    return number


class BoundedArgs(ImmutableMultiDict):
    """Query and form values: ``get(name, type=int)`` is None beyond what an id can be."""

    def get(self, key, default=None, type=None):  # noqa: A002 (werkzeug's signature)
        if type is int:
            type = _bounded_int
        return super().get(key, default=default, type=type)


class VafaRequest(Request):
    parameter_storage_class = BoundedArgs


def _size(limit: int) -> str:
    """1 MB, 256 MB: a limit as the owner reads it."""
    if limit >= MB:
        return _("%(count)s MB", count=show_number(round(limit / MB)))
    return _("%(count)s KB", count=show_number(max(1, round(limit / 1024))))


def body_limit() -> int:
    """The most bytes this request's body may have."""
    config = current_app.config
    if request.endpoint in UPLOAD_ENDPOINTS:
        return config["VAFA_MAX_UPLOAD"]
    if request.path.startswith("/api/"):
        return config["VAFA_MAX_API_BODY"]
    return config["VAFA_MAX_FORM_BODY"]


class BodyRefused(ValueError):
    """A JSON body that cannot be read: ``status`` (400 or 413) and a message naming why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def too_large_message() -> str:
    size = _size(body_limit())
    if request.endpoint in UPLOAD_ENDPOINTS and not request.path.startswith("/api/"):
        return _(
            "The file is larger than %(size)s, the largest file Vafa imports"
            " (setting VAFA_MAX_UPLOAD).",
            size=size,
        )
    if request.path.startswith("/api/") or request.endpoint in UPLOAD_ENDPOINTS:
        return _("The request is larger than %(size)s, the most this address takes.", size=size)
    return _(
        "The form is larger than %(size)s or has more than %(count)s fields, "
        "the most a form of the panel may have.",
        size=size,
        count=show_number(current_app.config["MAX_FORM_PARTS"]),
    )


def _depth(value, limit: int) -> bool:
    """Whether ``value`` nests at most ``limit`` arrays and objects deep (no recursion)."""
    level = [value]
    for _depth_now in range(limit + 1):
        inner = []
        for item in level:
            if isinstance(item, dict):
                inner.extend(item.values())
            elif isinstance(item, list):
                inner.extend(item)
        if not inner:
            return True
        level = inner
    return False


def _no_constant(name: str):
    raise ValueError(name)


def read_json():
    """The request's JSON body, or ``BodyRefused`` naming what is wrong with it.

    The size is checked before reading (Content-Length, then the bytes read); the parser
    refuses NaN and Infinity (not JSON) and too deep nesting (the C parser raises
    RecursionError long before it could crash, and anything deeper than the setting is
    refused after).
    """
    if not request.is_json:
        raise BodyRefused(400, _("Send the request body as JSON (Content-Type: application/json)."))
    try:
        data = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise BodyRefused(413, too_large_message()) from None
    limit = current_app.config["VAFA_MAX_JSON_DEPTH"]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BodyRefused(
            400,
            _("The body is not UTF-8 (byte %(position)s).", position=show_number(error.start + 1)),
        ) from None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise BodyRefused(
            400,
            _(
                "The body is not valid JSON: %(reason)s at line %(line)s, column %(column)s.",
                reason=error.msg,
                line=show_number(error.lineno),
                column=show_number(error.colno),
            ),
        ) from None
    except RecursionError:
        value = None
        deep = True
    except ValueError as error:  # NaN, Infinity, or an integer of thousands of digits
        raise BodyRefused(400, _("The body is not valid JSON: %(reason)s.", reason=error)) from None
    else:
        deep = not _depth(value, limit)
    if deep:
        raise BodyRefused(
            400,
            _(
                "The body nests arrays and objects more than %(max)s deep.",
                max=show_number(limit),
            ),
        )
    return value


def register_limits(app: Flask) -> None:
    """Body sizes per kind of request, bounded ids, and the 413 answer.

    Called before the blueprints are registered: routes take the ``int`` converter
    that is in the map when they are added.
    """
    app.request_class = VafaRequest
    app.url_map.converters["int"] = BoundedInt
    app.config["MAX_CONTENT_LENGTH"] = app.config["VAFA_MAX_FORM_BODY"]
    # The text fields of a form (files apart) may fill the whole form's limit.
    app.config["MAX_FORM_MEMORY_SIZE"] = app.config["VAFA_MAX_FORM_BODY"]

    @app.before_request
    def set_body_limit():
        request.max_content_length = body_limit()

    @app.errorhandler(413)
    def too_large(_error):
        from app.api.errors import error_response, is_api_request
        from app.extensions import db

        db.session.rollback()
        if is_api_request():
            return error_response(413, "too_large", too_large_message())
        upload = request.endpoint in UPLOAD_ENDPOINTS
        return render_template(
            "errors/too_large.html",
            message=too_large_message(),
            upload=upload,
            back=url_for(request.endpoint) if upload else url_for("index"),
        ), 413
