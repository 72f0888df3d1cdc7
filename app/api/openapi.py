"""The API described in OpenAPI 3.1, built from the models of app.api.schemas.

The shapes come from the models' JSON Schema (the same models validate the requests);
this module only says which operation takes and answers which model. A new endpoint is
one entry in OPERATIONS. tests/integration/api/test_api_openapi.py checks that every
route under /api/v1 is described here and nothing here is missing from the app;
tests/integration/api/test_api_fuzz.py checks the API against this document.
"""

from flask import current_app
from pydantic.json_schema import models_json_schema

from app.api import answers as a
from app.api import schemas as s
from app.limits import ID_MAX

SERVER = "/api/v1"
REF = "#/components/schemas/{model}"

ERROR_RESPONSES = {
    400: (
        "BadRequest",
        "The body is not a JSON object, or not JSON at all (the message "
        "says where), or nested too deeply.",
    ),
    401: ("Unauthorized", "No token, or an unknown or revoked one."),
    404: ("NotFound", "No such campaign (or contact, list, segment, template or coupon code)."),
    409: (
        "Conflict",
        "The campaign's state (or credit) does not allow it, or a segment of its audience "
        "needs its rules fixed; a list a campaign yet to go out names cannot be deleted; "
        "the template is a built-in; or the coupon code was already used "
        "(already_redeemed).",
    ),
    413: ("TooLarge", "The body is larger than the API takes (VAFA_MAX_API_BODY)."),
    422: (
        "Invalid",
        "Fields are wrong; details names each by its path. A request the document "
        "allows is refused only for what a schema cannot say: a list, tag, segment or "
        "provider account that does not exist, a list or segment both chosen and "
        "excluded, a segment whose rules need fixing, a list name another list has, a "
        "sender line of another account, a moment that has passed (or a purchase more than a day "
        "ahead), a day missing from the calendar, a report period or range of days that "
        "ends before it starts, has a day after today or is too long, a number "
        "sent twice in one request, a purchase of a number no contact has, more own "
        "fields than the shop may have, a placeholder the shop does not have (or a brace "
        "that is not closed), a contact that does not exist, or a template name taken.",
    ),
}

