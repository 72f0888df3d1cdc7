"""The segments of the JSON API: list, read, create, replace, sample."""

import pytest
from sqlalchemy import func, select

from app.audience import service as segments
from app.audience.models import Segment
from app.contacts.models import Contact, ContactList, Tag
from app.extensions import db
from app.types import utcnow
from tests.integration.api.api_support import error_of, fields_of


@pytest.fixture
def shop(app):
    segments.ensure_builtin_segments()
    db.session.add_all(
        [
            Contact(mobile="+989120000001", first_name="علی", city="تهران"),
            Contact(
                mobile="+989120000002",
                first_name="مریم",
                city="شیراز",
                purchase_count=2,
                first_purchase_at=utcnow(),
                last_purchase_at=utcnow(),
            ),
            Contact(mobile="+989120000003", first_name="رضا", city="تهران"),
        ]
    )
    db.session.commit()


def put(api, path: str, payload):
    return api.client.put(api.prefix + path, json=payload, headers=api.headers)


TEHRAN = {"match": "all", "rules": [{"field": "city", "op": "eq", "value": "تهران"}]}


def test_the_list_has_the_builtins_with_their_counts(api, shop):
    response = api.get("/segments")
    assert response.status_code == 200
    items = response.json["items"]
    assert [item["key"] for item in items] == [b["key"] for b in segments.BUILTINS]
    never = next(item for item in items if item["key"] == "never_bought")
    assert set(never) == {"id", "key", "name", "count", "builtin"}
    assert never["count"] == 2 and never["builtin"] is True


def test_a_segment_is_created_read_replaced_and_sampled(api, shop):
    response = api.post("/segments", {"name": "تهرانی‌ها", "rules": TEHRAN})
    assert response.status_code == 201, response.text
    created = response.json
    assert created["key"] is None and created["builtin"] is False and created["count"] == 2
    assert created["rules"] == TEHRAN and created["description"] == ""
    assert response.headers["Location"].endswith(f"/api/v1/segments/{created['id']}")

    assert api.get(f"/segments/{created['id']}").json == created

    group = {
        "match": "any",
        "rules": [
            {"field": "first_name", "op": "eq", "value": "مریم"},
            {"field": "purchases", "op": "never", "value": None},
        ],
    }
    rules = {"match": "all", "rules": [{"field": "city", "op": "in", "value": ["شیراز"]}, group]}
    response = put(api, f"/segments/{created['id']}", {"name": "شیرازی‌ها", "rules": rules})
    assert response.status_code == 200, response.text
    assert response.json["name"] == "شیرازی‌ها" and response.json["count"] == 1

    sample = api.get(f"/segments/{created['id']}/sample").json
    assert sample["count"] == 1
    assert sample["items"] == [
        {"id": 2, "mobile": "+989120000002", "first_name": "مریم", "last_name": "", "city": "شیراز"}
    ]


def test_a_builtin_keeps_its_key_when_its_threshold_changes(api, shop):
    lost = db.session.scalar(select(Segment).where(Segment.key == "lost"))
    rules = {"match": "all", "rules": [{"field": "last_purchase", "op": "at_least", "value": 120}]}
    response = put(api, f"/segments/{lost.id}", {"name": lost.name, "rules": rules})
    assert response.status_code == 200
    assert response.json["key"] == "lost" and response.json["rules"] == rules


def test_bad_rules_are_refused_with_each_problem_by_path(api, shop):
    count = db.session.scalar(select(func.count()).select_from(Segment))
    rules = {
        "match": "all",
        "rules": [
            {"field": "city", "op": "eq", "value": "تهران"},
            {"field": "last_purchase", "op": "more_than", "value": 5000},
            {"field": "tag", "op": "has", "value": 99},
            {"field": "birthday", "op": "today", "value": 3},
            {"field": "purchase_count", "op": "gte", "value": "3"},
        ],
    }
    response = api.post("/segments", {"name": "بد", "rules": rules})
    error = error_of(response, 422, "invalid")
    assert fields_of(error) == [
        "rules.rules[1].value",
        "rules.rules[2].value",
        "rules.rules[3].value",
        "rules.rules[4].value",
    ]
    assert error["details"][0]["message"] == "قانون ۲: تعداد روز باید عددی از ۰ تا ۳۶۵۰ باشد."
    assert error["details"][1]["message"] == "قانون ۳: چنین برچسبی وجود ندارد."
    assert db.session.scalar(select(func.count()).select_from(Segment)) == count


