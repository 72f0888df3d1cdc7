"""POST /api/v1/contacts and GET /api/v1/contacts/{mobile}."""

from datetime import date

import pytest
from flask_babel import gettext
from integration_support import in_locale
from sqlalchemy import func, select

from app.api import answers, schemas
from app.contacts.models import Contact, ContactList, OptOutEvent, Tag, contact_tags, list_members
from app.extensions import db
from tests.integration.api.api_support import error_of, fields_of


def _count(thing) -> int:
    if hasattr(thing, "__table__"):
        return db.session.scalar(select(func.count()).select_from(thing.__table__))
    return db.session.scalar(select(func.count()).select_from(thing))


def _rows() -> tuple[int, ...]:
    return tuple(_count(t) for t in (Contact, Tag, contact_tags, list_members, OptOutEvent))


def _contact(mobile: str) -> Contact:
    db.session.expire_all()
    return db.session.scalar(select(Contact).where(Contact.mobile == mobile))


def test_creates_contacts_with_every_field(api):
    response = api.post(
        "/contacts",
        {
            "contacts": [
                {
                    "mobile": "0912 123 4567",
                    "first_name": "علي",
                    "last_name": "رضایی",
                    "gender": "male",
                    "birth_date": "1991-08-03",
                    "anniversary": {"jalali": "1395/01/20"},
                    "city": "تهران",
                    "tags": ["vip", "یلدا"],
                    "fields": {"club": "gold", "points": 12},
                    "opted_out": False,
                },
                {"mobile": "+98 935 000 1111", "opted_out": True},
            ]
        },
    )
    assert response.status_code == 200, response.text
    body = response.json
    assert (body["created"], body["updated"], body["skipped"]) == (2, 0, 0)
    assert [(c["mobile"], c["result"]) for c in body["contacts"]] == [
        ("+989121234567", "created"),
        ("+989350001111", "created"),
    ]
    ali = _contact("+989121234567")
    assert body["contacts"][0]["id"] == ali.id
    assert ali.first_name == "علی"  # Arabic yeh normalised, as the importer does
    assert (ali.gender, ali.city, ali.source) == ("male", "تهران", "api")
    assert ali.birth_date == date(1991, 8, 3)
    assert (ali.birth_jmonth, ali.birth_jday) == (5, 12)
    assert ali.anniversary == date(2016, 4, 8)
    assert ali.fields == {"club": "gold", "points": "12"}
    assert sorted(t.name for t in ali.tags) == ["vip", "یلدا"]
    assert ali.opted_out_at is None
    other = _contact("+989350001111")
    assert other.opted_out_at is not None
    event = db.session.scalar(select(OptOutEvent))
    assert (event.source, event.text) == ("api", "API: tests")


def test_update_is_the_default_and_keeps_what_is_not_sent(api, make_contact):
    make_contact("09121234567", first_name="علی", city="شیراز", fields={"a": "1"})
    response = api.post(
        "/contacts",
        {"contacts": [{"mobile": "9121234567", "last_name": "رضایی", "fields": {"b": "2"}}]},
    )
    assert response.status_code == 200, response.text
    assert (response.json["created"], response.json["updated"]) == (0, 1)
    assert response.json["contacts"][0]["result"] == "updated"
    contact = _contact("+989121234567")
    assert (contact.first_name, contact.last_name, contact.city) == ("علی", "رضایی", "شیراز")
    assert contact.fields == {"a": "1", "b": "2"}


