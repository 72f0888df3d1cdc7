"""A campaign's review page and its buttons, through the panel, sending to ScriptedProvider.

The engine behind the buttons is the real one; ScriptedProvider stands in for the SMS
company only (its price is 100 Rials a part, its credit what a test sets).
"""

import re
from datetime import timedelta

from flask_babel import gettext
from integration_support import as_int, in_locale, page_text
from sqlalchemy import select

from app.contacts.service import set_opt_out
from app.extensions import db
from app.jobs import run_all_once
from app.messaging import service as campaigns
from app.messaging.models import Campaign
from app.sending import service as sending
from app.sending.leases import begin_lease
from app.sending.models import ERROR_LABELS, Message
from app.sending.providers.base import ErrorCode, MaybeSent, NotSent


def fa(text: str, **values) -> str:
    """``text`` as the panel shows it in Persian."""
    return in_locale("fa", lambda: gettext(text, **values))


def compose(client, scripted, body="حراج یلدا") -> int:
    """Compose a campaign to everyone through the scripted account; returns its id."""
    response = client.post(
        "/campaigns/new",
        data={
            "name": "یلدا",
            "body": body,
            "list_id": 0,
            "route": f"{scripted.account.id}:3000123",
            "when": "now",
        },
    )
    assert response.status_code == 302, page_text(response)
    return int(response.location.rsplit("/", 1)[1])


def confirm(client, campaign_id: int):
    response = client.post(f"/campaigns/{campaign_id}/confirm")
    assert response.status_code == 302
    return client.get(response.location)


def press(client, campaign_id: int, action: str):
    """Press a control button on the campaign page (it must be there) and follow."""
    page = client.get(f"/campaigns/{campaign_id}")
    assert f'data-action="{action}"' in page.text, f"no {action} button"
    response = client.post(f"/campaigns/{campaign_id}/{action}")
    assert response.status_code == 302
    return client.get(response.location)


def buttons(page) -> set[str]:
    return set(re.findall(r'data-action="(\w+)"', page.text))


def figures(page) -> dict[str, str]:
    estimate = re.search(r'<section[^>]*id="estimate".*?</section>', page.text, re.S)
    assert estimate, "the page shows no estimate"
    return dict(re.findall(r'data-stat="(\w+)">([^<]*)<', estimate.group(0)))


def confirm_button(page) -> str:
    return re.search(r'<button[^>]*id="confirm"[^>]*>', page.text).group(0)


def campaign(campaign_id: int) -> Campaign:
    db.session.expire_all()
    return db.session.get(Campaign, campaign_id)


def statuses(campaign_id: int) -> list[str]:
    db.session.expire_all()
    return db.session.scalars(
        select(Message.status).where(Message.campaign_id == campaign_id).order_by(Message.id)
    ).all()


def test_the_review_page_shows_the_estimate_and_confirming_starts_the_campaign(
    logged_in, scripted, make_contact
):
    ali = make_contact("09120000001", first_name="علی")
    hossein = make_contact("09120000002", first_name="محمدحسین")
    out = make_contact("09120000003", first_name="رضا")
    set_opt_out(out.mobile, True, "manual", "")
    db.session.commit()
    # «سلام علی! » + 55 + «\nلغو۱۱» = 71 characters: two parts each, four in all.
    campaign_id = compose(logged_in, scripted, body="سلام {نام}! " + "ت" * 55)

    review = logged_in.get(f"/campaigns/{campaign_id}")
    shown = figures(review)
    assert {name: as_int(value) for name, value in shown.items()} == {
        "recipients": 2,
        "opted_out": 1,
        "parts": 4,
        "cost": 400,
        "credit": 10**9,
    }
    assert shown["cost"].strip() == "۴۰۰"
    assert "disabled" not in confirm_button(review)
    assert fa("Send now") in page_text(review)
    assert campaign(campaign_id).status == "draft"
    assert statuses(campaign_id) == []

    page = confirm(logged_in, campaign_id)
    assert fa("The campaign is on its way.") in page_text(page)
    assert campaign(campaign_id).status == "scheduled"
    assert 'id="estimate"' not in page.text
    assert 'id="progress"' in page.text

    run_all_once(logged_in.application)
    assert sorted(m.mobile for call in scripted.calls for m in call) == [ali.mobile, hossein.mobile]
    assert sorted(statuses(campaign_id)) == ["sent", "sent", "skipped"]
    assert campaign(campaign_id).status == "done"


