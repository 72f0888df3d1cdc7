"""The owner's sending rules, enforced by the engine: window, cap, opt-out line, replies, credit."""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from sqlalchemy import select

from app.contacts.models import OptOutEvent
from app.contacts.service import set_opt_out
from app.extensions import db
from app.messaging import service as campaigns
from app.sending import service as sending
from app.sending.models import Message
from app.sending.policy import SendingPolicy, load_policy, save_policy
from app.sending.providers.base import ErrorCode, Inbound, NotSent

# 23:30 and 07:59 in Tehran (UTC+03:30), then 08:00.
NIGHT = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
BEFORE_EIGHT = datetime(2026, 11, 24, 4, 29, tzinfo=UTC)
EIGHT = datetime(2026, 11, 24, 4, 30, tzinfo=UTC)


def body_of(campaign) -> list[tuple[str, str | None]]:
    db.session.expire_all()
    return db.session.execute(
        select(Message.status, Message.error).where(Message.campaign_id == campaign.id)
    ).all()


def dispatch() -> int:
    dispatcher = sending.Dispatcher(concurrency=2)
    try:
        return dispatcher.dispatch(100)
    finally:
        dispatcher.close()


@pytest.mark.parametrize(
    ("start", "end", "moment", "allowed"),
    [
        (time(8), time(22), NIGHT, False),
        (time(8), time(22), BEFORE_EIGHT, False),
        (time(8), time(22), EIGHT, True),
        (time(22), time(2), NIGHT, True),  # a window across midnight
        (time(22), time(2), EIGHT, False),
        (time(0), time(0), NIGHT, True),  # any hour
    ],
)
def test_the_sending_window_is_read_in_tehran_time(start, end, moment, allowed):
    assert SendingPolicy(window_start=start, window_end=end).in_window(moment) is allowed


def test_marketing_waits_for_the_window_to_open(started_campaign, scripted):
    save_policy(SendingPolicy(window_start=time(8), window_end=time(22)))
    db.session.commit()
    with time_machine.travel(NIGHT):
        campaign, _ = started_campaign()
        assert dispatch() == 0
    with time_machine.travel(BEFORE_EIGHT):
        assert dispatch() == 0
    with time_machine.travel(EIGHT):
        assert dispatch() == 3
    assert load_policy().window_opens(NIGHT) == EIGHT


def test_non_marketing_messages_ignore_the_window(started_campaign, scripted):
    save_policy(SendingPolicy(window_start=time(8), window_end=time(22)))
    db.session.commit()
    with time_machine.travel(NIGHT):
        campaign, _ = started_campaign(marketing=False)
        assert dispatch() == 3
    sent = db.session.scalars(select(Message.body).where(Message.campaign_id == campaign.id))
    assert all("لغو" not in body for body in sent), "no opt-out line on service messages"


def test_the_opt_out_line_is_appended_once_and_can_be_turned_off(started_campaign, scripted):
    first, _ = started_campaign(names=("علی",), body="تخفیف یلدا\nلغو۱۱")
    save_policy(SendingPolicy(window_start=time(0), window_end=time(0), optout_line=False))
    db.session.commit()
    second, _ = started_campaign(names=("مریم",), body="تخفیف یلدا")

    def bodies(campaign):
        return db.session.scalars(select(Message.body).where(Message.campaign_id == campaign.id))

    assert set(bodies(first)) == {"تخفیف یلدا\nلغو۱۱"}
    assert set(bodies(second)) == {"تخفیف یلدا"}


def test_the_frequency_cap_skips_recently_messaged_contacts(started_campaign, scripted):
    save_policy(SendingPolicy(window_start=time(0), window_end=time(0), frequency_cap_days=7))
    db.session.commit()
    first, (ali,) = started_campaign(names=("علی",))
    dispatch()
    # Another campaign to everyone two days later: Ali is capped, a new contact is not.
    with time_machine.travel(datetime.now(UTC) + timedelta(days=2)):
        second, _ = started_campaign(names=("سارا",))
    assert sorted(body_of(second)) == [("queued", None), ("skipped", "frequency_cap")]
    # Six days after that, only Sara (messaged two days in) is still within the cap.
    with time_machine.travel(datetime.now(UTC) + timedelta(days=8)):
        third, _ = started_campaign(names=("نگار",))
    assert sorted(body_of(third)) == [
        ("queued", None),
        ("queued", None),
        ("skipped", "frequency_cap"),
    ]


@pytest.mark.parametrize(
    ("reply", "intent"),
    [
        ("11", True),
        ("۱۱", True),
        ("١١", True),
        (" لغو ", True),
        ("لغو۱۱", True),
        ("12", False),
        ("۱۲", False),
        ("سلام", None),
        ("111", None),
    ],
)
def test_replies_that_opt_out_and_back_in(reply, intent):
    assert sending.reply_intent(reply) is intent


def test_inbox_replies_opt_contacts_out_and_back_in(scripted, make_contact):
    ali = make_contact("09121110000", first_name="علی")
    moment = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    scripted.replies = [
        Inbound("09121110000", "۱۱", moment),
        Inbound("+989999999999", "11", moment),  # not a contact: nothing to do
        Inbound("09121110000", "ممنون", moment),
    ]
    assert sending.poll_inbox() == 1
    db.session.refresh(ali)
    assert ali.opted_out_at == moment

    scripted.replies = [Inbound("0912 111 0000", "12", moment + timedelta(days=1))]
    assert sending.poll_inbox() == 1
    db.session.refresh(ali)
    assert ali.opted_out_at is None
    events = db.session.scalars(select(OptOutEvent).order_by(OptOutEvent.id)).all()
    assert [(e.opted_out, e.source, e.text) for e in events] == [
        (True, "reply", "۱۱"),
        (False, "reply", "12"),
    ]


def test_the_estimate_counts_recipients_parts_and_cost(scripted, make_contact):
    make_contact("09120000001", first_name="علی")
    make_contact("09120000002", first_name="محمدحسین")
    out = make_contact("09120000003", first_name="رضا")
    set_opt_out(out.mobile, True, "manual", "")
    campaign = campaigns.create_campaign(
        name="یلدا",
        body="سلام {نام}! " + "ت" * 55,
        list_id=None,
        provider_id=scripted.account.id,
        sender="3000123",
        scheduled_at=None,
        created_by_id=None,
    )
    # «سلام علی! » + 55 + «\nلغو۱۱» = 71 characters: two parts; the longer name too.
    figures = campaigns.estimate(campaign)
    assert (figures.recipients, figures.opted_out, figures.parts) == (2, 1, 4)
    assert figures.cost == 400
    assert figures.covered


def test_a_campaign_the_credit_cannot_pay_for_does_not_start(scripted, make_contact):
    make_contact("09120000001", first_name="علی")
    scripted.credit_rials = 99
    campaign = campaigns.create_campaign(
        name="یلدا",
        body="سلام",
        list_id=None,
        provider_id=scripted.account.id,
        sender="3000123",
        scheduled_at=None,
        created_by_id=None,
    )
    with pytest.raises(campaigns.CampaignError, match="۱۰۰"):
        campaigns.confirm_campaign(campaign)
    assert campaign.status == "draft"

    scripted.credit_rials = NotSent(ErrorCode.BAD_KEY, "403")
    with pytest.raises(campaigns.CampaignError):
        campaigns.confirm_campaign(campaign)
    assert db.session.scalar(select(Message.id)) is None, "nothing was written"
