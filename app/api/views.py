"""The API's endpoints: thin handlers over the campaign and sending services."""

from datetime import UTC, datetime

from flask import g, jsonify, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from app.api import bp
from app.api.errors import ApiError, problem
from app.api.openapi import document
from app.api.schemas import (
    Invalid,
    campaign_from_json,
    contacts_from_json,
    list_name_from_json,
    occasion_range_args,
    page_args,
    purchases_from_json,
    render_from_json,
    template_from_json,
)
from app.api.service import authenticate
from app.auth.audit import record_audit
from app.contacts import service as contacts
from app.contacts.importing import RowError, parse_mobile, store_contacts, store_purchases
from app.contacts.models import Contact, ContactList
from app.coupons import service as coupons
from app.extensions import db
from app.limits import BodyRefused, read_json
from app.messaging import library
from app.messaging import service as campaigns
from app.messaging.audience import choice_of, describe
from app.messaging.models import CAMPAIGN_STATUS_LABELS, Campaign, MessageTemplate
from app.messaging.rendering import render_text
from app.occasions.automations import automation_waits, automations_waiting_for
from app.occasions.calendar import occurrences, persian_name
from app.persian import jalali_date, jalali_datetime
from app.sending.models import ERROR_LABELS, HANDED_OVER, STATUS_LABELS, STATUSES, Message
from app.sending.policy import SendingPolicy, load_policy

# Endpoints that need no token.
PUBLIC = {"api.openapi"}
WAITING = ("queued", "sending", "held")


@bp.before_request
def require_token():
    """Every endpoint but the OpenAPI document needs ``Authorization: Bearer <token>``."""
    if request.endpoint in PUBLIC:
        return
    scheme, _space, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(
            401,
            "unauthorized",
            _("Send your API token in the header: Authorization: Bearer <token>."),
            headers={"WWW-Authenticate": 'Bearer realm="vafa"'},
        )
    token = authenticate(secret)
    if token is None:
        raise ApiError(
            401,
            "invalid_token",
            _("This API token is unknown or has been revoked."),
            headers={"WWW-Authenticate": 'Bearer realm="vafa", error="invalid_token"'},
        )
    g.api_token = token
    db.session.commit()  # last_used_at


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())


# Shapes ------------------------------------------------------------------------------


