"""Lists: renamed, deleted (contacts stay, campaigns keep their history), counted by the
database however their members come and go."""

import pytest
from integration_support import page_text, row_text
from sqlalchemy import delete, func, select

from app.auth.models import AuditEntry
from app.contacts import service as contacts
from app.contacts.models import Contact, ContactList, list_members
from app.extensions import db
from app.messaging import service as campaigns
from app.messaging.models import Campaign
from app.sending.service import default_account


@pytest.fixture
def vip(make_contact) -> ContactList:
    """A list of three contacts; a fourth contact is in no list."""
    contact_list = contacts.find_or_create_list("مشتریان ویژه")
    people = [make_contact(f"0912000000{n}", first_name=f"مشتری {n}") for n in range(4)]
    contacts.add_to_list(contact_list.id, [person.id for person in people[:3]])
    db.session.commit()
    return contact_list


def stored_count(list_id: int) -> int:
    """The count the database keeps, read afresh (not the session's copy)."""
    return db.session.scalar(select(ContactList.member_count).where(ContactList.id == list_id))


def real_count(list_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(list_members).where(list_members.c.list_id == list_id)
    )


def a_campaign(list_id: int, status: str) -> Campaign:
    campaign = campaigns.create_campaign(
        name="یلدا",
        body="شب یلدا مبارک",
        list_id=list_id,
        provider_id=default_account().id,
        sender="10000000",
        scheduled_at=None,
        created_by_id=None,
    )
    campaign.status = status
    db.session.commit()
    return campaign


def test_the_member_count_follows_every_way_members_come_and_go(vip, make_contact):
    assert stored_count(vip.id) == real_count(vip.id) == 3
    newcomer = make_contact("09350000000")
    everyone = db.session.scalars(select(Contact.id)).all()
    assert contacts.add_to_list(vip.id, everyone) == 2  # those already in it stay once
    db.session.commit()
    assert stored_count(vip.id) == real_count(vip.id) == 5
    contacts.remove_from_list(vip.id, [newcomer.id])
    db.session.commit()
    assert stored_count(vip.id) == real_count(vip.id) == 4
    # A deleted contact leaves its lists through the database's ON DELETE CASCADE.
    db.session.execute(delete(Contact).where(Contact.id == everyone[0]))
    db.session.commit()
    assert stored_count(vip.id) == real_count(vip.id) == 3
    other = contacts.find_or_create_list("دیگر")
    assert stored_count(other.id) == 0


def test_the_lists_page_shows_the_count_and_a_way_to_rename_or_delete(logged_in, vip):
    page = logged_in.get("/contacts/lists")
    assert "۳" in row_text(page, "مشتریان ویژه")
    assert f'href="/contacts/lists/{vip.id}/edit"' in page.text


def test_rename_a_list(logged_in, vip):
    response = logged_in.post(f"/contacts/lists/{vip.id}/edit", data={"name": "  مشتریان   طلایی "})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(ContactList, vip.id).name == "مشتریان طلایی"
    assert real_count(vip.id) == 3


def test_a_list_cannot_take_another_lists_name(english, vip):
    contacts.find_or_create_list("Old customers")
    db.session.commit()
    response = english.post(f"/contacts/lists/{vip.id}/edit", data={"name": "Old customers"})
    assert response.status_code == 200
    assert "Another list has this name." in page_text(response)
    db.session.expire_all()
    assert db.session.get(ContactList, vip.id).name == "مشتریان ویژه"


def test_delete_a_list_keeps_its_contacts_and_the_campaigns_sent_to_it(english, vip):
    list_id, sent = vip.id, a_campaign(vip.id, "done").id
    page = english.get(f"/contacts/lists/{list_id}/edit")
    assert 'data-confirm="Delete the list' in page.text

    response = english.post(f"/contacts/lists/{list_id}/delete", follow_redirects=True)
    assert "The list “مشتریان ویژه” is deleted; its contacts stay." in page_text(response)
    db.session.expire_all()
    assert db.session.get(ContactList, list_id) is None
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 4
    assert real_count(list_id) == 0
    entry = db.session.scalars(select(AuditEntry)).one()
    assert (entry.action, entry.target, entry.detail) == (
        "list.delete",
        "مشتریان ویژه",
        {"count": 3},
    )

    # The campaign's history still names the list it went to.
    campaign = db.session.get(Campaign, sent)
    assert [(entry.list_id, entry.name) for entry in campaign.audience] == [(None, "مشتریان ویژه")]
    assert "list مشتریان ویژه (deleted)" in page_text(english.get(f"/campaigns/{sent}"))
    assert "list مشتریان ویژه (deleted)" in row_text(english.get("/campaigns/"), "یلدا")


def test_a_list_a_scheduled_campaign_waits_for_is_not_deleted(english, vip):
    a_campaign(vip.id, "scheduled")
    page = english.get(f"/contacts/lists/{vip.id}/edit")
    assert "the campaign “یلدا” has yet to go out to this list" in page_text(page)
    assert 'id="delete-list"' not in page.text
    response = english.post(f"/contacts/lists/{vip.id}/delete", follow_redirects=True)
    assert "the campaign “یلدا” has yet to go out to this list" in page_text(response)
    db.session.expire_all()
    assert db.session.get(ContactList, vip.id) is not None
    assert real_count(vip.id) == 3
    assert db.session.scalars(select(AuditEntry)).all() == []


def test_staff_rename_and_delete_lists(staff_client, vip):
    list_id = vip.id
    response = staff_client.post(f"/contacts/lists/{list_id}/edit", data={"name": "طلایی"})
    assert response.status_code == 302
    response = staff_client.post(f"/contacts/lists/{list_id}/delete")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(ContactList, list_id) is None


@pytest.mark.parametrize(("status", "refused"), [("scheduled", True), ("done", False)])
def test_a_tag_a_campaign_yet_to_go_out_uses_is_not_deleted(english, vip, status, refused):
    from app.contacts.models import Tag
    from app.messaging.audience import AudienceChoice

    tag = contacts.find_or_create_tags(["VIP"])[0]
    db.session.commit()
    campaign = campaigns.create_campaign(
        name="یلدا",
        body="شب یلدا مبارک",
        audience=AudienceChoice(tags=(tag.id,)),
        provider_id=default_account().id,
        sender="10000000",
        scheduled_at=None,
        created_by_id=None,
    )
    campaign.status = status
    db.session.commit()
    tag_id = tag.id

    page = english.get(f"/contacts/tags/{tag_id}")
    waits = "the campaign “یلدا” has yet to go out to this tag"
    assert (waits in page_text(page)) is refused
    assert ('id="delete-tag"' in page.text) is not refused
    response = english.post(f"/contacts/tags/{tag_id}/delete", follow_redirects=True)
    assert (waits in page_text(response)) is refused
    db.session.expire_all()
    assert (db.session.get(Tag, tag_id) is not None) is refused
