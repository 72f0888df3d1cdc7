"""Bulk actions on a search result: every matching contact, not just the page on screen."""

import re
from datetime import UTC, datetime

import pytest
from flask_babel import lazy_gettext as _l
from integration_support import as_int, contact_ids_on, in_locale, page_text
from sqlalchemy import func, select

from app.contacts import bulk
from app.contacts.models import (
    Contact,
    ContactList,
    OptOutEvent,
    Purchase,
    Tag,
    contact_tags,
    list_members,
)
from app.contacts.search import ContactFilter
from app.extensions import db
from app.sending.models import Message
from app.sending.service import default_account

NOWRUZ = datetime(2026, 3, 21, 7, 0, tzinfo=UTC)


@pytest.fixture
def on_nowruz(time_machine):
    """The clock at 10:30 on Nowruz 1405, Tehran. Ask for it before a logged-in client:
    moving the clock back after logging in would make the session cookie look forged."""
    time_machine.move_to(NOWRUZ, tick=False)


@pytest.fixture
def shop(app, make_contact):
    """23 contacts: 13 called علی… (on 0912 numbers), 10 others; pages of 5, chunks of 3."""
    app.config["VAFA_CONTACTS_PER_PAGE"] = 5
    alis = [
        make_contact(f"0912000{n:04d}", first_name="علی" if n % 2 else "علیرضا", last_name=f"ن{n}")
        for n in range(13)
    ]
    others = [
        make_contact(f"0935000{n:04d}", first_name="سارا", last_name=f"ک{n}") for n in range(10)
    ]
    return {"alis": alis, "others": others}


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    """Chunks of three contacts, so every action runs over several chunks."""
    monkeypatch.setattr(bulk, "BULK_CHUNK", 3)


def ids(contacts) -> set[int]:
    return {contact.id for contact in contacts}


def tagged(name: str) -> set[int]:
    return set(
        db.session.scalars(select(contact_tags.c.contact_id).join(Tag).where(Tag.name == name))
    )


def members(list_id: int) -> set[int]:
    return set(
        db.session.scalars(
            select(list_members.c.contact_id).where(list_members.c.list_id == list_id)
        )
    )


def confirmation(client, action, **filters):
    page = client.get("/contacts/bulk", query_string={"action": action, **filters})
    assert page.status_code == 200
    return page


def confirmed_count(page) -> int:
    return int(re.search(r'data-count="(\d+)"', page.text).group(1))


def upto(page) -> str:
    return re.search(r'name="upto" value="(\d*)"', page.text).group(1)


def flash(response) -> str:
    return re.search(r'class="flash flash-success"[^>]*>(.*?)<', response.text).group(1)


def test_the_search_result_is_more_than_one_page(logged_in, shop):
    page = logged_in.get("/contacts/", query_string={"q": "علی"})
    assert len(contact_ids_on(page)) == 5
    assert as_int(re.search(r'id="count">\s*([^<]*)', page.text).group(1).split()[0]) == 13
    # The bulk bar carries the search to the confirmation.
    form = re.search(r'<form[^>]*id="bulk".*?</form>', page.text, flags=re.S).group(0)
    assert 'name="q" value="علی"' in form


def test_tag_every_contact_of_a_search(logged_in, shop):
    page = confirmation(logged_in, "tag", q="علی")
    assert confirmed_count(page) == 13
    assert "۱۳" in page_text(page)
    assert tagged("VIP") == set()  # asking changes nothing

    response = logged_in.post(
        "/contacts/bulk",
        data={"action": "tag", "q": "علی", "tag": " VIP ", "upto": upto(page)},
        follow_redirects=True,
    )
    assert tagged("VIP") == ids(shop["alis"])
    message = flash(response)
    assert "۱۳" in message and "VIP" in message
    assert response.request.path == "/contacts/" and response.request.args["q"] == "علی"

    # Again: each contact keeps the tag once, and the owner is told nothing new happened.
    again = logged_in.post(
        "/contacts/bulk",
        data={"action": "tag", "q": "علی", "tag": "VIP", "upto": upto(page)},
        follow_redirects=True,
    )
    assert "۰" in flash(again)
    assert db.session.scalar(select(func.count()).select_from(contact_tags)) == 13


