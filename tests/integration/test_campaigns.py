"""Campaigns from the compose form to the handset, through the console provider.

The engine's own rules (claims, batching, provider answers, stale claims, window, cap,
opt-outs, the estimate) have their tests in tests/integration/engine/; these follow a
campaign through the panel: compose, review, confirm, materialise, send, progress.
"""

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from flask_babel import gettext
from integration_support import as_int, in_locale, log_in, page_text, row_text
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.contacts import service as contacts_service
from app.contacts.models import ContactList, list_members
from app.extensions import db
from app.jobs import run_all_once
from app.messaging import service as campaigns
from app.messaging.models import Campaign
from app.messaging.text import parts_of
from app.sending import service as sending
from app.sending.leases import begin_lease
from app.sending.models import Message, ProviderAccount
from app.sending.policy import SendingPolicy, save_policy
from app.sending.service import default_account

OPTOUT = "\nلغو۱۱"  # the opt-out line every marketing text ends with (by default)


@pytest.fixture(autouse=True)
def any_hour(app):
    """Marketing may leave at any hour: the sending window has its own tests."""
    save_policy(SendingPolicy(window_start=time(0), window_end=time(0)))
    db.session.commit()


@pytest.fixture
def audience(make_contact):
    """Three contacts in id order: with a full name, a first name only, no name."""
    return [
        make_contact("09121234567", first_name="علی", last_name="رضایی"),
        make_contact("09351112233", first_name="سارا"),
        make_contact("09190001122"),
    ]


def first_route(client) -> str:
    """The route the compose form offers first, as a browser would submit it."""
    form = client.get("/campaigns/new").text
    select_html = re.search(r'<select[^>]*name="route"[^>]*>(.*?)</select>', form, re.S)
    return re.search(r'value="([^"]+)"', select_html.group(1)).group(1)


def compose(client, body="سلام {نام|مشتری عزیز}", list_id=0, **fields):
    """Compose a campaign to everyone, or (``list_id``) to one list."""
    audience = {"audience": "chosen", "lists": [list_id]} if list_id else {"audience": "all"}
    data = {"name": "کمپین آزمایشی", "body": body, **audience, "when": "now", **fields}
    data.setdefault("route", first_route(client))
    return client.post("/campaigns/new", data=data)


def campaign_ids() -> list[int]:
    return db.session.scalars(select(Campaign.id).order_by(Campaign.id)).all()


def draft(client, **fields) -> Campaign:
    """Compose a campaign: it is saved as a draft and the review page comes next."""
    response = compose(client, **fields)
    assert response.status_code == 302, page_text(response)
    campaign_id = int(response.location.rsplit("/", 1)[1])
    assert response.location.endswith(f"/campaigns/{campaign_id}")
    return db.session.get(Campaign, campaign_id)


def confirm(client, campaign_id: int):
    response = client.post(f"/campaigns/{campaign_id}/confirm")
    assert response.status_code == 302
    assert response.location.endswith(f"/campaigns/{campaign_id}")
    return client.get(response.location)


def send_now(client, **fields) -> Campaign:
    """Compose, then press the review page's button."""
    campaign = draft(client, **fields)
    confirm(client, campaign.id)
    db.session.expire_all()
    return db.session.get(Campaign, campaign.id)


def dispatch(limit: int = 500) -> int:
    dispatcher = sending.Dispatcher(concurrency=2)
    try:
        return dispatcher.dispatch(limit)
    finally:
        dispatcher.close()


def messages(campaign_id: int | None = None) -> list[Message]:
    db.session.expire_all()
    stmt = select(Message).order_by(Message.id)
    if campaign_id is not None:
        stmt = stmt.where(Message.campaign_id == campaign_id)
    return db.session.scalars(stmt).all()


def statuses(campaign_id: int | None = None) -> list[str]:
    return [message.status for message in messages(campaign_id)]


def campaign_status(campaign_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Campaign, campaign_id).status


def review_figures(page) -> dict[str, str]:
    """The figures of the review page's estimate, by name, as shown."""
    estimate = re.search(r'<section[^>]*id="estimate".*?</section>', page.text, re.S)
    assert estimate, "the page has no estimate"
    return dict(re.findall(r'data-stat="(\w+)">([^<]*)<', estimate.group(0)))


def make_list(name: str, contacts) -> ContactList:
    contact_list = ContactList(name=name)
    db.session.add(contact_list)
    db.session.flush()
    db.session.execute(
        list_members.insert(), [{"list_id": contact_list.id, "contact_id": c.id} for c in contacts]
    )
    db.session.commit()
    return contact_list