def iso(moment: datetime | None) -> str | None:
    """2026-12-06T15:00:00Z: a stored moment in UTC, to the second."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _times(item, *names: str) -> dict:
    """``name`` in ISO 8601 UTC and ``name_jalali`` in Tehran time, for each name."""
    shaped = {}
    for name in names:
        moment = getattr(item, name)
        shaped[name] = iso(moment)
        shaped[f"{name}_jalali"] = jalali_datetime(moment) if moment else None
    return shaped


def _paused_reason_label(reason: str | None) -> str | None:
    if not reason:
        return None
    if reason == "owner":
        return _("Paused by the owner.")
    return str(ERROR_LABELS.get(reason, reason))


def campaign_json(
    campaign: Campaign, counts: dict[str, int], left_to_owner: int, policy: SendingPolicy
) -> dict:
    total = sum(counts.values())
    planned = campaigns.planned_start(campaign, policy)
    return {
        "id": campaign.id,
        "name": campaign.name,
        "text": campaign.body,
        "status": campaign.status,
        "status_label": str(CAMPAIGN_STATUS_LABELS[campaign.status]),
        "audience": audience_json(campaign),
        "provider": {
            "id": campaign.provider.id,
            "name": campaign.provider.name,
            "kind": campaign.provider.kind,
        },
        "sender": campaign.sender,
        "marketing": campaign.marketing,
        "paused_reason": campaign.paused_reason,
        "paused_reason_label": _paused_reason_label(campaign.paused_reason),
        "paused_detail": campaign.paused_detail,
        "coupon": {
            "prefix": campaign.coupon_prefix,
            "length": coupons.CouponSettings.of(campaign).length,
        },
        "holdout_percent": campaign.holdout_percent,
        "counts": {status: counts.get(status, 0) for status in STATUSES},
        "totals": {
            "messages": total,
            "waiting": sum(counts.get(status, 0) for status in WAITING),
            "handed_over": sum(counts.get(status, 0) for status in HANDED_OVER),
            "uncertain": counts.get("unknown", 0),
            "being_checked": counts.get("unknown", 0) - left_to_owner,
        },
        **_times(campaign, "scheduled_at", "started_at", "finished_at", "created_at"),
        "planned_start": iso(planned),
        "planned_start_jalali": jalali_datetime(planned) if planned else None,
    }


def audience_json(campaign: Campaign) -> dict:
    choice = choice_of(campaign)
    included = [entry for entry in campaign.audience if not entry.excluded]
    one_list = not campaign.to_everyone and len(included) == 1 and included[0].kind == "list"
    return {
        "all": campaign.to_everyone,
        "list_ids": list(choice.lists),
        "tag_ids": list(choice.tags),
        "segment_ids": list(choice.segments),
        "exclude_list_ids": list(choice.exclude_lists),
        "exclude_segment_ids": list(choice.exclude_segments),
        "items": [
            {
                "kind": entry.kind,
                "id": entry.ref_id,
                "name": entry.current_name,
                "excluded": entry.excluded,
            }
            for entry in campaign.audience
        ],
        "description": describe(campaign),
        "list_id": included[0].list_id if one_list else None,
        "list_name": included[0].current_name if one_list else None,
    }


def _counts(campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """Messages by status for several campaigns, in one query."""
    counts: dict[int, dict[str, int]] = {i: {} for i in campaign_ids}
    if campaign_ids:
        rows = db.session.execute(
            select(Message.campaign_id, Message.status, func.count())
            .where(Message.campaign_id.in_(campaign_ids))
            .group_by(Message.campaign_id, Message.status)
        )
        for campaign_id, status, count in rows:
            counts[campaign_id][status] = count
    return counts


def _one(campaign: Campaign) -> dict:
    left = campaigns.left_to_owner([campaign.id]).get(campaign.id, 0)
    return campaign_json(campaign, campaigns.campaign_counts(campaign.id), left, load_policy())


def estimate_json(figures: campaigns.Estimate) -> dict:
    return {
        "recipients": figures.recipients,
        "opted_out": figures.opted_out,
        "capped": figures.capped,
        "held_out": figures.held_out,
        "parts": figures.parts,
        "cost": figures.cost,
        "credit": figures.credit,
        "covered": figures.covered,
        "credit_error": figures.credit_error,
    }


def message_json(message: Message) -> dict:
    return {
        "id": message.id,
        "contact_id": message.contact_id,
        "mobile": message.mobile,
        "body": message.body,
        "parts": message.parts,
        "sender": message.sender,
        "marketing": message.marketing,
        "status": message.status,
        "status_label": str(STATUS_LABELS.get(message.status, message.status)),
        "provider_ref": message.provider_ref,
        "error": message.error,
        "error_label": str(ERROR_LABELS[message.error]) if message.error in ERROR_LABELS else None,
        "error_detail": message.error_detail,
        "attempts": message.attempts,
        **_times(message, "created_at", "sent_at", "done_at"),
    }


def _page(rows: list, limit: int, shape) -> dict:
    """A page of a keyset-paged list: ``rows`` holds up to ``limit + 1`` items."""
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "data": [shape(row) for row in rows],
        "next_after_id": rows[-1].id if more else None,
    }


# Requests ----------------------------------------------------------------------------


def _json_object() -> dict:
    """The body, a JSON object within the limits (app.limits), or a 400/413 naming why."""
    try:
        payload = read_json()
    except BodyRefused as error:
        code = "too_large" if error.status == 413 else "bad_request"
        raise ApiError(error.status, code, error.message) from None
    if not isinstance(payload, dict):
        raise ApiError(400, "bad_request", _("The request body must be a JSON object."))
    return payload


def _invalid(error: Invalid, message: str) -> ApiError:
    return ApiError(422, "invalid", message, error.details)


def _campaign(campaign_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id)  # at most ID_MAX: app.limits
    if campaign is None:
        raise ApiError(404, "not_found", _("There is no campaign with id %(id)s.", id=campaign_id))
    return campaign


def _paging(statuses: bool = False) -> tuple[int, int, str | None]:
    try:
        page = page_args(request.args, statuses)
    except Invalid as error:
        raise _invalid(error, _("The paging parameters are not valid.")) from None
    return page.limit, page.after_id, getattr(page, "status", None)


# Campaigns ---------------------------------------------------------------------------


@bp.post("/campaigns")
def create_campaign():
    try:
        fields = campaign_from_json(_json_object())
    except Invalid as error:
        raise _invalid(error, _("The campaign was not created; see the details.")) from None
    campaign = campaigns.create_campaign(**fields, created_by_id=None)
    db.session.commit()
    location = url_for("api.get_campaign", campaign_id=campaign.id)
    return jsonify(_one(campaign)), 201, {"Location": location}


@bp.get("/campaigns")
def list_campaigns():
    limit, after_id, _status = _paging()
    rows = db.session.scalars(
        select(Campaign)
        .where(Campaign.id > after_id, Campaign.automation_id.is_(None))
        .order_by(Campaign.id)
        .limit(limit + 1)
    ).all()
    ids = [c.id for c in rows[:limit]]
    counts, left, policy = _counts(ids), campaigns.left_to_owner(ids), load_policy()
    return jsonify(
        _page(rows, limit, lambda c: campaign_json(c, counts[c.id], left.get(c.id, 0), policy))
    )


@bp.get("/campaigns/<int:campaign_id>")
def get_campaign(campaign_id: int):
    return jsonify(_one(_campaign(campaign_id)))


@bp.get("/campaigns/<int:campaign_id>/estimate")
def estimate(campaign_id: int):
    try:
        figures = campaigns.estimate(_campaign(campaign_id))
    except campaigns.CampaignError as error:  # a segment of its audience needs fixing
        raise ApiError(409, "cannot_start", str(error)) from None
    return jsonify({"campaign_id": campaign_id, **estimate_json(figures)})


@bp.post("/campaigns/<int:campaign_id>/start")
def start(campaign_id: int):
    """Confirm a draft: it is sent at its time if the provider's credit covers it."""
    campaign = _campaign(campaign_id)
    was_draft = campaign.status == "draft"
    try:
        figures = campaigns.confirm_campaign(campaign)
    except campaigns.CampaignError as error:
        code = "cannot_start" if was_draft else "invalid_state"
        raise ApiError(409, code, str(error)) from None
    db.session.commit()
    campaigns.start_soon(campaign)
    return jsonify({"campaign": _one(campaign), "estimate": estimate_json(figures)})


