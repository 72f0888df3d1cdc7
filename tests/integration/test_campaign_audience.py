"""Who a campaign goes to: everyone, or the union of lists and tags, minus excluded lists.

Each test builds contacts in known lists and tags, sends a campaign through the service
(estimate, confirm, materialise) and reads who got a message. Both shapes of the
audience condition (app.messaging.audience: the IN shape counts, the EXISTS shape walks
contacts in id order for materialise) must pick the same contacts: the counts shown
before sending are checked against the messages written.
"""

import re
from datetime import time

import pytest
from flask_babel import force_locale
from integration_support import page_text, row_text
from sqlalchemy import select, text

from app.contacts import service as contacts
from app.contacts.models import Contact, Tag, contact_tags
from app.extensions import db
from app.messaging import service as campaigns
from app.messaging.audience import AudienceChoice, AudienceError, check_choice, describe
from app.messaging.models import Campaign
from app.sending.models import Message
from app.sending.policy import SendingPolicy, save_policy
from app.sending.service import default_account


@pytest.fixture(autouse=True)
def any_hour(app):
    """Marketing may leave at any hour: the sending window has its own tests."""
    save_policy(SendingPolicy(window_start=time(0), window_end=time(0)))
    db.session.commit()


@pytest.fixture
def shop(make_contact):
    """Eight contacts; lists الف, ب, ج and tags ویژه, عمده, as named per contact.

    ali: الف, ب · sara: الف · reza: ب, tag ویژه · mina: tag ویژه, list ج ·
    hadi: tags ویژه and عمده · nima: ج · opted: الف (opted out) · none: nothing
    """
    names = ["ali", "sara", "reza", "mina", "hadi", "nima", "opted", "none"]
    people = {
        name: make_contact(f"0912000000{index}", first_name=name)
        for index, name in enumerate(names)
    }
    people["opted"].opted_out_at = people["opted"].created_at
    lists = {name: contacts.find_or_create_list(name) for name in ("الف", "ب", "ج")}
    tags = {name: Tag(name=name) for name in ("ویژه", "عمده")}
    db.session.add_all(tags.values())
    db.session.flush()
    members = {"الف": ["ali", "sara", "opted"], "ب": ["ali", "reza"], "ج": ["mina", "nima"]}
    for list_name, names in members.items():
        contacts.add_to_list(lists[list_name].id, [people[name].id for name in names])
    for tag_name, names in {"ویژه": ["reza", "mina", "hadi"], "عمده": ["hadi"]}.items():
        db.session.execute(
            contact_tags.insert(),
            [{"tag_id": tags[tag_name].id, "contact_id": people[name].id} for name in names],
        )
    db.session.commit()
    return {"people": people, "lists": lists, "tags": tags}


def choice(shop, everyone=False, lists=(), tags=(), exclude_lists=()) -> AudienceChoice:
    return AudienceChoice(
        everyone=everyone,
        lists=tuple(shop["lists"][name].id for name in lists),
        tags=tuple(shop["tags"][name].id for name in tags),
        exclude_lists=tuple(shop["lists"][name].id for name in exclude_lists),
    )


def a_campaign(audience: AudienceChoice, marketing: bool = True) -> Campaign:
    account = default_account()
    campaign = campaigns.create_campaign(
        name="یلدا",
        body="سلام {نام}",
        audience=audience,
        provider_id=account.id,
        sender=account.sender_lines[0],
        scheduled_at=None,
        created_by_id=None,
        marketing=marketing,
    )
    db.session.commit()
    return campaign


def send(campaign: Campaign) -> dict[str, str]:
    """Confirm and materialise; each contact that got a message row → its status."""
    campaigns.confirm_campaign(campaign)
    db.session.commit()
    campaigns.start_due_campaigns()
    rows = db.session.execute(
        select(Contact.first_name, Message.status)
        .join(Message, Message.contact_id == Contact.id)
        .where(Message.campaign_id == campaign.id)
    ).all()
    return dict(rows)


def queued(written: dict[str, str]) -> set[str]:
    return {name for name, status in written.items() if status != "skipped"}


