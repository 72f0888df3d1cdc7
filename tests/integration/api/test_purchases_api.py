"""POST /api/v1/purchases: a shop's checkout records purchases; retrying is safe."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from app.contacts.models import Contact, Purchase
from app.extensions import db
from tests.integration.api.api_support import error_of, fields_of


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _contact(mobile: str) -> Contact:
    db.session.expire_all()
    return db.session.scalar(select(Contact).where(Contact.mobile == mobile))


@pytest.fixture
def ali(make_contact):
    return make_contact("09121234567", first_name="علی")


def test_records_purchases_in_every_time_form_and_updates_totals(api, ali):
    response = api.post(
        "/purchases",
        {
            "purchases": [
                {
                    "mobile": "09121234567",
                    "purchased_at": "2026-11-20T18:30:00+03:30",
                    "amount": 1_250_000,
                    "reference": "INV-1",
                },
                {
                    "mobile": "+989121234567",
                    "purchased_at": {"jalali": "1405/08/01 09:15"},
                    "amount": 300_000,
                    "reference": 1002,
                },
                {"mobile": "9121234567", "purchased_at": "2026-11-22", "amount": 50_000},
            ]
        },
    )
    assert response.status_code == 200, response.text
    body = response.json
    assert (body["created"], body["duplicates"]) == (3, 0)
    assert body["purchases"] == [
        {"reference": "INV-1", "mobile": "+989121234567", "result": "created"},
        {"reference": "1002", "mobile": "+989121234567", "result": "created"},
        {"reference": None, "mobile": "+989121234567", "result": "created"},
    ]
    moments = sorted(db.session.scalars(select(Purchase.purchased_at)))
    assert moments == [
        datetime(2026, 10, 23, 5, 45, tzinfo=UTC),  # 1405/08/01 09:15 Tehran
        datetime(2026, 11, 20, 15, 0, tzinfo=UTC),
        datetime(2026, 11, 21, 20, 30, tzinfo=UTC),  # midnight in Tehran
    ]
    contact = _contact(ali.mobile)
    assert (contact.purchase_count, contact.total_spent) == (3, 1_600_000)
    assert contact.first_purchase_at == moments[0]
    assert contact.last_purchase_at == moments[-1]


def test_a_retried_checkout_counts_once(api, ali):
    payload = {
        "purchases": [
            {
                "mobile": "09121234567",
                "purchased_at": "2026-11-20T18:30:00+03:30",
                "amount": 900_000,
                "reference": "ORD-77",
            }
        ]
    }
    first = api.post("/purchases", payload)
    again = api.post("/purchases", payload)
    assert (first.json["created"], first.json["duplicates"]) == (1, 0)
    assert (again.json["created"], again.json["duplicates"]) == (0, 1)
    assert again.json["purchases"][0]["result"] == "duplicate"
    assert _count(Purchase) == 1
    contact = _contact(ali.mobile)
    assert (contact.purchase_count, contact.total_spent) == (1, 900_000)


def test_a_reference_repeated_in_the_request_is_a_duplicate_not_an_error(api, ali):
    item = {"mobile": "09121234567", "purchased_at": "2026-11-20", "amount": 10}
    response = api.post(
        "/purchases",
        {"purchases": [{**item, "reference": "A"}, {**item, "reference": " A "}, item, item]},
    )
    assert response.status_code == 200, response.text
    assert [p["result"] for p in response.json["purchases"]] == [
        "created",
        "duplicate",
        "created",
        "created",
    ]
    assert (response.json["created"], response.json["duplicates"]) == (3, 1)
    assert _contact(ali.mobile).total_spent == 30


def test_an_unknown_number_is_a_wrong_item_unless_contacts_are_created(api, ali):
    items = [
        {"mobile": "09121234567", "purchased_at": "2026-11-20", "amount": 10, "reference": "1"},
        {"mobile": "09350001111", "purchased_at": "2026-11-20", "amount": 20, "reference": "2"},
    ]
    error = error_of(api.post("/purchases", {"purchases": items}), 422, "invalid")
    assert fields_of(error) == ["purchases[1].mobile"]
    assert _count(Purchase) == 0 and _count(Contact) == 1

    response = api.post("/purchases", {"purchases": items, "create_contacts": True})
    assert response.status_code == 200, response.text
    assert response.json["created"] == 2
    new = _contact("+989350001111")
    assert (new.source, new.purchase_count, new.total_spent) == ("api", 1, 20)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"mobile": "0912"}, "purchases[1].mobile"),
        ({"mobile": None}, "purchases[1].mobile"),
        ({"purchased_at": None}, "purchases[1].purchased_at"),
        ({"purchased_at": "yesterday"}, "purchases[1].purchased_at"),
        ({"purchased_at": "2026-11-20T18:30:00"}, "purchases[1].purchased_at"),
        ({"purchased_at": "2030-01-01T00:00:00+00:00"}, "purchases[1].purchased_at"),
        ({"purchased_at": 1700000000}, "purchases[1].purchased_at"),
        ({"purchased_at": {"jalali": "1405/13/01 10:00"}}, "purchases[1].purchased_at.jalali"),
        ({"amount": 0}, "purchases[1].amount"),
        ({"amount": -5}, "purchases[1].amount"),
        ({"amount": 10.5}, "purchases[1].amount"),
        ({"amount": "1000"}, "purchases[1].amount"),
        ({"amount": True}, "purchases[1].amount"),
        ({"reference": ["x"]}, "purchases[1].reference"),
        ({"reference": "r" * 101}, "purchases[1].reference"),
        ({"discount": 5}, "purchases[1].discount"),
    ],
)
def test_a_wrong_item_is_named_and_nothing_is_written(api, ali, change, field):
    good = {"mobile": "09121234567", "purchased_at": "2026-11-20", "amount": 10, "reference": "g"}
    response = api.post("/purchases", {"purchases": [good, {**good, "reference": "b", **change}]})
    assert fields_of(error_of(response, 422, "invalid")) == [field]
    assert _count(Purchase) == 0
    assert _contact(ali.mobile).purchase_count == 0


def test_every_problem_is_listed_in_item_order(api, ali):
    response = api.post(
        "/purchases",
        {
            "purchases": [
                {"mobile": "09350001111", "purchased_at": "2026-11-20", "amount": 1},
                {"mobile": "09121234567", "purchased_at": "2026-11-20", "amount": 0},
                "not an object",
            ],
            "create_contacts": "yes",
        },
    )
    assert fields_of(error_of(response, 422, "invalid")) == [
        "create_contacts",
        "purchases[1].amount",
        "purchases[2]",
    ]


def test_limits_body_and_token(api, client, ali):
    item = {"mobile": "09121234567", "purchased_at": "2026-11-20", "amount": 1}
    error = error_of(api.post("/purchases", {"purchases": [item] * 1001}), 422, "invalid")
    assert fields_of(error) == ["purchases"]
    assert fields_of(error_of(api.post("/purchases", {}), 422, "invalid")) == ["purchases"]
    error_of(api.post("/purchases", [item]), 400, "bad_request")
    error_of(client.post("/api/v1/purchases", json={"purchases": [item]}), 401, "unauthorized")
    assert _count(Purchase) == 0
    response = api.post("/purchases", {"purchases": [item] * 1000})
    assert response.status_code == 200, response.text
    assert _contact(ali.mobile).purchase_count == 1000
