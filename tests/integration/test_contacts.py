"""The contacts page: search, paging, lists."""

import re

import pytest
from integration_support import contact_ids_on, page_text, row_text
from sqlalchemy import select

from app.contacts.models import ContactList, list_members
from app.contacts.search import ContactFilter, count_matching, search_page
from app.extensions import db


@pytest.fixture
def people(make_contact):
    """A few contacts, by a short name for each."""
    return {
        "ali": make_contact("09121234567", first_name="علی", last_name="رضایی"),
        "alireza": make_contact("09127654321", first_name="علیرضا", last_name="کریمی"),
        "sara": make_contact("09351234567", first_name="سارا", last_name="علوی"),
        "maryam": make_contact("09190001122", first_name="مریم", last_name="رضایی‌نژاد"),
        "john": make_contact("09011112233", first_name="John", last_name="Smith"),
        "nameless": make_contact("09123334455"),
    }


def found(client, query, **params) -> set[int]:
    response = client.get("/contacts/", query_string={"q": query, **params})
    assert response.status_code == 200
    return set(contact_ids_on(response))


def ids(people, *names) -> set[int]:
    return {people[name].id for name in names}


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("علی", ["ali", "alireza"]),  # a first-name prefix
        ("علیر", ["alireza"]),
        ("رضایی", ["ali", "maryam"]),  # a last-name prefix
        ("علی رض", ["ali"]),  # first name and the start of the last
        ("علي", ["ali", "alireza"]),  # typed with an Arabic keyboard
        ("  سارا  ", ["sara"]),
        ("John", ["john"]),
        ("Smi", ["john"]),
        ("john", ["john"]),  # Latin names match whatever the case, on both databases
        ("SMITH", ["john"]),
        ("john sm", ["john"]),
        ("ناشناس", []),
    ],
)
def test_search_by_name_prefix(logged_in, people, query, names):
    assert found(logged_in, query) == ids(people, *names)


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("0912", ["ali", "alireza", "nameless"]),
        ("۰۹۱۲", ["ali", "alireza", "nameless"]),
        ("٠٩١٢", ["ali", "alireza", "nameless"]),
        ("+98912", ["ali", "alireza", "nameless"]),
        ("0098 912", ["ali", "alireza", "nameless"]),
        ("912", ["ali", "alireza", "nameless"]),
        ("09121234567", ["ali"]),
        ("0912 123 4567", ["ali"]),
        ("۰۹۱۲-۱۲۳-۴۵۶۷", ["ali"]),
        ("+989121234567", ["ali"]),
        ("4567", ["ali", "sara"]),  # the end of a number
        ("0935", ["sara"]),
        ("0999", []),
    ],
)
def test_search_by_any_form_of_number(logged_in, people, query, names):
    assert found(logged_in, query) == ids(people, *names)


def test_search_shows_the_count_and_the_number_in_national_form(logged_in, people):
    response = logged_in.get("/contacts/", query_string={"q": "۰۹۱۲ ۱۲۳ ۴۵۶۷"})
    row = row_text(response, "علی رضایی")
    assert "۰۹۱۲ ۱۲۳ ۴۵۶۷" in row
    assert '<bdi dir="ltr">۰۹۱۲ ۱۲۳ ۴۵۶۷</bdi>' in response.text


def test_contacts_are_listed_newest_first(logged_in, people):
    response = logged_in.get("/contacts/")
    assert contact_ids_on(response) == sorted((c.id for c in people.values()), reverse=True)


def next_page(response) -> str | None:
    match = re.search(r'href="([^"]*before=\d+[^"]*)"', response.text)
    return match.group(1).replace("&amp;", "&") if match else None