def test_a_contact_in_two_chosen_lists_gets_one_message(shop):
    campaign = a_campaign(choice(shop, lists=["الف", "ب"]))
    figures = campaigns.estimate(campaign)
    written = send(campaign)
    assert queued(written) == {"ali", "sara", "reza"}
    assert written["opted"] == "skipped"
    counted = db.session.execute(
        text("SELECT contact_id, count(*) FROM messages WHERE campaign_id = :id GROUP BY 1"),
        {"id": campaign.id},
    ).all()
    assert {count for _id, count in counted} == {1}  # ali is in both lists: one message
    assert (figures.recipients, figures.opted_out) == (3, 1)


def test_lists_and_tags_make_one_union(shop):
    campaign = a_campaign(choice(shop, lists=["ب"], tags=["ویژه", "عمده"]))
    assert queued(send(campaign)) == {"ali", "reza", "mina", "hadi"}


def test_an_excluded_list_wins_over_an_included_tag(shop):
    campaign = a_campaign(choice(shop, tags=["ویژه"], exclude_lists=["ج"]))
    before = campaigns.estimate(campaign).recipients
    assert queued(send(campaign)) == {"reza", "hadi"}  # mina has the tag, but is in ج
    assert before == 2


def test_everyone_minus_a_list(shop):
    campaign = a_campaign(choice(shop, everyone=True, exclude_lists=["الف", "ج"]))
    written = send(campaign)
    assert queued(written) == {"reza", "hadi", "none"}
    assert "opted" not in written  # in الف: left out before the opt-out is even asked


def test_opted_out_contacts_get_no_marketing_but_do_get_service_messages(shop):
    marketing = a_campaign(choice(shop, lists=["الف"]))
    assert campaigns.audience_now(marketing) == 2
    assert send(marketing) == {"ali": "queued", "sara": "queued", "opted": "skipped"}
    service = a_campaign(choice(shop, lists=["الف"]), marketing=False)
    assert campaigns.audience_now(service) == 3
    assert queued(send(service)) == {"ali", "sara", "opted"}


@pytest.mark.parametrize(
    "audience",
    [
        {"everyone": True},
        {"lists": ["الف"]},
        {"lists": ["الف", "ب"], "tags": ["ویژه"]},
        {"tags": ["ویژه", "عمده"], "exclude_lists": ["ب"]},
        {"everyone": True, "exclude_lists": ["الف"]},
        {"lists": ["ج"], "exclude_lists": ["الف", "ب"]},
    ],
)
def test_the_counts_before_sending_are_the_messages_written(shop, audience):
    campaign = a_campaign(choice(shop, **audience))
    figures, now = campaigns.estimate(campaign), campaigns.audience_now(campaign)
    written = send(campaign)
    assert figures.recipients == now == len(queued(written))
    assert figures.opted_out == len(written) - len(queued(written))


def test_contacts_the_frequency_cap_holds_back_are_not_counted_as_recipients(shop):
    save_policy(SendingPolicy(window_start=time(0), window_end=time(0), frequency_cap_days=7))
    db.session.commit()
    first = a_campaign(choice(shop, lists=["ب"]))  # ali, reza
    assert queued(send(first)) == {"ali", "reza"}
    second = a_campaign(choice(shop, lists=["الف", "ب"]))  # ali, sara, reza; opted
    figures, now = campaigns.estimate(second), campaigns.audience_now(second)
    assert (figures.recipients, figures.opted_out, figures.capped) == (1, 1, 2)
    written = send(second)
    assert written == {
        "sara": "queued",
        "ali": "skipped",
        "reza": "skipped",
        "opted": "skipped",
    }
    assert figures.recipients == now == len(queued(written))
    reasons = db.session.scalars(
        select(Message.error).where(Message.campaign_id == second.id, Message.status == "skipped")
    ).all()
    assert sorted(reasons) == ["frequency_cap", "frequency_cap", "opted_out"]


def test_materialise_reads_the_audience_in_chunks_in_id_order(shop, monkeypatch):
    monkeypatch.setattr(campaigns, "MATERIALISE_CHUNK", 2)
    campaign = a_campaign(choice(shop, lists=["الف", "ب"], tags=["ویژه"], exclude_lists=["ج"]))
    assert queued(send(campaign)) == {"ali", "sara", "reza", "hadi"}
    ids = db.session.scalars(
        select(Message.contact_id).where(Message.campaign_id == campaign.id).order_by(Message.id)
    ).all()
    assert ids == sorted(ids)