# Operations: (path, method) → what it takes and answers. Bodies and answers are models;
# ``query`` is a model whose fields are query parameters.
OPERATIONS = {
    ("/campaigns", "post"): {
        "operationId": "createCampaign",
        "summary": "Create a campaign (as a draft)",
        "description": "Nothing is sent until the campaign is started. Every field is "
        "checked; on any problem nothing is stored and the 422 lists each one.",
        "body": s.NewCampaign,
        "answer": (201, a.Campaign, "The draft; Location names it."),
        "errors": (400, 401, 413, 422),
    },
    ("/campaigns", "get"): {
        "operationId": "listCampaigns",
        "summary": "List campaigns, oldest first",
        "query": s.Page,
        "answer": (200, a.CampaignPage, "A page"),
        "errors": (401, 422),
    },
    ("/campaigns/{campaign_id}", "get"): {
        "operationId": "getCampaign",
        "summary": "A campaign: status, messages by state, times",
        "answer": (200, a.Campaign, "The campaign"),
        "errors": (401, 404),
    },
    ("/campaigns/{campaign_id}/estimate", "get"): {
        "operationId": "estimateCampaign",
        "summary": "Recipients, parts and cost, and whether the credit covers them",
        "answer": (200, a.Estimate, "The estimate"),
        "errors": (401, 404, 409),
    },
    ("/campaigns/{campaign_id}/effect", "get"): {
        "operationId": "campaignEffect",
        "summary": "Did the campaign bring customers back: recipients against the holdout",
        "description": "Conversion (a purchase within days of the campaign's start) among "
        "the recipients and among the holdout the campaign kept unsent (holdout_percent), "
        "the uplift with a two-proportion z-test and its 95 % interval, the recipients' "
        "revenue and the coupons redeemed. Figures that need both groups are null until "
        "both have members. 422 for days outside 1 to 365.",
        "query": s.EffectQuery,
        "answer": (200, a.CampaignEffect, "The effect"),
        "errors": (401, 404, 422),
    },
    ("/campaigns/{campaign_id}/start", "post"): {
        "operationId": "startCampaign",
        "summary": "Start a draft",
        "description": "Sent at its scheduled time (now if none) when the provider's credit "
        "covers it. 409 cannot_start says why not (credit, nobody to send to); 409 "
        "invalid_state when it is no longer a draft.",
        "answer": (200, a.CampaignAction, "The campaign as it is now, and its estimate."),
        "errors": (401, 404, 409),
    },
    ("/campaigns/{campaign_id}/pause", "post"): {
        "operationId": "pauseCampaign",
        "summary": "Pause a scheduled or sending campaign",
        "description": "Queued messages are held; requests already on their way finish.",
        "answer": (200, a.CampaignAction, "The campaign as it is now."),
        "errors": (401, 404, 409),
    },
    ("/campaigns/{campaign_id}/resume", "post"): {
        "operationId": "resumeCampaign",
        "summary": "Resume a paused campaign",
        "description": "Held messages go back to the queue.",
        "answer": (200, a.CampaignAction, "The campaign as it is now."),
        "errors": (401, 404, 409),
    },
    ("/campaigns/{campaign_id}/cancel", "post"): {
        "operationId": "cancelCampaign",
        "summary": "Cancel a campaign",
        "description": "What has not been handed to the provider is never sent.",
        "answer": (200, a.CampaignAction, "The campaign, and how many messages were cancelled."),
        "errors": (401, 404, 409),
    },
    ("/campaigns/{campaign_id}/retry-unknown", "post"): {
        "operationId": "retryUnknownMessages",
        "summary": "Retry messages in the unknown state",
        "description": "Messages whose request may or may not have reached the provider are "
        "queued again (held until it resumes, if the campaign is paused). Some may reach "
        "the handset twice: only the owner should decide. 409 for a cancelled campaign.",
        "answer": (200, a.CampaignAction, "The campaign, and how many messages were queued."),
        "errors": (401, 404, 409),
    },
    ("/campaigns/{campaign_id}/messages", "get"): {
        "operationId": "listCampaignMessages",
        "summary": "A campaign's messages, by id",
        "query": s.MessagesPage,
        "answer": (200, a.MessagePage, "A page"),
        "errors": (401, 404, 422),
    },
    ("/lists", "get"): {
        "operationId": "listLists",
        "summary": "Every contact list with its number of contacts, by name",
        "answer": (200, a.ListItems, "The lists"),
        "errors": (401,),
    },
    ("/lists", "post"): {
        "operationId": "createList",
        "summary": "Create a contact list",
        "description": "422 when another list has the name.",
        "body": s.ListName,
        "answer": (201, a.ListItem, "The new list"),
        "errors": (400, 401, 413, 422),
    },
    ("/lists/{list_id}", "patch"): {
        "operationId": "renameList",
        "summary": "Rename a contact list",
        "description": "422 when another list has the name.",
        "body": s.ListName,
        "answer": (200, a.ListItem, "The list"),
        "errors": (400, 401, 404, 413, 422),
    },
    ("/lists/{list_id}", "delete"): {
        "operationId": "deleteList",
        "summary": "Delete a contact list; its contacts stay",
        "description": "Campaigns already sent keep the list's name. 409 invalid_state while "
        "a campaign yet to go out (scheduled, sending, paused) names the list.",
        "answer": (204, None, "Deleted"),
        "errors": (401, 404, 409),
    },
    ("/tags", "get"): {
        "operationId": "listTags",
        "summary": "Every tag with its number of contacts, by name",
        "answer": (200, a.TagItems, "The tags"),
        "errors": (401,),
    },
    ("/contacts", "post"): {
        "operationId": "upsertContacts",
        "summary": "Create or update up to 1000 contacts",
        "description": "Every item is checked first; if any is wrong nothing is written and "
        "the 422 names each problem by its path (contacts[3].mobile). A number sent twice "
        "is a wrong item.",
        "body": s.ContactUpsert,
        "answer": (200, a.ContactUpsertResult, "What became of each item"),
        "errors": (400, 401, 413, 422),
    },
    ("/contacts/{mobile}", "get"): {
        "operationId": "getContact",
        "summary": "A contact by any form of its number, with totals, tags and lists",
        "answer": (200, a.Contact, "The contact"),
        "errors": (401, 404, 422),
    },
    ("/purchases", "post"): {
        "operationId": "recordPurchases",
        "summary": "Record up to 1000 purchases",
        "description": "Every item is checked first; if any is wrong nothing is written. A "
        "reference already recorded (or repeated in the request) is a duplicate, not an "
        "error: a checkout may retry safely. The contacts' totals are updated.",
        "body": s.PurchaseBatch,
        "answer": (200, a.PurchaseBatchResult, "What became of each item"),
        "errors": (400, 401, 413, 422),
    },
    ("/coupons/{code}", "get"): {
        "operationId": "getCoupon",
        "summary": "A coupon code: whose it is, which campaign, when sent, whether used",
        "description": "The code in any case, with Persian digits if typed so.",
        "answer": (200, a.Coupon, "The coupon"),
        "errors": (401, 404, 422),
    },
    ("/coupons/{code}/redeem", "post"): {
        "operationId": "redeemCoupon",
        "summary": "Mark a coupon code used (once)",
        "description": "Of two redemptions of one code, however close together, exactly "
        "one succeeds; the other gets 409 already_redeemed, whose message says when the "
        "code was used. No body.",
        "answer": (200, a.Coupon, "The coupon, now used"),
        "errors": (401, 404, 409, 422),
    },
    ("/templates/render", "post"): {
        "operationId": "renderTemplate",
        "summary": "A text as a contact (or a sample contact) receives it, and its parts",
        "description": "The same rendering and counting as the panel's editor and the "
        "campaigns. An unknown or malformed placeholder is a 422 naming it.",
        "body": s.RenderRequest,
        "answer": (200, a.RenderedText, "The text and what it costs in parts"),
        "errors": (400, 401, 413, 422),
    },
    ("/templates", "get"): {
        "operationId": "listTemplates",
        "summary": "The template library: built-ins first, then the owner's by name",
        "answer": (200, a.TemplateList, "Every template"),
        "errors": (401,),
    },
    ("/templates", "post"): {
        "operationId": "createTemplate",
        "summary": "Add a template",
        "body": s.TemplateIn,
        "answer": (201, a.MessageTemplate, "The template; Location names it."),
        "errors": (400, 401, 413, 422),
    },
    ("/templates/{template_id}", "put"): {
        "operationId": "updateTemplate",
        "summary": "Change a template's name and text (a built-in's too)",
        "body": s.TemplateIn,
        "answer": (200, a.MessageTemplate, "The template"),
        "errors": (400, 401, 404, 413, 422),
    },
    ("/templates/{template_id}", "delete"): {
        "operationId": "deleteTemplate",
        "summary": "Delete one of the owner's templates (409 for a built-in)",
        "answer": (200, a.Deleted, "Deleted"),
        "errors": (401, 404, 409),
    },
    ("/segments", "get"): {
        "operationId": "listSegments",
        "summary": "Every segment, built-in ones first, with how many contacts match now",
        "answer": (200, a.SegmentList, "The segments"),
        "errors": (401,),
    },
    ("/segments", "post"): {
        "operationId": "createSegment",
        "summary": "Create a segment from rules",
        "description": "The rules are checked; on any problem nothing is stored and the 422 "
        "names each by its path (rules.rules[1].value) with a message naming the rule.",
        "body": s.NewSegment,
        "answer": (201, a.Segment, "The segment; Location names it."),
        "errors": (400, 401, 413, 422),
    },
    ("/segments/{segment_id}", "get"): {
        "operationId": "getSegment",
        "summary": "A segment with its rules and count",
        "answer": (200, a.Segment, "The segment"),
        "errors": (401, 404),
    },
    ("/segments/{segment_id}", "put"): {
        "operationId": "updateSegment",
        "summary": "Replace a segment's name, description and rules",
        "description": "A built-in segment keeps its key: its rules (thresholds) are yours "
        "to change.",
        "body": s.NewSegment,
        "answer": (200, a.Segment, "The segment as saved"),
        "errors": (400, 401, 404, 413, 422),
    },
    ("/segments/{segment_id}/sample", "get"): {
        "operationId": "sampleSegment",
        "summary": "Some contacts of a segment (up to 20, newest first)",
        "answer": (200, a.SegmentSample, "The count and the sample"),
        "errors": (401, 404),
    },
    ("/reports/retention", "get"): {
        "operationId": "retentionReport",
        "summary": "Customer retention over a period: customers at its start and end, new "
        "customers, retention, churn and repeat purchase rates, frequency, order value, CLV",
        "description": "Days are Tehran days; both are included. A rate whose divisor is "
        "zero (no customers at the start, nobody bought) is null.",
        "query": s.RetentionQuery,
        "answer": (200, a.Retention, "The report"),
        "errors": (401, 422),
    },
    ("/occasions", "get"): {
        "operationId": "listOccasions",
        "summary": "Every occasion from one day to another",
        "description": "Solar (Jalali), lunar (Hijri, as Iran observes it) and Gregorian "
        "occasions, built-in and the shop's own, in day order, with the owner's moved days "
        "applied. A lunar day not yet in the official calendar is an estimate. 422 for a "
        "day that is missing or not a day, a last day before the first, or more than "
        f"{s.OCCASION_RANGE_MAX_DAYS} days.",
        "query": s.OccasionRange,
        "answer": (200, a.OccasionList, "The occasions"),
        "errors": (401, 422),
    },
    ("/automations", "get"): {
        "operationId": "listAutomations",
        "summary": "Every automation, oldest first",
        "answer": (200, a.AutomationList, "The automations"),
        "errors": (401,),
    },
    ("/automations", "post"): {
        "operationId": "createAutomation",
        "summary": "Create an automation (birthday, anniversary, occasion, win-back, welcome, "
        "follow-up)",
        "description": "Off unless active is true. Every field is checked; on a problem "
        "nothing is stored and the 422 names the field.",
        "body": s.NewAutomation,
        "answer": (201, a.Automation, "The automation; Location names it."),
        "errors": (400, 401, 413, 422),
    },
    ("/automations/{automation_id}", "get"): {
        "operationId": "getAutomation",
        "summary": "An automation, with when it next sends",
        "answer": (200, a.Automation, "The automation"),
        "errors": (401, 404),
    },
    ("/automations/{automation_id}", "put"): {
        "operationId": "replaceAutomation",
        "summary": "Replace an automation's settings",
        "description": "Fields left out take their defaults.",
        "body": s.NewAutomation,
        "answer": (200, a.Automation, "The automation as saved"),
        "errors": (400, 401, 404, 413, 422),
    },
    ("/automations/{automation_id}", "patch"): {
        "operationId": "updateAutomation",
        "summary": "Change some of an automation's settings",
        "description": "Fields left out keep their values; the result is checked as a whole "
        "(the body's shape is NewAutomation's, every field optional).",
        "body": s.AutomationChanges,
        "answer": (200, a.Automation, "The automation as saved"),
        "errors": (400, 401, 404, 413, 422),
    },
    ("/automations/{automation_id}/activate", "post"): {
        "operationId": "activateAutomation",
        "summary": "Switch an automation on",
        "description": "409 invalid_state while its audience names a segment whose rules "
        "need fixing, or a list, tag or segment that was deleted.",
        "answer": (200, a.Automation, "The automation"),
        "errors": (401, 404, 409),
    },
    ("/automations/{automation_id}/deactivate", "post"): {
        "operationId": "deactivateAutomation",
        "summary": "Switch an automation off",
        "answer": (200, a.Automation, "The automation"),
        "errors": (401, 404, 409),
    },
    ("/automations/{automation_id}/plan", "get"): {
        "operationId": "planAutomation",
        "summary": "Every send the automation would make on the Tehran days from..to",
        "description": "Active or not, with the contacts as they are now, timed as the "
        "sending rules would time them (quiet and mourning days wait).",
        "query": s.PlanQuery,
        "answer": (200, a.AutomationPlan, "The sends, by time"),
        "errors": (401, 404, 422),
    },
}