# Composing ---------------------------------------------------------------------------


def test_the_form_offers_the_console_line_on_a_fresh_install(logged_in):
    route = first_route(logged_in)
    console = db.session.scalar(select(ProviderAccount))
    assert (console.kind, console.sender_lines) == ("console", ["10000000"])
    assert route == f"{console.id}:10000000"


def test_an_unknown_placeholder_is_rejected_with_its_name(english, audience):
    response = compose(english, body="سلام {نام}، کد شما {کد} است")
    assert response.status_code == 200
    assert "Unknown placeholder: {کد}" in page_text(response)
    assert campaign_ids() == []


@pytest.mark.parametrize(
    ("send_date", "send_time"),
    [("1400/01/01", "10:00"), ("۱۴۰۴/۰۱/۰۱", "۰۹:۰۰")],
)
def test_a_scheduled_time_in_the_past_is_rejected(english, audience, send_date, send_time):
    response = compose(english, when="later", send_date=send_date, send_time=send_time)
    assert response.status_code == 200
    assert "This moment has passed; choose a time in the future." in page_text(response)
    assert campaign_ids() == []


@pytest.mark.parametrize(
    ("send_date", "send_time"),
    [
        ("1410/07/31", "10:00"),  # Mehr has 30 days
        ("1410/13/01", "10:00"),
        ("31/12/1410", "10:00"),
        ("فردا", "10:00"),
        ("", "10:00"),
        ("1410/01/01", "25:00"),
        ("1410/01/01", ""),
    ],
)
def test_an_invalid_jalali_moment_is_rejected(english, audience, send_date, send_time):
    response = compose(english, when="later", send_date=send_date, send_time=send_time)
    assert response.status_code == 200
    assert "Enter a Jalali date like 1405/09/15 and a time like 18:30." in page_text(response)
    assert campaign_ids() == []


def test_a_gregorian_send_date_is_refused_with_the_jalali_date_it_meant(english, audience):
    response = compose(english, when="later", send_date="2026/01/15", send_time="10:00")
    assert response.status_code == 200
    assert "Date (Jalali): 2026/01/15 is a Gregorian date; did you mean 1404/10/25?" in page_text(
        response
    )
    assert campaign_ids() == []


def test_an_empty_message_is_rejected(logged_in, audience):
    response = compose(logged_in, body="")
    assert response.status_code == 200
    assert campaign_ids() == []


def test_a_route_that_is_not_offered_is_rejected(logged_in, audience):
    first_route(logged_in)
    response = compose(logged_in, route="999:10000000")
    assert response.status_code == 200
    assert campaign_ids() == []


def test_sending_now_ignores_the_date_fields(logged_in, audience):
    campaign = draft(logged_in, send_date="garbage", send_time="")
    assert campaign.status == "draft"
    assert campaign.scheduled_at <= datetime.now(UTC)
    confirm(logged_in, campaign.id)
    assert campaign_status(campaign.id) == "scheduled"


# Preview -----------------------------------------------------------------------------


def preview(client, body, list_id=0, offset=0) -> dict:
    audience = {"audience": "chosen", "lists": [list_id]} if list_id else {"audience": "all"}
    response = client.post("/campaigns/preview", data={"body": body, **audience, "offset": offset})
    assert response.status_code == 200
    return response.get_json()


def test_preview_renders_for_a_real_contact_with_the_fallback(logged_in, audience):
    body = "سلام {نام|مشتری عزیز}"
    first = preview(logged_in, body)
    assert first["text"] == "سلام علی" + OPTOUT
    assert "علی رضایی" in first["contact"]
    assert "۰۹۱۲ ۱۲۳ ۴۵۶۷" in first["contact"]
    assert (first["audience"], first["parts"], first["unicode"]) == (3, 1, True)
    assert first["characters"] == len("سلام علی" + OPTOUT)
    assert preview(logged_in, body, offset=1)["text"] == "سلام سارا" + OPTOUT
    assert preview(logged_in, body, offset=2)["text"] == "سلام مشتری عزیز" + OPTOUT
    assert preview(logged_in, body, offset=3)["text"] == "سلام علی" + OPTOUT  # round and round