def test_a_deleted_list_adds_nobody_and_the_campaign_keeps_its_name(shop):
    both = a_campaign(choice(shop, lists=["الف", "ج"]))
    only = a_campaign(choice(shop, lists=["ج"]))
    db.session.delete(shop["lists"]["ج"])
    db.session.commit()
    db.session.expire_all()
    assert queued(send(both)) == {"ali", "sara"}
    assert campaigns.estimate(only).recipients == 0  # nobody, never everyone
    with force_locale("fa"):
        assert describe(both) == "گروه‌های الف و ج (حذف‌شده)"


def test_a_list_a_waiting_campaign_keeps_away_from_cannot_be_deleted(shop):
    campaign = a_campaign(choice(shop, tags=["ویژه"], exclude_lists=["ج"]))
    campaigns.confirm_campaign(campaign)
    db.session.commit()
    assert contacts.campaigns_waiting_for(shop["lists"]["ج"]) == ["یلدا"]
    assert contacts.campaigns_waiting_for(shop["lists"]["الف"]) == []


def test_the_audience_in_words(shop):
    campaign = a_campaign(choice(shop, lists=["الف", "ب"], tags=["ویژه"], exclude_lists=["ج"]))
    with force_locale("fa"):
        assert describe(campaign) == "گروه‌های الف و ب، برچسب ویژه، به‌جز گروه ج"
        everyone = a_campaign(choice(shop, everyone=True, exclude_lists=["الف", "ب", "ج"]))
        assert describe(everyone) == "همهٔ مخاطبان، به‌جز گروه‌های الف، ب و ج"
    # A renamed list is called by its new name.
    contacts.rename(shop["lists"]["ب"], "دو")
    with force_locale("en"):
        assert describe(campaign) == "lists الف and دو, tag ویژه, except list ج"


@pytest.mark.parametrize(
    ("audience", "message"),
    [
        (AudienceChoice(), "Choose at least one list, tag or segment"),
        (AudienceChoice(lists=(999,)), "There is no list with id 999"),
        (AudienceChoice(tags=(999,)), "There is no tag with id 999"),
        (AudienceChoice(everyone=True, exclude_lists=(999,)), "There is no list with id 999"),
        (AudienceChoice(segments=(999,)), "There is no segment with id 999"),
        (AudienceChoice(everyone=True, exclude_segments=(999,)), "There is no segment with id 999"),
    ],
)
def test_a_choice_that_cannot_be_sent_is_refused(app, audience, message):
    with force_locale("en"), pytest.raises(AudienceError, match=message):
        check_choice(audience)


def test_a_list_both_chosen_and_excluded_is_refused(shop):
    with force_locale("en"), pytest.raises(AudienceError, match="both chosen and excluded"):
        check_choice(choice(shop, lists=["الف"], exclude_lists=["الف"]))


def test_a_campaign_to_everyone_counts_everyone_but_the_opted_out(shop):
    everyone = a_campaign(AudienceChoice(everyone=True))
    assert campaigns.audience_now(everyone) == 7


# The compose form -------------------------------------------------------------------


def compose(client, **fields):
    form = client.get("/campaigns/new").text
    route = re.search(r'<select[^>]*name="route"[^>]*>.*?value="([^"]+)"', form, re.S).group(1)
    data = {"name": "کمپین یلدا", "body": "سلام {نام}، یلدا مبارک", "when": "now"}
    return client.post("/campaigns/new", data={**data, "route": route, **fields})


def errors_of(response) -> list[str]:
    return re.findall(r'<p class="error">([^<]*)</p>', response.text)


def test_the_form_offers_every_list_and_tag_as_checkboxes(logged_in, shop):
    page = logged_in.get("/campaigns/new").text
    boxes = re.findall(r'<input([^>]*type="checkbox"[^>]*)>', page)
    named = {
        (re.search(r'name="(\w+)"', box).group(1), int(re.search(r'value="(\d+)"', box).group(1)))
        for box in boxes
    }
    lists = {item.id for item in shop["lists"].values()}
    assert {value for name, value in named if name == "lists"} == lists
    assert {value for name, value in named if name == "exclude_lists"} == lists
    assert {value for name, value in named if name == "tags"} == {
        tag.id for tag in shop["tags"].values()
    }
    assert "الف (۳)" in page and "ویژه (۳)" in page
    assert re.search(r'<input[^>]*checked[^>]*value="all"|<input[^>]*value="all"[^>]*checked', page)


