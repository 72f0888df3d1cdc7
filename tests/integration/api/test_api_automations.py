"""Automations through the JSON API: create, list, read, change, switch, and the plan."""

from datetime import UTC, datetime

import pytest

from app.contacts.models import Contact, ContactList
from app.extensions import db
from tests.integration.api.api_support import error_of, fields_of

BIRTHDAY = {
    "name": "تبریک تولد",
    "kind": "birthday",
    "time": "10:00",
    "text": "{نام} عزیز، تولدت مبارک",
}


@pytest.fixture
def shop(app, time_machine):
    time_machine.move_to(datetime(2026, 12, 1, 8, 0, tzinfo=UTC), tick=False)
    vip = ContactList(name="ویژه")
    sara = Contact(mobile="+989120000001", first_name="سارا", birth_jmonth=9, birth_jday=30)
    ali = Contact(mobile="+989120000002", first_name="علی", birth_jmonth=9, birth_jday=29)
    vip.contacts.append(sara)
    db.session.add_all([vip, sara, ali])
    db.session.commit()
    return {"vip": vip.id, "sara": sara.id, "ali": ali.id}


def put(api, path: str, payload):
    return api.client.put(api.prefix + path, json=payload, headers=api.headers)


def test_an_automation_is_created_read_and_listed(api, shop):
    created = api.post("/automations", {**BIRTHDAY, "active": True, "days_before": 1})
    assert created.status_code == 201, created.text
    body = created.json
    assert created.headers["Location"].endswith(f"/automations/{body['id']}")
    assert body["kind"] == "birthday" and body["active"] and body["days_before"] == 1
    assert body["audience"]["all"] is True
    # Ali's birthday, 29 Azar 1405 (20 December 2026), one day before at 10:00 Tehran.
    assert body["next_send_at"] == "2026-12-19T10:00:00+03:30"
    assert api.get(f"/automations/{body['id']}").json == body
    assert [item["id"] for item in api.get("/automations").json["items"]] == [body["id"]]


def test_the_plan_lists_each_send_with_its_tehran_time(api, shop):
    created = api.post("/automations", {**BIRTHDAY, "audience": {"list_ids": [shop["vip"]]}})
    plan = api.get(f"/automations/{created.json['id']}/plan?from=2026-12-01&to=2026-12-31")
    assert plan.status_code == 200, plan.text
    assert plan.json == {
        "items": [
            {
                "contact_id": shop["sara"],
                "mobile": "+989120000001",
                "send_at": "2026-12-21T10:00:00+03:30",
                "occurrence": "2026-12-21",
            }
        ],
        "more": False,
    }


def test_the_plan_leaves_out_sends_whose_moment_has_passed(api, shop, time_machine):
    created = api.post("/automations", BIRTHDAY)
    # 21:00 on Ali's birthday (29 Azar): his 10:00 greeting is past, Sara's is tomorrow.
    time_machine.move_to(datetime(2026, 12, 20, 17, 30, tzinfo=UTC), tick=False)
    plan = api.get(f"/automations/{created.json['id']}/plan?from=2026-12-01&to=2026-12-31")
    assert [item["contact_id"] for item in plan.json["items"]] == [shop["sara"]]


def test_an_occasion_plan_names_the_occurrence(api, shop):
    created = api.post(
        "/automations",
        {
            "name": "یلدا",
            "kind": "occasion",
            "occasion": "yalda",
            "time": "۱۸:۳۰",
            "text": "یلدا مبارک",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json["time"] == "18:30"
    plan = api.get(f"/automations/{created.json['id']}/plan?from=2026-12-01&to=2026-12-31")
    assert {item["occurrence"] for item in plan.json["items"]} == {"yalda:1405"}
    assert {item["send_at"] for item in plan.json["items"]} == {"2026-12-21T18:30:00+03:30"}


def test_patch_changes_only_what_it_names_and_put_replaces(api, shop):
    made = api.post("/automations", {**BIRTHDAY, "days_before": 2}).json
    patched = api.patch(f"/automations/{made['id']}", {"time": "09:30"})
    assert patched.status_code == 200, patched.text
    assert (patched.json["time"], patched.json["days_before"]) == ("09:30", 2)
    replaced = put(api, f"/automations/{made['id']}", BIRTHDAY)
    assert (replaced.json["time"], replaced.json["days_before"]) == ("10:00", 0)


def test_activate_and_deactivate(api, shop):
    made = api.post("/automations", BIRTHDAY).json
    assert made["active"] is False and made["next_send_at"] is None
    on = api.post(f"/automations/{made['id']}/activate")
    assert on.status_code == 200 and on.json["active"] is True
    off = api.post(f"/automations/{made['id']}/deactivate")
    assert off.status_code == 200 and off.json["active"] is False


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "weekly"}, "kind"),
        ({"time": "25:00"}, "time"),
        ({"text": "سلام {نام"}, "text"),
        ({"days_before": 61}, "days_before"),
        ({"kind": "winback", "days_after": 0}, "days_after"),
        ({"kind": "occasion", "occasion": "no_such_day"}, "occasion"),
        ({"audience": {"list_ids": [999]}}, "audience.list_ids"),
        ({"provider_account_id": 77}, "provider_account_id"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_a_bad_automation_is_refused_with_the_field_named(api, shop, changes, field):
    error = error_of(api.post("/automations", {**BIRTHDAY, **changes}), 422, "invalid")
    assert field in fields_of(error)
    assert api.get("/automations").json["items"] == []


def test_a_name_is_taken_once(api, shop):
    api.post("/automations", BIRTHDAY)
    error = error_of(api.post("/automations", BIRTHDAY), 422, "invalid")
    assert fields_of(error) == ["name"]
    assert "تبریک تولد" in error["details"][0]["message"]


def test_unknown_automations_and_bad_plan_ranges_are_refused(api, shop):
    error_of(api.get("/automations/99"), 404, "not_found")
    made = api.post("/automations", BIRTHDAY).json
    error = error_of(
        api.get(f"/automations/{made['id']}/plan?from=2026-12-31&to=2026-12-01"), 422, "invalid"
    )
    assert fields_of(error) == ["to"]
    error_of(api.get(f"/automations/{made['id']}/plan?from=2026-12-01"), 422, "invalid")


def test_a_list_an_active_automation_sends_to_is_not_deleted(api, shop):
    made = api.post("/automations", {**BIRTHDAY, "audience": {"list_ids": [shop["vip"]]}}).json
    api.post(f"/automations/{made['id']}/activate")
    error = error_of(api.delete(f"/lists/{shop['vip']}"), 409, "invalid_state")
    assert "تبریک تولد" in error["message"]
    api.post(f"/automations/{made['id']}/deactivate")
    assert api.delete(f"/lists/{shop['vip']}").status_code == 204
    # Its audience now names a deleted list: it cannot be switched on until changed.
    error_of(api.post(f"/automations/{made['id']}/activate"), 409, "invalid_state")
