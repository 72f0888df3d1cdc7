"""The API described in OpenAPI 3.1, written out by hand (no dependency to generate it).

tests/integration/api/test_api_openapi.py checks that every route under /api/v1 is
described here and that nothing here is missing from the app.
"""

import copy

from app.messaging.models import CAMPAIGN_STATUS_LABELS
from app.sending.models import STATUSES

SERVER = "/api/v1"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str, **extra) -> dict:
    return {"type": [kind, "null"], **extra}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    return {
        str(code): {"$ref": f"#/components/responses/{ERROR_RESPONSES[code]}"} for code in codes
    }


ERROR_RESPONSES = {
    400: "BadRequest",
    401: "Unauthorized",
    404: "NotFound",
    409: "Conflict",
    422: "Invalid",
}

_MOMENT = {"type": ["string", "null"], "format": "date-time", "description": "UTC, ISO 8601"}
_JALALI = {
    "type": ["string", "null"],
    "description": "The same moment in Tehran, Jalali calendar: 1405/09/15 18:30",
    "examples": ["1405/09/15 18:30"],
}


def _moments(*names: str) -> dict:
    properties = {}
    for name in names:
        properties[name] = _MOMENT
        properties[f"{name}_jalali"] = _JALALI
    return properties


SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": {
                        "type": "string",
                        "description": (
                            "Stable, for scripts: bad_request, unauthorized, invalid_token, "
                            "not_found, method_not_allowed, invalid (422), invalid_state "
                            "(409: the campaign's state does not allow it), cannot_start "
                            "(409: e.g. the credit does not cover the campaign), server_error."
                        ),
                    },
                    "message": {
                        "type": "string",
                        "description": "For people, in Persian (or English with "
                        "Accept-Language: en).",
                    },
                    "details": {"type": "array", "items": _ref("Problem")},
                },
            }
        },
    },
    "Problem": {
        "type": "object",
        "required": ["field", "message"],
        "properties": {
            "field": {
                "type": "string",
                "description": "The field or parameter, dotted for nested ones: audience.list_id",
            },
            "message": {"type": "string"},
        },
    },
    "NewCampaign": {
        "type": "object",
        "required": ["name", "text", "audience"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "maxLength": 200},
            "text": {
                "type": "string",
                "maxLength": 1000,
                "description": "The message, with placeholders: {نام}, {نام خانوادگی}, "
                "{نام کامل}, {first_name}, {last_name}, {full_name}; a fallback for empty "
                "values after a bar: {نام|مشتری عزیز}.",
                "examples": ["سلام {نام|مشتری عزیز}، تخفیف یلدا تا جمعه"],
            },
            "audience": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["list_id"],
                        "additionalProperties": False,
                        "properties": {"list_id": {"type": "integer"}},
                    },
                    {
                        "type": "object",
                        "required": ["all"],
                        "additionalProperties": False,
                        "properties": {"all": {"const": True}},
                    },
                ],
                "description": "A contact list, or every contact.",
            },
            "provider_account_id": {
                "type": "integer",
                "description": "Default: the default provider account.",
            },
            "sender": {
                "type": "string",
                "description": "One of the account's sender lines; default: its first.",
            },
            "scheduled_at": {
                "oneOf": [
                    {
                        "type": "string",
                        "format": "date-time",
                        "description": "ISO 8601 with an offset: 2026-12-06T18:30:00+03:30",
                    },
                    {
                        "type": "object",
                        "required": ["jalali"],
                        "additionalProperties": False,
                        "properties": {
                            "jalali": {
                                "type": "string",
                                "description": "Jalali date and time in Tehran",
                                "examples": ["1405/09/15 18:30"],
                            }
                        },
                    },
                ],
                "description": "When to send, in the future; default: as soon as it is started.",
            },
            "marketing": {
                "type": "boolean",
                "default": True,
                "description": "Marketing messages keep to the sending window, skip opted-out "
                "contacts and the frequency cap, and carry the opt-out line.",
            },
        },
    },
    "Campaign": {
        "type": "object",
        "required": ["id", "name", "text", "status", "audience", "provider", "sender", "counts"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "text": {"type": "string"},
            "status": {
                "enum": list(CAMPAIGN_STATUS_LABELS),
                "description": "draft → scheduled → preparing → sending ⇄ paused → done | "
                "cancelled",
            },
            "status_label": {"type": "string"},
            "audience": {
                "type": "object",
                "description": "Everyone, or a list; both null once the list was deleted "
                "(the campaign then goes to nobody).",
                "properties": {
                    "all": {"const": True},
                    "list_id": {"type": ["integer", "null"]},
                    "list_name": {"type": ["string", "null"]},
                },
            },
            "provider": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "kind": {"type": "string"},
                },
            },
            "sender": {"type": "string"},
            "marketing": {"type": "boolean"},
            "paused_reason": _nullable(
                "string", description="owner, or the provider error that paused it"
            ),
            "paused_reason_label": _nullable("string"),
            "paused_detail": _nullable("string"),
            "counts": {
                "type": "object",
                "description": "Messages by state (every state, zeros included).",
                "properties": {status: {"type": "integer"} for status in STATUSES},
            },
            "totals": {
                "type": "object",
                "properties": {
                    "messages": {"type": "integer"},
                    "waiting": {
                        "type": "integer",
                        "description": "queued, sending or held (paused)",
                    },
                    "handed_over": {
                        "type": "integer",
                        "description": "accepted by the provider (sent and after)",
                    },
                },
            },
            **_moments("scheduled_at", "started_at", "finished_at", "created_at"),
        },
    },
    "CampaignPage": {
        "type": "object",
        "required": ["data", "next_after_id"],
        "properties": {
            "data": {"type": "array", "items": _ref("Campaign")},
            "next_after_id": _nullable(
                "integer", description="Pass as after_id for the next page; null at the end."
            ),
        },
    },
    "Estimate": {
        "type": "object",
        "properties": {
            "campaign_id": {"type": "integer"},
            "recipients": {"type": "integer", "description": "messages that will be sent"},
            "opted_out": {"type": "integer", "description": "audience members skipped"},
            "parts": {"type": "integer", "description": "SMS parts in all"},
            "cost": {"type": "integer", "description": "Rials"},
            "credit": _nullable(
                "integer", description="Rials left at the provider; null if unreadable"
            ),
            "covered": {"type": "boolean"},
            "credit_error": _nullable("string"),
        },
    },
    "CampaignAction": {
        "type": "object",
        "required": ["campaign"],
        "properties": {
            "campaign": _ref("Campaign"),
            "estimate": {**_ref("Estimate"), "description": "start only"},
            "cancelled_messages": {"type": "integer", "description": "cancel only"},
            "requeued_messages": {"type": "integer", "description": "retry-unknown only"},
        },
    },
    "Message": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "contact_id": _nullable("integer"),
            "mobile": {"type": "string", "examples": ["+989121234567"]},
            "body": {"type": "string"},
            "parts": {"type": "integer"},
            "sender": {"type": "string"},
            "marketing": {"type": "boolean"},
            "status": {"enum": list(STATUSES)},
            "status_label": {"type": "string"},
            "provider_ref": _nullable("string"),
            "error": _nullable("string"),
            "error_label": _nullable("string"),
            "error_detail": _nullable("string"),
            "attempts": {"type": "integer"},
            **_moments("created_at", "sent_at", "done_at"),
        },
    },
    "MessagePage": {
        "type": "object",
        "required": ["data", "next_after_id"],
        "properties": {
            "data": {"type": "array", "items": _ref("Message")},
            "next_after_id": _nullable("integer"),
        },
    },
}

