"""A campaign's effect read from the database: who counts in each group, which purchases
count, and the figures on the campaign's page — on a campaign built here."""

from datetime import UTC, datetime, timedelta

import pytest

from app.contacts.models import Contact, Purchase
from app.extensions import db
from app.messaging.models import Campaign
from app.reports.effect import campaign_effect
from app.sending.models import Message
from app.sending.service import default_account

START = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)  # 12:00 on 1405/09/10 in Tehran


def message(campaign, contact, status, error=None):
    return Message(
        campaign_id=campaign.id,
        contact_id=contact.id,
        provider_id=campaign.provider_id,
        mobile=contact.mobile,
        body="یلدا مبارک",
        parts=1,
        sender="3000",
        status=status,
        error=error,
        idempotency_key=f"campaign:{campaign.id}:{contact.id}",
        created_at=START,
    )


@pytest.fixture
def yalda(app):
    """A campaign started at START: 100 recipients (delivered), 50 kept back, 10 opted out.

    In the 14 Tehran days from the midnight that begins START's day (12-01 … 12-14), 20
    recipients bought (one of them twice) and 5 of the held back; purchases the day before
    or on the 15th day do not count, nor the opted out's.
    """
    account = default_account()
    campaign = Campaign(
        name="یلدا", body="یلدا مبارک", provider_id=account.id, sender="3000",
        status="done", started_at=START,
    )  # fmt: skip
    db.session.add(campaign)
    contacts = [Contact(mobile=f"+98912{n:07d}") for n in range(160)]
    db.session.add_all(contacts)
    db.session.flush()
    recipients, held, opted = contacts[:100], contacts[100:150], contacts[150:]
    db.session.add_all(message(campaign, c, "delivered") for c in recipients)
    db.session.add_all(message(campaign, c, "skipped", "holdout") for c in held)
    db.session.add_all(message(campaign, c, "skipped", "opted_out") for c in opted)

    def buy(contact, after, amount=1_000_000):
        db.session.add(Purchase(contact_id=contact.id, purchased_at=START + after, amount=amount))

    for contact in recipients[:20]:
        buy(contact, timedelta(days=3))
    buy(recipients[0], timedelta(days=10), 500_000)  # a second purchase, same buyer
    for contact in held[:5]:
        buy(contact, timedelta(hours=1))
    # 23:59 Tehran the day before the send: not counted.
    buy(recipients[50], -timedelta(hours=12, minutes=1))
    buy(recipients[51], timedelta(days=14))  # the 15th day: outside the window
    buy(opted[0], timedelta(days=1))  # not in either group
    db.session.commit()
    return campaign


def test_the_groups_and_their_purchases_in_the_window(yalda):
    effect = campaign_effect(yalda, days=14)
    assert (effect.recipients, effect.holdout) == (100, 50)
    assert (effect.recipient_conversions, effect.holdout_conversions) == (20, 5)
    # 20 purchases of 1,000,000 and the second one of 500,000.
    assert effect.revenue == 20_500_000
    # 20/100 against 5/50: the hand-worked case of tests/unit/test_uplift_arithmetic.py.
    assert effect.z == pytest.approx(1.549193, abs=1e-6)
    # A longer window takes in the purchase on the 15th day.
    assert campaign_effect(yalda, days=15).recipient_conversions == 21


