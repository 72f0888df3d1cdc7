"""A campaign's holdout: the share of its audience it keeps unsent to measure its effect.

Which contacts are kept back is one SQL expression (app.messaging.service.held_out),
worked out here in Python from its documented formula; materialise writes their messages
``skipped`` with the error ``holdout``, the estimate counts exactly those, and an
automation's runs keep back the share the automation names.
"""

import re
from datetime import UTC, datetime, time

import pytest
from sqlalchemy import func, insert, select, update

from app.contacts.models import Contact
from app.extensions import db
from app.jobs import SCHEDULER_JOBS_BY_ID, run_job
from app.messaging import service as campaigns
from app.messaging.models import Campaign
from app.occasions.automations import AutomationFields, save_automation
from app.occasions.models import Automation
from app.persian import TEHRAN, gregorian_date, show_number
from app.sending.models import HOLDOUT, Message
from app.sending.policy import SendingPolicy, save_policy
from app.sending.service import default_account


def kept_back(contact_id: int, campaign_id: int, percent: int) -> bool:
    """The holdout's formula, as its docstring gives it."""
    mixed = (contact_id * 2654435761 + campaign_id * 40503) % 1000003
    return (mixed * mixed) % 999983 % 100 < percent


def add_contacts(count: int, first: int = 0) -> list[int]:
    """``count`` contacts, stored at once; their ids in order."""
    db.session.execute(
        insert(Contact), [{"mobile": f"+98912{first + n:07d}"} for n in range(count)]
    )
    db.session.commit()
    return db.session.scalars(select(Contact.id).order_by(Contact.id)).all()[first:]


@pytest.fixture(autouse=True)
def any_hour(app):
    """Marketing may leave at any hour, with a frequency cap of a week."""
    save_policy(SendingPolicy(window_start=time(0), window_end=time(0), frequency_cap_days=7))
    db.session.commit()


def held_count(campaign_id: int, percent: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Contact).where(campaigns.held_out(campaign_id, percent))
    )


def test_the_share_kept_back_is_close_to_the_one_asked_for(app):
    ids = add_contacts(10_000)
    for campaign_id in (1, 2, 37, 2_000_000_000):
        assert 900 <= held_count(campaign_id, 10) <= 1100
        assert 4800 <= held_count(campaign_id, 50) <= 5200
        assert held_count(campaign_id, 0) == 0
    # The SQL is the formula, on either database (bigint: no integer overflow) ...
    held = db.session.scalars(
        select(Contact.id).where(campaigns.held_out(2_000_000_000, 10)).order_by(Contact.id)
    ).all()
    assert held == [i for i in ids if kept_back(i, 2_000_000_000, 10)]
    # ... and another campaign keeps back other contacts.
    first = set(db.session.scalars(select(Contact.id).where(campaigns.held_out(1, 10))))
    second = set(db.session.scalars(select(Contact.id).where(campaigns.held_out(2, 10))))
    # As two independent draws of 10 % would: about 100 in common (not 700, as with a
    # merely shifted choice).
    assert 50 <= len(first & second) <= 150


def test_a_contact_id_near_the_integer_limit(app):
    db.session.add(Contact(id=2_147_483_000, mobile="+989120000001"))
    db.session.commit()
    chosen = db.session.scalar(select(campaigns.held_out(5, 50)).select_from(Contact))
    assert bool(chosen) == kept_back(2_147_483_000, 5, 50)


def draft(percent: int, marketing: bool = True) -> Campaign:
    account = default_account()
    campaign = campaigns.create_campaign(
        name="یلدا", body="یلدا مبارک", provider_id=account.id, sender=account.sender_lines[0],
        scheduled_at=None, created_by_id=None, marketing=marketing, holdout_percent=percent,
    )  # fmt: skip
    db.session.commit()
    return campaign


def outcome(campaign_id: int) -> dict[int, str]:
    """Each contact's message: its error when skipped, else its status."""
    db.session.expire_all()
    rows = db.session.execute(
        select(Message.contact_id, Message.status, Message.error).where(
            Message.campaign_id == campaign_id
        )
    )
    return {contact: error if status == "skipped" else status for contact, status, error in rows}


