"""Hostile bodies to the API: each refused with its status and a message naming the limit,
nothing written, and the next request served as usual."""

import json

import pytest
from sqlalchemy import func, select

from app.contacts.models import Contact, Purchase
from app.contacts.service import own_field_names
from app.extensions import db
from app.limits import ID_MAX
from app.messaging.models import Campaign
from tests.integration.api.api_support import error_of, fields_of

MB = 1024 * 1024
ENGLISH = {"Accept-Language": "en"}


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _post_raw(api, path: str, body: bytes | str, **kwargs):
    return api.post(path, data=body, content_type="application/json", headers=ENGLISH, **kwargs)


def _still_serves(api):
    response = api.post("/contacts", {"contacts": [{"mobile": "09121234567"}]})
    assert response.status_code == 200, response.text
    assert _count(Contact) == 1


def test_a_body_over_the_api_limit_is_413_and_nothing_is_written(api, app):
    app.config["VAFA_MAX_API_BODY"] = 2048
    items = [{"mobile": f"0912{i:07d}", "city": "تهران"} for i in range(60)]
    body = json.dumps({"contacts": items})
    assert len(body) > 2048
    error = error_of(_post_raw(api, "/contacts", body), 413, "too_large")
    assert error["message"] == "The request is larger than 2 KB, the most this address takes."
    assert _count(Contact) == 0
    _still_serves(api)


def test_a_50_mb_json_body_is_refused_before_it_is_read(api):
    # The 50 MB announced by Content-Length is refused without reading a byte of it.
    response = _post_raw(
        api, "/contacts", b"[" * 64, environ_overrides={"CONTENT_LENGTH": str(50 * MB)}
    )
    error = error_of(response, 413, "too_large")
    assert "4 MB" in error["message"]  # VAFA_MAX_API_BODY's default
    assert _count(Contact) == 0


def test_a_body_just_over_the_default_limit_is_refused(api):
    padding = "x" * (4 * MB)
    body = json.dumps({"contacts": [{"mobile": "09121234567", "city": padding}]})
    error_of(_post_raw(api, "/contacts", body), 413, "too_large")
    assert _count(Contact) == 0


@pytest.mark.parametrize("depth", [33, 100_000])
def test_deeply_nested_json_is_400_naming_the_depth(api, depth):
    body = '{"contacts": ' + "[" * depth + "]" * depth + "}"
    error = error_of(_post_raw(api, "/contacts", body), 400, "bad_request")
    assert error["message"] == "The body nests arrays and objects more than 32 deep."
    assert _count(Contact) == 0
    _still_serves(api)


def test_json_within_the_depth_limit_is_read(api):
    # The API's deepest shape (contacts → item → birth_date → jalali) is far inside it.
    item = {"mobile": "09121234567", "birth_date": {"jalali": "1370/05/12"}}
    assert api.post("/contacts", {"contacts": [item]}).status_code == 200


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ('{"contacts": [}', "line 1, column 15"),
        ('{"contacts": [{"mobile": "0912"\n  "city": "x"}]}', "line 2, column 3"),
        ('{"contacts": [{"mobile": "09121234567"}]', "line 1, column 41"),
    ],
)
def test_malformed_json_is_400_naming_where(api, body, where):
    error = error_of(_post_raw(api, "/contacts", body), 400, "bad_request")
    assert error["message"].startswith("The body is not valid JSON: ")
    assert where in error["message"]
    assert _count(Contact) == 0


def test_malformed_json_is_named_in_persian_by_default(api):
    response = api.post("/contacts", data="{", content_type="application/json")
    error = error_of(response, 400, "bad_request")
    assert "JSON" in error["message"] and "۱" in error["message"]  # line ۱, column ۲


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(api, constant):
    body = '{"contacts": [{"mobile": "09121234567", "fields": {"a": ' + constant + "}}]}"
    error = error_of(_post_raw(api, "/contacts", body), 400, "bad_request")
    assert constant.lstrip("-") in error["message"]
    assert _count(Contact) == 0


def test_a_body_that_is_not_utf8_is_400(api):
    error = error_of(_post_raw(api, "/contacts", b'{"contacts": "\xff"}'), 400, "bad_request")
    assert "UTF-8" in error["message"]


