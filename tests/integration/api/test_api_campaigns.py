"""Campaigns through the JSON API: create, estimate, start, watch, control, read messages."""

import dataclasses
from datetime import UTC, datetime, time, timedelta
from time import monotonic, sleep

import pytest
import time_machine
from api_support import error_of, fields_of
from flask_babel import gettext
from integration_support import KEY, in_locale
from sqlalchemy import func, select, update

from app import jobs
from app.auth import policy
from app.contacts.models import ContactList
from app.extensions import db
from app.jobs import run_all_once
from app.limits import ID_MAX
from app.messaging import service as campaigns
from app.messaging.models import Campaign
from app.persian import show_number
from app.sending.accounts import save_account
from app.sending.models import STATUSES, Message, ProviderAccount
from app.sending.policy import SendingPolicy, save_policy
from tests.fakes.scripted import ScriptedProvider

OPTOUT = "\nلغو۱۱"  # the opt-out line every marketing text ends with (by default)
LATER = "2031-03-21T10:00:00+03:30"  # 1410/01/01 10:00 in Tehran


@pytest.fixture
def shop(make_contact):
    """A list of three customers (one opted out) and one contact outside it."""
    loyal = ContactList(name="مشتریان وفادار")
    members = [
        make_contact("09121234567", first_name="علی", last_name="رضایی"),
        make_contact("09351112233", first_name="سارا"),
        make_contact("09190001122", opted_out_at=datetime.now(UTC)),
    ]
    loyal.contacts.extend(members)
    db.session.add(loyal)
    make_contact("09120000000", first_name="بیرونی")
    db.session.commit()
    return loyal


@pytest.fixture
def scripted(app, monkeypatch):
    """A provider account with two sender lines and a price, behind a scripted adapter."""
    account = ScriptedProvider.install(monkeypatch, senders="3000123\n3000456")
    db.session.commit()
    return account


def valid(**changes) -> dict:
    payload = {"name": "تخفیف یلدا", "text": "سلام {نام|مشتری عزیز}", "audience": {"all": True}}
    payload.update(changes)
    return {key: value for key, value in payload.items() if value is not None}


def create(api, **changes) -> dict:
    response = api.post("/campaigns", valid(**changes))
    assert response.status_code == 201, response.text
    return response.json


def counts_of(api, campaign_id: int) -> dict:
    response = api.get(f"/campaigns/{campaign_id}")
    assert response.status_code == 200
    return {status: n for status, n in response.json["counts"].items() if n}


def stored_count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# Creating ---------------------------------------------------------------------------


def test_create_a_draft_with_every_field(api, shop, scripted):
    response = api.post(
        "/campaigns",
        {
            "name": "  یلدا  ",
            "text": "سلام {نام}\r\nیلدا مبارک",
            "audience": {"list_id": shop.id},
            "provider_account_id": scripted.id,
            "sender": "۳۰۰۰۴۵۶",
            "scheduled_at": LATER,
            "marketing": False,
        },
    )
    assert response.status_code == 201, response.text
    body = response.json
    assert response.headers["Location"].endswith(f"/api/v1/campaigns/{body['id']}")
    assert body["name"] == "یلدا"
    assert body["text"] == "سلام {نام}\nیلدا مبارک"
    assert body["status"] == "draft" and body["status_label"]
    assert body["audience"] == {
        "all": False,
        "list_ids": [shop.id],
        "tag_ids": [],
        "segment_ids": [],
        "exclude_list_ids": [],
        "exclude_segment_ids": [],
        "items": [{"kind": "list", "id": shop.id, "name": "مشتریان وفادار", "excluded": False}],
        "description": "گروه مشتریان وفادار",
        "list_id": shop.id,
        "list_name": "مشتریان وفادار",
    }
    assert body["provider"] == {"id": scripted.id, "name": "scripted", "kind": "scripted"}
    assert body["sender"] == "3000456"
    assert body["marketing"] is False
    assert body["scheduled_at"] == "2031-03-21T06:30:00Z"
    assert body["scheduled_at_jalali"] == "1410/01/01 10:00"
    assert body["started_at"] is None and body["started_at_jalali"] is None
    assert body["counts"] == dict.fromkeys(STATUSES, 0)
    assert body["totals"] == {
        "messages": 0,
        "waiting": 0,
        "handed_over": 0,
        "uncertain": 0,
        "being_checked": 0,
    }

    stored = db.session.get(Campaign, body["id"])
    assert [entry.list_id for entry in stored.audience] == [shop.id]
    assert (stored.provider_id, stored.sender) == (scripted.id, "3000456")
    assert stored.scheduled_at == datetime(2031, 3, 21, 6, 30, tzinfo=UTC)
    assert stored.created_by_id is None


