"""The API's automation endpoints: thin handlers over app.occasions.automations."""

from datetime import time

from flask import jsonify, request, url_for
from flask_babel import gettext as _

from app.api import bp
from app.api.errors import ApiError, problem
from app.api.schemas import Invalid, NewAutomation, automation_from_json, plan_args
from app.api.views import _invalid, _json_object, _times
from app.coupons.service import LENGTH_DEFAULT
from app.extensions import db
from app.messaging.audience import AudienceChoice
from app.occasions import automations as service
from app.occasions.models import AUTOMATION_KINDS, Automation
from app.persian import to_tehran

# check_automation's field names, as the API calls them.
_FIELDS = {
    "body": "text",
    "send_time": "time",
    "occasion_key": "occasion",
    "provider_id": "provider_account_id",
    "coupon_prefix": "coupon.prefix",
    "coupon_length": "coupon.length",
}
_AUDIENCE = {
    "list_ids": "lists",
    "tag_ids": "tags",
    "segment_ids": "segments",
    "exclude_list_ids": "exclude_lists",
    "exclude_segment_ids": "exclude_segments",
}


def _automation(automation_id: int) -> Automation:
    automation = db.session.get(Automation, automation_id)  # at most ID_MAX: app.limits
    if automation is None:
        raise ApiError(
            404, "not_found", _("There is no automation with id %(id)s.", id=automation_id)
        )
    return automation


def _audience_json(choice: AudienceChoice) -> dict:
    return {
        "all": choice.everyone,
        **{key: list(getattr(choice, part)) for key, part in _AUDIENCE.items()},
    }


def automation_json(automation: Automation) -> dict:
    choice = service.audience_choice(automation.audience)
    has_coupon = automation.coupon_prefix is not None or automation.coupon_length is not None
    next_at = service.next_send(automation)
    return {
        "id": automation.id,
        "name": automation.name,
        "kind": automation.kind,
        "kind_label": str(AUTOMATION_KINDS[automation.kind]),
        "active": automation.active,
        "text": automation.body,
        "time": automation.send_time.strftime("%H:%M"),
        "days_before": automation.days_before,
        "days_after": automation.days_after,
        "delay_minutes": automation.delay_minutes,
        "counts_from": automation.counts_from,
        "occasion": automation.occasion_key,
        "audience": _audience_json(choice),
        "provider_account_id": automation.provider_id,
        "sender": automation.sender,
        "coupon": {
            "prefix": automation.coupon_prefix,
            "length": automation.coupon_length or LENGTH_DEFAULT,
        }
        if has_coupon
        else None,
        "holdout_percent": automation.holdout_percent,
        "next_send_at": to_tehran(next_at).isoformat() if next_at else None,
        **_times(automation, "created_at", "updated_at"),
    }


def _request_shape(automation: Automation) -> dict:
    """An automation as a request would give it (what a PATCH changes)."""
    choice = service.audience_choice(automation.audience)
    audience = {key: value for key, value in _audience_json(choice).items() if value}
    shape = {
        "name": automation.name,
        "kind": automation.kind,
        "text": automation.body,
        "time": automation.send_time.strftime("%H:%M"),
        "days_before": automation.days_before,
        "days_after": automation.days_after,
        "delay_minutes": automation.delay_minutes,
        "counts_from": automation.counts_from,
        "audience": audience,
        "active": automation.active,
        "holdout_percent": automation.holdout_percent,
    }
    optional = {
        "occasion": automation.occasion_key,
        "provider_account_id": automation.provider_id,
        "sender": automation.sender,
    }
    shape.update({key: value for key, value in optional.items() if value is not None})
    if automation.coupon_prefix is not None or automation.coupon_length is not None:
        shape["coupon"] = {
            "prefix": automation.coupon_prefix or "",
            "length": automation.coupon_length or LENGTH_DEFAULT,
        }
    return shape


def _fields(sent: NewAutomation) -> service.AutomationFields:
    hour, minute = (int(part) for part in sent.time.split(":"))
    return service.AutomationFields(
        name=sent.name,
        kind=sent.kind,
        body=sent.text,
        send_time=time(hour, minute),
        days_before=sent.days_before,
        days_after=sent.days_after,
        delay_minutes=sent.delay_minutes,
        counts_from=sent.counts_from,
        occasion_key=sent.occasion,
        audience=sent.audience or AudienceChoice(everyone=True),
        provider_id=sent.provider_account_id,
        sender=sent.sender,
        coupon_prefix=sent.coupon.prefix if sent.coupon else None,
        coupon_length=sent.coupon.length if sent.coupon else None,
        holdout_percent=sent.holdout_percent,
        active=sent.active,
    )


def _saved(payload: dict, automation: Automation | None = None) -> Automation:
    """Save the request's automation; a 422 naming the field at fault."""
    not_saved = _("The automation was not saved; see the details.")
    try:
        sent = automation_from_json(payload)
    except Invalid as error:
        raise _invalid(error, not_saved) from None
    try:
        saved = service.save_automation(_fields(sent), automation)
    except service.AutomationError as error:
        at = _FIELDS.get(error.field or "", error.field or "")
        raise ApiError(422, "invalid", not_saved, [problem(at, str(error))]) from None
    db.session.commit()
    return saved


@bp.get("/automations")
def list_automations():
    rows = db.session.scalars(db.select(Automation).order_by(Automation.id)).all()
    return jsonify({"items": [automation_json(row) for row in rows]})


@bp.post("/automations")
def create_automation():
    automation = _saved(_json_object())
    location = url_for("api.automation", automation_id=automation.id)
    return jsonify(automation_json(automation)), 201, {"Location": location}


# One route for reading and changing: with several, a PUT to an id beyond ID_MAX would
# match the GET route's path and be answered 405 instead of 404.
@bp.route("/automations/<int:automation_id>", methods=["GET", "PUT", "PATCH"])
def automation(automation_id: int):
    automation = _automation(automation_id)
    if request.method == "PUT":
        _saved(_json_object(), automation)
    elif request.method == "PATCH":
        _saved({**_request_shape(automation), **_json_object()}, automation)
    return jsonify(automation_json(automation))


def _switched(automation_id: int, active: bool):
    automation = _automation(automation_id)
    try:
        service.set_active(automation, active)
    except service.AutomationError as error:
        raise ApiError(409, "invalid_state", str(error)) from None
    db.session.commit()
    return jsonify(automation_json(automation))


@bp.post("/automations/<int:automation_id>/activate")
def activate_automation(automation_id: int):
    return _switched(automation_id, True)


@bp.post("/automations/<int:automation_id>/deactivate")
def deactivate_automation(automation_id: int):
    return _switched(automation_id, False)


@bp.get("/automations/<int:automation_id>/plan")
def automation_plan(automation_id: int):
    automation = _automation(automation_id)
    try:
        query = plan_args(request.args)
    except Invalid as error:
        raise _invalid(error, _("The plan's parameters are not valid.")) from None
    planned = service.plan(automation, query.start, query.end, limit=query.limit + 1)
    items = [
        {
            "contact_id": item.contact_id,
            "mobile": item.mobile,
            "send_at": to_tehran(item.send_at).isoformat(),
            "occurrence": item.occurrence,
        }
        for item in planned[: query.limit]
    ]
    return jsonify({"items": items, "more": len(planned) > query.limit})
