"""Campaigns to segments, and kept away from them.

A segment in a campaign's audience is its rules' condition, read when the messages are
written: each test builds contacts that match known segments, sends a campaign through
the service or the compose form, and reads who got a message. A segment whose rules
no longer hold (a list they name was deleted) stops a campaign rather than send it to
the wrong people.
"""

import re
from datetime import time

import pytest
from flask_babel import force_locale
from integration_support import page_text, row_text
from sqlalchemy import func, select

from app.audience import service as segments
from app.audience.models import Segment
from app.contacts import service as contacts
from app.contacts.models import Contact, Tag
from app.extensions import db
from app.messaging import service as campaigns
from app.messaging.audience import AudienceChoice, AudienceError, check_choice, describe
from app.messaging.models import AudienceEntry, Campaign
from app.sending.models import Message
from app.sending.policy import SendingPolicy, save_policy
from app.sending.service import default_account

BODY = "سلام {نام}، یلدا مبارک"


@pytest.fixture(autouse=True)
def any_hour(app):
    """Marketing may leave at any hour: the sending window has its own tests."""
    save_policy(SendingPolicy(window_start=time(0), window_end=time(0)))
    db.session.commit()


def rule(field, op, value=None) -> dict:
    return {"match": "all", "rules": [{"field": field, "op": op, "value": value}]}


@pytest.fixture
def shop(make_contact):
    """Six contacts, list الف, tag ویژه and three segments of the owner's.

    ali: تهران, الف · sara: تهران · reza: شیراز, الف · mina: تهران (opted out) ·
    hadi: اصفهان, tag ویژه · none: nothing

    segments: «تهرانی‌ها» (city تهران: ali, sara, mina), «ویژه‌ها» (tag ویژه: hadi),
    «بیرون از الف» (not in list الف: sara, mina, hadi, none)
    """
    people = {}
    for index, (name, city) in enumerate(
        [
            ("ali", "تهران"),
            ("sara", "تهران"),
            ("reza", "شیراز"),
            ("mina", "تهران"),
            ("hadi", "اصفهان"),
            ("none", ""),
        ]
    ):
        people[name] = make_contact(f"0912000000{index}", first_name=name, city=city)
    people["mina"].opted_out_at = people["mina"].created_at
    alef = contacts.find_or_create_list("الف")
    contacts.add_to_list(alef.id, [people["ali"].id, people["reza"].id])
    special = Tag(name="ویژه")
    special.contacts.append(people["hadi"])
    db.session.add(special)
    db.session.flush()
    made = {
        "tehran": segments.create_segment("تهرانی‌ها", "", rule("city", "eq", "تهران")),
        "special": segments.create_segment("ویژه‌ها", "", rule("tag", "has", special.id)),
        "outside": segments.create_segment("بیرون از الف", "", rule("list", "not_member", alef.id)),
    }
    db.session.commit()
    return {"people": people, "list": alef, "tag": special, "segments": made}


def ids(shop, *names) -> tuple[int, ...]:
    return tuple(shop["segments"][name].id for name in names)


def a_campaign(audience: AudienceChoice, name: str = "یلدا") -> Campaign:
    check_choice(audience)
    account = default_account()
    campaign = campaigns.create_campaign(
        name=name,
        body="سلام {نام}",
        audience=audience,
        provider_id=account.id,
        sender=account.sender_lines[0],
        scheduled_at=None,
        created_by_id=None,
    )
    db.session.commit()
    return campaign


def written(campaign: Campaign) -> dict[str, str]:
    """Each contact that got a message row → its status."""
    rows = db.session.execute(
        select(Contact.first_name, Message.status)
        .join(Message, Message.contact_id == Contact.id)
        .where(Message.campaign_id == campaign.id)
    ).all()
    return dict(rows)


def send(campaign: Campaign) -> dict[str, str]:
    campaigns.confirm_campaign(campaign)
    db.session.commit()
    campaigns.start_due_campaigns()
    return written(campaign)


def queued(rows: dict[str, str]) -> set[str]:
    return {name for name, status in rows.items() if status != "skipped"}


# Who gets a message -----------------------------------------------------------------


def test_a_campaign_to_a_segment_goes_to_exactly_its_contacts(shop):
    tehran = shop["segments"]["tehran"]
    members = {contact.first_name for contact in segments.segment_sample(tehran)}
    assert members == {"ali", "sara", "mina"}
    campaign = a_campaign(AudienceChoice(segments=ids(shop, "tehran")))
    figures = campaigns.estimate(campaign)
    rows = send(campaign)
    assert rows == {"ali": "queued", "sara": "queued", "mina": "skipped"}  # mina opted out
    assert (figures.recipients, figures.opted_out) == (2, 1)
    reason = db.session.scalar(select(Message.error).where(Message.status == "skipped"))
    assert reason == "opted_out"