# 20-digit ids ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"contacts": [{"mobile": "09121234567"}], "list_id": 10**20}, "list_id"),
        ({"contacts": [{"mobile": "09121234567"}], "list_id": 2**63}, "list_id"),
        ({"contacts": [{"mobile": "09121234567"}], "list_id": ID_MAX + 1}, "list_id"),
        ({"contacts": [{"mobile": "09121234567"}], "list_id": ID_MAX}, "list_id"),
    ],
)
def test_a_20_digit_id_in_json_is_a_422_on_its_field(api, payload, field):
    error = error_of(api.post("/contacts", payload, headers=ENGLISH), 422, "invalid")
    assert fields_of(error) == [field]
    assert _count(Contact) == 0


def test_20_digit_ids_in_a_campaign_are_422(api):
    payload = {
        "name": "x",
        "text": "سلام",
        "audience": {"list_id": 10**20},
        "provider_account_id": 10**20,
    }
    error = error_of(api.post("/campaigns", payload), 422, "invalid")
    assert sorted(fields_of(error)) == ["audience.list_id", "provider_account_id"]
    assert _count(Campaign) == 0


def test_a_20_digit_amount_and_reference_are_422(api, make_contact):
    make_contact("09121234567")
    item = {"mobile": "09121234567", "purchased_at": "2026-11-20", "amount": 10**20}
    bad_reference = {**item, "amount": 10, "reference": 10**20}
    error = error_of(api.post("/purchases", {"purchases": [item, bad_reference]}), 422, "invalid")
    assert fields_of(error) == ["purchases[0].amount", "purchases[1].reference"]
    assert _count(Purchase) == 0


@pytest.mark.parametrize("query", ["after_id=99999999999999999999", "after_id=" + "9" * 40])
def test_a_20_digit_after_id_is_422(api, query):
    error = error_of(api.get(f"/campaigns?{query}"), 422, "invalid")
    assert fields_of(error) == ["after_id"]


def test_the_largest_id_is_an_empty_page_not_an_error(api):
    response = api.get(f"/campaigns?after_id={ID_MAX}")
    assert response.status_code == 200, response.text
    assert response.json == {"data": [], "next_after_id": None}


@pytest.mark.parametrize(
    "path", ["/campaigns/99999999999999999999", "/campaigns/99999999999999999999/start"]
)
def test_a_20_digit_id_in_the_url_is_404(api, path):
    response = api.post(path) if path.endswith("start") else api.get(path)
    error_of(response, 404, "not_found")


# The shop's own fields ------------------------------------------------------------------


def test_200000_field_names_are_refused_and_nothing_is_stored(api):
    fields = {f"f{i}": "1" for i in range(200_000)}
    response = api.post(
        "/contacts", {"contacts": [{"mobile": "09121234567", "fields": fields}]}, headers=ENGLISH
    )
    error = error_of(response, 422, "invalid")
    assert fields_of(error) == ["contacts[0].fields"]
    assert "at most 100 fields" in error["details"][0]["message"]
    assert _count(Contact) == 0
    assert own_field_names() == []


def test_the_shops_cap_counts_the_names_already_stored(api, app, make_contact):
    app.config["VAFA_MAX_OWN_FIELDS"] = 3
    make_contact("09120000000", fields={"a": "1", "b": "2"})
    within = {"mobile": "09121111111", "fields": {"a": "x", "c": "3"}}  # one new: 3 names
    beyond = {"mobile": "09122222222", "fields": {"d": "4"}}  # a fourth name
    response = api.post("/contacts", {"contacts": [within, beyond]}, headers=ENGLISH)
    error = error_of(response, 422, "invalid")
    assert fields_of(error) == ["contacts[1].fields"]
    assert error["details"][0]["message"] == (
        "A shop can have at most 3 fields of its own; there are already 3, "
        "and “d” would be a new one."
    )
    assert _count(Contact) == 1
    assert api.post("/contacts", {"contacts": [within]}).status_code == 200
    assert own_field_names() == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"n" * 51: "x"}, "contacts[0].fields." + "n" * 51, "1 to 50 characters"),
        ({"club": "v" * 501}, "contacts[0].fields.club", "more than 500 characters"),
        ({"   ": "x"}, "contacts[0].fields.   ", "1 to 50 characters"),
    ],
)
def test_too_long_names_and_values_are_refused(api, fields, field, words):
    response = api.post(
        "/contacts", {"contacts": [{"mobile": "09121234567", "fields": fields}]}, headers=ENGLISH
    )
    error = error_of(response, 422, "invalid")
    assert fields_of(error) == [field]
    assert words in error["details"][0]["message"]
    assert _count(Contact) == 0