def test_materialise_keeps_back_the_share_the_estimate_counted(app, monkeypatch):
    monkeypatch.setattr(campaigns, "MATERIALISE_CHUNK", 50)
    ids = add_contacts(400)
    campaign = draft(20)
    held = [i for i in ids if kept_back(i, campaign.id, 20)]
    # Five of those the hash would keep back opted out, five more were messaged lately:
    # they are skipped for that, never counted in the holdout.
    opted, capped = held[:5], held[5:10]
    db.session.execute(
        update(Contact)
        .where(Contact.id.in_(opted))
        .values(opted_out_at=datetime(2026, 1, 1, tzinfo=UTC))
    )
    earlier = draft(0)
    db.session.add_all(
        Message(
            campaign_id=earlier.id,
            contact_id=i,
            provider_id=earlier.provider_id,
            mobile=f"+98912{i:07d}",
            body="x",
            parts=1,
            sender=earlier.sender,
            status="delivered",
            marketing=True,
            idempotency_key=f"earlier:{i}",
        )  # fmt: skip
        for i in capped + ids[-3:]
    )
    db.session.commit()

    figures = campaigns.estimate(campaign)
    assert (figures.opted_out, figures.capped) == (5, 8)
    expected_held = len(held) - 10
    assert figures.held_out == expected_held
    assert figures.recipients == 400 - 5 - 8 - expected_held
    assert campaigns.audience_now(campaign) == figures.recipients
    assert 60 <= expected_held <= 100  # 20 % of 400, give or take

    campaigns.confirm_campaign(campaign)
    db.session.commit()
    campaigns.start_due_campaigns()
    written = outcome(campaign.id)
    assert len(written) == 400
    assert sorted(i for i, what in written.items() if what == HOLDOUT) == held[10:]
    assert all(written[i] == "opted_out" for i in opted)
    assert all(written[i] == "frequency_cap" for i in capped)
    assert sum(what == "queued" for what in written.values()) == figures.recipients

    # A crash after the first chunks: the resumed run keeps back the same contacts.
    db.session.execute(
        Message.__table__.delete().where(
            Message.campaign_id == campaign.id, Message.contact_id > ids[120]
        )
    )
    db.session.execute(
        update(Campaign).where(Campaign.id == campaign.id).values(status="preparing")
    )
    db.session.commit()
    campaigns.start_due_campaigns()
    assert outcome(campaign.id) == written


def test_a_campaign_without_a_holdout_sends_to_everyone(app):
    add_contacts(50)
    campaign = draft(0)
    assert campaigns.estimate(campaign).held_out == 0
    campaigns.confirm_campaign(campaign)
    db.session.commit()
    campaigns.start_due_campaigns()
    assert set(outcome(campaign.id).values()) == {"queued"}


def test_the_review_page_says_how_many_are_kept_back_and_why(app, logged_in):
    add_contacts(100)
    campaign = draft(30)
    held = db.session.scalar(
        select(func.count()).select_from(Contact).where(campaigns.held_out(campaign.id, 30))
    )
    page = logged_in.get(f"/campaigns/{campaign.id}").text
    assert f'data-stat="held_out">{show_number(held)}<' in page
    assert 'id="holdout-why"' in page and "۳۰٪" in page
    assert f'data-stat="recipients">{show_number(100 - held)}<' in page


# The compose form ---------------------------------------------------------------------


def compose(client, percent: str):
    form = client.get("/campaigns/new").text
    route = re.search(r'name="route"[^>]*>\s*<option[^>]*value="([^"]+)"', form).group(1)
    return client.post(
        "/campaigns/new",
        data={
            "name": "یلدا", "body": "یلدا مبارک", "audience": "all", "when": "now",
            "route": route, "holdout_percent": percent,
        },
    )  # fmt: skip