def test_a_list_and_a_segment_make_one_union_with_one_message_each(shop):
    campaign = a_campaign(
        AudienceChoice(lists=(shop["list"].id,), segments=ids(shop, "tehran", "special"))
    )
    rows = send(campaign)
    assert queued(rows) == {"ali", "sara", "reza", "hadi"}  # ali: in الف and in تهران
    per_contact = db.session.execute(
        select(Message.contact_id, func.count())
        .where(Message.campaign_id == campaign.id)
        .group_by(Message.contact_id)
    ).all()
    assert {count for _contact, count in per_contact} == {1}
    assert len(per_contact) == 5  # mina: one skipped row


def test_an_excluded_segment_wins_over_everything_chosen(shop):
    minus_tehran = a_campaign(
        AudienceChoice(lists=(shop["list"].id,), exclude_segments=ids(shop, "tehran"))
    )
    assert queued(send(minus_tehran)) == {"reza"}  # ali is in الف, but in تهران too
    everyone = a_campaign(
        AudienceChoice(everyone=True, exclude_segments=ids(shop, "tehran", "special"))
    )
    assert send(everyone) == {"reza": "queued", "none": "queued"}


@pytest.mark.parametrize(
    "audience",
    [
        {"segments": ["tehran"]},
        {"segments": ["tehran", "outside"]},
        {"lists": True, "segments": ["special"]},
        {"segments": ["outside"], "exclude_segments": ["tehran"]},
        {"everyone": True, "exclude_segments": ["outside"]},
        {"tags": True, "segments": ["tehran"], "exclude_lists": True},
    ],
)
@pytest.mark.parametrize("chunk", [10_000, 2])
def test_the_counts_before_sending_are_the_messages_written(shop, monkeypatch, audience, chunk):
    monkeypatch.setattr(campaigns, "MATERIALISE_CHUNK", chunk)  # windows of two contacts
    choice = AudienceChoice(
        everyone=audience.get("everyone", False),
        lists=(shop["list"].id,) if audience.get("lists") else (),
        tags=(shop["tag"].id,) if audience.get("tags") else (),
        segments=ids(shop, *audience.get("segments", ())),
        exclude_lists=(shop["list"].id,) if audience.get("exclude_lists") else (),
        exclude_segments=ids(shop, *audience.get("exclude_segments", ())),
    )
    campaign = a_campaign(choice)
    figures, now = campaigns.estimate(campaign), campaigns.audience_now(campaign)
    rows = send(campaign)
    assert figures.recipients == now == len(queued(rows))
    assert figures.opted_out == len(rows) - len(queued(rows))


def test_a_segment_both_chosen_and_excluded_is_refused(shop):
    both = AudienceChoice(segments=ids(shop, "tehran"), exclude_segments=ids(shop, "tehran"))
    with force_locale("fa"), pytest.raises(AudienceError, match="«تهرانی‌ها» هم انتخاب"):
        check_choice(both)


# In words ---------------------------------------------------------------------------


def test_the_audience_in_words_names_the_segments_as_they_are_called_now(shop):
    campaign = a_campaign(
        AudienceChoice(lists=(shop["list"].id,), segments=ids(shop, "tehran", "special"))
    )
    minus = a_campaign(AudienceChoice(everyone=True, exclude_segments=ids(shop, "tehran")))
    with force_locale("fa"):
        assert describe(campaign) == "گروه الف، بخش‌های هوشمند تهرانی‌ها و ویژه‌ها"
        assert describe(minus) == "همهٔ مخاطبان، به‌جز بخش هوشمند تهرانی‌ها"
    segments.update_segment(
        shop["segments"]["tehran"], "پایتخت‌نشین‌ها", "", rule("city", "eq", "تهران")
    )
    db.session.commit()
    with force_locale("fa"):
        assert describe(minus) == "همهٔ مخاطبان، به‌جز بخش هوشمند پایتخت‌نشین‌ها"


def test_a_deleted_segment_is_named_as_it_was_and_adds_nobody(shop):
    sent = a_campaign(AudienceChoice(segments=ids(shop, "special")), name="ارسال‌شده")
    assert queued(send(sent)) == {"hadi"}
    sent.status = "done"
    draft = a_campaign(AudienceChoice(segments=ids(shop, "special", "tehran")), name="پیش‌نویس")
    segments.delete_segment(shop["segments"]["special"])
    db.session.commit()
    db.session.expire_all()
    entries = db.session.scalars(select(AudienceEntry).where(AudienceEntry.name == "ویژه‌ها")).all()
    assert len(entries) == 2 and {entry.segment_id for entry in entries} == {None}
    with force_locale("fa"):
        assert describe(sent) == "بخش هوشمند ویژه‌ها (حذف‌شده)"
    assert campaigns.estimate(draft).recipients == 2  # تهرانی‌ها only: ali and sara