def test_lists_and_tags_chosen_in_the_form_make_the_audience(logged_in, shop):
    ids = {name: item.id for name, item in shop["lists"].items()}
    response = compose(
        logged_in,
        audience="chosen",
        lists=[ids["الف"], ids["ب"]],
        tags=[shop["tags"]["ویژه"].id],
        exclude_lists=[ids["ج"]],
    )
    assert response.status_code == 302, errors_of(response)
    campaign_id = int(response.location.rsplit("/", 1)[1])
    page = page_text(logged_in.get(f"/campaigns/{campaign_id}"))
    words = "گروه‌های الف و ب، برچسب ویژه، به‌جز گروه ج"
    assert f"گیرندگان: {words}" in page  # the confirm step says who it goes to
    campaign = db.session.get(Campaign, campaign_id)
    assert campaigns.estimate(campaign).recipients == 4  # ali, sara, reza, hadi
    assert words in row_text(logged_in.get("/campaigns/"), "کمپین یلدا")


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"audience": "chosen"}, "دست‌کم یک گروه، برچسب یا بخش هوشمند انتخاب کنید"),
        ({"audience": "chosen", "lists": ["999"]}, "یکی از گروه‌های انتخاب‌شده دیگر وجود ندارد"),
        ({"audience": "chosen", "lists": ["abc"]}, "یکی از گروه‌های انتخاب‌شده دیگر وجود ندارد"),
        ({"audience": "chosen", "tags": ["999"]}, "یکی از برچسب‌های انتخاب‌شده دیگر وجود ندارد"),
        ({"audience": "all", "exclude_lists": ["999"]}, "یکی از گروه‌هایی که باید کنار"),
        ({"audience": "all", "lists": ["LIST"]}, "«همهٔ مخاطبان» هم انتخاب شده"),
        (
            {"audience": "chosen", "lists": ["LIST"], "exclude_lists": ["LIST"]},
            "«الف» هم انتخاب شده",
        ),
        ({"audience": "everybody"}, "یکی از گزینه‌های فهرست را انتخاب کنید"),
    ],
)
def test_a_bad_choice_is_refused_in_persian_and_the_text_is_kept(logged_in, shop, fields, error):
    list_id = str(shop["lists"]["الف"].id)
    fields = {
        key: [list_id if value == "LIST" else value for value in values]
        if isinstance(values, list)
        else values
        for key, values in fields.items()
    }
    response = compose(logged_in, **fields)
    assert response.status_code == 200
    assert any(error in shown for shown in errors_of(response)), errors_of(response)
    assert "سلام {نام}، یلدا مبارک</textarea>" in response.text
    assert db.session.scalar(select(Campaign.id)) is None


def test_a_list_deleted_while_the_form_was_open(logged_in, shop):
    gone = shop["lists"]["ج"]
    gone_id = gone.id
    contacts.delete_list(gone_id)
    db.session.commit()
    response = compose(logged_in, audience="chosen", lists=[gone_id])
    assert "یکی از گروه‌های انتخاب‌شده دیگر وجود ندارد" in " ".join(errors_of(response))
    # The other choices stay ticked.
    response = compose(
        logged_in, audience="chosen", lists=[gone_id], tags=[shop["tags"]["ویژه"].id]
    )
    tag_id = shop["tags"]["ویژه"].id
    box = re.search(rf'<input[^>]*name="tags"[^>]*value="{tag_id}"[^>]*>', response.text)
    assert "checked" in box.group(0)


def test_the_preview_counts_the_chosen_audience(logged_in, shop):
    ids = {name: item.id for name, item in shop["lists"].items()}
    response = logged_in.post(
        "/campaigns/preview",
        data={
            "body": "سلام {نام}",
            "audience": "chosen",
            "lists": [ids["الف"]],
            "tags": [shop["tags"]["ویژه"].id],
            "exclude_lists": [ids["ج"]],
        },
    )
    # ali, sara, reza, hadi (opted, in الف, gets no marketing; mina is in ج)
    assert response.get_json()["audience"] == 4
