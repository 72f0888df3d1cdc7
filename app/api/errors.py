"""Every answer under /api/ is JSON, errors included.

An error reads ``{"error": {"code": …, "message": …, "details": [{"field": …,
"message": …}]}}``: ``code`` is stable for scripts, ``message`` is in the caller's
language (Persian unless ``Accept-Language`` asks for English), ``details`` names each
field that was wrong. Nothing a failed request did is committed.
"""

from flask import jsonify, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from app.api import bp
from app.extensions import db

API_PATH = "/api/"


class ApiError(Exception):
    """An answer other than success, raised from anywhere inside a request to the API."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict] | None = None,
        headers: dict | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers or {}


def problem(field: str, message: str) -> dict:
    """One entry of an error's ``details``."""
    return {"field": field, "message": str(message)}


def error_response(status: int, code: str, message: str, details=(), headers: dict | None = None):
    body = {"error": {"code": code, "message": str(message), "details": list(details)}}
    return jsonify(body), status, headers or {}


def is_api_request() -> bool:
    return request.blueprint == bp.name or request.path.startswith(API_PATH)


@bp.errorhandler(ApiError)
def api_error(error: ApiError):
    db.session.rollback()
    return error_response(error.status, error.code, error.message, error.details, error.headers)


# Werkzeug's HTTP errors by code: a stable name and a message for people.
def _generic(error: HTTPException) -> tuple[str, str]:
    if error.code == 400:
        return "bad_request", _("The request could not be read.")
    if error.code == 401:
        return "unauthorized", _("This request needs an API token.")
    if error.code == 403:
        return "forbidden", _("This request is not allowed.")
    if error.code == 404:
        return "not_found", _("There is nothing at this address.")
    if error.code == 405:
        return "method_not_allowed", _(
            "This address does not accept the %(method)s method.", method=request.method
        )
    if error.code == 413:
        return "too_large", _("The request is too large.")
    if error.code == 415:
        return "unsupported_media_type", _("Send the request body as JSON.")
    if error.code is not None and error.code >= 500:
        return "server_error", _("Something went wrong on the server; the error has been logged.")
    return "error", _("The request failed.")


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException):
    """HTTP errors (an unknown address, a wrong method, a crash) as JSON under /api/.

    Registered on the app, since a path that matches no route belongs to no blueprint;
    every other page keeps Flask's own error pages.
    """
    if not is_api_request():
        return error
    db.session.rollback()
    code, message = _generic(error)
    headers = {}
    if error.code == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    return error_response(error.code or 500, code, message, headers=headers)
