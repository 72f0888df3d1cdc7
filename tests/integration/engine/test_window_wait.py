"""«Send now» outside the sending window: the panel says when the campaign will start and why.

The engine holds marketing SMS until the owner's window opens (test_rules.py); these
tests are about what the owner reads on the compose page, the review (confirm) step and
the campaign page, in Persian, while it waits.
"""

import re
from datetime import UTC, datetime, time, timedelta

import time_machine
from flask_babel import gettext
from integration_support import in_locale, text_of

from app.extensions import db
from app.jobs import run_all_once
from app.messaging import service as campaigns
from app.sending import service as sending
from app.sending.policy import SendingPolicy, load_policy, save_policy
from tests.integration.engine.test_campaign_pages import compose, confirm, statuses

# 23:30 on 1405/09/02 in Tehran (UTC+03:30); the window opens at 08:00 on 1405/09/03.
NIGHT = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
EIGHT = datetime(2026, 11, 24, 4, 30, tzinfo=UTC)
NOON = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)


def fa(text: str, **values) -> str:
    return in_locale("fa", lambda: gettext(text, **values))


WHEN = {"time": "۰۸:۰۰", "day": "۱۴۰۵/۰۹/۰۳", "start": "۰۸:۰۰", "end": "۲۲:۰۰"}
WILL_START = (
    "It will start at %(time)s on %(day)s: marketing SMS are sent only within the "
    "sending window set on the rules page (%(start)s to %(end)s)."
)


def eight_to_ten() -> None:
    save_policy(SendingPolicy(window_start=time(8), window_end=time(22)))
    db.session.commit()


def shown_in(page, element_id: str) -> str:
    found = re.search(rf'<p[^>]*id="{element_id}"[^>]*>(.*?)</p>', page.text, re.S)
    return text_of(found.group(1)) if found else ""


def window_text(page) -> str:
    found = re.search(r'<p[^>]*data-field="window_text"[^>]*>(.*?)</p>', page.text, re.S)
    return text_of(found.group(1)) if found else ""


def success_flash(page) -> str:
    found = re.search(r'class="flash flash-success"[^>]*>(.*?)</div>', page.text, re.S)
    return text_of(found.group(1)) if found else ""


def test_send_now_at_night_says_it_starts_when_the_window_opens(logged_in, scripted, make_contact):
    make_contact("09120000001", first_name="علی")
    eight_to_ten()
    with time_machine.travel(NIGHT, tick=False):
        form = logged_in.get("/campaigns/new")
        assert shown_in(form, "window-closed") == fa(
            "Now is outside the sending window: sent now, it will start at %(time)s on "
            "%(day)s (marketing SMS are sent only from %(start)s to %(end)s, as set on the "
            "rules page).",
            **WHEN,
        )
        # Written with the ezafe, as the rules page writes «بازهٔ مجاز».
        assert "بازهٔ مجاز" in shown_in(form, "window-closed")
        assert "صفحهٔ قوانین" in shown_in(form, "window-closed")
        campaign_id = compose(logged_in, scripted)

        review = logged_in.get(f"/campaigns/{campaign_id}")
        assert shown_in(review, "window-wait") == fa(WILL_START, **WHEN)
        assert "بازهٔ مجاز" in shown_in(review, "window-wait")

        page = confirm(logged_in, campaign_id)
        assert success_flash(page) == fa(WILL_START, **WHEN)
        assert window_text(page) == fa(WILL_START, **WHEN)

        run_all_once(logged_in.application)
        assert set(statuses(campaign_id)) == {"queued"}  # written, waiting for 08:00
        progress = logged_in.get(f"/campaigns/{campaign_id}/progress").json
        assert progress["window_text"] == fa(WILL_START, **WHEN)

    with time_machine.travel(EIGHT, tick=False):
        run_all_once(logged_in.application)
        assert set(statuses(campaign_id)) == {"sent"}
        assert window_text(logged_in.get(f"/campaigns/{campaign_id}")) == ""


