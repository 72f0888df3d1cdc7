"""The OpenAPI document describes exactly the API the app serves."""

import re

import jsonschema_rs  # schemathesis's own validator
import pytest

from app.api import schemas
from app.api.openapi import SERVER
from app.limits import ID_MAX
from app.messaging.service import start_due_campaigns
from tests.integration.api.api_support import error_of, fields_of

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def served_operations(app) -> set[tuple[str, str]]:
    """(path as OpenAPI writes it, method) of every route under /api/v1."""
    operations = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(SERVER + "/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule.removeprefix(SERVER))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operations.add((path, method.lower()))
    return operations


@pytest.fixture
def document(client):
    response = client.get("/api/v1/openapi.json")  # no token needed for the document
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.json


def described_operations(document) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_every_route_is_described_and_every_description_is_a_route(app, document):
    served = served_operations(app)
    assert len(served) >= 11
    assert served == described_operations(document)


def test_path_parameters_match_the_routes(document):
    for path, item in document["paths"].items():
        for method in HTTP_METHODS & set(item):
            declared = {
                _resolve(document, p)["name"]
                for p in item[method].get("parameters", [])
                if _resolve(document, p)["in"] == "path"
            }
            assert declared == set(re.findall(r"{(\w+)}", path)), (path, method)


def _resolve(document, node):
    while isinstance(node, dict) and "$ref" in node:
        target = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_reference_resolves(document):
    refs = set(_refs(document))
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/")
        assert _resolve(document, {"$ref": ref}) is not None


def test_security_errors_and_identity(document):
    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": "/api/v1"}]
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert document["security"] == [{"bearerAuth": []}]
    error = _resolve(document, document["components"]["schemas"]["Error"]["properties"]["error"])
    assert set(error["required"]) == {"code", "message", "details"}
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"field", "message"}
    operation_ids = []
    for path, item in document["paths"].items():
        for method in HTTP_METHODS & set(item):
            operation = item[method]
            operation_ids.append(operation["operationId"])
            if path == "/openapi.json":
                assert operation["security"] == []
            else:
                assert "security" not in operation  # the document's bearer token applies
                assert "401" in operation["responses"], (path, method)
    assert len(operation_ids) == len(set(operation_ids))


def _properties(document, name: str) -> set[str]:
    return set(document["components"]["schemas"][name]["properties"])


def test_the_schemas_name_the_fields_the_answers_carry(api, document, make_contact):
    make_contact("09121234567", first_name="علی")
    created = api.post(
        "/campaigns", {"name": "x", "text": "سلام {نام}", "audience": {"all": True}}
    ).json
    assert set(created) == _properties(document, "Campaign")
    assert set(created) >= set(document["components"]["schemas"]["Campaign"]["required"])
    assert set(created["counts"]) == set(
        document["components"]["schemas"]["Campaign"]["properties"]["counts"]["properties"]
    )
    cid = created["id"]
    estimate = api.get(f"/campaigns/{cid}/estimate").json
    assert set(estimate) == _properties(document, "Estimate")
    started = api.post(f"/campaigns/{cid}/start").json
    assert set(started) <= _properties(document, "CampaignAction")
    start_due_campaigns()
    page = api.get(f"/campaigns/{cid}/messages").json
    assert set(page) == _properties(document, "MessagePage")
    assert set(page["data"][0]) == _properties(document, "Message")
    assert set(api.get("/campaigns").json) == _properties(document, "CampaignPage")
    new_fields = set(document["components"]["schemas"]["NewCampaign"]["properties"])
    assert new_fields == set(schemas.NewCampaign.model_fields)


# Where the hand-written document and the API used to disagree (a fuzzer found these):
# now the document is built from the models that validate, and each case is decided once.
def _body_schema(document, name: str):
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


_ITEM = {"mobile": "09121234567", "purchased_at": "2026-11-20", "amount": 1}


@pytest.mark.parametrize(
    ("path", "schema", "payload", "field"),
    [
        ("/campaigns", "NewCampaign", {"name": "", "text": "x", "audience": {"all": True}}, "name"),
        (
            "/campaigns",
            "NewCampaign",
            {"name": "  ", "text": "x", "audience": {"all": True}},
            "name",
        ),
        ("/contacts", "ContactUpsert", {"contacts": [{"mobile": ""}]}, "contacts[0].mobile"),
        (
            "/contacts",
            "ContactUpsert",
            {"contacts": [{"mobile": 9121234567}]},
            "contacts[0].mobile",
        ),
        ("/contacts", "ContactUpsert", {"contacts": [{"mobile": "0912", "gender": "m"}]}, None),
        (
            "/purchases",
            "PurchaseBatch",
            {"purchases": [{**_ITEM, "purchased_at": ""}]},
            "purchases[0].purchased_at",
        ),
    ],
)
def test_what_the_document_forbids_the_api_refuses(api, document, path, schema, payload, field):
    assert not _body_schema(document, schema).is_valid(payload)
    error = error_of(api.post(path, payload), 422, "invalid")
    if field:
        assert field in fields_of(error)


def test_what_the_document_allows_the_api_takes(api, document, make_contact):
    make_contact("09121234567")
    purchase = {"purchases": [{**_ITEM, "reference": 1002}]}  # a numeric invoice number
    assert _body_schema(document, "PurchaseBatch").is_valid(purchase)
    assert api.post("/purchases", purchase).status_code == 200
    # after_id up to the largest id the databases hold; beyond is refused, as documented.
    after_id = next(
        p for p in document["paths"]["/campaigns"]["get"]["parameters"] if p["name"] == "after_id"
    )
    assert after_id["schema"]["maximum"] == ID_MAX
    assert api.get(f"/campaigns?after_id={ID_MAX}").status_code == 200
    assert api.get(f"/campaigns?after_id={ID_MAX + 1}").status_code == 422


def test_a_number_that_is_not_a_mobile_is_forbidden_in_the_path_too(api, document):
    mobile = document["paths"]["/contacts/{mobile}"]["get"]["parameters"][0]
    pattern = jsonschema_rs.Draft202012Validator(mobile["schema"])
    assert not pattern.is_valid("0")
    assert pattern.is_valid("09121234567") and pattern.is_valid("+98 912 123 4567")
    assert pattern.is_valid("۰۹۱۲۱۲۳۴۵۶۷")
    error_of(api.get("/contacts/0"), 422, "invalid")
    campaign_id = document["paths"]["/campaigns/{campaign_id}"]["get"]["parameters"][0]
    assert campaign_id["schema"]["minimum"] == 1