def _status_problem(status: str) -> dict:
    """The detail of a 409: the state the campaign is in."""
    label = str(CAMPAIGN_STATUS_LABELS[status])
    return problem("status", _("The campaign's status is: %(status)s", status=label))


def _control(campaign_id: int, action, refusal: str) -> tuple[Campaign, object]:
    """Run a pause/resume/cancel service; the service decides whether the state allows it.

    The services leave a campaign whose state does not allow the action as it is, so an
    unchanged status is the refusal.
    """
    campaign = _campaign(campaign_id)
    before = campaign.status
    result = action(campaign)
    if campaign.status == before:
        raise ApiError(
            409,
            "invalid_state",
            refusal,
            [_status_problem(before)],
        )
    db.session.commit()
    return campaign, result


@bp.post("/campaigns/<int:campaign_id>/pause")
def pause(campaign_id: int):
    campaign, _result = _control(
        campaign_id,
        campaigns.pause_campaign,
        _("Only a scheduled or sending campaign can be paused."),
    )
    return jsonify({"campaign": _one(campaign)})


@bp.post("/campaigns/<int:campaign_id>/resume")
def resume(campaign_id: int):
    campaign, _result = _control(
        campaign_id, campaigns.resume_campaign, _("Only a paused campaign can be resumed.")
    )
    return jsonify({"campaign": _one(campaign)})


@bp.post("/campaigns/<int:campaign_id>/cancel")
def cancel(campaign_id: int):
    campaign, count = _control(
        campaign_id,
        campaigns.cancel_campaign,
        _("This campaign has already finished or been cancelled."),
    )
    return jsonify({"campaign": _one(campaign), "cancelled_messages": count})


@bp.post("/campaigns/<int:campaign_id>/retry-unknown")
def retry(campaign_id: int):
    """Send a campaign's ``unknown`` messages again (some may already have arrived).

    A paused campaign holds them until it resumes; a cancelled one refuses.
    """
    campaign = _campaign(campaign_id)
    if campaign.status == "cancelled":
        raise ApiError(
            409,
            "invalid_state",
            _("A cancelled campaign sends nothing more."),
            [_status_problem(campaign.status)],
        )
    count = campaigns.retry_unknown_messages(campaign)
    db.session.commit()
    return jsonify({"campaign": _one(campaign), "requeued_messages": count})


