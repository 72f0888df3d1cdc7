"""A campaign's delivery report: recipients, sent, delivered, failures by reason, cost, and
deliveries hour by hour after the send — on a campaign whose messages are set here."""

import re
from datetime import UTC, datetime, time, timedelta

from integration_support import page_text
from sqlalchemy import select, update

from app.extensions import db
from app.jobs import run_all_once
from app.messaging import service as campaigns
from app.reports.campaigns import automation_report, campaign_report
from app.sending.models import Message
from app.sending.policy import SendingPolicy, save_policy
from app.sending.service import default_account

NOW = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)  # 12:00 in Tehran


def sent_campaign(app, make_contact, people: int):
    save_policy(SendingPolicy(window_start=time(0), window_end=time(0), optout_line=False))
    for number in range(people):
        make_contact(f"0912000{number:04d}", first_name="علی")
    account = default_account()
    account.price_per_part = 1000
    campaign = campaigns.create_campaign(
        name="یلدا",
        body="شب یلدا مبارک",
        provider_id=account.id,
        sender="10000000",
        scheduled_at=None,
        created_by_id=None,
    )
    campaigns.confirm_campaign(campaign)
    db.session.commit()
    run_all_once(app)
    return campaign


def set_status(ids, status, error=None, done_at=None):
    db.session.execute(
        update(Message)
        .where(Message.id.in_(ids))
        .values(status=status, error=error, done_at=done_at)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def test_the_report_counts_each_message_once_where_the_owner_expects_it(
    app, logged_in, make_contact, time_machine
):
    time_machine.move_to(NOW, tick=False)
    campaign = sent_campaign(app, make_contact, 10)
    ids = db.session.scalars(
        select(Message.id).where(Message.campaign_id == campaign.id).order_by(Message.id)
    ).all()
    sent_at = db.session.scalar(select(Message.handed_over_at).where(Message.id == ids[0]))
    # 10 messages of 1 part: 5 delivered (3 in the first hour, 2 in the third), 2 failed
    # with a bad number, 1 blacklisted, 1 uncertain, 1 opted out before it went (skipped).
    set_status(ids[0:3], "delivered", done_at=sent_at + timedelta(minutes=20))
    set_status(ids[3:5], "delivered", done_at=sent_at + timedelta(hours=2, minutes=5))
    set_status(ids[5:7], "failed", "invalid_number", done_at=sent_at + timedelta(hours=1))
    set_status(ids[7:8], "blacklisted", done_at=sent_at + timedelta(hours=1))
    set_status(ids[8:9], "unknown")
    set_status(ids[9:10], "skipped", "opted_out")

    report = campaign_report(campaign)
    assert (report.recipients, report.sent, report.delivered) == (10, 9, 5)
    assert (report.blacklisted, report.uncertain, report.skipped) == (1, 1, 1)
    # Parts and cost of the 9 handed over: 9 parts × 1,000 Rials.
    assert (report.parts, report.cost) == (9, 9000)
    # 5 delivered of 8 whose fate is known (5 + 2 failed + 1 blacklisted).
    assert report.delivery_rate == 62.5
    assert report.hours == [3, 0, 2]
    reasons = dict(report.failures)
    assert list(reasons.values()) == [2, 1]

    page = logged_in.get(f"/campaigns/{campaign.id}")
    assert page.status_code == 200
    assert 'data-figure="delivery-rate">۶۲٫۵٪<' in page.text
    # 9,000 Rials, in Rials as the campaign's own cost estimate above it.
    assert 'data-figure="cost">۹٬۰۰۰<' in page.text
    text = page_text(page)
    assert "گزارش تحویل" in text
    assert "شماره" in text  # the bad number's reason, in Persian
    # The hourly chart's ends are named as hours: the first and the third after the send.
    labels = page.text.split('class="bar-labels"')[1].split("</div>")[0]
    # Each isolated, so «ساعت ۱» keeps its Persian order in the left-to-right axis.
    assert re.findall(r"<span><bdi>(.*?)</bdi></span>", labels) == ["ساعت ۱", "ساعت ۳"]
    assert "<title>ساعت ۲: ۰</title>" in page.text


def test_a_draft_has_no_report_yet(app, logged_in, make_contact):
    make_contact("09120000001")
    campaign = campaigns.create_campaign(
        name="پیش‌نویس",
        body="سلام",
        provider_id=default_account().id,
        sender="10000000",
        scheduled_at=None,
        created_by_id=None,
    )
    db.session.commit()
    page = logged_in.get(f"/campaigns/{campaign.id}")
    assert 'id="delivery-report"' not in page.text


def test_an_automations_report_sums_its_campaigns(app, make_contact, time_machine):
    from app.occasions.models import Automation

    time_machine.move_to(NOW, tick=False)
    first = sent_campaign(app, make_contact, 3)
    automation = Automation(name="تولد", kind="birthday", body="تولدت مبارک")
    db.session.add(automation)
    db.session.flush()
    first.automation_id, first.occurrence = automation.id, "2026-12-01"
    db.session.commit()
    report = automation_report(automation.id)
    assert report.recipients == 3 and report.sent == 3
    assert automation_report(automation.id + 1).recipients == 0