def test_create_with_defaults_goes_through_the_default_account(api):
    before = datetime.now(UTC)
    body = create(api)
    assert body["audience"]["all"] is True
    assert body["audience"]["items"] == [] and body["audience"]["description"] == "همهٔ مخاطبان"
    assert body["provider"]["kind"] == "console"  # a fresh install's default account
    assert body["sender"] == "10000000"
    assert body["marketing"] is True
    scheduled = datetime.fromisoformat(body["scheduled_at"])
    assert before - timedelta(seconds=1) <= scheduled <= datetime.now(UTC)


def test_a_jalali_time_in_persian_digits_is_tehran_time(api):
    body = create(api, scheduled_at={"jalali": "۱۴۱۰/۰۱/۰۱ ۱۰:۰۰"})
    assert body["scheduled_at"] == "2031-03-21T06:30:00Z"
    assert body["scheduled_at_jalali"] == "1410/01/01 10:00"


def test_the_first_sender_line_is_the_default(api, scripted):
    assert create(api, provider_account_id=scripted.id)["sender"] == "3000123"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": None}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "ن" * 201}, "name"),
        ({"name": 12}, "name"),
        ({"text": None}, "text"),
        ({"text": ""}, "text"),
        ({"text": "سلام {نام} {کد ملی}"}, "text"),
        ({"text": "س" * 1001}, "text"),
        ({"audience": None}, "audience"),
        ({"audience": "all"}, "audience"),
        ({"audience": {}}, "audience"),
        ({"audience": {"list_id": 999}}, "audience.list_id"),
        ({"audience": {"list_id": 10**30}}, "audience.list_id"),
        ({"audience": {"list_id": "1"}}, "audience.list_id"),
        ({"audience": {"all": False}}, "audience.all"),
        ({"audience": {"all": True, "list_id": 1}}, "audience"),
        ({"audience": {"segment": 1}}, "audience.segment"),
        ({"provider_account_id": 999}, "provider_account_id"),
        ({"provider_account_id": "console"}, "provider_account_id"),
        ({"sender": "3000999"}, "sender"),
        ({"sender": 3000123}, "sender"),
        ({"scheduled_at": "2020-01-01T10:00:00+03:30"}, "scheduled_at"),
        ({"scheduled_at": "2031-03-21T10:00:00"}, "scheduled_at"),
        ({"scheduled_at": "tomorrow"}, "scheduled_at"),
        ({"scheduled_at": 1900000000}, "scheduled_at"),
        ({"scheduled_at": {"jalali": "1410/13/01 10:00"}}, "scheduled_at.jalali"),
        ({"scheduled_at": {"jalali": "1410/01/01"}}, "scheduled_at.jalali"),
        ({"scheduled_at": {"jalali": "1400/01/01 10:00"}}, "scheduled_at.jalali"),
        ({"scheduled_at": {"gregorian": "2031-01-01"}}, "scheduled_at"),
        ({"marketing": "yes"}, "marketing"),
        ({"recipients": ["09121234567"]}, "recipients"),
    ],
)
def test_each_invalid_field_is_named_and_nothing_is_stored(api, scripted, changes, field):
    payload = valid(**changes)
    if "sender" in changes:
        payload["provider_account_id"] = scripted.id
    error = error_of(api.post("/campaigns", payload), 422, "invalid")
    assert field in fields_of(error)
    assert stored_count(Campaign) == 0