def test_skip_leaves_existing_contacts_as_they_were_but_lists_them(api, make_contact):
    old = make_contact("09121234567", first_name="علی")
    shop = ContactList(name="مشتریان سایت")
    db.session.add(shop)
    db.session.commit()
    response = api.post(
        "/contacts",
        {
            "contacts": [
                {"mobile": "09121234567", "first_name": "حسن", "tags": ["x"]},
                {"mobile": "09351112222", "first_name": "مریم"},
            ],
            "on_duplicate": "skip",
            "list_id": shop.id,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json
    assert (body["created"], body["updated"], body["skipped"]) == (1, 0, 1)
    assert body["contacts"][0] == {"mobile": "+989121234567", "id": old.id, "result": "skipped"}
    assert _contact("+989121234567").first_name == "علی"
    assert _contact("+989121234567").tags == []
    assert _count(list_members) == 2


def test_tags_are_added_not_replaced_and_repeats_are_harmless(api):
    api.post("/contacts", {"contacts": [{"mobile": "09121234567", "tags": ["a"]}]})
    again = api.post("/contacts", {"contacts": [{"mobile": "09121234567", "tags": ["a", "b"]}]})
    assert again.status_code == 200
    assert sorted(t.name for t in _contact("+989121234567").tags) == ["a", "b"]


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({}, "contacts[1].mobile"),
        ({"mobile": "12345"}, "contacts[1].mobile"),
        ({"mobile": True}, "contacts[1].mobile"),
        ({"mobile": "09121110000", "gender": "robot"}, "contacts[1].gender"),
        ({"mobile": "09121110000", "birth_date": "03/08/1991"}, "contacts[1].birth_date"),
        ({"mobile": "09121110000", "birth_date": "2999-01-01"}, "contacts[1].birth_date"),
        (
            {"mobile": "09121110000", "anniversary": {"jalali": "1403/07/31"}},
            "contacts[1].anniversary.jalali",
        ),
        ({"mobile": "09121110000", "anniversary": 1370}, "contacts[1].anniversary"),
        ({"mobile": "09121110000", "first_name": 7}, "contacts[1].first_name"),
        ({"mobile": "09121110000", "city": "x" * 101}, "contacts[1].city"),
        ({"mobile": "09121110000", "tags": "vip"}, "contacts[1].tags"),
        ({"mobile": "09121110000", "fields": ["a"]}, "contacts[1].fields"),
        ({"mobile": "09121110000", "fields": {"a": {"b": 1}}}, "contacts[1].fields.a"),
        ({"mobile": "09121110000", "fields": {"": "x"}}, "contacts[1].fields."),
        ({"mobile": "09121110000", "opted_out": "yes"}, "contacts[1].opted_out"),
        ({"mobile": "09121110000", "email": "a@b.c"}, "contacts[1].email"),
        ("09121110000", "contacts[1]"),
    ],
)
def test_a_wrong_item_is_named_and_nothing_is_written(api, make_contact, item, field):
    make_contact("09120000000", first_name="قدیمی")
    before = _rows()
    response = api.post(
        "/contacts",
        {"contacts": [{"mobile": "09351112222", "tags": ["t"], "opted_out": True}, item]},
    )
    error = error_of(response, 422, "invalid")
    assert fields_of(error) == [field]
    assert _rows() == before


def test_every_wrong_item_is_reported_at_once(api):
    response = api.post(
        "/contacts",
        {
            "contacts": [
                {"mobile": "bad"},
                {"mobile": "09121234567"},
                {"mobile": "09121234567", "gender": "?"},
                {"mobile": "+989121234567"},
            ],
            "on_duplicate": "merge",
            "list_id": 999,
            "extra": 1,
        },
    )
    error = error_of(response, 422, "invalid")
    assert fields_of(error) == [
        "extra",
        "on_duplicate",
        "list_id",
        "contacts[0].mobile",
        "contacts[2].gender",
        "contacts[3].mobile",
    ]
    repeat = error["details"][-1]["message"]
    assert "3" in repeat and "1" in repeat  # names both items
    assert _count(Contact) == 0


def test_a_number_repeated_in_the_request_names_both_items(api):
    response = api.post(
        "/contacts", {"contacts": [{"mobile": "09121234567"}, {"mobile": "00989121234567"}]}
    )
    error = error_of(response, 422, "invalid")
    assert fields_of(error) == ["contacts[1].mobile"]
    message = error["details"][0]["message"]
    assert "contacts[1]" in message and "contacts[0]" in message


@pytest.mark.parametrize(
    "payload",
    [{}, {"contacts": []}, {"contacts": {"mobile": "09121234567"}}, {"contacts": "x"}],
)
def test_the_list_is_required(api, payload):
    assert fields_of(error_of(api.post("/contacts", payload), 422, "invalid")) == ["contacts"]


def test_more_than_1000_items_are_refused(api):
    items = [{"mobile": f"0912{i:07d}"} for i in range(1001)]
    error = error_of(api.post("/contacts", {"contacts": items}), 422, "invalid")
    assert fields_of(error) == ["contacts"]
    assert _count(Contact) == 0


def test_1000_items_are_taken(api):
    items = [{"mobile": f"0912{i:07d}", "tags": ["bulk"]} for i in range(1000)]
    response = api.post("/contacts", {"contacts": items})
    assert response.status_code == 200, response.text
    assert response.json["created"] == 1000
    assert _count(Contact) == 1000 and _count(contact_tags) == 1000


def test_the_body_must_be_a_json_object(api):
    error_of(api.post("/contacts", [{"mobile": "09121234567"}]), 400, "bad_request")
    error_of(api.post("/contacts", data="not json"), 400, "bad_request")


