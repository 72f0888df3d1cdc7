"""Reconciling ``unknown`` messages to certainty, and campaigns that wait for it.

The Kavenegar tests run the real adapter against the fake Kavenegar over loopback HTTP;
the others use the scripted provider, whose lookup knows what it was told.
"""

from datetime import time as clock
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from app.extensions import db
from app.jobs import run_all_once
from app.messaging import service as campaigns
from app.messaging.models import Campaign
from app.sending.models import LEFT_TO_OWNER, Message, ProviderAccount
from app.sending.policy import SendingPolicy, save_policy
from app.sending.providers.base import ErrorCode, MaybeSent
from app.sending.reconcile import ASK_AGAIN_AFTER, reconcile_unknown
from app.types import utcnow
from tests.fakes import kavenegar
from tests.fakes.server import Faults, serving
from tests.integration.engine.test_dispatch import dispatch

KEY = "kave-reconcile-key"
LINE = "30001234"
MARGIN = timedelta(minutes=5)


def messages(**where) -> list[Message]:
    db.session.expire_all()
    query = select(Message).order_by(Message.id)
    for column, value in where.items():
        query = query.where(getattr(Message, column) == value)
    return db.session.scalars(query).all()


def reconcile(margin=MARGIN, **options):
    return reconcile_unknown(margin, campaigns.send_again, **options)


def handed_over_long_ago(ago=MARGIN + timedelta(seconds=1)) -> None:
    """Their requests are long over (handed over more than the margin ago)."""
    db.session.execute(
        Message.__table__.update()
        .where(Message.status == "unknown")
        .values(handed_over_at=utcnow() - ago)
    )
    db.session.commit()


def campaign_status(campaign_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Campaign, campaign_id).status


@pytest.fixture
def fake():
    app = kavenegar.create_app(KEY, credit=10**12, lines=(LINE,))
    with serving(app) as url:
        app.url = f"{url}/v1"
        yield app


@pytest.fixture
def kave_account(app, fake):
    account = ProviderAccount(
        name="kavenegar",
        kind="kavenegar",
        api_key=KEY,
        senders=LINE,
        base_url=fake.url,
        requests_per_second=1000,
        is_default=True,
    )
    db.session.add(account)
    save_policy(SendingPolicy(window_start=clock(0), window_end=clock(0)))
    db.session.commit()
    return account


def kave_campaign(account, make_contact, count: int) -> int:
    for i in range(count):
        make_contact(f"0912{i:07d}", first_name=f"مشتری {i}")
    campaign = campaigns.create_campaign(
        name="یلدا",
        body="یلدا مبارک",
        list_id=None,
        provider_id=account.id,
        sender=LINE,
        scheduled_at=None,
        created_by_id=None,
    )
    campaigns.confirm_campaign(campaign)
    db.session.commit()
    campaigns.start_due_campaigns()
    return campaign.id


def lookups(fake) -> list[list[str]]:
    return [
        params["localid"].split(",")
        for _method, path, params in fake.state["requests"]
        if path == "sms/statuslocalmessageid"
    ]


def test_kavenegar_taken_messages_become_sent_and_never_taken_ones_go_out_once(
    kave_account, fake, make_contact
):
    campaign_id = kave_campaign(kave_account, make_contact, 4)
    # The first request reaches Kavenegar but its answer is lost; the second never arrives.
    fake.faults = Faults(status=500, after_handling=True, times=1)
    dispatch(limit=2)
    fake.faults = Faults(status=500, times=1)
    dispatch(limit=2)
    assert [m.status for m in messages()] == ["unknown"] * 4
    taken, lost = messages()[:2], messages()[2:]
    campaigns.finish_campaigns()
    assert campaign_status(campaign_id) == "checking"

    handed_over_long_ago()
    outcome = reconcile()

    assert (outcome.found, outcome.sent_again, outcome.left_to_owner) == (2, 2, 0)
    by_local = fake.state["by_local"]
    assert [(m.status, m.provider_ref) for m in messages()[:2]] == [
        ("sent", str(by_local[str(m.id)]["messageid"])) for m in taken
    ]
    assert [(m.status, m.error) for m in messages()[2:]] == [("queued", None)] * 2
    campaigns.finish_campaigns()
    assert campaign_status(campaign_id) == "sending"

    dispatch()
    campaigns.finish_campaigns()

    assert [m.status for m in messages()] == ["sent"] * 4
    assert campaign_status(campaign_id) == "done"
    assert fake.state["asked"] == {str(m.id): 1 for m in taken + lost}, "each sent once"
    assert len(fake.state["sent"]) == 4


def uncertain(account, count: int) -> None:
    """``count`` messages whose requests ended an hour ago, fate unknown."""
    an_hour_ago = utcnow() - timedelta(hours=1)
    db.session.execute(
        insert(Message),
        [
            {
                "provider_id": account.id,
                "mobile": "+989120000000",
                "body": "سلام",
                "parts": 1,
                "sender": LINE,
                "status": "unknown",
                "error": "maybe_sent",
                "idempotency_key": f"uncertain:{i}",
                "handed_over_at": an_hour_ago,
                "created_at": an_hour_ago,
            }
            for i in range(count)
        ],
    )
    db.session.commit()