def test_preview_counts_parts_of_the_rendered_text(logged_in, audience):
    body = "س" * 60 + " {نام}"
    assert preview(logged_in, body)["parts"] == 1  # 60 + 1 + «علی» + 6 (opt-out line) = 70
    long_name = preview(logged_in, "س" * 60 + " {نام کامل}")  # «علی رضایی»: 76
    assert (long_name["characters"], long_name["parts"]) == (76, 2)
    # The Persian opt-out line makes even a Latin text a Unicode SMS.
    latin = preview(logged_in, "Hello {first_name|friend}", offset=2)
    assert (latin["text"], latin["unicode"], latin["parts"]) == ("Hello friend" + OPTOUT, True, 1)


def test_preview_of_a_latin_text_without_the_opt_out_line(logged_in, audience):
    save_policy(SendingPolicy(window_start=time(0), window_end=time(0), optout_line=False))
    db.session.commit()
    latin = preview(logged_in, "Hello {first_name|friend}", offset=2)
    assert (latin["text"], latin["unicode"], latin["parts"]) == ("Hello friend", False, 1)
    assert latin["characters"] == len("Hello friend")


def test_preview_reports_unknown_placeholders(logged_in, audience):
    data = preview(logged_in, "{نام} {کد} {code}")
    assert data["problems"] == ["متغیر ناشناخته: {کد}", "متغیر ناشناخته: {code}"]
    assert data["text"] == "علی {کد} {code}" + OPTOUT
    assert data["longest"] is None  # nothing is counted until the text can be sent


def test_preview_of_a_list_uses_its_members(logged_in, audience):
    members = make_list("ویژه", audience[1:2])
    data = preview(logged_in, "سلام {نام}", list_id=members.id)
    assert (data["audience"], data["text"]) == (1, "سلام سارا" + OPTOUT)


def test_preview_with_an_empty_audience_shows_a_sample(logged_in):
    data = preview(logged_in, "سلام {نام|دوست}، {شهر}")
    assert (data["audience"], data["contact"], data["text"]) == (
        0,
        None,
        "سلام دوست، تهران" + OPTOUT,  # the fallback, or an example value
    )
    assert data["longest"] is None


# Review and confirm ------------------------------------------------------------------


def test_composing_leads_to_a_review_before_anything_is_sent(logged_in, audience):
    campaign = draft(logged_in)
    page = logged_in.get(f"/campaigns/{campaign.id}")
    assert page.status_code == 200
    figures = review_figures(page)
    assert (as_int(figures["recipients"]), as_int(figures["opted_out"])) == (3, 0)
    assert as_int(figures["parts"]) == 3
    assert as_int(figures["cost"]) == 0  # the console provider charges nothing
    assert figures["credit"].strip() == in_locale("fa", lambda: gettext("test provider"))
    assert re.search(r'<button[^>]*id="confirm"(?![^>]*disabled)[^>]*>', page.text)
    assert in_locale("fa", lambda: gettext("Send now")) in page_text(page)

    run_all_once(logged_in.application)
    assert campaign_status(campaign.id) == "draft"
    assert messages() == []


# Sending -----------------------------------------------------------------------------


def test_send_now_reaches_every_contact_once_with_a_personal_text(logged_in, audience):
    campaign = send_now(logged_in)
    run_all_once(logged_in.application)
    sent = messages(campaign.id)
    assert sorted(m.contact_id for m in sent) == sorted(c.id for c in audience)
    bodies = {m.mobile: m.body for m in sent}
    assert bodies == {
        "+989121234567": "سلام علی" + OPTOUT,
        "+989351112233": "سلام سارا" + OPTOUT,
        "+989190001122": "سلام مشتری عزیز" + OPTOUT,
    }
    assert {m.status for m in sent} == {"delivered"}
    assert {m.provider_ref for m in sent} == {f"console-{m.id}" for m in sent}
    assert {m.sender for m in sent} == {"10000000"}
    assert {m.provider_id for m in sent} == {campaign.provider_id}
    assert campaign_status(campaign.id) == "done"


def test_the_states_a_message_goes_through(logged_in, audience):
    campaign = draft(logged_in)
    assert campaign.status == "draft"
    confirm(logged_in, campaign.id)
    assert campaign_status(campaign.id) == "scheduled"
    assert messages() == []

    assert campaigns.start_due_campaigns() == 1
    assert statuses(campaign.id) == ["queued"] * 3
    assert campaign_status(campaign.id) == "sending"
    assert all(m.sent_at is None and m.provider_ref is None for m in messages())

    assert dispatch() == 3
    assert statuses(campaign.id) == ["sent"] * 3
    assert all(m.sent_at and m.provider_ref == f"console-{m.id}" for m in messages())
    assert all(m.done_at is None for m in messages())
    assert dispatch() == 0  # nothing is sent twice

    assert campaigns.finish_campaigns() == 1
    assert campaign_status(campaign.id) == "done"

    now = timedelta(0)
    assert sending.poll_delivery(5000, first_after=now, every=now) == 3
    assert statuses(campaign.id) == ["delivered"] * 3
    assert all(m.done_at and m.done_at >= m.sent_at for m in messages())
    assert sending.poll_delivery(5000, first_after=now, every=now) == 0