@pytest.mark.parametrize(("typed", "kept"), [("۱۰", 10), ("0", 0), ("", 0), ("50٪", 50)])
def test_the_composer_takes_the_share_in_any_digits(logged_in, typed, kept):
    add_contacts(3)
    response = compose(logged_in, typed)
    assert response.status_code == 302, response.text
    campaign = db.session.get(Campaign, int(response.location.rsplit("/", 1)[1]))
    assert campaign.holdout_percent == kept


@pytest.mark.parametrize("typed", ["51", "-5", "ده", "10.5"])
def test_the_composer_refuses_a_share_it_cannot_keep_in_persian(logged_in, typed):
    response = compose(logged_in, typed)
    assert response.status_code == 200
    assert "درصد کنارگذاشته باید عددی صحیح از ۰ تا ۵۰ باشد." in response.text
    assert db.session.scalar(select(func.count(Campaign.id))) == 0


# Automations ------------------------------------------------------------------------


def test_an_automation_run_keeps_back_the_automations_share(app, logged_in, time_machine):
    day = gregorian_date(1405, 9, 10)
    time_machine.move_to(datetime.combine(day, time(8), tzinfo=TEHRAN).astimezone(UTC), tick=False)
    db.session.execute(
        insert(Contact),
        [
            {"mobile": f"+98912{n:07d}", "first_name": "مشتری", "birth_jmonth": 9, "birth_jday": 10}
            for n in range(60)
        ],
    )
    db.session.commit()
    automation = save_automation(
        AutomationFields(
            name="تولد",
            kind="birthday",
            body="{نام} تولدت مبارک",
            send_time=time(10),
            active=True,
            holdout_percent=25,
        )  # fmt: skip
    )
    db.session.commit()
    time_machine.move_to(
        datetime.combine(day, time(10, 1), tzinfo=TEHRAN).astimezone(UTC), tick=False
    )
    run_job(app, SCHEDULER_JOBS_BY_ID["run_automations"])
    run = db.session.scalars(select(Campaign).where(Campaign.automation_id == automation.id)).one()
    assert run.holdout_percent == 25
    written = outcome(run.id)
    assert len(written) == 60
    held = sorted(i for i, what in written.items() if what == HOLDOUT)
    assert held == sorted(i for i in written if kept_back(i, run.id, 25))
    assert 5 <= len(held) <= 25

    # The automation's page shows its share and its runs' delivery report.
    page = logged_in.get(f"/occasions/automations/{automation.id}").text
    assert 'data-field="holdout"' in page and "۲۵٪" in page
    assert 'id="delivery-report"' in page
    assert 'data-figure="recipients">۶۰<' in page
    assert 'data-figure="skipped">' in page


def test_the_automation_editor_saves_the_share(app, logged_in):
    form = logged_in.get("/occasions/automations/new").text
    assert 'name="holdout_percent"' in form
    data = {
        "name": "تولد", "kind": "birthday", "send_time": "10:00", "days_before": "0",
        "days_after": "0", "delay": "0", "delay_unit": "minutes",
        "counts_from": "first_purchase", "occasion_key": "yalda", "audience": "all",
        "body": "تولدت مبارک", "coupon_prefix": "", "coupon_length": "6", "route": "",
        "holdout_percent": "۱۵",
    }  # fmt: skip
    response = logged_in.post("/occasions/automations/new", data=data)
    assert response.status_code == 302, re.sub(r"\s+", " ", response.text)[-3000:]
    saved = db.session.scalars(select(Automation)).one()
    assert saved.holdout_percent == 15
    edit = logged_in.get(f"/occasions/automations/{saved.id}/edit").text
    assert re.search(r'name="holdout_percent"[^>]*value="۱۵"', edit)
    refused = logged_in.post(
        "/occasions/automations/new", data={**data, "name": "دو", "holdout_percent": "۶۰"}
    )
    assert refused.status_code == 200
    assert "درصد کنارگذاشته باید عددی صحیح از ۰ تا ۵۰ باشد." in refused.text