@bp.get("/campaigns/<int:campaign_id>/messages")
def messages(campaign_id: int):
    campaign = _campaign(campaign_id)
    limit, after_id, status = _paging(statuses=True)
    query = select(Message).where(Message.campaign_id == campaign.id, Message.id > after_id)
    if status:
        query = query.where(Message.status == status)
    rows = db.session.scalars(query.order_by(Message.id).limit(limit + 1)).all()
    return jsonify(_page(rows, limit, message_json))


# Contacts and purchases --------------------------------------------------------------


def _day_fields(contact: Contact, *names: str) -> dict:
    """``name`` as 1991-08-03 and ``name_jalali`` as 1370/05/12, for each name."""
    shaped = {}
    for name in names:
        day = getattr(contact, name)
        shaped[name] = day.isoformat() if day else None
        shaped[f"{name}_jalali"] = jalali_date(day) if day else None
    return shaped


def contact_json(contact: Contact) -> dict:
    return {
        "id": contact.id,
        "mobile": contact.mobile,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "gender": contact.gender,
        "city": contact.city,
        **_day_fields(contact, "birth_date", "anniversary"),
        "fields": contact.fields or {},
        "tags": sorted(tag.name for tag in contact.tags),
        "lists": [
            {"id": item.id, "name": item.name}
            for item in sorted(contact.lists, key=lambda item: item.id)
        ],
        "opted_out": contact.opted_out_at is not None,
        "purchase_count": contact.purchase_count,
        "total_spent": contact.total_spent,
        **_times(contact, "first_purchase_at", "last_purchase_at", "opted_out_at", "created_at"),
    }


def _token_label() -> str:
    """Where an API change came from, as the opt-out log records it."""
    return f"API: {g.api_token.name}"


@bp.post("/contacts")
def upsert_contacts():
    """Create or update up to 1000 contacts; one wrong item and nothing is written."""
    try:
        request_ = contacts_from_json(_json_object())
    except Invalid as error:
        raise _invalid(error, _("No contact was saved; correct the items named below.")) from None
    rows = request_["rows"]
    stored = store_contacts(
        rows,
        on_duplicate=request_["on_duplicate"],
        list_id=request_["list_id"],
        source="api",
        opt_out_text=_token_label(),
    )
    db.session.commit()
    return jsonify(
        {
            "created": stored.created,
            "updated": stored.updated,
            "skipped": stored.results.count("skipped"),
            "contacts": [
                {"mobile": row.mobile, "id": contact_id, "result": result}
                for row, contact_id, result in zip(
                    rows, stored.contact_ids, stored.results, strict=True
                )
            ],
        }
    )


@bp.get("/contacts/<mobile>")
def get_contact(mobile: str):
    """A contact by any form of the number: 0912…, +98912…, ۰۹۱۲…"""
    try:
        canonical = parse_mobile(mobile)
    except RowError as error:
        raise ApiError(
            422,
            "invalid",
            _("This is not a mobile number."),
            [problem("mobile", error.reason)],
        ) from None
    contact = db.session.scalar(select(Contact).where(Contact.mobile == canonical))
    if contact is None:
        raise ApiError(
            404, "not_found", _("No contact has the number %(mobile)s.", mobile=canonical)
        )
    return jsonify(contact_json(contact))


@bp.post("/purchases")
def record_purchases():
    """Record up to 1000 purchases; a reference already recorded is a duplicate, not an error.

    A checkout that retries the same invoice gets "duplicate" and the totals count it once.
    """
    try:
        request_ = purchases_from_json(_json_object())
    except Invalid as error:
        raise _invalid(
            error, _("No purchase was recorded; correct the items named below.")
        ) from None
    rows = request_["rows"]
    stored = store_purchases(rows, create_contacts=request_["create_contacts"], source="api")
    db.session.commit()
    results = stored.results
    return jsonify(
        {
            "created": results.count("created") - stored.late_duplicates,
            "duplicates": results.count("duplicate") + stored.late_duplicates,
            "purchases": [
                {"reference": row.reference, "mobile": row.mobile, "result": result}
                for row, result in zip(rows, results, strict=True)
            ],
        }
    )


