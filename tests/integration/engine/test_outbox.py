"""Writing a campaign's outbox: what the owner was told is what is written, once.

The review step's estimate and the written messages come from two passes over the
audience (the estimate groups recipients by the values the text reads; the writing walks
them in chunks), so these tests hold the two to each other on texts that differ per
recipient in length and alphabet.
"""

import threading

import pytest
from sqlalchemy import event, func, insert, select

from app.contacts.models import Contact
from app.contacts.service import set_opt_out
from app.extensions import db
from app.messaging import service as campaigns
from app.messaging.models import Campaign
from app.messaging.text import render
from app.sending.models import Message
from app.sending.policy import load_policy

PEOPLE = [
    # first name, last name, own fields, opted out
    ("علی", "رضایی", {"کد اشتراک": "A12"}, False),
    ("محمدحسین", "میرزایی‌نژاد", {"کد اشتراک": "B7-9931"}, False),
    ("", "", {}, False),
    ("Sara", "Smith", {"کد اشتراک": "{x}"}, False),
    ("مریم", "", {"شعبه": "ونک"}, True),
    ("  ", "کریمی", {"کد اشتراک": ""}, False),
    ("نگار 😀", "", {}, False),
]


def new_campaign(account, body: str, marketing: bool = True) -> Campaign:
    campaign = campaigns.create_campaign(
        name="یلدا",
        body=body,
        list_id=None,
        provider_id=account.id,
        sender="3000123",
        scheduled_at=None,
        created_by_id=None,
        marketing=marketing,
    )
    db.session.commit()
    return campaign


def written(campaign: Campaign) -> list[Message]:
    db.session.expire_all()
    return db.session.scalars(
        select(Message).where(Message.campaign_id == campaign.id).order_by(Message.id)
    ).all()


@pytest.fixture
def people(scripted, make_contact):
    contacts = []
    for i, (first, last, fields, opted_out) in enumerate(PEOPLE):
        contact = make_contact(f"0912000000{i}", first_name=first, last_name=last, fields=fields)
        if opted_out:
            set_opt_out(contact.mobile, True, "manual", "")
            db.session.commit()
        contacts.append(contact)
    return contacts


@pytest.mark.parametrize("marketing", [True, False], ids=["marketing", "service"])
@pytest.mark.parametrize(
    "body",
    [
        "سلام {نام کامل|مشتری عزیز}، کد اشتراک شما {کد اشتراک|ندارد} است. " + "ت" * 30,
        "Dear {first_name|friend} {last_name}, your code is {کد اشتراک|none}. " + "x" * 90,
        "یلدا مبارک! " + "ب" * 60,
    ],
    ids=["persian", "latin", "same text"],
)
def test_the_review_shows_the_parts_and_cost_of_the_messages_written(
    scripted, people, body, marketing
):
    campaign = new_campaign(scripted.account, body, marketing)
    figures = campaigns.confirm_campaign(campaign)
    db.session.commit()
    campaigns.start_due_campaigns()

    messages = written(campaign)
    sent = [m for m in messages if m.status == "queued"]
    skipped = [m for m in messages if m.status == "skipped"]
    assert figures.recipients == len(sent)
    assert figures.opted_out == len(skipped) == (1 if marketing else 0)
    assert {m.error for m in skipped} <= {"opted_out"}
    assert figures.parts == sum(m.parts for m in sent)
    assert figures.cost == sum(m.parts for m in sent) * scripted.account.price_per_part
    # Each text is the one the preview shows for that contact.
    policy = load_policy()
    own = ["شعبه", "کد اشتراک"]
    by_contact = {m.contact_id: m for m in messages}
    for contact in people:
        text = render(body, contact, own)
        assert by_contact[contact.id].body == (policy.with_optout(text) if marketing else text)