PATH_PARAMETERS = {
    "automation_id": {
        "name": "automation_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX},
    },
    "template_id": {
        "name": "template_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX},
    },
    "campaign_id": {
        "name": "campaign_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX},
    },
    "list_id": {
        "name": "list_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX},
    },
    "segment_id": {
        "name": "segment_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX},
    },
    "mobile": {
        "name": "mobile",
        "in": "path",
        "required": True,
        "description": "Any common form of the number: 09121234567, +989121234567",
        "schema": {"type": "string", "pattern": s.MOBILE_PATTERN},
    },
    "code": {
        "name": "code",
        "in": "path",
        "required": True,
        "description": "A coupon code, any case: NOWRUZ7K2MPQ9A",
        "schema": {"type": "string", "pattern": s.COUPON_CODE_PATTERN},
    },
}

ANSWERS = (a.Error, a.Problem)


def _schemas() -> dict:
    """Every model's JSON Schema, keyed by model name, references into components."""
    models = {op[key] for op in OPERATIONS.values() for key in ("body", "query") if key in op}
    answers = {op["answer"][1] for op in OPERATIONS.values() if op["answer"][1]} | set(ANSWERS)
    _keys, found = models_json_schema(
        [(model, "validation") for model in sorted(models, key=lambda m: m.__name__)]
        + [(model, "serialization") for model in sorted(answers, key=lambda m: m.__name__)],
        ref_template=REF,
    )
    return found["$defs"]