def test_parts_are_counted_per_recipient(logged_in, audience):
    # The opt-out line adds 6 characters; a blank name leaves no trailing space.
    campaign = draft(logged_in, body="س" * 59 + " {نام کامل}")
    figures = review_figures(logged_in.get(f"/campaigns/{campaign.id}"))
    assert as_int(figures["parts"]) == 4
    confirm(logged_in, campaign.id)
    campaigns.start_due_campaigns()
    assert {m.mobile: m.parts for m in messages(campaign.id)} == {
        "+989121234567": 2,  # 59 + 1 + «علی رضایی» + 6 = 75 characters
        "+989351112233": 1,  # 59 + 1 + «سارا» + 6 = 70
        "+989190001122": 1,  # 59 + 6 = 65
    }


@pytest.mark.parametrize(
    ("body", "marketing"),
    [
        # Persian words after the last name, longer than the opt-out line: the estimate
        # counts each name's parts from its length alone.
        ("سلام {نام|دوست} جان، " + "س" * 18 + " تخفیف ویژهٔ یلدا برای شماست", True),
        # Ending in a name: whether the line is added depends on the name; written out.
        ("س" * 58 + " {نام}", True),
        # GSM, with no opt-out line: a Persian name turns the text into UCS-2.
        ("Hi {first_name|friend}, " + "x" * 135 + " see you", False),
        # A coupon code of its own for each recipient, at the fixed width.
        ("کد {کد تخفیف} برای {نام|شما}، تا آخر ماه معتبر است و فقط یک بار!!!", True),
    ],
)
def test_the_estimate_counts_the_parts_each_recipient_is_sent(make_contact, body, marketing):
    names = [
        "",
        " \t ",  # spaces only: the fallback shows
        "\xa0مریم\u2003",  # spaces the panel does not show around a name
        "🌹🌹 گل",  # an emoji counts as two
        "لغو۱۱",  # the opt-out words themselves
        "Ali",
    ]
    # Each name after 0 to 7 letters: every one of them lands on a part's border.
    for index, name in enumerate(
        pad + name for pad in ("", "A", "AB", "ABC", "م", "مم", "ممم", "مممم") for name in names
    ):
        make_contact(f"0912{index:07d}", first_name=name)
    account = default_account()
    campaign = campaigns.create_campaign(
        name="برآورد",
        body=body,
        list_id=None,
        provider_id=account.id,
        sender=account.sender_lines[0],
        scheduled_at=None,
        created_by_id=None,
        marketing=marketing,
    )
    db.session.commit()
    figures = campaigns.estimate(campaign)
    assert campaigns.materialise(campaign) == 8 * len(names)
    sent = messages(campaign.id)
    assert figures.parts == sum(message.parts for message in sent)
    assert [message.parts for message in sent] == [parts_of(message.body) for message in sent]


def test_sending_to_a_list_reaches_only_its_members(logged_in, audience):
    members = make_list("ویژه", [audience[0], audience[2]])
    campaign = draft(logged_in, list_id=members.id)
    assert as_int(review_figures(logged_in.get(f"/campaigns/{campaign.id}"))["recipients"]) == 2
    confirm(logged_in, campaign.id)
    run_all_once(logged_in.application)
    assert {m.contact_id for m in messages(campaign.id)} == {audience[0].id, audience[2].id}
    assert [(entry.kind, entry.list_id, entry.name) for entry in campaign.audience] == [
        ("list", members.id, "ویژه")
    ]


def test_a_campaign_to_nobody_cannot_be_started(logged_in):
    campaign = draft(logged_in)
    page = logged_in.get(f"/campaigns/{campaign.id}")
    assert as_int(review_figures(page)["recipients"]) == 0
    assert re.search(r'<button[^>]*id="confirm"[^>]*disabled', page.text)

    page = confirm(logged_in, campaign.id)
    assert in_locale("fa", lambda: gettext("Nobody would receive this campaign.")) in page_text(
        page
    )
    run_all_once(logged_in.application)
    assert messages() == []
    assert campaign_status(campaign.id) == "draft"