def test_inside_the_window_nothing_is_said(logged_in, scripted, make_contact):
    make_contact("09120000001", first_name="علی")
    eight_to_ten()
    with time_machine.travel(NOON, tick=False):
        assert shown_in(logged_in.get("/campaigns/new"), "window-closed") == ""
        campaign_id = compose(logged_in, scripted)
        assert shown_in(logged_in.get(f"/campaigns/{campaign_id}"), "window-wait") == ""
        page = confirm(logged_in, campaign_id)
        assert success_flash(page) == fa("The campaign is on its way.")
        assert window_text(page) == ""


def test_a_campaign_still_sending_at_closing_time_says_when_the_rest_goes(
    logged_in, started_campaign
):
    eight_to_ten()
    with time_machine.travel(NOON - timedelta(hours=1), tick=False):
        campaign, _ = started_campaign()
        dispatcher = sending.Dispatcher(concurrency=1)
        assert dispatcher.dispatch(1) == 1  # one of three leaves before closing time
        dispatcher.close()
    assert campaign.status == "sending"
    with time_machine.travel(NIGHT, tick=False):
        page = logged_in.get(f"/campaigns/{campaign.id}")
        assert window_text(page) == fa(
            "The rest of this campaign will be sent from %(time)s on %(day)s: marketing "
            "SMS are sent only within the sending window set on the rules page "
            "(%(start)s to %(end)s).",
            **WHEN,
        )


def test_the_planned_start_follows_the_rules_and_the_kind_of_message(app, started_campaign):
    eight_to_ten()
    policy = load_policy()
    with time_machine.travel(NIGHT, tick=False):
        marketing, _ = started_campaign()
        service, _ = started_campaign(marketing=False)  # e.g. an order confirmation
    assert campaigns.planned_start(marketing, policy, NIGHT) == EIGHT
    assert campaigns.planned_start(marketing, policy, NOON) is None
    assert campaigns.planned_start(service, policy, NIGHT) is None
    marketing.status = "paused"
    assert campaigns.planned_start(marketing, policy, NIGHT) is None
    any_hour = SendingPolicy(window_start=time(0), window_end=time(0))
    assert campaigns.planned_start(service, any_hour, NIGHT) is None


def status_label(page) -> str:
    found = re.search(r'data-field="status_label"[^>]*>(.*?)</span>', page.text, re.S)
    return text_of(found.group(1))


def test_a_campaign_held_by_the_window_tells_one_story(logged_in, scripted, make_contact):
    """The review step, the campaign page and the list all give the window's opening as
    the start, and call the campaign waiting, not sending, while nothing has left."""
    make_contact("09120000001", first_name="علی")
    eight_to_ten()
    opens = "۱۴۰۵/۰۹/۰۳ ۰۸:۰۰"
    with time_machine.travel(NIGHT, tick=False):
        campaign_id = compose(logged_in, scripted)
        review = logged_in.get(f"/campaigns/{campaign_id}")
        assert opens in text_of(review.text.split('data-field="starts">', 1)[1].split("<")[0])

        page = confirm(logged_in, campaign_id)
        waiting = fa("Waiting for the sending window")
        assert status_label(page) == waiting
        assert opens in shown_in(page, "scheduled")
        assert "۲۳:۳۰" not in text_of(page.text)  # the moment it was confirmed is not shown

        run_all_once(logged_in.application)  # the scheduler writes it: status «sending»
        page = logged_in.get(f"/campaigns/{campaign_id}")
        assert status_label(page) == waiting
        assert logged_in.get(f"/campaigns/{campaign_id}/progress").json["status_label"] == waiting
        assert "۲۳:۳۰" not in text_of(page.text)
        listing = text_of(logged_in.get("/campaigns/").text)
        assert waiting in listing and opens in listing and fa("Sending") not in listing

    with time_machine.travel(EIGHT + timedelta(minutes=1), tick=False):
        run_all_once(logged_in.application)
        page = logged_in.get(f"/campaigns/{campaign_id}")
        assert status_label(page) == fa("Sent")