_DAY = {"type": ["string", "null"], "format": "date", "examples": ["1991-08-03"]}
_JALALI_DAY = {"type": ["string", "null"], "examples": ["1370/05/12"]}
_DAY_IN = {
    "oneOf": [
        {"type": "string", "description": "1991-08-03 (or any form the importer reads)"},
        {
            "type": "object",
            "required": ["jalali"],
            "additionalProperties": False,
            "properties": {"jalali": {"type": "string", "examples": ["1370/05/12"]}},
        },
        {"type": "null"},
    ]
}
_MOBILE_IN = {
    "type": "string",
    "description": "Any common form: 09121234567, +989121234567, 9121234567, ۰۹۱۲۱۲۳۴۵۶۷",
    "examples": ["09121234567"],
}
_MOBILE_OUT = {"type": "string", "description": "Canonical: +989121234567"}

CONTACT_SCHEMAS = {
    "NewContact": {
        "type": "object",
        "required": ["mobile"],
        "additionalProperties": False,
        "properties": {
            "mobile": _MOBILE_IN,
            "first_name": {"type": "string", "maxLength": 100},
            "last_name": {"type": "string", "maxLength": 100},
            "gender": {"enum": ["male", "female", None]},
            "birth_date": _DAY_IN,
            "anniversary": _DAY_IN,
            "city": {"type": "string", "maxLength": 100},
            "tags": {"type": "array", "items": {"type": "string"}, "description": "Added."},
            "fields": {
                "type": "object",
                "additionalProperties": {"type": ["string", "number", "null"]},
                "description": "The shop's own fields, merged into those stored.",
            },
            "opted_out": {
                "type": "boolean",
                "default": False,
                "description": "true opts the contact out of marketing SMS; false never opts "
                "anyone back in (only the owner can, in the panel).",
            },
        },
    },
    "ContactUpsert": {
        "type": "object",
        "required": ["contacts"],
        "additionalProperties": False,
        "properties": {
            "contacts": {
                "type": "array",
                "items": _ref("NewContact"),
                "minItems": 1,
                "maxItems": 1000,
                "description": "Each number once.",
            },
            "on_duplicate": {
                "enum": ["update", "skip"],
                "default": "update",
                "description": "A number already stored: update it with the values sent "
                "(those not sent are kept) or leave it as it was.",
            },
            "list_id": {
                "type": ["integer", "null"],
                "description": "Put every contact sent in this list (skipped ones too).",
            },
        },
    },
    "ContactUpsertResult": {
        "type": "object",
        "required": ["created", "updated", "skipped", "contacts"],
        "properties": {
            "created": {"type": "integer"},
            "updated": {"type": "integer"},
            "skipped": {"type": "integer"},
            "contacts": {
                "type": "array",
                "description": "One per item sent, in order.",
                "items": {
                    "type": "object",
                    "required": ["mobile", "id", "result"],
                    "properties": {
                        "mobile": _MOBILE_OUT,
                        "id": {"type": "integer"},
                        "result": {"enum": ["created", "updated", "skipped"]},
                    },
                },
            },
        },
    },
    "Contact": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "mobile": _MOBILE_OUT,
            "first_name": {"type": "string"},
            "last_name": {"type": "string"},
            "gender": {"enum": ["male", "female", None]},
            "city": {"type": "string"},
            "birth_date": _DAY,
            "birth_date_jalali": _JALALI_DAY,
            "anniversary": _DAY,
            "anniversary_jalali": _JALALI_DAY,
            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            "tags": {"type": "array", "items": {"type": "string"}},
            "lists": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                },
            },
            "opted_out": {"type": "boolean"},
            "purchase_count": {"type": "integer"},
            "total_spent": {"type": "integer", "description": "Rials"},
            **_moments("first_purchase_at", "last_purchase_at", "opted_out_at", "created_at"),
        },
    },
    "NewPurchase": {
        "type": "object",
        "required": ["mobile", "purchased_at", "amount"],
        "additionalProperties": False,
        "properties": {
            "mobile": _MOBILE_IN,
            "purchased_at": {
                "oneOf": [
                    {
                        "type": "string",
                        "description": "ISO 8601 with its offset (2026-11-23T18:30:00+03:30), "
                        "or a date (midnight in Tehran)",
                    },
                    {
                        "type": "object",
                        "required": ["jalali"],
                        "additionalProperties": False,
                        "properties": {
                            "jalali": {"type": "string", "examples": ["1405/09/02 18:30"]}
                        },
                        "description": "Tehran time",
                    },
                ]
            },
            "amount": {"type": "integer", "minimum": 1, "description": "Rials"},
            "reference": {
                "type": ["string", "null"],
                "maxLength": 100,
                "description": "The invoice or order number; a reference already recorded "
                "is reported as a duplicate and counted once, so retrying is safe.",
            },
        },
    },
    "PurchaseBatch": {
        "type": "object",
        "required": ["purchases"],
        "additionalProperties": False,
        "properties": {
            "purchases": {
                "type": "array",
                "items": _ref("NewPurchase"),
                "minItems": 1,
                "maxItems": 1000,
            },
            "create_contacts": {
                "type": "boolean",
                "default": False,
                "description": "Add unknown numbers as new contacts; otherwise an unknown "
                "number is a wrong item.",
            },
        },
    },
    "PurchaseBatchResult": {
        "type": "object",
        "required": ["created", "duplicates", "purchases"],
        "properties": {
            "created": {"type": "integer"},
            "duplicates": {"type": "integer"},
            "purchases": {
                "type": "array",
                "description": "One per item sent, in order.",
                "items": {
                    "type": "object",
                    "required": ["reference", "mobile", "result"],
                    "properties": {
                        "reference": {"type": ["string", "null"]},
                        "mobile": _MOBILE_OUT,
                        "result": {"enum": ["created", "duplicate"]},
                    },
                },
            },
        },
    },
}
SCHEMAS.update(CONTACT_SCHEMAS)

