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

START = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)


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

    In the 14 days after START, 20 recipients bought (one of them twice) and 5 of the
    held back; purchases before START or 14 days after do not count, nor the opted out's.
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
    buy(recipients[50], -timedelta(minutes=1))  # before the send: not counted
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


def test_the_campaign_page_says_what_the_effect_means(yalda, logged_in):
    page = logged_in.get(f"/campaigns/{yalda.id}")
    assert page.status_code == 200
    assert 'id="campaign-effect"' in page.text
    assert 'data-figure="recipient-rate">۲۰٪<' in page.text
    assert 'data-figure="holdout-rate">۱۰٪<' in page.text
    # Another window, from the page's own form.
    page = logged_in.get(f"/campaigns/{yalda.id}?days=15")
    assert 'data-figure="recipient-rate">۲۱٪<' in page.text


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