def test_a_scheduled_campaign_waits_for_its_time(client, owner, audience, time_machine):
    time_machine.move_to(datetime(2026, 3, 15, 8, 0, tzinfo=UTC), tick=False)
    log_in(client)
    campaign = draft(client, when="later", send_date="۱۴۰۵/۰۱/۰۱", send_time="10:30")
    # Nowruz 1405, 10:30 in Tehran.
    assert campaign.scheduled_at == datetime(2026, 3, 21, 7, 0, tzinfo=UTC)
    review = page_text(client.get(f"/campaigns/{campaign.id}"))
    assert in_locale("fa", lambda: gettext("Schedule for %(when)s", when="۱۴۰۵/۰۱/۰۱ ۱۰:۳۰")) in (
        review
    )

    page = confirm(client, campaign.id)
    assert in_locale("fa", lambda: gettext("The campaign is scheduled.")) in page_text(page)
    assert "۱۴۰۵/۰۱/۰۱ ۱۰:۳۰" in page_text(page)
    run_all_once(client.application)
    assert messages() == []
    assert campaign_status(campaign.id) == "scheduled"

    time_machine.move_to(datetime(2026, 3, 21, 6, 59, 59, tzinfo=UTC), tick=False)
    assert campaigns.start_due_campaigns() == 0
    assert messages() == []

    time_machine.move_to(datetime(2026, 3, 21, 7, 0, 1, tzinfo=UTC), tick=False)
    run_all_once(client.application)
    assert statuses(campaign.id) == ["delivered"] * 3
    assert campaign_status(campaign.id) == "done"
    started = db.session.get(Campaign, campaign.id).started_at
    assert started == datetime(2026, 3, 21, 7, 0, 1, tzinfo=UTC)


def test_a_scheduled_campaign_shows_its_audience_now_and_its_start(english, audience, make_contact):
    vip = ContactList(name="VIP")
    db.session.add(vip)
    db.session.commit()
    contacts_service.add_to_list(vip.id, [contact.id for contact in audience[:2]])
    db.session.commit()
    to_list = draft(
        english, list_id=vip.id, when="later", send_date="1410/01/01", send_time="10:30"
    )
    confirm(english, to_list.id)
    to_everyone = draft(english, when="later", send_date="1410/01/02", send_time="09:00")
    confirm(english, to_everyone.id)

    page = page_text(english.get(f"/campaigns/{to_list.id}"))
    assert "Starts 1410/01/01 10:30 (Tehran time), to the 2 contacts its audience has now." in page
    # The audience is counted as it is now: a contact added to the list counts.
    newcomer = make_contact("09359998877")
    contacts_service.add_to_list(vip.id, [newcomer.id])
    db.session.commit()
    page = page_text(english.get(f"/campaigns/{to_list.id}"))
    assert "to the 3 contacts its audience has now" in page

    listing = english.get("/campaigns/")
    assert "(3 contacts now)" in row_text(listing, "VIP")
    everyone = len(audience) + 1
    assert f"({everyone} contacts now)" in row_text(listing, "1410/01/02 09:00")


def test_starting_twice_does_not_duplicate_messages(logged_in, audience):
    campaign = send_now(logged_in)
    assert campaigns.start_due_campaigns() == 1
    assert campaigns.start_due_campaigns() == 0
    run_all_once(logged_in.application)
    assert len(messages(campaign.id)) == len(audience)


def test_an_interrupted_start_resumes_without_duplicates(logged_in, make_contact, monkeypatch):
    """A scheduler that died while writing a campaign's messages picks up where it stopped."""
    monkeypatch.setattr(campaigns, "MATERIALISE_CHUNK", 2)
    contacts = [make_contact(f"0912000000{i}") for i in range(5)]
    campaign = send_now(logged_in)
    campaigns.start_due_campaigns()
    # What a crash after the first committed chunk leaves behind.
    db.session.execute(
        Message.__table__.delete().where(Message.contact_id.in_([c.id for c in contacts[2:]]))
    )
    db.session.execute(update(Campaign).values(status="preparing"))
    db.session.commit()
    assert len(messages()) == 2

    assert campaigns.start_due_campaigns() == 1
    assert sorted(m.contact_id for m in messages()) == [c.id for c in contacts]
    keys = [m.idempotency_key for m in messages()]
    assert keys == [f"campaign:{campaign.id}:{c.id}" for c in contacts]
    assert campaign_status(campaign.id) == "sending"