def test_a_token_is_required(client, token):
    response = client.post("/api/v1/contacts", json={"contacts": [{"mobile": "09121234567"}]})
    error_of(response, 401, "unauthorized")
    response = client.get("/api/v1/contacts/09121234567")
    error_of(response, 401, "unauthorized")
    response = client.post(
        "/api/v1/contacts",
        json={"contacts": [{"mobile": "09121234567"}]},
        headers={"Authorization": "Bearer vafa_notarealtokenatall"},
    )
    error_of(response, 401, "invalid_token")
    assert _count(Contact) == 0


def test_messages_are_persian_by_default_and_english_on_request(api):
    saved = "No contact was saved; correct the items named below."
    response = api.post("/contacts", {"contacts": [{"mobile": "09121234567", "gender": "?"}]})
    error = error_of(response, 422, "invalid")
    assert error["message"] == in_locale("fa", lambda: gettext(saved))
    assert error["details"][0]["message"] == in_locale(
        "fa", lambda: gettext('Write "male" or "female".')
    )
    english = api.post(
        "/contacts",
        {"contacts": [{"mobile": "09121234567", "gender": "?"}]},
        headers={"Accept-Language": "en"},
    )
    assert error_of(english, 422, "invalid")["message"] == saved


# Reading one --------------------------------------------------------------------------


def test_a_contact_by_any_form_of_its_number(api):
    shop = ContactList(name="سایت")
    db.session.add(shop)
    db.session.commit()
    api.post(
        "/contacts",
        {
            "contacts": [
                {
                    "mobile": "09121234567",
                    "first_name": "علی",
                    "birth_date": {"jalali": "1370/05/12"},
                    "tags": ["vip"],
                    "fields": {"club": "gold"},
                }
            ],
            "list_id": shop.id,
        },
    )
    api.post(
        "/purchases",
        {
            "purchases": [
                {
                    "mobile": "09121234567",
                    "purchased_at": "2026-11-01T10:00:00+03:30",
                    "amount": 500_000,
                }
            ]
        },
    )
    for form in ("09121234567", "+989121234567", "9121234567", "۰۹۱۲۱۲۳۴۵۶۷"):
        response = api.get(f"/contacts/{form}")
        assert response.status_code == 200, (form, response.text)
    body = response.json
    assert body["mobile"] == "+989121234567"
    assert body["first_name"] == "علی"
    assert (body["birth_date"], body["birth_date_jalali"]) == ("1991-08-03", "1370/05/12")
    assert body["tags"] == ["vip"]
    assert body["lists"] == [{"id": shop.id, "name": "سایت"}]
    assert body["fields"] == {"club": "gold"}
    assert body["opted_out"] is False
    assert (body["purchase_count"], body["total_spent"]) == (1, 500_000)
    assert body["first_purchase_at"] == "2026-11-01T06:30:00Z"
    assert body["first_purchase_at_jalali"] == "1405/08/10 10:00"


def test_an_unknown_number_is_404_and_a_wrong_one_422(api):
    error = error_of(api.get("/contacts/09121234567"), 404, "not_found")
    assert "+989121234567" in error["message"]
    assert fields_of(error_of(api.get("/contacts/12ab"), 422, "invalid")) == ["mobile"]


def test_the_answers_have_the_shapes_the_document_declares(api, client):
    components = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    upsert = api.post("/contacts", {"contacts": [{"mobile": "09121234567"}]}).json
    answers.ContactUpsertResult.model_validate(upsert)  # every field, none unknown
    answers.Contact.model_validate(api.get("/contacts/09121234567").json)
    purchase = {"mobile": "09121234567", "purchased_at": "2026-11-20", "amount": 1}
    answers.PurchaseBatchResult.model_validate(
        api.post("/purchases", {"purchases": [purchase]}).json
    )
    for name in ("ContactUpsertResult", "Contact", "PurchaseBatchResult"):
        assert components[name]["additionalProperties"] is False
    assert set(components["NewContact"]["properties"]) == set(schemas.NewContact.model_fields)
    assert set(components["NewPurchase"]["properties"]) == set(schemas.NewPurchase.model_fields)


def test_a_plain_new_contact_is_answered_with_its_id(api):
    """No list, tag or opt-out: the answer still names the contact made."""
    response = api.post("/contacts", {"contacts": [{"mobile": "09121234567"}]})
    assert response.status_code == 200, response.text
    [answer] = response.json["contacts"]
    assert answer == {
        "mobile": "+989121234567",
        "id": _contact("+989121234567").id,
        "result": "created",
    }