def test_every_problem_is_reported_at_once_and_nothing_is_written(api):
    payload = {
        "name": "",
        "text": "{کد}",
        "audience": {"list_id": 5},
        "scheduled_at": "2001-01-01T00:00:00Z",
        "colour": "red",
    }
    error = error_of(api.post("/campaigns", payload), 422, "invalid")
    assert sorted(fields_of(error)) == [
        "audience.list_id",
        "colour",
        "name",
        "scheduled_at",
        "text",
    ]
    # Not even the console account that picking the default provider would have made.
    assert stored_count(Campaign) == 0
    assert stored_count(ProviderAccount) == 0


def test_problems_are_in_persian_unless_english_is_asked_for(api):
    payload = valid(text="سلام {کد}")
    persian = error_of(api.post("/campaigns", payload), 422, "invalid")
    assert persian["details"][0]["message"] == in_locale(
        "fa", lambda: gettext("Unknown placeholder: %(names)s", names="{کد}")
    )
    english = error_of(
        api.post("/campaigns", payload, headers={"Accept-Language": "en-US,en"}),
        422,
        "invalid",
    )
    assert english["details"][0]["message"] == "Unknown placeholder: {کد}"


@pytest.mark.parametrize(
    "request_body",
    [
        {"data": "not json", "content_type": "application/json"},
        {"data": "name=x", "content_type": "application/x-www-form-urlencoded"},
        {"json": ["a", "list"]},
        {},
    ],
    ids=["broken-json", "form", "array", "empty"],
)
def test_the_body_must_be_a_json_object(api, request_body):
    response = api.client.post("/api/v1/campaigns", headers=api.headers, **request_body)
    error_of(response, 400, "bad_request")
    assert stored_count(Campaign) == 0


# Reading ----------------------------------------------------------------------------


def test_campaigns_are_listed_in_pages(api):
    ids = [create(api, name=f"کمپین {n}")["id"] for n in range(3)]
    first = api.get("/campaigns?limit=2").json
    assert [c["id"] for c in first["data"]] == ids[:2]
    assert first["next_after_id"] == ids[1]
    assert first["data"][0]["counts"] == dict.fromkeys(STATUSES, 0)
    rest = api.get(f"/campaigns?limit=2&after_id={first['next_after_id']}").json
    assert [c["id"] for c in rest["data"]] == ids[2:]
    assert rest["next_after_id"] is None
    assert api.get("/campaigns").json["next_after_id"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("after_id=-1", "after_id"),
    ],
)
def test_paging_parameters_are_checked(api, query, field):
    error = error_of(api.get(f"/campaigns?{query}"), 422, "invalid")
    assert fields_of(error) == [field]


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", ""),
        ("get", "/estimate"),
        ("get", "/messages"),
        ("post", "/start"),
        ("post", "/pause"),
        ("post", "/resume"),
        ("post", "/cancel"),
        ("post", "/retry-unknown"),
    ],
)
@pytest.mark.parametrize("campaign_id", [0, 404, ID_MAX, ID_MAX + 1, 2**63, 10**20])
def test_an_unknown_campaign_is_404(api, method, suffix, campaign_id):
    response = getattr(api, method)(f"/campaigns/{campaign_id}{suffix}")
    error = error_of(response, 404, "not_found")
    if campaign_id <= ID_MAX:
        assert str(campaign_id) in error["message"]
    # Beyond what a database id can hold, no route matches: the address does not exist.


def test_the_estimate_counts_recipients_parts_cost_and_credit(api, shop, scripted):
    campaign = create(api, audience={"list_id": shop.id}, provider_account_id=scripted.id)
    response = api.get(f"/campaigns/{campaign['id']}/estimate")
    assert response.status_code == 200
    assert response.json == {
        "campaign_id": campaign["id"],
        "recipients": 2,  # the opted-out member is skipped
        "opted_out": 1,
        "capped": 0,
        "held_out": 0,
        "parts": 2,
        "cost": 200,  # 2 parts at 100 Rials
        "credit": 10**9,
        "covered": True,
        "credit_error": None,
    }