def test_names_and_shapes_are_checked(api, shop):
    error = error_of(api.post("/segments", {"name": " ", "rules": TEHRAN}), 422, "invalid")
    assert fields_of(error) == ["name"]
    taken = db.session.scalar(select(Segment.name).where(Segment.key == "new"))
    error = error_of(api.post("/segments", {"name": taken, "rules": TEHRAN}), 422, "invalid")
    assert fields_of(error) == ["name"]
    nested = {"match": "all", "rules": [{"match": "any", "rules": [TEHRAN]}]}
    error = error_of(api.post("/segments", {"name": "x", "rules": nested}), 422, "invalid")
    assert fields_of(error) == ["rules.rules[0].rules[0]"]
    extra = {"match": "all", "rules": [{"field": "city", "op": "eq", "value": "a", "x": 1}]}
    error = error_of(api.post("/segments", {"name": "x", "rules": extra}), 422, "invalid")
    assert fields_of(error) == ["rules.rules[0]"]
    error = error_of(api.post("/segments", {"name": "x", "rules": []}), 422, "invalid")
    assert fields_of(error) == ["rules"]


def test_a_tag_is_named_by_id_and_an_unknown_segment_is_404(api, shop):
    vip = Tag(name="VIP")
    vip.contacts.append(db.session.get(Contact, 1))
    db.session.add(vip)
    db.session.commit()
    rules = {"match": "all", "rules": [{"field": "tag", "op": "has", "value": vip.id}]}
    assert api.post("/segments", {"name": "ویژه", "rules": rules}).json["count"] == 1
    error_of(api.get("/segments/999"), 404, "not_found")
    error_of(put(api, "/segments/999", {"name": "x", "rules": TEHRAN}), 404, "not_found")
    error_of(api.get("/segments/999/sample"), 404, "not_found")


def test_a_segment_whose_list_was_deleted_has_no_count_until_fixed(api, shop, logged_in):
    vip = ContactList(name="VIP")
    db.session.add(vip)
    db.session.commit()
    rules = {"match": "all", "rules": [{"field": "list", "op": "member", "value": vip.id}]}
    created = api.post("/segments", {"name": "ویژه", "rules": rules}).json
    assert created["count"] == 0
    db.session.delete(vip)
    db.session.commit()
    assert api.get(f"/segments/{created['id']}").json["count"] is None
    assert api.get(f"/segments/{created['id']}/sample").json == {"count": None, "items": []}
    page = logged_in.get(f"/audience/{created['id']}")
    assert "قانون ۱: چنین گروه مخاطبانی وجود ندارد." in page.text


def test_rfm_rules_name_groups_by_key(api, shop):
    rules = {
        "match": "all",
        "rules": [
            {"field": "rfm", "op": "in", "value": ["loyal", "champions"]},
            {"field": "rfm_recency", "op": "gte", "value": 4},
        ],
    }
    response = api.post("/segments", {"name": "بهترین‌ها", "rules": rules})
    assert response.status_code == 201, response.text
    assert response.json["rules"]["rules"][0]["value"] == ["champions", "loyal"]
    assert response.json["count"] == 0  # nobody scored yet

    bad = {
        "match": "all",
        "rules": [
            {"field": "rfm", "op": "in", "value": ["قهرمان‌ها"]},  # a name, not a key
            {"field": "rfm_monetary", "op": "gte", "value": 6},
        ],
    }
    error = error_of(api.post("/segments", {"name": "بد", "rules": bad}), 422, "invalid")
    assert fields_of(error) == ["rules.rules[0].value", "rules.rules[1].value"]
    assert error["details"][0]["message"] == "قانون ۱: «قهرمان‌ها» یکی از گروه‌های RFM نیست."
    assert error["details"][1]["message"] == "قانون ۲: امتیاز RFM عددی صحیح از ۱ تا ۵ است."