# Coupons -----------------------------------------------------------------------------


def coupon_json(details: coupons.CouponDetails) -> dict:
    coupon = details.coupon
    return {
        "code": coupon.code,
        "campaign_id": coupon.campaign_id,
        "campaign_name": details.campaign_name,
        "contact_id": coupon.contact_id,
        "contact_name": details.contact_name,
        "mobile": details.mobile,
        "message_id": coupon.message_id,
        "sent_at": iso(details.sent_at),
        "sent_at_jalali": jalali_datetime(details.sent_at) if details.sent_at else None,
        **_times(coupon, "created_at"),
        "redeemed": details.redeemed,
        **_times(coupon, "redeemed_at"),
        "redeemed_by": coupon.redeemed_by,
        "note": coupon.note,
    }


def _coupon_code(typed: str) -> str:
    code = coupons.normalize_code(typed)
    if code is None:
        raise ApiError(
            422,
            "invalid",
            _("This is not a coupon code."),
            [problem("code", _("A code has only Latin letters and digits."))],
        )
    return code


@bp.get("/coupons/<code>")
def get_coupon(code: str):
    code = _coupon_code(code)
    details = coupons.find_coupon(code)
    if details is None:
        raise ApiError(404, "not_found", _("There is no coupon with the code %(code)s.", code=code))
    return jsonify(coupon_json(details))


@bp.post("/coupons/<code>/redeem")
def redeem_coupon(code: str):
    """Mark a code used; of two simultaneous redemptions one wins, the other gets 409."""
    code = _coupon_code(code)
    try:
        details = coupons.redeem_coupon(code, _token_label())
    except coupons.UnknownCoupon as error:
        db.session.rollback()
        raise ApiError(404, "not_found", str(error)) from None
    except coupons.AlreadyRedeemed as error:
        db.session.rollback()
        raise ApiError(409, "already_redeemed", str(error)) from None
    db.session.commit()
    return jsonify(coupon_json(details))


# Templates ---------------------------------------------------------------------------


@bp.post("/templates/render")
def render_template_text():
    """A text as a contact receives it (or a sample, without ``contact_id``), counted as
    the operator counts it: the editor's and the campaigns' rendering."""
    try:
        request_ = render_from_json(_json_object())
    except Invalid as error:
        raise _invalid(error, _("The text could not be rendered; see the details.")) from None
    contact = db.session.get(Contact, request_.contact_id) if request_.contact_id else None
    rendered = render_text(request_.body, contact, request_.marketing)
    return jsonify(
        {
            "text": rendered.text,
            "chars": rendered.characters,
            "encoding": rendered.encoding,
            "parts": rendered.parts,
        }
    )


def template_json(template: MessageTemplate) -> dict:
    return {
        "id": template.id,
        "name": template.name,
        "body": template.body,
        "key": template.key,
        "builtin": template.builtin,
        **_times(template, "created_at"),
    }


def _template(template_id: int) -> MessageTemplate:
    template = db.session.get(MessageTemplate, template_id)
    if template is None:
        raise ApiError(404, "not_found", _("There is no template with id %(id)s.", id=template_id))
    return template


def _template_fields() -> tuple[str, str]:
    try:
        fields = template_from_json(_json_object())
    except Invalid as error:
        raise _invalid(error, _("The template was not saved; see the details.")) from None
    return fields.name, fields.body


def _saving_refused(error: library.TemplateError) -> ApiError:
    return ApiError(
        422,
        "invalid",
        _("The template was not saved; see the details."),
        [problem(error.field, error.message)],
    )


@bp.get("/templates")
def list_templates():
    items = library.all_templates()
    db.session.commit()  # the built-ins, on first use
    return jsonify({"items": [template_json(item) for item in items]})


@bp.post("/templates")
def create_template():
    name, body = _template_fields()
    library.ensure_builtin_templates()  # a built-in's name is taken before the owner's
    try:
        template = library.create_template(name, body)
    except library.TemplateError as error:
        raise _saving_refused(error) from None
    db.session.commit()
    location = url_for("api.template", template_id=template.id)
    return jsonify(template_json(template)), 201, {"Location": location}