# Starting and sending ---------------------------------------------------------------


def test_a_campaign_sent_now_starts_at_once_when_the_scheduler_runs_here(
    app, api, shop, monkeypatch
):
    # As under `vafa run`; the start job's next turn is an hour away, so only the nudge
    # that starting gives it can start the campaign within the test.
    hourly = tuple(dataclasses.replace(job, every=3600) for job in jobs.SCHEDULER_JOBS)
    monkeypatch.setattr(jobs, "SCHEDULER_JOBS", hourly)
    monkeypatch.setitem(app.config, "VAFA_TICK_SECONDS", 3600)
    later = create(api, scheduled_at=LATER)["id"]
    now = create(api, audience={"list_id": shop.id})["id"]
    scheduler = jobs.start_scheduler(app)
    try:
        assert api.post(f"/campaigns/{later}/start").status_code == 200
        assert api.post(f"/campaigns/{now}/start").status_code == 200
        give_up = monotonic() + 30
        while api.get(f"/campaigns/{now}").json["status"] == "scheduled":
            assert monotonic() < give_up, "the campaign was not started"
            sleep(0.05)
    finally:
        scheduler.shutdown()
    assert api.get(f"/campaigns/{now}").json["totals"]["messages"] == 3
    assert api.get(f"/campaigns/{later}").json["status"] == "scheduled"


def test_a_campaign_from_creation_to_the_handset(app, api, shop):
    campaign = create(api, audience={"list_id": shop.id})
    cid = campaign["id"]
    estimate = api.get(f"/campaigns/{cid}/estimate").json
    assert (estimate["recipients"], estimate["opted_out"], estimate["covered"]) == (2, 1, True)

    started = api.post(f"/campaigns/{cid}/start")
    assert started.status_code == 200, started.text
    assert started.json["campaign"]["status"] == "scheduled"
    assert started.json["estimate"]["recipients"] == 2

    run_all_once(app)

    status = api.get(f"/campaigns/{cid}").json
    assert status["status"] == "done"
    assert status["started_at"] and status["finished_at"] and status["finished_at_jalali"]
    assert {k: v for k, v in status["counts"].items() if v} == {"delivered": 2, "skipped": 1}
    assert status["totals"] == {
        "messages": 3,
        "waiting": 0,
        "handed_over": 2,
        "uncertain": 0,
        "being_checked": 0,
    }

    first = api.get(f"/campaigns/{cid}/messages?limit=2").json
    assert len(first["data"]) == 2 and first["next_after_id"] == first["data"][1]["id"]
    rest = api.get(f"/campaigns/{cid}/messages?limit=2&after_id={first['next_after_id']}").json
    assert len(rest["data"]) == 1 and rest["next_after_id"] is None
    every = first["data"] + rest["data"]
    assert [m["mobile"] for m in every] == ["+989121234567", "+989351112233", "+989190001122"]
    ali = every[0]
    assert ali["body"] == "سلام علی" + OPTOUT
    assert ali["parts"] == 1
    assert ali["status"] == "delivered" and ali["status_label"]
    assert ali["provider_ref"] == f"console-{ali['id']}"
    assert ali["error"] is None
    for moment in ("created_at", "sent_at", "done_at"):
        assert ali[moment].endswith("Z") and ali[f"{moment}_jalali"]
    skipped = every[2]
    assert (skipped["status"], skipped["error"]) == ("skipped", "opted_out")
    assert skipped["error_label"] and skipped["sent_at"] is None

    delivered = api.get(f"/campaigns/{cid}/messages?status=delivered&limit=۱").json
    assert [m["mobile"] for m in delivered["data"]] == ["+989121234567"]
    assert delivered["next_after_id"] == delivered["data"][0]["id"]


def test_messages_parameters_are_checked(api):
    cid = create(api)["id"]
    error = error_of(api.get(f"/campaigns/{cid}/messages?status=lost&limit=0"), 422, "invalid")
    assert sorted(fields_of(error)) == ["limit", "status"]
    assert api.get(f"/campaigns/{cid}/messages?limit=500").status_code == 200