def test_purchases_count_from_the_midnight_of_the_send_day_in_tehran(app):
    """Sent at 20:00 Tehran (16:30 UTC) on 1405/09/10; 4 recipients and 2 held back.

    A purchase entered by hand for that day is stored at 12:00 Tehran, before the send,
    yet counts (recipient 0, held 0); 00:00 that day counts (recipient 1); 23:59 the day
    before does not (recipient 2); with 3 days, 23:59 on the third day (12-03) counts
    (recipient 3) and 00:00 on the fourth (12-04) does not (held 1).
    """
    evening = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)
    midnight = datetime(2026, 11, 30, 20, 30, tzinfo=UTC)  # 00:00 on 12-01 in Tehran
    campaign = Campaign(
        name="شب", body="شب", provider_id=default_account().id, sender="3000",
        status="done", started_at=evening,
    )  # fmt: skip
    db.session.add(campaign)
    contacts = [Contact(mobile=f"+98913{n:07d}") for n in range(6)]
    db.session.add_all(contacts)
    db.session.flush()
    db.session.add_all(message(campaign, c, "delivered") for c in contacts[:4])
    db.session.add_all(message(campaign, c, "skipped", "holdout") for c in contacts[4:])
    for contact, moment in [
        (contacts[0], midnight + timedelta(hours=12)),
        (contacts[1], midnight),
        (contacts[2], midnight - timedelta(minutes=1)),
        (contacts[3], midnight + timedelta(days=3) - timedelta(minutes=1)),
        (contacts[4], midnight + timedelta(hours=12)),
        (contacts[5], midnight + timedelta(days=3)),
    ]:
        db.session.add(Purchase(contact_id=contact.id, purchased_at=moment, amount=1_000))
    db.session.commit()
    effect = campaign_effect(campaign, days=3)
    assert (effect.recipients, effect.holdout) == (4, 2)
    assert (effect.recipient_conversions, effect.holdout_conversions) == (3, 1)
    assert effect.revenue == 3_000
    assert effect.start == midnight
    assert campaign_effect(campaign, days=4).holdout_conversions == 2


def test_the_campaign_page_says_what_the_effect_means(yalda, logged_in):
    page = logged_in.get(f"/campaigns/{yalda.id}")
    assert page.status_code == 200
    assert 'id="campaign-effect"' in page.text
    assert 'data-figure="recipient-rate">۲۰٪<' in page.text
    assert 'data-figure="holdout-rate">۱۰٪<' in page.text
    assert 'data-figure="revenue">۲۰٬۵۰۰٬۰۰۰<' in page.text  # Rials, as the panel's costs
    formula = page.text.split('id="effect-formula">')[1].split("</p>")[0]
    assert "در ۱۴ روز از نیمه‌شبِ آغاز روز ارسال (به وقت تهران)" in formula
    # The test's figures, each isolated left to right so RTL does not scramble them.
    assert (
        'آزمون z دو نسبت: <bdi dir="ltr" data-figure="z">z = ۱.۵۵</bdi>، '
        '<bdi dir="ltr" data-figure="p">p = ۰.۱۲۱</bdi>.'
    ) in formula
    # Another window, from the page's own form.
    page = logged_in.get(f"/campaigns/{yalda.id}?days=15")
    assert 'data-figure="recipient-rate">۲۱٪<' in page.text


def test_without_a_holdout_the_page_shows_no_test(yalda, logged_in):
    held = Message.__table__.delete().where(
        Message.campaign_id == yalda.id, Message.error == "holdout"
    )
    db.session.execute(held)
    db.session.commit()
    page = logged_in.get(f"/campaigns/{yalda.id}")
    formula = page.text.split('id="effect-formula">')[1].split("</p>")[0]
    assert "نرخ تبدیل" in formula
    assert "آزمون z" not in formula and 'data-figure="z"' not in page.text


def test_a_campaign_not_started_has_no_effect_yet(app):
    campaign = Campaign(name="x", body="x", provider_id=default_account().id, sender="3000")
    db.session.add(campaign)
    db.session.commit()
    assert campaign_effect(campaign).recipients == 0


def test_the_days_are_typed_in_persian_digits_and_a_wrong_number_is_the_default(yalda, logged_in):
    page = logged_in.get(f"/campaigns/{yalda.id}?days=۱۵")
    assert 'data-figure="recipient-rate">۲۱٪<' in page.text
    assert 'value="۱۵"' in page.text
    for typed in ("abc", "0", "366", "-3", "۱۵۰۰۰"):
        page = logged_in.get(f"/campaigns/{yalda.id}", query_string={"days": typed})
        assert page.status_code == 200
        assert 'value="۱۴"' in page.text, typed