# Deleting a segment -----------------------------------------------------------------


def test_a_segment_a_waiting_campaign_names_is_not_deleted(logged_in, shop):
    outside = shop["segments"]["outside"].id
    campaign = a_campaign(AudienceChoice(everyone=True, exclude_segments=(outside,)))
    campaigns.confirm_campaign(campaign)
    db.session.commit()
    page = logged_in.get(f"/audience/{outside}").text
    assert 'id="segment-waiting"' in page and 'id="delete-segment"' not in page
    response = logged_in.post(f"/audience/{outside}/delete", follow_redirects=True)
    assert "فعلاً نمی‌شود: کمپین «یلدا» هنوز برای این بخش هوشمند ارسال نشده است" in page_text(
        response
    )
    assert db.session.get(Segment, outside) is not None
    # Once it is cancelled, the segment may go; the campaign keeps its name.
    campaigns.cancel_campaign(campaign)
    db.session.commit()
    response = logged_in.post(f"/audience/{outside}/delete", follow_redirects=True)
    assert "بخش «بیرون از الف» پاک شد." in page_text(response)
    db.session.expire_all()
    assert db.session.get(Segment, outside) is None
    with force_locale("fa"):
        assert describe(db.session.get(Campaign, campaign.id)) == (
            "همهٔ مخاطبان، به‌جز بخش هوشمند بیرون از الف (حذف‌شده)"
        )


# A segment whose rules broke --------------------------------------------------------


def break_outside(shop) -> None:
    """Delete the list «بیرون از الف» names: compiled anyway, "not in a deleted list"
    would be everyone."""
    contacts.delete_list(shop["list"].id)
    db.session.commit()
    db.session.expire_all()


def test_a_draft_to_a_broken_segment_cannot_be_confirmed(logged_in, shop):
    campaign = a_campaign(AudienceChoice(segments=ids(shop, "outside")))
    campaign_id = campaign.id
    break_outside(shop)
    response = logged_in.get(f"/campaigns/{campaign_id}")
    page = page_text(response)
    warning = "تا شرط‌های بخش هوشمند «بیرون از الف» درست نشود نمی‌شود از آن استفاده کرد"
    assert warning in page and "گیرندگان: بخش هوشمند بیرون از الف" in page
    assert 'id="confirm"' not in response.text  # no figures, no button
    response = logged_in.post(f"/campaigns/{campaign_id}/confirm", follow_redirects=True)
    assert warning in page_text(response)
    assert db.session.get(Campaign, campaign_id).status == "draft"
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0


def test_a_scheduled_campaign_whose_segment_broke_pauses_instead_of_sending(logged_in, shop):
    campaign = a_campaign(AudienceChoice(everyone=True, exclude_segments=ids(shop, "outside")))
    campaign_id = campaign.id
    campaigns.confirm_campaign(campaign)
    db.session.commit()
    break_outside(shop)
    listed = row_text(logged_in.get("/campaigns/"), "یلدا")
    assert "شرط‌های یک بخش هوشمند باید درست شود" in listed
    campaigns.start_due_campaigns()
    campaign = db.session.get(Campaign, campaign_id)
    assert (campaign.status, campaign.paused_reason) == ("paused", "audience_unusable")
    assert "بیرون از الف" in campaign.paused_detail
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0
    page = page_text(logged_in.get(f"/campaigns/{campaign_id}"))
    assert "شرط‌های یکی از بخش‌های هوشمند مخاطبان باید درست شود" in page
    # Resumed with the rules still broken: paused again, nothing written.
    campaigns.resume_campaign(campaign)
    db.session.commit()
    campaigns.start_due_campaigns()
    assert db.session.get(Campaign, campaign_id).status == "paused"
    # The owner fixes the rules (now: not in Tehran) and resumes: it goes to the right people.
    segments.update_segment(
        db.session.get(Segment, ids(shop, "outside")[0]),
        "بیرون از الف",
        "",
        {"match": "all", "rules": [{"field": "city", "op": "eq", "value": "تهران"}]},
    )
    campaign = db.session.get(Campaign, campaign_id)
    campaigns.resume_campaign(campaign)
    db.session.commit()
    campaigns.start_due_campaigns()
    assert queued(written(campaign)) == {"reza", "hadi", "none"}