def test_the_idempotency_key_refuses_a_second_copy(logged_in, audience):
    campaign = send_now(logged_in)
    campaigns.start_due_campaigns()
    first = messages(campaign.id)[0]
    db.session.add(
        Message(
            campaign_id=campaign.id,
            contact_id=first.contact_id,
            provider_id=first.provider_id,
            mobile=first.mobile,
            body=first.body,
            parts=first.parts,
            sender=first.sender,
            idempotency_key=first.idempotency_key,
        )
    )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert len(messages(campaign.id)) == len(audience)


# Progress ---------------------------------------------------------------------------


def progress(client, campaign_id) -> dict:
    response = client.get(f"/campaigns/{campaign_id}/progress")
    assert response.status_code == 200
    return response.get_json()


def counts(data) -> dict[str, int]:
    return {item["status"]: item["count"] for item in data["counts"]}


def test_progress_counts_as_the_campaign_goes(app, logged_in, audience):
    campaign = draft(logged_in)
    data = progress(logged_in, campaign.id)
    assert (data["status"], data["total"], data["percent"]) == ("draft", 0, 0)

    confirm(logged_in, campaign.id)
    data = progress(logged_in, campaign.id)
    assert (data["status"], data["total"], data["handed_over"], data["percent"]) == (
        "scheduled",
        0,
        0,
        0,
    )

    campaigns.start_due_campaigns()
    data = progress(logged_in, campaign.id)
    assert (data["status"], data["total"], data["handed_over"], data["percent"]) == (
        "sending",
        3,
        0,
        0,
    )
    assert counts(data) == {"queued": 3}
    assert data["total_shown"] == "۳"

    # Another worker, alive, has one message in a request that has not been answered.
    other_worker = begin_lease("worker", timedelta(seconds=30))
    claimed = sending.claim_queued(1, datetime.now(UTC), sending.load_policy(), other_worker)
    account = db.session.get(ProviderAccount, claimed[0].provider_id)
    sending.hand_over(sending.plan_calls(claimed, {account.id: account}, other_worker))
    db.session.commit()
    data = progress(logged_in, campaign.id)
    assert counts(data) == {"queued": 2, "sending": 1}
    assert data["handed_over"] == 0

    run_all_once(app)
    data = progress(logged_in, campaign.id)
    assert counts(data) == {"sending": 1, "delivered": 2}
    assert (data["handed_over"], data["percent"]) == (2, 67)
    assert data["status"] == "sending"
    assert data["handed_over_shown"] == "۲"

    db.session.execute(update(Message).where(Message.status == "sending").values(status="queued"))
    db.session.commit()
    run_all_once(app)
    data = progress(logged_in, campaign.id)
    assert counts(data) == {"delivered": 3}
    assert (data["status"], data["handed_over"], data["percent"]) == ("done", 3, 100)
    assert all(item["label"] for item in data["counts"])
    assert data["paused_reason"] == ""


def test_the_campaign_page_shows_its_progress(logged_in, audience):
    campaign = send_now(logged_in)
    run_all_once(logged_in.application)
    page = logged_in.get(f"/campaigns/{campaign.id}")
    assert page.status_code == 200
    assert 'id="estimate"' not in page.text
    assert 'data-status="delivered"' in page.text
    assert "کمپین آزمایشی" in page_text(page)
    # The test account is named for what it is, in Persian, not by its code name.
    test_service = in_locale("fa", lambda: gettext("Test service (sends no messages)"))
    assert test_service in page_text(page) and "۱۰۰۰۰۰۰۰" in page_text(page)
    assert "console" not in page_text(page)
    assert f"/reports/messages?campaign={campaign.id}" in page.text
    # Nothing is left to pause, cancel or retry.
    assert "data-action=" not in page.text


def test_an_unknown_campaign_is_not_found(logged_in):
    assert logged_in.get("/campaigns/999").status_code == 404
    assert logged_in.get("/campaigns/999/progress").status_code == 404
    assert logged_in.post("/campaigns/999/confirm").status_code == 404
    for action in ("pause", "resume", "cancel", "retry"):
        assert logged_in.post(f"/campaigns/999/{action}").status_code == 404


def test_campaign_count_in_the_database(logged_in, audience):
    draft(logged_in)
    draft(logged_in)
    assert db.session.scalar(select(func.count(Campaign.id))) == 2