def _own_field_cap(schemas: dict) -> None:
    """A contact's own fields: at most the shop's setting (the shop's total is checked)."""
    fields = schemas["NewContact"]["properties"]["fields"]
    fields["maxProperties"] = current_app.config["VAFA_MAX_OWN_FIELDS"]


def _query_parameters(model, schemas: dict) -> list[dict]:
    schema = schemas[model.__name__]
    parameters = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        parameter = {"name": name, "in": "query", "schema": prop}
        if name in schema.get("required", ()):
            parameter["required"] = True
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(spec: dict, path: str, schemas: dict) -> dict:
    status, answer, description = spec["answer"]
    operation = {"operationId": spec["operationId"], "summary": spec["summary"]}
    if "description" in spec:
        operation["description"] = spec["description"]
    parameters = [PATH_PARAMETERS[name] for name in PATH_PARAMETERS if f"{{{name}}}" in path]
    if "query" in spec:
        parameters += _query_parameters(spec["query"], schemas)
    if parameters:
        operation["parameters"] = parameters
    if "body" in spec:
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": REF.format(model=spec["body"].__name__)}}
            },
        }
    operation["responses"] = {
        str(status): _json({"$ref": REF.format(model=answer.__name__)}, description)
        if answer
        else {"description": description},
        **{
            str(code): {"$ref": f"#/components/responses/{ERROR_RESPONSES[code][0]}"}
            for code in spec["errors"]
        },
    }
    return operation


