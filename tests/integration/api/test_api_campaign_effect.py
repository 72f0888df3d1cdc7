"""A campaign's holdout and its effect through the JSON API."""

from datetime import UTC, datetime, timedelta

import pytest

from app.contacts.models import Contact, Purchase
from app.coupons.models import Coupon
from app.extensions import db
from app.messaging.models import Campaign
from app.sending.models import HOLDOUT, Message
from app.sending.service import default_account
from tests.integration.api.api_support import error_of, fields_of

START = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)


@pytest.fixture
def yalda(app):
    """Started at START: 100 recipients, 50 kept back, 10 opted out.

    Within 14 days, 20 recipients bought (one of them twice: 1,000,000 + 500,000 Rials)
    and 5 of the held back; a purchase at 23:59 Tehran the day before START's day (START
    is 12:00 Tehran) and one on the 15th day do not count. Two of its coupon codes were
    used, one not.
    """
    account = default_account()
    campaign = Campaign(
        name="یلدا", body="یلدا مبارک", provider_id=account.id, sender="3000",
        status="done", started_at=START, holdout_percent=33,
    )  # fmt: skip
    db.session.add(campaign)
    contacts = [Contact(mobile=f"+98912{n:07d}") for n in range(160)]
    db.session.add_all(contacts)
    db.session.flush()
    groups = [("delivered", None)] * 100 + [("skipped", HOLDOUT)] * 50
    groups += [("skipped", "opted_out")] * 10
    db.session.add_all(
        Message(
            campaign_id=campaign.id,
            contact_id=contact.id,
            provider_id=account.id,
            mobile=contact.mobile,
            body="یلدا مبارک",
            parts=1,
            sender="3000",
            status=status,
            error=error,
            idempotency_key=f"campaign:{campaign.id}:{contact.id}",
            created_at=START,
        )  # fmt: skip
        for contact, (status, error) in zip(contacts, groups, strict=True)
    )

    def buy(contact, after, amount=1_000_000):
        db.session.add(Purchase(contact_id=contact.id, purchased_at=START + after, amount=amount))

    for contact in contacts[:20]:
        buy(contact, timedelta(days=3))
    buy(contacts[0], timedelta(days=10), 500_000)
    for contact in contacts[100:105]:
        buy(contact, timedelta(hours=1))
    buy(contacts[50], -timedelta(hours=12, minutes=1))
    buy(contacts[51], timedelta(days=14))
    db.session.add_all(
        Coupon(code=f"YALDA{n}", campaign_id=campaign.id, redeemed_at=used)
        for n, used in enumerate((START + timedelta(days=1), START + timedelta(days=2), None))
    )
    db.session.commit()
    return campaign


def test_the_effect_worked_out_by_hand(api, yalda):
    response = api.get(f"/campaigns/{yalda.id}/effect")
    assert response.status_code == 200, response.text
    effect = response.json
    # 20/100 against 5/50. Pooled p = 25/150 = 1/6; its standard error
    # √(1/6 · 5/6 · (1/100 + 1/50)) = 0.0645497, so z = 0.1 / 0.0645497 = 1.549193 and
    # p = erfc(1.549193/√2) = 0.121335. Unpooled: √(0.2·0.8/100 + 0.1·0.9/50) = √0.0034
    # = 0.0583095; 1.959964 × 0.0583095 = 0.114284 either side of 0.1.
    assert {key: effect[key] for key in ("campaign_id", "days", "recipients", "holdout")} == {
        "campaign_id": yalda.id,
        "days": 14,
        "recipients": 100,
        "holdout": 50,
    }
    assert (effect["recipient_conversions"], effect["holdout_conversions"]) == (20, 5)
    assert effect["recipient_rate"] == pytest.approx(0.2)
    assert effect["holdout_rate"] == pytest.approx(0.1)
    assert effect["uplift"] == pytest.approx(0.1)
    assert effect["z"] == pytest.approx(1.549193, abs=1e-6)
    assert effect["p_value"] == pytest.approx(0.121335, abs=1e-6)
    low, high = effect["interval"]
    assert (low, high) == (pytest.approx(-0.014284, abs=1e-6), pytest.approx(0.214284, abs=1e-6))
    assert effect["revenue"] == 20_500_000
    assert effect["coupons_redeemed"] == 2
    assert effect["summary"] == (
        "از هر ۱۰۰ مشتری، حدود ۱۰ نفر بیشتر برگشتند؛ ولی این تفاوت ممکن است اتفاقی باشد "
        "(گروه‌ها کوچک‌اند یا تفاوت ناچیز است)."
    )
    # Fifteen days take in the purchase of the 15th day; Persian digits are read too.
    longer = api.get(f"/campaigns/{yalda.id}/effect?days=۱۵").json
    assert (longer["days"], longer["recipient_conversions"]) == (15, 21)


def test_without_a_holdout_the_comparison_is_null(api, yalda):
    db.session.execute(Message.__table__.delete().where(Message.error == HOLDOUT))
    db.session.commit()
    effect = api.get(f"/campaigns/{yalda.id}/effect").json
    assert (effect["recipients"], effect["holdout"]) == (100, 0)
    assert effect["uplift"] is effect["z"] is effect["p_value"] is effect["interval"] is None
    assert effect["holdout_rate"] is None and effect["recipient_rate"] == pytest.approx(0.2)


def test_an_unknown_campaign_and_days_out_of_range_are_refused(api, yalda):
    error_of(api.get("/campaigns/9999/effect"), 404, "not_found")
    for days in ("0", "366", "-1", "دو", "1.5"):
        error = error_of(api.get(f"/campaigns/{yalda.id}/effect?days={days}"), 422, "invalid")
        assert fields_of(error) == ["days"]
    error = error_of(api.get(f"/campaigns/{yalda.id}/effect?days=400"), 422, "invalid")
    assert "۱ تا ۳۶۵" in error["details"][0]["message"]


def test_a_campaign_takes_and_returns_its_holdout(api, app):
    payload = {"name": "یلدا", "text": "یلدا مبارک", "audience": {"all": True}}
    created = api.post("/campaigns", {**payload, "holdout_percent": 10})
    assert created.status_code == 201, created.text
    assert created.json["holdout_percent"] == 10
    assert db.session.get(Campaign, created.json["id"]).holdout_percent == 10
    assert api.post("/campaigns", payload).json["holdout_percent"] == 0
    for wrong in (51, -1, "10", 2.5):
        error = error_of(
            api.post("/campaigns", {**payload, "holdout_percent": wrong}), 422, "invalid"
        )
        assert fields_of(error) == ["holdout_percent"]
    estimate = api.get(f"/campaigns/{created.json['id']}/estimate").json
    assert estimate["held_out"] == 0  # nobody to keep back: no contacts yet


BIRTHDAY = {"name": "تبریک تولد", "kind": "birthday", "time": "10:00", "text": "تولدت مبارک"}


def test_an_automation_takes_changes_and_returns_its_holdout(api, app):
    created = api.post("/automations", {**BIRTHDAY, "holdout_percent": 20})
    assert created.status_code == 201, created.text
    assert created.json["holdout_percent"] == 20
    path = f"/automations/{created.json['id']}"
    changed = api.patch(path, {"holdout_percent": 5})
    assert changed.status_code == 200, changed.text
    assert changed.json["holdout_percent"] == 5
    # A change of something else keeps it.
    assert api.patch(path, {"days_before": 1}).json["holdout_percent"] == 5
    error = error_of(api.patch(path, {"holdout_percent": 60}), 422, "invalid")
    assert fields_of(error) == ["holdout_percent"]
    assert api.get(path).json["holdout_percent"] == 5