RESPONSES = {
    "BadRequest": _json(_ref("Error"), "The body is not a JSON object."),
    "Unauthorized": _json(_ref("Error"), "No token, or an unknown or revoked one."),
    "NotFound": _json(_ref("Error"), "No such campaign (or contact)."),
    "Conflict": _json(_ref("Error"), "The campaign's state (or credit) does not allow it."),
    "Invalid": _json(_ref("Error"), "Fields are wrong; details names each."),
}

PARAMETERS = {
    "CampaignId": {
        "name": "campaign_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
    },
    "Limit": {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
    },
    "AfterId": {
        "name": "after_id",
        "in": "query",
        "description": "Items with a greater id (the previous page's next_after_id).",
        "schema": {"type": "integer", "minimum": 0, "default": 0},
    },
    "Mobile": {
        "name": "mobile",
        "in": "path",
        "required": True,
        "description": "Any common form of the number: 09121234567, +989121234567",
        "schema": {"type": "string"},
    },
    "MessageStatus": {
        "name": "status",
        "in": "query",
        "description": "Only messages in this state.",
        "schema": {"enum": list(STATUSES)},
    },
}


def _param(name: str) -> dict:
    return {"$ref": f"#/components/parameters/{name}"}


def _action(operation_id: str, summary: str, description: str, *errors: int) -> dict:
    return {
        "post": {
            "operationId": operation_id,
            "summary": summary,
            "description": description,
            "parameters": [_param("CampaignId")],
            "responses": {
                "200": _json(_ref("CampaignAction"), "The campaign as it is now."),
                **_errors(401, 404, *errors),
            },
        }
    }