def test_the_tag_filter_then_shows_them(logged_in, shop):
    logged_in.post("/contacts/bulk", data={"action": "tag", "q": "علیرضا", "tag": "وفادار"})
    tag = db.session.scalar(select(Tag).where(Tag.name == "وفادار"))
    seen, url = [], f"/contacts/?tag={tag.id}"
    while url:
        page = logged_in.get(url)
        seen += contact_ids_on(page)
        match = re.search(r'href="([^"]*before=\d+[^"]*)"', page.text)
        url = match.group(1).replace("&amp;", "&") if match else None
    assert seen == sorted(ids(c for c in shop["alis"] if c.first_name == "علیرضا"), reverse=True)


def test_add_a_search_to_an_existing_or_a_new_list(logged_in, shop):
    vip = ContactList(name="ویژه")
    db.session.add(vip)
    db.session.commit()
    page = confirmation(logged_in, "list", q="0935")
    assert confirmed_count(page) == 10
    logged_in.post(
        "/contacts/bulk",
        data={"action": "list", "q": "0935", "list_id": vip.id, "upto": upto(page)},
    )
    assert members(vip.id) == ids(shop["others"])

    logged_in.post(
        "/contacts/bulk", data={"action": "list", "q": "علی", "list_id": 0, "new_list": "نوروز"}
    )
    nowruz = db.session.scalar(select(ContactList).where(ContactList.name == "نوروز"))
    assert members(nowruz.id) == ids(shop["alis"])


def test_opt_out_a_search_each_with_its_event(on_nowruz, logged_in, shop):
    already = shop["alis"][0]
    already.opted_out_at = datetime(2025, 1, 1, tzinfo=UTC)
    db.session.commit()
    page = confirmation(logged_in, "opt_out", q="علی")
    assert confirmed_count(page) == 13

    response = logged_in.post(
        "/contacts/bulk",
        data={"action": "opt_out", "q": "علی", "note": "درخواست تلفنی", "upto": upto(page)},
        follow_redirects=True,
    )
    assert "۱۲" in flash(response)  # the one already out is left as it was
    db.session.expire_all()
    out = {c.id: c.opted_out_at for c in db.session.scalars(select(Contact))}
    assert {i for i, at in out.items() if at} == ids(shop["alis"])
    assert out[already.id] == datetime(2025, 1, 1, tzinfo=UTC)
    events = db.session.scalars(select(OptOutEvent)).all()
    assert sorted(e.contact_id for e in events) == sorted(ids(shop["alis"][1:]))
    assert {(e.source, e.text, e.opted_out, e.created_at) for e in events} == {
        ("manual", "درخواست تلفنی", True, NOWRUZ)
    }
    assert {e.mobile for e in events} == {c.mobile for c in shop["alis"][1:]}
    # The opted-out filter now lists them.
    assert (
        as_int(
            re.search(r'id="count">\s*([^<]*)', logged_in.get("/contacts/?status=opted_out").text)
            .group(1)
            .split()[0]
        )
        == 13
    )


def test_delete_a_search_keeps_the_delivery_log(logged_in, shop):
    doomed = shop["others"]
    mobiles = sorted(contact.mobile for contact in doomed)
    for n, contact in enumerate(doomed):
        db.session.add(
            Message(
                contact_id=contact.id,
                provider_id=default_account().id,
                mobile=contact.mobile,
                body="سلام",
                parts=1,
                sender="10000000",
                status="delivered",
                idempotency_key=f"bulk:{n}",
            )
        )
        db.session.add(Purchase(contact_id=contact.id, purchased_at=NOWRUZ, amount=1000))
    db.session.commit()
    page = confirmation(logged_in, "delete", q="0935")
    assert confirmed_count(page) == 10
    assert in_locale(
        "fa",
        lambda: _l("This cannot be undone. The messages sent to them stay in the delivery log."),
    ) in page_text(page)

    response = logged_in.post(
        "/contacts/bulk",
        data={"action": "delete", "q": "0935", "upto": upto(page)},
        follow_redirects=True,
    )
    assert "۱۰" in flash(response)
    assert set(db.session.scalars(select(Contact.id))) == ids(shop["alis"])
    log = db.session.execute(select(Message.contact_id, Message.mobile).order_by(Message.mobile))
    assert [tuple(row) for row in log] == [(None, mobile) for mobile in mobiles]
    assert db.session.scalar(select(func.count()).select_from(Purchase)) == 0


def test_contacts_added_after_the_confirmation_are_left_alone(logged_in, shop, make_contact):
    page = confirmation(logged_in, "tag", q="علی")
    latecomer = make_contact("09129999999", first_name="علی")
    logged_in.post(
        "/contacts/bulk", data={"action": "tag", "q": "علی", "tag": "VIP", "upto": upto(page)}
    )
    assert tagged("VIP") == ids(shop["alis"])
    assert latecomer.id not in tagged("VIP")