def test_the_texts_read_the_contacts_values(scripted, people):
    campaign = new_campaign(scripted.account, "{نام|مشتری} {نام خانوادگی} - {کد اشتراک|بدون کد}")
    campaigns.confirm_campaign(campaign)
    db.session.commit()
    campaigns.start_due_campaigns()
    bodies = [m.body.removesuffix("\nلغو۱۱") for m in written(campaign)]
    assert bodies == [
        "علی رضایی - A12",
        "محمدحسین میرزایی‌نژاد - B7-9931",
        # An empty value without a fallback takes the space after it along: no double space.
        "مشتری - بدون کد",
        "Sara Smith - {x}",
        "مریم - بدون کد",
        "مشتری کریمی - بدون کد",
        "نگار 😀 - بدون کد",
    ]
    assert [m.status for m in written(campaign)] == ["queued"] * 4 + ["skipped"] + ["queued"] * 2


def test_thousands_of_contacts_are_written_in_chunks_each_once(scripted, monkeypatch):
    monkeypatch.setattr(campaigns, "MATERIALISE_CHUNK", 700)
    db.session.execute(
        insert(Contact),
        [
            {"mobile": f"+98912{i:07d}", "first_name": f"مشتری {i % 50}", "fields": {}}
            for i in range(3000)
        ],
    )
    db.session.commit()
    campaign = new_campaign(scripted.account, "سلام {نام}")
    figures = campaigns.confirm_campaign(campaign)
    db.session.commit()
    assert campaigns.start_due_campaigns() == 1

    messages = written(campaign)
    contacts = db.session.execute(select(Contact.id, Contact.first_name).order_by(Contact.id))
    assert [(m.contact_id, m.body) for m in messages] == [
        (contact_id, f"سلام {name}\nلغو۱۱") for contact_id, name in contacts
    ]
    assert len({m.idempotency_key for m in messages}) == 3000
    assert figures.parts == sum(m.parts for m in messages) == 3000
    assert db.session.get(Campaign, campaign.id).status == "sending"


def test_the_first_messages_are_queued_before_the_rest_is_written(scripted, monkeypatch):
    """The outbox is committed in windows that start small: a dispatcher can send the
    first messages of a big campaign while the rest is written."""
    db.session.execute(
        insert(Contact),
        [{"mobile": f"+98912{i:07d}", "first_name": "علی", "fields": {}} for i in range(12_000)],
    )
    db.session.commit()
    queued_at_each_commit = []
    monkeypatch.setattr(
        campaigns,
        "queued_here",
        lambda: queued_at_each_commit.append(
            db.session.scalar(select(func.count()).select_from(Message))
        ),
    )
    campaign = new_campaign(scripted.account, "سلام {نام}")
    campaigns.confirm_campaign(campaign)
    db.session.commit()
    campaigns.start_due_campaigns()
    assert queued_at_each_commit == [500, 2_500, 7_500, 12_000]


def test_two_schedulers_writing_one_campaign_at_once_write_each_message_once(app, scripted, people):
    """Both read where the campaign stands before either writes: the second one's rows
    meet the first one's idempotency keys and are left out, without an error."""
    campaign = new_campaign(scripted.account, "سلام {نام}")
    campaigns.confirm_campaign(campaign)
    db.session.commit()
    both_ready = threading.Barrier(2, timeout=30)
    errors = []
    writing = threading.local()

    def writes_together(_connection, _cursor, statement, *_args):
        # Each one's first INSERT waits for the other's (the rest follow it at once).
        if statement.startswith("INSERT INTO messages") and not getattr(writing, "began", 0):
            writing.began = True
            both_ready.wait()

    def scheduler():
        with app.app_context():
            try:
                campaigns.materialise(db.session.get(Campaign, campaign.id))
            except Exception as error:  # noqa: BLE001 (reported by the test below)
                errors.append(error)
            finally:
                db.session.remove()

    event.listen(db.engine, "before_cursor_execute", writes_together)
    try:
        threads = [threading.Thread(target=scheduler) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        event.remove(db.engine, "before_cursor_execute", writes_together)

    assert errors == []
    counts = db.session.execute(
        select(Message.contact_id, func.count()).group_by(Message.contact_id)
    ).all()
    assert sorted(counts) == sorted((contact.id, 1) for contact in people)