PATHS = {
    "/openapi.json": {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This document",
            "security": [],
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
        }
    },
    "/campaigns": {
        "post": {
            "operationId": "createCampaign",
            "summary": "Create a campaign (as a draft)",
            "description": "Nothing is sent until the campaign is started. Every field is "
            "checked; on any problem nothing is stored and the 422 lists each one.",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("NewCampaign")}},
            },
            "responses": {
                "201": _json(_ref("Campaign"), "The draft; Location names it."),
                **_errors(400, 401, 422),
            },
        },
        "get": {
            "operationId": "listCampaigns",
            "summary": "List campaigns, oldest first",
            "parameters": [_param("Limit"), _param("AfterId")],
            "responses": {"200": _json(_ref("CampaignPage"), "A page"), **_errors(401, 422)},
        },
    },
    "/campaigns/{campaign_id}": {
        "get": {
            "operationId": "getCampaign",
            "summary": "A campaign: status, messages by state, times",
            "parameters": [_param("CampaignId")],
            "responses": {"200": _json(_ref("Campaign"), "The campaign"), **_errors(401, 404)},
        }
    },
    "/campaigns/{campaign_id}/estimate": {
        "get": {
            "operationId": "estimateCampaign",
            "summary": "Recipients, parts and cost, and whether the credit covers them",
            "parameters": [_param("CampaignId")],
            "responses": {
                "200": _json(_ref("Estimate"), "The estimate"),
                **_errors(401, 404),
            },
        }
    },
    "/campaigns/{campaign_id}/start": _action(
        "startCampaign",
        "Start a draft",
        "Sent at its scheduled time (now if none) when the provider's credit covers it. "
        "409 cannot_start says why not (credit, nobody to send to); 409 invalid_state "
        "when it is no longer a draft.",
        409,
    ),
    "/campaigns/{campaign_id}/pause": _action(
        "pauseCampaign",
        "Pause a scheduled or sending campaign",
        "Queued messages are held; requests already on their way finish.",
        409,
    ),
    "/campaigns/{campaign_id}/resume": _action(
        "resumeCampaign", "Resume a paused campaign", "Held messages go back to the queue.", 409
    ),
    "/campaigns/{campaign_id}/cancel": _action(
        "cancelCampaign",
        "Cancel a campaign",
        "What has not been handed to the provider is never sent.",
        409,
    ),
    "/campaigns/{campaign_id}/retry-unknown": _action(
        "retryUnknownMessages",
        "Retry messages in the unknown state",
        "Messages whose request may or may not have reached the provider are queued "
        "again (held until it resumes, if the campaign is paused). Some may reach the "
        "handset twice: only the owner should decide. 409 for a cancelled campaign.",
        409,
    ),
    "/campaigns/{campaign_id}/messages": {
        "get": {
            "operationId": "listCampaignMessages",
            "summary": "A campaign's messages, by id",
            "parameters": [
                _param("CampaignId"),
                _param("Limit"),
                _param("AfterId"),
                _param("MessageStatus"),
            ],
            "responses": {
                "200": _json(_ref("MessagePage"), "A page"),
                **_errors(401, 404, 422),
            },
        }
    },
    "/contacts": {
        "post": {
            "operationId": "upsertContacts",
            "summary": "Create or update up to 1000 contacts",
            "description": "Every item is checked first; if any is wrong nothing is written "
            "and the 422 names each problem by its path (contacts[3].mobile). A number sent "
            "twice is a wrong item.",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("ContactUpsert")}},
            },
            "responses": {
                "200": _json(_ref("ContactUpsertResult"), "What became of each item"),
                **_errors(400, 401, 422),
            },
        }
    },
    "/contacts/{mobile}": {
        "get": {
            "operationId": "getContact",
            "summary": "A contact by any form of its number, with totals, tags and lists",
            "parameters": [_param("Mobile")],
            "responses": {
                "200": _json(_ref("Contact"), "The contact"),
                **_errors(401, 404, 422),
            },
        }
    },
    "/purchases": {
        "post": {
            "operationId": "recordPurchases",
            "summary": "Record up to 1000 purchases",
            "description": "Every item is checked first; if any is wrong nothing is written. "
            "A reference already recorded (or repeated in the request) is a duplicate, not "
            "an error: a checkout may retry safely. The contacts' totals are updated.",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("PurchaseBatch")}},
            },
            "responses": {
                "200": _json(_ref("PurchaseBatchResult"), "What became of each item"),
                **_errors(400, 401, 422),
            },
        }
    },
}


def document() -> dict:
    """The OpenAPI 3.1 document (a fresh copy: callers may change it)."""
    return copy.deepcopy(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "Vafa API",
                "version": "1",
                "description": (
                    "Campaigns, contacts and purchases of the Vafa SMS panel, for a shop's own "
                    "scripts and checkout.\n\n"
                    "Every request but this document needs `Authorization: Bearer <token>`; "
                    "make a token in the panel (Settings → API tokens) or with "
                    "`vafa api-token create NAME`. Bodies are JSON. Times are ISO 8601 "
                    "in UTC, with a `*_jalali` twin in Tehran time. Errors are always "
                    '`{"error": {"code", "message", "details": [{"field", "message"}]}}`; '
                    "messages are Persian, or English with `Accept-Language: en`. Lists "
                    "are paged by id: pass `next_after_id` back as `after_id`."
                ),
            },
            "servers": [{"url": SERVER}],
            "security": [{"bearerAuth": []}],
            "paths": PATHS,
            "components": {
                "securitySchemes": {
                    "bearerAuth": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "A token made in the panel: vafa_…",
                    }
                },
                "schemas": SCHEMAS,
                "responses": RESPONSES,
                "parameters": PARAMETERS,
            },
        }
    )