def test_a_campaign_the_credit_does_not_cover_stays_a_draft(logged_in, scripted, make_contact):
    make_contact("09120000001", first_name="علی")
    scripted.credit_rials = 99
    campaign_id = compose(logged_in, scripted, body="سلام")  # one part: 100 Rials

    review = logged_in.get(f"/campaigns/{campaign_id}")
    shown = figures(review)
    assert (as_int(shown["cost"]), as_int(shown["credit"])) == (100, 99)
    assert fa("The provider credit does not cover this campaign. Top up your account first.") in (
        page_text(review)
    )
    assert "disabled" in confirm_button(review)

    # The button is disabled, but the page may be stale: the server checks again.
    page = confirm(logged_in, campaign_id)
    expected = fa(
        "The campaign costs %(cost)s Rials but the provider credit is %(credit)s Rials.",
        cost="۱۰۰",
        credit="۹۹",
    )
    assert expected in page_text(page)
    assert "۱۰۰" in expected and "۹۹" in expected
    assert campaign(campaign_id).status == "draft"
    assert 'id="estimate"' in page.text
    run_all_once(logged_in.application)
    assert statuses(campaign_id) == []
    assert scripted.calls == []

    scripted.credit_rials = 100  # topped up: exactly enough
    confirm(logged_in, campaign_id)
    assert campaign(campaign_id).status == "scheduled"


def test_a_credit_that_cannot_be_read_does_not_start_the_campaign(
    logged_in, scripted, make_contact
):
    make_contact("09120000001", first_name="علی")
    scripted.credit_rials = NotSent(ErrorCode.BAD_KEY, "403")
    campaign_id = compose(logged_in, scripted)
    reason = in_locale("fa", lambda: ERROR_LABELS["bad_key"])

    review = logged_in.get(f"/campaigns/{campaign_id}")
    assert figures(review)["credit"].strip() == "—"
    assert fa("The credit could not be read: %(reason)s", reason=reason) in page_text(review)
    assert "disabled" in confirm_button(review)

    page = confirm(logged_in, campaign_id)
    assert fa("The provider's credit could not be read: %(reason)s", reason=reason) in (
        page_text(page)
    )
    assert campaign(campaign_id).status == "draft"


def started(client, scripted, make_contact, names=("علی", "مریم", "رضا")) -> int:
    """Compose and confirm a campaign, and let the scheduler write its messages."""
    for i, name in enumerate(names):
        make_contact(f"0912000000{i}", first_name=name)
    campaign_id = compose(client, scripted)
    confirm(client, campaign_id)
    campaigns.start_due_campaigns()
    assert statuses(campaign_id) == ["queued"] * len(names)
    return campaign_id


def test_pause_holds_the_messages_and_resume_sends_them(logged_in, scripted, make_contact):
    campaign_id = started(logged_in, scripted, make_contact)
    assert buttons(logged_in.get(f"/campaigns/{campaign_id}")) == {"pause", "cancel"}

    page = press(logged_in, campaign_id, "pause")
    assert fa("The campaign is paused.") in page_text(page)
    assert buttons(page) == {"resume", "cancel"}
    assert campaign(campaign_id).status == "paused"
    assert statuses(campaign_id) == ["held"] * 3
    run_all_once(logged_in.application)
    assert scripted.calls == []
    assert campaign(campaign_id).status == "paused"
    progress = logged_in.get(f"/campaigns/{campaign_id}/progress").get_json()
    assert (progress["status"], progress["paused_reason"]) == ("paused", "")

    page = press(logged_in, campaign_id, "resume")
    assert fa("The campaign goes on.") in page_text(page)
    assert campaign(campaign_id).status == "sending"
    assert statuses(campaign_id) == ["queued"] * 3
    run_all_once(logged_in.application)
    assert statuses(campaign_id) == ["sent"] * 3
    assert campaign(campaign_id).status == "done"