def test_filters_combine_list_tag_and_status(logged_in, shop):
    vip = ContactList(name="ویژه", contacts=shop["alis"][:6] + shop["others"][:2])
    db.session.add(vip)
    db.session.commit()
    logged_in.post("/contacts/bulk", data={"action": "tag", "list": vip.id, "tag": "طلایی"})
    gold = db.session.scalar(select(Tag).where(Tag.name == "طلایی"))
    assert tagged("طلایی") == members(vip.id)
    shop["alis"][1].opted_out_at = NOWRUZ
    db.session.commit()

    filters = {"list": vip.id, "tag": gold.id, "status": "subscribed", "q": "علی"}
    page = confirmation(logged_in, "delete", **filters)
    assert confirmed_count(page) == 5
    logged_in.post("/contacts/bulk", data={"action": "delete", **filters, "upto": upto(page)})
    left = set(db.session.scalars(select(Contact.id)))
    assert left == ids(shop["alis"][1:2] + shop["alis"][6:] + shop["others"])


def test_a_tag_action_needs_a_tag_and_writes_nothing_without_one(logged_in, shop):
    response = logged_in.post("/contacts/bulk", data={"action": "tag", "q": "علی", "tag": "  "})
    assert response.status_code == 200
    assert in_locale("fa", lambda: _l("Write the tag to add.")) in page_text(response)
    assert db.session.scalar(select(func.count()).select_from(Tag)) == 0


def test_a_list_action_needs_a_list(logged_in, shop):
    response = logged_in.post("/contacts/bulk", data={"action": "list", "q": "علی", "list_id": 0})
    assert response.status_code == 200
    assert in_locale("fa", lambda: _l("Choose a list, or name a new one.")) in page_text(response)
    assert db.session.scalar(select(func.count()).select_from(list_members)) == 0


def test_an_unknown_action_does_nothing(logged_in, shop):
    response = logged_in.post("/contacts/bulk", data={"action": "drop", "q": "علی"})
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 23


def test_a_search_matching_nobody_says_so(logged_in, shop):
    page = confirmation(logged_in, "delete", q="ناشناس")
    assert confirmed_count(page) == 0
    assert 'id="confirm"' not in page.text


def test_every_contact_when_there_is_no_search(logged_in, shop):
    page = confirmation(logged_in, "tag")
    assert confirmed_count(page) == 23
    logged_in.post("/contacts/bulk", data={"action": "tag", "tag": "همه", "upto": upto(page)})
    assert tagged("همه") == ids(shop["alis"] + shop["others"])


def test_the_bulk_functions_work_chunk_by_chunk(shop):
    """Each chunk is its own statements; the caller may commit between them."""
    tag = Tag(name="X")
    db.session.add(tag)
    db.session.commit()
    counts = list(bulk.tag_matching(ContactFilter(query="علی"), tag.id, None, chunk=4))
    assert counts == [4, 4, 4, 1]
    assert tagged("X") == ids(shop["alis"])
    assert list(bulk.delete_matching(ContactFilter(tag_id=tag.id), None, chunk=5)) == [5, 5, 3]
    assert set(db.session.scalars(select(Contact.id))) == ids(shop["others"])


def test_tags_can_be_renamed_and_deleted(logged_in, shop):
    logged_in.post("/contacts/bulk", data={"action": "tag", "q": "علی", "tag": "VIP"})
    logged_in.post("/contacts/bulk", data={"action": "tag", "q": "0935", "tag": "عمده"})
    vip = db.session.scalar(select(Tag).where(Tag.name == "VIP"))
    tags_page = logged_in.get("/contacts/tags")
    assert "۱۳" in page_text(tags_page) and "۱۰" in page_text(tags_page)

    taken = logged_in.post(f"/contacts/tags/{vip.id}", data={"name": "عمده"})
    assert taken.status_code == 200
    assert in_locale("fa", lambda: _l("Another tag has this name.")) in page_text(taken)

    logged_in.post(f"/contacts/tags/{vip.id}", data={"name": " مشتری  ويژه "})
    db.session.expire_all()
    assert db.session.get(Tag, vip.id).name == "مشتری ویژه"
    assert tagged("مشتری ویژه") == ids(shop["alis"])

    vip_id = vip.id
    logged_in.post(f"/contacts/tags/{vip_id}/delete")
    db.session.expunge_all()
    assert db.session.get(Tag, vip_id) is None
    assert tagged("مشتری ویژه") == set()
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 23