@pytest.mark.parametrize("per_page", [1, 3, 4, 25])
def test_keyset_paging_visits_every_contact_exactly_once(app, logged_in, make_contact, per_page):
    app.config["VAFA_CONTACTS_PER_PAGE"] = per_page
    made = [make_contact(f"0912000{i:04d}", first_name=f"n{i}").id for i in range(12)]
    seen, pages = [], 0
    url = "/contacts/"
    while url:
        response = logged_in.get(url)
        page = contact_ids_on(response)
        assert 1 <= len(page) <= per_page
        seen += page
        pages += 1
        url = next_page(response)
    assert seen == sorted(made, reverse=True)
    assert pages == -(-len(made) // per_page)


def test_keyset_paging_keeps_the_search(app, logged_in, make_contact):
    app.config["VAFA_CONTACTS_PER_PAGE"] = 2
    wanted = {make_contact(f"0912000000{i}").id for i in range(5)}
    make_contact("09350000000")
    seen = []
    url = "/contacts/?q=0912"
    while url:
        response = logged_in.get(url)
        seen += contact_ids_on(response)
        url = next_page(response)
    assert sorted(seen) == sorted(wanted)


def test_paging_is_stable_when_contacts_are_added_meanwhile(app, make_contact):
    """Keyset paging: a contact added between two pages does not shift the second."""
    made = [make_contact(f"0912000000{i}").id for i in range(6)]
    first, after = search_page(ContactFilter(), per_page=3)
    make_contact("09129999999")
    second, end = search_page(ContactFilter(), before=after, per_page=3)
    assert [c.id for c in first + second] == sorted(made, reverse=True)
    assert end is None


def make_list(name: str) -> ContactList:
    contact_list = ContactList(name=name)
    db.session.add(contact_list)
    db.session.commit()
    return contact_list


def members(list_id: int) -> set[int]:
    return set(
        db.session.scalars(
            select(list_members.c.contact_id).where(list_members.c.list_id == list_id)
        )
    )


def test_add_selected_contacts_to_a_list_and_remove_them(logged_in, people):
    vip = make_list("ویژه")
    chosen = ids(people, "ali", "sara", "john")
    response = logged_in.post(
        "/contacts/add-to-list", data={"list_id": vip.id, "contact_ids": sorted(chosen)}
    )
    assert response.status_code == 302
    assert response.location == f"/contacts/?list={vip.id}"
    assert members(vip.id) == chosen

    # Adding again keeps each member once.
    logged_in.post(
        "/contacts/add-to-list",
        data={"list_id": vip.id, "contact_ids": sorted(ids(people, "ali", "maryam"))},
    )
    assert members(vip.id) == chosen | ids(people, "maryam")

    # The list's page shows its members only, and the search stays inside it.
    page = logged_in.get(f"/contacts/?list={vip.id}")
    assert set(contact_ids_on(page)) == members(vip.id)
    assert "ویژه" in page_text(page)
    assert found(logged_in, "0912", list=vip.id) == ids(people, "ali")

    response = logged_in.post(
        f"/contacts/lists/{vip.id}/remove",
        data={"contact_ids": sorted(ids(people, "ali", "john"))},
    )
    assert response.location == f"/contacts/?list={vip.id}"
    assert members(vip.id) == ids(people, "sara", "maryam")
    # Removing from a list does not delete the contact.
    assert count_matching(ContactFilter()).value == len(people)


def test_adding_without_a_selection_changes_nothing(logged_in, people):
    vip = make_list("ویژه")
    response = logged_in.post("/contacts/add-to-list", data={"list_id": vip.id})
    assert response.status_code == 302
    assert members(vip.id) == set()


def test_a_contact_can_be_in_several_lists(logged_in, people):
    one, two = make_list("یک"), make_list("دو")
    for contact_list in (one, two):
        logged_in.post(
            "/contacts/add-to-list",
            data={"list_id": contact_list.id, "contact_ids": [people["ali"].id]},
        )
    assert members(one.id) == members(two.id) == ids(people, "ali")


def test_lists_page_counts_members(logged_in, people):
    logged_in.post("/contacts/lists", data={"name": "  مشتریان   قدیمی "})
    logged_in.post("/contacts/lists", data={"name": "خالی"})
    old = db.session.scalar(select(ContactList).where(ContactList.name == "مشتریان قدیمی"))
    logged_in.post(
        "/contacts/add-to-list",
        data={"list_id": old.id, "contact_ids": sorted(ids(people, "ali", "sara", "john"))},
    )
    page = logged_in.get("/contacts/lists")
    assert page.status_code == 200
    assert "۳" in row_text(page, "مشتریان قدیمی")
    assert "۰" in row_text(page, "خالی")


def test_creating_a_list_twice_makes_one_list(logged_in):
    logged_in.post("/contacts/lists", data={"name": "تکراری"})
    logged_in.post("/contacts/lists", data={"name": "تکراری "})
    assert db.session.scalars(select(ContactList.name)).all() == ["تکراری"]


def test_the_contact_count_on_the_page(logged_in, people):
    response = logged_in.get("/contacts/", query_string={"q": "0912"})
    assert "۳" in page_text(response)
    assert count_matching(ContactFilter(query="0912")).value == 3


def test_adding_to_a_list_says_how_many_were_added(logged_in, people):
    vip = make_list("ویژه")
    chosen = sorted(ids(people, "ali", "sara", "john"))
    response = logged_in.post(
        "/contacts/add-to-list",
        data={"list_id": vip.id, "contact_ids": chosen},
        follow_redirects=True,
    )
    assert response.status_code == 200
    flash = re.search(r'class="flash flash-success"[^>]*>(.*?)<', response.text).group(1)
    assert "۳" in flash and "3" not in flash


def test_the_counts_read_naturally_in_english(english, people):
    vip = make_list("VIP")
    one = english.post(
        "/contacts/add-to-list",
        data={"list_id": vip.id, "contact_ids": [people["ali"].id]},
        follow_redirects=True,
    )
    assert "1 contact added to the list." in page_text(one)
    two = english.post(
        f"/contacts/lists/{vip.id}/remove",
        data={"contact_ids": sorted(ids(people, "ali", "sara"))},
        follow_redirects=True,
    )
    assert "2 contacts removed from the list." in page_text(two)