def test_lookups_go_in_kavenegars_largest_batch(kave_account, fake):
    uncertain(kave_account, 1001)

    outcome = reconcile()

    assert sorted(len(batch) for batch in lookups(fake)) == [1, 500, 500]
    assert outcome.sent_again == 1001
    assert {m.status for m in messages()} == {"queued"}


def test_lookups_keep_to_the_accounts_rate_limit(kave_account, fake):
    kave_account.requests_per_second = 1
    uncertain(kave_account, 1200)

    # The limit gives one request now and books at most one interval ahead (as it does
    # for sending): two lookups, a second apart; the rest waits for the next round.
    reconcile(within=timedelta(0))

    assert [len(batch) for batch in lookups(fake)] == [500, 500]
    assert len(messages(status="queued")) == 1000
    assert len(messages(status="unknown")) == 200


def test_a_request_that_may_still_be_under_way_is_asked_about_again_later(
    started_campaign, scripted, time_machine
):
    time_machine.move_to(utcnow(), tick=False)
    campaign, _ = started_campaign(names=("علی",))
    scripted.answers.append(MaybeSent(ErrorCode.BUSY, "no answer in time"))
    dispatch()

    reconcile()  # Unseen, but the request ended a moment ago: not yet proof
    assert [(m.status, m.polled_at is not None) for m in messages()] == [("unknown", True)]
    time_machine.shift(ASK_AGAIN_AFTER / 2)
    reconcile()
    assert len(scripted.lookups) == 1, "not asked again before ASK_AGAIN_AFTER"

    time_machine.shift(MARGIN)
    reconcile()
    assert [m.status for m in messages()] == ["queued"]
    assert len(scripted.lookups) == 2


def test_an_id_older_than_the_providers_memory_is_left_to_the_owner(
    logged_in, started_campaign, scripted
):
    campaign, _ = started_campaign(names=("علی", "مریم"))
    scripted.answers.append(MaybeSent(ErrorCode.BUSY, "no answer in time"))
    dispatch()
    handed_over_long_ago(timedelta(hours=13))  # Kavenegar-like: local ids kept 12 hours

    outcome = reconcile()
    reconcile()

    assert outcome.left_to_owner == 2
    assert [(m.status, m.error) for m in messages()] == [("unknown", LEFT_TO_OWNER)] * 2
    assert len(scripted.lookups) == 1, "never asked again"
    campaigns.finish_campaigns()
    assert campaign_status(campaign.id) == "checking"
    page = logged_in.get(f"/campaigns/{campaign.id}")
    assert "۲" in page.text and 'data-action="retry"' in page.text


def test_a_provider_without_local_ids_leaves_them_to_the_owner(
    logged_in, started_campaign, scripted, monkeypatch
):
    monkeypatch.setattr(scripted, "uses_local_id", False)
    campaign, _ = started_campaign(names=("علی", "مریم", "رضا"), body="حراج یلدا")
    scripted.answers.append(MaybeSent(ErrorCode.BUSY, "no answer in time"))
    dispatch()

    outcome = reconcile()

    assert outcome.left_to_owner == 3
    assert scripted.lookups == []
    assert {m.error for m in messages()} == {LEFT_TO_OWNER}
    run_all_once(logged_in.application)
    assert campaign_status(campaign.id) == "checking", "not done while any is uncertain"
    progress = logged_in.get(f"/campaigns/{campaign.id}/progress").json
    assert "۳" in progress["uncertain_text"]
    assert progress["status_label"]

    logged_in.post(f"/campaigns/{campaign.id}/retry")
    run_all_once(logged_in.application)
    assert [m.status for m in messages()] == ["sent"] * 3
    assert campaign_status(campaign.id) == "done"


def test_the_page_and_the_api_say_how_many_are_being_checked(logged_in, started_campaign, scripted):
    from app.api.service import create_token
    from tests.integration.api.conftest import Api

    campaign, _ = started_campaign(names=("علی", "مریم"))
    scripted.answers.append(MaybeSent(ErrorCode.BUSY, "no answer in time"))
    run_all_once(logged_in.application)  # the request just ended: still being checked

    assert campaign_status(campaign.id) == "checking"
    page = logged_in.get(f"/campaigns/{campaign.id}")
    assert 'data-field="uncertain"' in page.text
    assert "۲" in logged_in.get(f"/campaigns/{campaign.id}/progress").json["uncertain_text"]
    _token, secret = create_token("tests")
    db.session.commit()
    answer = Api(logged_in, secret).get(f"/campaigns/{campaign.id}").json
    assert answer["status"] == "checking"
    assert (answer["totals"]["uncertain"], answer["totals"]["being_checked"]) == (2, 2)


@pytest.mark.parametrize(("state", "becomes"), [("paused", "held"), ("cancelled", "cancelled")])
def test_never_taken_messages_of_a_stopped_campaign_do_not_go_out(
    started_campaign, scripted, state, becomes
):
    campaign, _ = started_campaign(names=("علی",))
    scripted.answers.append(MaybeSent(ErrorCode.BUSY, "no answer in time"))
    dispatch()
    campaign.status = state
    db.session.commit()
    handed_over_long_ago()

    reconcile()
    dispatch()

    assert [m.status for m in messages()] == [becomes]
    assert len(scripted.calls) == 1
