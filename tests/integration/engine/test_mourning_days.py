"""Days of mourning: campaigns (and so automations, which make campaigns) wait for the
next allowed day; the owner's mourning list decides which days; {مناسبت} names the
campaign's occasion in every message."""

from datetime import UTC, date, datetime, time

import time_machine
from sqlalchemy import select

from app.extensions import db
from app.messaging import service as campaigns
from app.messaging.models import Campaign
from app.occasions import service as occasions
from app.occasions.models import Automation
from app.sending.models import Message
from app.sending.policy import SendingPolicy, load_policy, save_policy
from tests.integration.engine.test_quiet_days_and_daily_cap import sent
from tests.integration.engine.test_rules import dispatch
from tests.integration.engine.test_window_wait import window_text

# Tasua 1448 is Wednesday 1405/04/03 (24 June 2026), Ashura the Thursday after; Friday
# 1405/04/05 is not a day of mourning. 10:00 and 08:00 in Tehran (UTC+03:30).
TASUA_MORNING = datetime(2026, 6, 24, 6, 30, tzinfo=UTC)
FRIDAY_EIGHT = datetime(2026, 6, 26, 4, 30, tzinfo=UTC)
# Yalda 1405: Monday 1405/09/30 (21 December 2026), 10:00 in Tehran; the day after.
YALDA_MORNING = datetime(2026, 12, 21, 6, 30, tzinfo=UTC)
DAY_AFTER_YALDA = datetime(2026, 12, 22, 6, 30, tzinfo=UTC)


def rules() -> None:
    save_policy(SendingPolicy(window_start=time(8), window_end=time(22)))
    db.session.commit()


def test_marketing_waits_through_tasua_and_ashura_for_the_next_allowed_day(
    logged_in, started_campaign
):
    rules()
    with time_machine.travel(TASUA_MORNING, tick=False):
        policy = load_policy()
        assert policy.is_quiet(date(2026, 6, 24)) and policy.is_quiet(date(2026, 6, 25))
        assert not policy.is_quiet(date(2026, 6, 26))
        campaign, _ = started_campaign()
        assert dispatch() == 0
        assert campaigns.planned_start(campaign, load_policy()) == FRIDAY_EIGHT
        page = logged_in.get(f"/campaigns/{campaign.id}")
        assert "روز عزاداری" in window_text(page)
        assert "۱۴۰۵/۰۴/۰۳" in window_text(page)
    with time_machine.travel(FRIDAY_EIGHT, tick=False):
        assert dispatch() == 3
    assert sent(campaign) == 3


def test_service_messages_leave_on_a_day_of_mourning(started_campaign):
    rules()
    with time_machine.travel(TASUA_MORNING, tick=False):
        campaign, _ = started_campaign(marketing=False)
        assert dispatch() == 3
    assert sent(campaign) == 3


def test_a_day_the_owner_takes_off_the_mourning_list_is_not_quiet(started_campaign):
    rules()
    keys = {choice.key for choice in occasions.mourning_choices() if choice.mourning}
    occasions.set_mourning(keys - {"tasua"})
    db.session.commit()
    with time_machine.travel(TASUA_MORNING, tick=False):
        assert not load_policy().is_quiet(date(2026, 6, 24))
        assert load_policy().is_quiet(date(2026, 6, 25))  # Ashura still is
        campaign, _ = started_campaign()
        assert dispatch() == 3
    assert sent(campaign) == 3


def test_a_day_the_owner_adds_and_a_moved_mourning_day(started_campaign):
    rules()
    own = occasions.save_custom_occasion(None, "سالروز درگذشت بنیان‌گذار", "jalali", 9, 30)
    keys = {choice.key for choice in occasions.mourning_choices() if choice.mourning}
    occasions.set_mourning(keys | {own.key})
    occasions.shift_occurrence("tasua:1448", 1)  # Tasua seen a day later: Thursday
    db.session.commit()
    with time_machine.travel(TASUA_MORNING, tick=False):
        policy = load_policy()
        assert policy.is_quiet(date(2026, 12, 21))
        assert not policy.is_quiet(date(2026, 6, 24)) and policy.is_quiet(date(2026, 6, 25))


def bodies(campaign) -> set[str]:
    db.session.expire_all()
    return set(db.session.scalars(select(Message.body).where(Message.campaign_id == campaign.id)))


def test_the_occasion_placeholder_names_the_day_of_the_campaign(started_campaign):
    rules()
    with time_machine.travel(YALDA_MORNING, tick=False):
        campaign, _ = started_campaign(names=("علی",), body="{مناسبت|جشن} مبارک {نام}")
        assert bodies(campaign) == {"شب یلدا مبارک علی\nلغو۱۱"}
    with time_machine.travel(DAY_AFTER_YALDA, tick=False):
        campaign, _ = started_campaign(names=("مریم",), body="{مناسبت|جشن} مبارک {نام}")
        # Sent to everyone: علی of the first campaign too.
        assert bodies(campaign) == {"جشن مبارک علی\nلغو۱۱", "جشن مبارک مریم\nلغو۱۱"}


def test_an_occasion_automations_campaign_names_its_occurrence(app):
    automation = Automation(
        name="عید فطر", kind="occasion", body="{مناسبت} مبارک", occasion_key="eid_fitr"
    )
    db.session.add(automation)
    db.session.flush()
    campaign = Campaign(
        name="x",
        body="{مناسبت} مبارک",
        provider="console",
        sender="1000",
        scheduled_at=YALDA_MORNING,
        automation=automation,
        occurrence="eid_fitr:1448",
    )
    assert occasions.campaign_occasion(campaign) == "عید فطر"
    campaign.automation = None
    assert occasions.campaign_occasion(campaign) == "شب یلدا"