# The compose form -------------------------------------------------------------------


def compose(client, **fields):
    form = client.get("/campaigns/new").text
    route = re.search(r'<select[^>]*name="route"[^>]*>.*?value="([^"]+)"', form, re.S).group(1)
    data = {"name": "کمپین یلدا", "body": BODY, "when": "now"}
    return client.post("/campaigns/new", data={**data, "route": route, **fields})


def errors_of(response) -> list[str]:
    return re.findall(r'<p class="error">([^<]*)</p>', response.text)


def test_the_form_offers_every_segment_built_ins_first(logged_in, shop):
    segments.ensure_builtin_segments()
    db.session.commit()
    page = logged_in.get("/campaigns/new").text
    order = [segment.id for segment in segments.all_segments()]
    for name in ("segments", "exclude_segments"):
        offered = re.findall(rf'<input[^>]*name="{name}"[^>]*value="(\d+)"', page)
        assert [int(value) for value in offered] == order
    builtin = db.session.scalar(select(Segment).where(Segment.key == "at_risk"))
    assert order.index(builtin.id) < order.index(shop["segments"]["tehran"].id)
    assert "در خطر ریزش" in page


def test_segments_chosen_in_the_form_make_the_audience(logged_in, shop):
    response = compose(
        logged_in,
        audience="chosen",
        lists=[shop["list"].id],
        segments=list(ids(shop, "special")),
        exclude_segments=list(ids(shop, "tehran")),
    )
    assert response.status_code == 302, errors_of(response)
    campaign_id = int(response.location.rsplit("/", 1)[1])
    words = "گروه الف، بخش هوشمند ویژه‌ها، به‌جز بخش هوشمند تهرانی‌ها"
    assert f"گیرندگان: {words}" in page_text(logged_in.get(f"/campaigns/{campaign_id}"))
    assert words in row_text(logged_in.get("/campaigns/"), "کمپین یلدا")
    campaign = db.session.get(Campaign, campaign_id)
    figures = campaigns.estimate(campaign)
    assert figures.recipients == len(queued(send(campaign))) == 2  # reza, hadi


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"segments": ["999"]}, "یکی از بخش‌های هوشمند انتخاب‌شده دیگر وجود ندارد"),
        ({"exclude_segments": ["999"]}, "یکی از بخش‌های هوشمندی که باید کنار گذاشته شود"),
        ({"segments": ["TEHRAN"], "exclude_segments": ["TEHRAN"]}, "«تهرانی‌ها» هم انتخاب شده"),
        ({"audience": "all", "segments": ["TEHRAN"]}, "«همهٔ مخاطبان» هم انتخاب شده"),
    ],
)
def test_a_bad_segment_choice_is_refused_and_the_text_is_kept(logged_in, shop, fields, error):
    tehran = str(shop["segments"]["tehran"].id)
    fields = {
        key: [tehran if value == "TEHRAN" else value for value in values]
        if isinstance(values, list)
        else values
        for key, values in {"audience": "chosen", **fields}.items()
    }
    response = compose(logged_in, **fields)
    assert response.status_code == 200
    assert any(error in shown for shown in errors_of(response)), errors_of(response)
    assert f"{BODY}</textarea>" in response.text
    assert db.session.scalar(select(Campaign.id)) is None


def test_a_broken_segment_is_refused_in_the_form_by_name(logged_in, shop):
    break_outside(shop)
    response = compose(logged_in, audience="all", exclude_segments=list(ids(shop, "outside")))
    assert response.status_code == 200
    shown = " ".join(errors_of(response))
    assert "تا شرط‌های بخش هوشمند «بیرون از الف» درست نشود" in shown, shown
    assert f"{BODY}</textarea>" in response.text


def test_the_preview_counts_the_segments(logged_in, shop):
    def previewed(**fields) -> int:
        response = logged_in.post("/campaigns/preview", data={"body": "سلام {نام}", **fields})
        assert response.status_code == 200
        return response.get_json()["audience"]

    tehran, outside = ids(shop, "tehran", "outside")
    assert previewed(audience="chosen", segments=[tehran]) == 2  # mina opted out
    assert previewed(audience="chosen", lists=[shop["list"].id], segments=[tehran]) == 3
    assert previewed(audience="all", exclude_segments=[tehran]) == 3  # reza, hadi, none
    assert previewed(audience="chosen", segments=[outside], exclude_segments=[tehran]) == 2
    break_outside(shop)
    # A segment that needs fixing adds nobody; the form says why when it is sent.
    assert previewed(audience="chosen", segments=[tehran, outside]) == 2
