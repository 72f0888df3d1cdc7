"""Quiet days and the daily cap: marketing SMS wait for the next allowed day, service
messages do not, and the campaign page says why and until when, in Persian."""

from datetime import UTC, date, datetime, time

import time_machine
from sqlalchemy import func, select

from app.extensions import db
from app.messaging import service as campaigns
from app.sending import service as sending
from app.sending.models import Message
from app.sending.policy import SendingPolicy, load_policy, marketing_allowance, save_policy
from tests.integration.engine.test_rules import dispatch
from tests.integration.engine.test_window_wait import window_text

# Friday 1405/09/06 10:00 in Tehran (UTC+03:30); Saturday 1405/09/07 08:00.
FRIDAY_MORNING = datetime(2026, 11, 27, 6, 30, tzinfo=UTC)
SATURDAY_EIGHT = datetime(2026, 11, 28, 4, 30, tzinfo=UTC)
# Wednesday 1405/09/04 12:00 and 23:00, then Thursday 1405/09/05 08:00 in Tehran.
WEDNESDAY_NOON = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
WEDNESDAY_NIGHT = datetime(2026, 11, 25, 19, 30, tzinfo=UTC)
THURSDAY_EIGHT = datetime(2026, 11, 26, 4, 30, tzinfo=UTC)


def rules(**values) -> None:
    save_policy(SendingPolicy(window_start=time(8), window_end=time(22), **values))
    db.session.commit()


def sent(campaign) -> int:
    db.session.expire_all()
    return db.session.scalar(
        select(func.count())
        .select_from(Message)
        .where(Message.campaign_id == campaign.id, Message.status == "sent")
    )


def test_a_marketing_campaign_on_a_quiet_friday_waits_for_saturdays_window(
    logged_in, started_campaign
):
    rules(quiet_weekdays=(4,))
    with time_machine.travel(FRIDAY_MORNING, tick=False):
        campaign, _ = started_campaign()
        assert dispatch() == 0
        assert load_policy().window_opens(FRIDAY_MORNING) == SATURDAY_EIGHT
        assert campaigns.planned_start(campaign, load_policy()) == SATURDAY_EIGHT
        page = logged_in.get(f"/campaigns/{campaign.id}")
        expected = (
            "ارسال فردا ساعت ۰۸:۰۰ شروع می‌شود؛ چون جمعه روز بدون ارسال است (طبق قوانین ارسال)."
        )
        assert window_text(page) == expected
        api = logged_in.get(f"/campaigns/{campaign.id}/progress").json
        assert api["window_text"] == expected
    with time_machine.travel(SATURDAY_EIGHT, tick=False):
        assert dispatch() == 3
    assert sent(campaign) == 3


def test_service_messages_are_sent_on_a_quiet_day(started_campaign):
    rules(quiet_weekdays=(4,), daily_cap=1)
    with time_machine.travel(FRIDAY_MORNING, tick=False):
        campaign, _ = started_campaign(marketing=False)  # e.g. an order confirmation
        assert dispatch() == 3
    assert sent(campaign) == 3


def test_a_quiet_jalali_date_holds_marketing_until_the_next_days_window(
    logged_in, started_campaign
):
    rules(quiet_dates=(date(2026, 11, 25),))  # 1405/09/04
    with time_machine.travel(WEDNESDAY_NOON, tick=False):
        campaign, _ = started_campaign()
        assert dispatch() == 0
        assert campaigns.planned_start(campaign, load_policy()) == THURSDAY_EIGHT
        page = logged_in.get(f"/campaigns/{campaign.id}")
        assert window_text(page) == (
            "ارسال فردا ساعت ۰۸:۰۰ شروع می‌شود؛ "
            "چون ۱۴۰۵/۰۹/۰۴ روز بدون ارسال است (طبق قوانین ارسال)."
        )
    with time_machine.travel(THURSDAY_EIGHT, tick=False):
        assert dispatch() == 3


def test_the_daily_cap_sends_exactly_that_many_today_and_the_rest_tomorrow(
    logged_in, started_campaign
):
    rules(daily_cap=3)
    with time_machine.travel(WEDNESDAY_NOON):
        campaign, _ = started_campaign(names=("علی", "مریم", "رضا", "سارا", "نگار"))
        assert dispatch() == 3
        assert dispatch() == 0  # the cap is full for today
        assert marketing_allowance(load_policy(), WEDNESDAY_NOON) == 0
        assert sent(campaign) == 3
        page = logged_in.get(f"/campaigns/{campaign.id}")
        assert window_text(page) == (
            "سقف روزانهٔ ارسال (۳ پیامک تبلیغاتی) پر شده؛ بقیه فردا ساعت ۰۸:۰۰ ارسال می‌شوند."
        )
        service, _ = started_campaign(marketing=False)
        assert dispatch() == 8  # to all eight contacts: the cap counts marketing SMS only
    with time_machine.travel(WEDNESDAY_NIGHT, tick=False):
        assert dispatch() == 0
    with time_machine.travel(THURSDAY_EIGHT, tick=False):
        assert marketing_allowance(load_policy(), THURSDAY_EIGHT) == 3
        assert dispatch() == 2
        assert window_text(logged_in.get(f"/campaigns/{campaign.id}")) == ""
    assert sent(campaign) == 5


def test_a_worker_counts_what_it_holds_against_the_cap(started_campaign):
    # Claimed messages stay queued until their request is handed over: the worker's next
    # claims count its own against the cap.
    rules(daily_cap=3)
    with time_machine.travel(WEDNESDAY_NOON):
        started_campaign(names=("علی", "مریم", "رضا", "سارا", "نگار"))
        dispatcher = sending.Dispatcher(concurrency=1, batch=2)
        try:
            assert dispatcher._claim(2) == 2
            assert dispatcher._claim(10) == 1
            assert dispatcher._claim(10) == 0
        finally:
            dispatcher.close()


def test_the_allowance_is_what_is_left_of_the_cap_today(app):
    policy = SendingPolicy(window_start=time(8), window_end=time(22), daily_cap=10)
    assert marketing_allowance(policy, WEDNESDAY_NOON) == 10
    assert marketing_allowance(policy, WEDNESDAY_NIGHT) == 0  # outside the window
    assert marketing_allowance(SendingPolicy(), WEDNESDAY_NOON) is None  # no cap