def test_starting_twice_is_a_conflict_in_the_callers_language(api, shop):
    cid = create(api)["id"]
    assert api.post(f"/campaigns/{cid}/start").status_code == 200
    already = "This campaign has already been started."
    error = error_of(api.post(f"/campaigns/{cid}/start"), 409, "invalid_state")
    assert error["message"] == in_locale("fa", lambda: gettext(already))
    english = api.post(f"/campaigns/{cid}/start", headers={"Accept-Language": "en"})
    assert error_of(english, 409, "invalid_state")["message"] == already


def test_a_campaign_the_credit_does_not_cover_is_not_started(api, shop, scripted):
    ScriptedProvider.credit_rials = 150
    cid = create(api, audience={"list_id": shop.id}, provider_account_id=scripted.id)["id"]
    assert api.get(f"/campaigns/{cid}/estimate").json["covered"] is False
    error = error_of(api.post(f"/campaigns/{cid}/start"), 409, "cannot_start")
    assert error["message"] == in_locale(
        "fa",
        lambda: gettext(
            "The campaign costs %(cost)s Rials but the provider credit is %(credit)s Rials.",
            cost=show_number(200),
            credit=show_number(150),
        ),
    )
    db.session.expire_all()
    assert db.session.get(Campaign, cid).status == "draft"


def test_a_campaign_to_nobody_is_not_started(api):
    empty = ContactList(name="خالی")
    db.session.add(empty)
    db.session.commit()
    cid = create(api, audience={"list_id": empty.id})["id"]
    error_of(api.post(f"/campaigns/{cid}/start"), 409, "cannot_start")


# Control ----------------------------------------------------------------------------


def test_pause_resume_and_cancel_only_where_the_state_allows(api, shop):
    cid = create(api, audience={"list_id": shop.id}, scheduled_at=LATER)["id"]

    def act(action: str):
        return api.post(f"/campaigns/{cid}/{action}")

    for action in ("pause", "resume"):  # a draft can do neither
        error = error_of(act(action), 409, "invalid_state")
        assert fields_of(error) == ["status"]
    assert act("start").json["campaign"]["status"] == "scheduled"
    assert act("pause").json["campaign"]["status"] == "paused"
    error_of(act("pause"), 409, "invalid_state")
    paused = api.get(f"/campaigns/{cid}").json
    assert paused["paused_reason"] == "owner" and paused["paused_reason_label"]
    assert act("resume").json["campaign"]["status"] == "scheduled"
    error_of(act("resume"), 409, "invalid_state")
    cancelled = act("cancel")
    assert cancelled.status_code == 200
    assert cancelled.json["campaign"]["status"] == "cancelled"
    assert cancelled.json["cancelled_messages"] == 0
    for action in ("cancel", "pause", "resume", "retry-unknown"):
        error_of(act(action), 409, "invalid_state")
    error_of(act("start"), 409, "invalid_state")


def test_pausing_a_sending_campaign_holds_its_messages_until_it_resumes(app, api, shop):
    cid = create(api, audience={"list_id": shop.id})["id"]
    api.post(f"/campaigns/{cid}/start")
    campaigns.start_due_campaigns()  # the scheduler writes the messages
    assert counts_of(api, cid) == {"queued": 2, "skipped": 1}

    assert api.post(f"/campaigns/{cid}/pause").json["campaign"]["status"] == "paused"
    assert counts_of(api, cid) == {"held": 2, "skipped": 1}
    run_all_once(app)
    assert counts_of(api, cid) == {"held": 2, "skipped": 1}  # nothing leaves while paused

    resumed = api.post(f"/campaigns/{cid}/resume").json["campaign"]
    assert resumed["status"] == "sending"
    assert resumed["totals"]["waiting"] == 2
    run_all_once(app)
    assert counts_of(api, cid) == {"delivered": 2, "skipped": 1}