def document() -> dict:
    """The OpenAPI 3.1 document, built afresh (callers may change it)."""
    schemas = _schemas()
    _own_field_cap(schemas)
    paths: dict = {
        "/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
            }
        }
    }
    for (path, method), spec in OPERATIONS.items():
        paths.setdefault(path, {})[method] = _operation(spec, path, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Vafa API",
            "version": "1",
            "description": (
                "Campaigns, contacts, lists, purchases, message templates and coupon codes of "
                "the Vafa SMS panel, for a shop's own scripts and checkout.\n\n"
                "Every request but this document needs `Authorization: Bearer <token>`; "
                "make a token in the panel (Settings → API tokens) or with "
                "`vafa api-token create NAME`. Bodies are JSON, at most VAFA_MAX_API_BODY "
                "bytes (1 MB by default) and nested at most VAFA_MAX_JSON_DEPTH deep. Times "
                "are ISO 8601 in UTC, with a `*_jalali` twin in Tehran time. Errors are "
                'always `{"error": {"code", "message", "details": [{"field", "message"}]}}`; '
                "messages are Persian, or English with `Accept-Language: en`. Lists are "
                "paged by id: pass `next_after_id` back as `after_id`."
            ),
        },
        "servers": [{"url": SERVER}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token made in the panel: vafa_…",
                }
            },
            "schemas": schemas,
            "responses": {
                name: _json({"$ref": REF.format(model="Error")}, description)
                for name, description in ERROR_RESPONSES.values()
            },
        },
    }