def test_a_campaign_paused_before_its_time_resumes_as_scheduled(logged_in, scripted, make_contact):
    make_contact("09120000001", first_name="علی")
    campaign_id = compose(logged_in, scripted)
    confirm(logged_in, campaign_id)

    press(logged_in, campaign_id, "pause")
    run_all_once(logged_in.application)
    assert statuses(campaign_id) == [], "a paused campaign does not start"
    assert campaign(campaign_id).status == "paused"

    press(logged_in, campaign_id, "resume")
    assert campaign(campaign_id).status == "scheduled"
    run_all_once(logged_in.application)
    assert statuses(campaign_id) == ["sent"]


def test_cancel_stops_what_has_not_left(logged_in, scripted, make_contact):
    campaign_id = started(logged_in, scripted, make_contact)
    dispatcher = sending.Dispatcher(concurrency=1)
    try:
        assert dispatcher.dispatch(1) == 1  # one message has left already
    finally:
        dispatcher.close()

    page = press(logged_in, campaign_id, "cancel")
    assert fa("The campaign is cancelled; %(count)s messages will not be sent.", count="۲") in (
        page_text(page)
    )
    assert campaign(campaign_id).status == "cancelled"
    assert statuses(campaign_id) == ["sent", "cancelled", "cancelled"]
    assert buttons(page) == set()

    run_all_once(logged_in.application)
    assert len(scripted.calls) == 1
    assert statuses(campaign_id) == ["sent", "cancelled", "cancelled"]
    assert campaign(campaign_id).status == "cancelled"


def test_retry_sends_the_messages_whose_fate_is_unknown(logged_in, scripted, make_contact):
    scripted.answers.append(MaybeSent(ErrorCode.BUSY, "no answer in time"))
    campaign_id = started(logged_in, scripted, make_contact)  # one text: one bulk request
    run_all_once(logged_in.application)
    assert statuses(campaign_id) == ["unknown"] * 3
    assert campaign(campaign_id).status == "checking"

    page = logged_in.get(f"/campaigns/{campaign_id}")
    assert 'data-status="unknown"' in page.text
    assert buttons(page) == {"retry", "cancel"}
    page = press(logged_in, campaign_id, "retry")
    assert fa("%(count)s messages are queued again.", count="۳") in page_text(page)
    assert campaign(campaign_id).status == "sending"
    assert statuses(campaign_id) == ["queued"] * 3

    run_all_once(logged_in.application)
    assert statuses(campaign_id) == ["sent"] * 3
    assert campaign(campaign_id).status == "done"
    assert len(scripted.calls) == 2
    assert "retry" not in buttons(logged_in.get(f"/campaigns/{campaign_id}"))


def test_the_campaign_page_says_why_the_engine_paused_it(logged_in, scripted, make_contact):
    scripted.answers.append(NotSent(ErrorCode.BAD_KEY, "403"))
    campaign_id = started(logged_in, scripted, make_contact)
    run_all_once(logged_in.application)
    assert campaign(campaign_id).status == "paused"
    assert statuses(campaign_id) == ["held"] * 3

    page = logged_in.get(f"/campaigns/{campaign_id}")
    reason = in_locale("fa", lambda: ERROR_LABELS["bad_key"])
    status = re.search(r'data-field="paused_reason">([^<]*)<', page.text).group(1)
    assert status.strip() == reason
    assert reason in page_text(page)
    assert buttons(page) == {"resume", "cancel"}
    progress = logged_in.get(f"/campaigns/{campaign_id}/progress").get_json()
    assert progress["paused_reason"] == reason

    # The owner fixes the key and resumes: the reason goes and the messages leave.
    page = press(logged_in, campaign_id, "resume")
    assert reason not in page_text(page)
    run_all_once(logged_in.application)
    assert statuses(campaign_id) == ["sent"] * 3


def test_a_due_campaign_says_it_waits_for_the_scheduler_while_none_runs(
    logged_in, scripted, make_contact
):
    make_contact("09120000000", first_name="علی")
    campaign_id = compose(logged_in, scripted)
    confirm(logged_in, campaign_id)  # due now; no scheduler has started it
    waiting = fa(
        "Waiting for the scheduler: this campaign is due, but no scheduler is running to "
        "start it. Run this on the server:"
    )
    assert waiting in page_text(logged_in.get(f"/campaigns/{campaign_id}"))

    begin_lease("scheduler", timedelta(seconds=30))
    assert waiting not in page_text(logged_in.get(f"/campaigns/{campaign_id}"))