def test_cancelling_a_sending_campaign_stops_what_has_not_left(api, shop):
    cid = create(api, audience={"list_id": shop.id})["id"]
    api.post(f"/campaigns/{cid}/start")
    campaigns.start_due_campaigns()
    response = api.post(f"/campaigns/{cid}/cancel")
    assert response.json["cancelled_messages"] == 2
    assert counts_of(api, cid) == {"cancelled": 2, "skipped": 1}


def test_unknown_messages_are_sent_again_only_when_asked(app, api, shop):
    cid = create(api, audience={"list_id": shop.id})["id"]
    assert api.post(f"/campaigns/{cid}/retry-unknown").json["requeued_messages"] == 0  # a draft
    api.post(f"/campaigns/{cid}/start")
    run_all_once(app)
    # As after a crash mid-request: the provider may or may not have taken them.
    db.session.execute(
        update(Message)
        .where(Message.campaign_id == cid, Message.status == "delivered")
        .values(status="unknown", error="maybe_sent", provider_ref=None)
    )
    db.session.commit()
    assert api.get(f"/campaigns/{cid}").json["status"] == "done"
    run_all_once(app)
    assert counts_of(api, cid) == {"unknown": 2, "skipped": 1}  # never re-sent on its own

    retried = api.post(f"/campaigns/{cid}/retry-unknown")
    assert retried.status_code == 200
    assert retried.json["requeued_messages"] == 2
    assert retried.json["campaign"]["status"] == "sending"
    assert retried.json["campaign"]["counts"]["queued"] == 2
    run_all_once(app)
    status = api.get(f"/campaigns/{cid}").json
    assert status["status"] == "done"
    assert {k: v for k, v in status["counts"].items() if v} == {"delivered": 2, "skipped": 1}
    assert api.post(f"/campaigns/{cid}/retry-unknown").json["requeued_messages"] == 0


def make_unknown(campaign_id: int, status: str) -> None:
    """As after a crash mid-request: the provider may or may not have taken them."""
    db.session.execute(
        update(Message)
        .where(Message.campaign_id == campaign_id, Message.status == status)
        .values(status="unknown", error="maybe_sent")
    )
    db.session.commit()


def test_unknown_messages_of_a_paused_campaign_wait_for_it_to_resume(app, api, shop):
    cid = create(api, audience={"list_id": shop.id})["id"]
    api.post(f"/campaigns/{cid}/start")
    campaigns.start_due_campaigns()
    api.post(f"/campaigns/{cid}/pause")
    make_unknown(cid, "held")
    retried = api.post(f"/campaigns/{cid}/retry-unknown").json
    assert retried["requeued_messages"] == 2
    assert counts_of(api, cid) == {"held": 2, "skipped": 1}
    run_all_once(app)
    assert counts_of(api, cid) == {"held": 2, "skipped": 1}
    api.post(f"/campaigns/{cid}/resume")
    run_all_once(app)
    assert counts_of(api, cid) == {"delivered": 2, "skipped": 1}


def test_a_cancelled_campaign_does_not_retry(api, shop):
    cid = create(api, audience={"list_id": shop.id})["id"]
    api.post(f"/campaigns/{cid}/start")
    campaigns.start_due_campaigns()
    make_unknown(cid, "queued")
    api.post(f"/campaigns/{cid}/cancel")
    error = error_of(api.post(f"/campaigns/{cid}/retry-unknown"), 409, "invalid_state")
    assert fields_of(error) == ["status"]
    assert counts_of(api, cid) == {"unknown": 2, "skipped": 1}


# Errors are JSON everywhere under /api/ ----------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("get", "/api/v1/nothing-here", 404, "not_found"),
        ("post", "/api/v1/nothing-here", 404, "not_found"),
        ("get", "/api/v2/campaigns", 404, "not_found"),
        ("get", "/api/v1/campaigns/abc", 404, "not_found"),
        ("delete", "/api/v1/campaigns/1", 405, "method_not_allowed"),
        ("put", "/api/v1/campaigns", 405, "method_not_allowed"),
    ],
)
def test_http_errors_under_api_are_json_not_html(client, token, method, path, status, code):
    for headers in ({}, {"Authorization": f"Bearer {token}"}):
        response = getattr(client, method)(path, headers=headers)
        error_of(response, status, code)
        assert "<html" not in response.text.lower()
    if status == 405:
        assert "GET" in response.headers["Allow"] or "POST" in response.headers["Allow"]