# One view for both methods: with a rule per method, an id beyond ID_MAX (which the
# converter refuses) would answer 405 for the method whose rule is tried first, not 404.
@bp.route("/templates/<int:template_id>", methods=["PUT", "DELETE"])
def template(template_id: int):
    """PUT: change a template's name and text; DELETE: remove one of the owner's."""
    found = _template(template_id)
    if request.method == "DELETE":
        try:
            library.delete_template(found)
        except library.TemplateError as error:
            raise ApiError(409, "invalid_state", error.message) from None
        db.session.commit()
        return jsonify({"deleted": True})
    name, body = _template_fields()
    try:
        library.update_template(found, name, body)
    except library.TemplateError as error:
        raise _saving_refused(error) from None
    db.session.commit()
    return jsonify(template_json(found))


# Lists and tags ---------------------------------------------------------------------


def list_json(contact_list: ContactList) -> dict:
    return {
        "id": contact_list.id,
        "name": contact_list.name,
        "member_count": contact_list.member_count,
    }


def _list(list_id: int) -> ContactList:
    contact_list = db.session.get(ContactList, list_id)
    if contact_list is None:
        raise ApiError(404, "not_found", _("There is no list with id %(id)s.", id=list_id))
    return contact_list


def _list_name(refusal: str) -> str:
    try:
        return list_name_from_json(_json_object())
    except Invalid as error:
        raise _invalid(error, refusal) from None


def _name_taken(refusal: str) -> ApiError:
    return ApiError(422, "invalid", refusal, [problem("name", _("Another list has this name."))])


@bp.get("/lists")
def list_lists():
    """Every list with its number of contacts, by name (a script learns the ids here)."""
    return jsonify({"items": [list_json(item) for item, _count in contacts.all_lists()]})


@bp.post("/lists")
def create_list():
    refusal = _("The list was not created; see the details.")
    name = _list_name(refusal)
    try:
        contact_list = contacts.create_list(name)
    except contacts.NameTaken:
        db.session.rollback()
        raise _name_taken(refusal) from None
    db.session.commit()
    return jsonify(list_json(contact_list)), 201


@bp.route("/lists/<int:list_id>", methods=["PATCH", "DELETE"])
def list_item(list_id: int):
    """Rename (PATCH) or delete (DELETE) a list.

    One route for both methods: with two, werkzeug answers an id beyond ID_MAX with 405
    (the other method's route seems to match) instead of 404.
    """
    contact_list = _list(list_id)
    if request.method == "DELETE":
        return _delete_list(contact_list)
    refusal = _("The list was not renamed; see the details.")
    name = _list_name(refusal)
    try:
        contacts.rename(contact_list, name)
    except contacts.NameTaken:
        db.session.rollback()
        raise _name_taken(refusal) from None
    db.session.commit()
    return jsonify(list_json(contact_list))


def _delete_list(contact_list: ContactList):
    """Delete a list (its contacts stay), unless a campaign yet to go out names it."""
    waiting = contacts.campaigns_waiting_for(contact_list)
    if waiting:
        raise ApiError(
            409,
            "invalid_state",
            _(
                "Not now: the campaign “%(name)s” has yet to go out to this list."
                " Cancel it, or wait until it is sent.",
                name=waiting[0],
            ),
        )
    automations = automations_waiting_for("list", contact_list.id)
    if automations:
        raise ApiError(409, "invalid_state", automation_waits(automations[0], "list"))
    name, members = contact_list.name, contact_list.member_count
    contacts.delete_list(contact_list.id)
    record_audit("list.delete", name, {"count": members, "via": _token_label()})
    db.session.commit()
    return "", 204


@bp.get("/tags")
def list_tags():
    """Every tag with its number of contacts, by name."""
    return jsonify(
        {
            "items": [
                {"id": tag.id, "name": tag.name, "member_count": count}
                for tag, count in contacts.all_tags()
            ]
        }
    )


# Occasions ---------------------------------------------------------------------------


@bp.get("/occasions")
def list_occasions():
    try:
        asked = occasion_range_args(request.args)
    except Invalid as error:
        raise _invalid(error, _("The days asked for are not valid; see the details.")) from None
    items = [
        {
            "key": item.key,
            "name": persian_name(item),
            "calendar": item.calendar,
            "date": item.day.isoformat(),
            "jalali": jalali_date(item.day),
            "estimate": item.estimate,
        }
        for item in occurrences(asked.start, asked.end)
    ]
    return jsonify(items=items)