def test_a_crash_under_api_is_a_json_500(app, client, token, monkeypatch):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def crash():
        raise RuntimeError("boom")

    app.add_url_rule("/api/v1/test-crash", "test_crash", crash)
    # A route is reachable once the policy table (app/auth/policy.py) names it.
    monkeypatch.setitem(policy.ENDPOINTS, "test_crash", policy.API)
    response = client.get("/api/v1/test-crash")
    error_of(response, 500, "server_error")
    assert "boom" not in response.text


def test_pages_outside_the_api_keep_their_html_errors(logged_in):
    response = logged_in.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    anonymous = logged_in.application.test_client().get("/campaigns/")
    assert anonymous.status_code == 302  # the panel still asks for a session


@pytest.fixture
def kavenegar(app, fake_kavenegar):
    """A Kavenegar account at the fake Kavenegar API on loopback: ``(account, fake)``."""
    fake_kavenegar.state["credit"] = 1_000_000_000_000
    account = save_account(
        None, name="کاوه‌نگار", kind="kavenegar", api_key=KEY, senders="3000123456",
        base_url=fake_kavenegar.base_url, price_per_part=1_500,
    )  # fmt: skip
    db.session.commit()
    return account, fake_kavenegar


def test_a_credit_written_as_a_float_lets_the_campaign_start(app, api, shop, kavenegar):
    account, fake = kavenegar
    fake.state["credit_form"] = "float"  # {"remaincredit": 1000000000000.0}
    cid = create(api, audience={"list_id": shop.id}, provider_account_id=account.id)["id"]

    estimate = api.get(f"/campaigns/{cid}/estimate").json
    assert (estimate["credit"], estimate["covered"]) == (1_000_000_000_000, True)
    started = api.post(f"/campaigns/{cid}/start")
    assert started.status_code == 200, started.text
    run_all_once(app)

    assert counts_of(api, cid).get("sent", 0) + counts_of(api, cid).get("delivered", 0) == 2
    assert sorted(sent["receptor"] for sent in fake.state["sent"]) == [
        "09121234567",
        "09351112233",
    ]


def test_a_credit_nobody_can_read_is_a_clear_refusal(api, shop, kavenegar):
    account, fake = kavenegar
    fake.state["credit_form"] = "garbage"
    cid = create(api, audience={"list_id": shop.id}, provider_account_id=account.id)["id"]

    error = error_of(api.post(f"/campaigns/{cid}/start"), 409, "cannot_start")
    assert error["message"] == in_locale(
        "fa",
        lambda: gettext(
            "The provider's credit could not be read: %(reason)s",
            reason=gettext("The provider's answer could not be read."),
        ),
    )


def test_a_campaign_the_sending_window_holds_back_carries_its_planned_start(api, shop):
    save_policy(SendingPolicy(window_start=time(8), window_end=time(22)))
    db.session.commit()
    night = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)  # 23:30 in Tehran
    with time_machine.travel(night, tick=False):
        created = create(api, audience={"list_id": shop.id})
        assert created["planned_start"] == "2026-11-24T04:30:00Z"  # 08:00 the next morning
        assert created["planned_start_jalali"] == "1405/09/03 08:00"
        started = api.post(f"/campaigns/{created['id']}/start").json["campaign"]
        assert started["planned_start"] == "2026-11-24T04:30:00Z"
        [listed] = api.get("/campaigns").json["data"]
        assert listed["planned_start_jalali"] == "1405/09/03 08:00"
    with time_machine.travel(night + timedelta(hours=12), tick=False):
        answer = api.get(f"/campaigns/{created['id']}").json
        assert (answer["planned_start"], answer["planned_start_jalali"]) == (None, None)
