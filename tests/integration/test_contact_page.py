"""The customer record: a contact's page, the contact form, purchases, opt-out, deletion."""

import re
from datetime import UTC, date, datetime

import pytest
from flask_babel import lazy_gettext as _l
from integration_support import in_locale, page_text, row_text, text_of
from sqlalchemy import func, select

from app.contacts import preferences
from app.contacts.models import Contact, ContactList, OptOutEvent, Purchase, Tag, list_members
from app.extensions import db
from app.sending.models import STATUS_LABELS, Message
from app.sending.service import default_account
from tests.integration.test_lists import a_campaign

# 10:30 on Nowruz 1405 in Tehran.
NOWRUZ = datetime(2026, 3, 21, 7, 0, tzinfo=UTC)


@pytest.fixture
def on_nowruz(time_machine):
    """The clock at 10:30 on Nowruz 1405, Tehran. Ask for it before a logged-in client:
    moving the clock back after logging in would make the session cookie look forged."""
    time_machine.move_to(NOWRUZ, tick=False)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def field_box(response, name: str) -> str:
    """The visible text of the form field (label, input, errors) named ``name``."""
    match = re.search(
        r'<div class="field has-error">\s*<label for="' + re.escape(name) + r'".*?</div>',
        response.text,
        flags=re.S,
    )
    assert match, f"no field {name!r} marked as an error"
    return text_of(match.group(0))


def fa(message) -> str:
    """A message as the Persian page shows it."""
    return in_locale("fa", lambda: message)


def a_message(contact, mobile=None, status="delivered", at=NOWRUZ, body="سلام", key=None):
    message = Message(
        contact_id=contact.id if contact else None,
        provider_id=default_account().id,
        mobile=mobile or contact.mobile,
        body=body,
        parts=1,
        sender="10000000",
        status=status,
        idempotency_key=key or f"test:{count(Message)}",
        created_at=at,
        sent_at=at,
    )
    db.session.add(message)
    db.session.commit()
    return message


NEW = {
    "first_name": "  علي  ",
    "last_name": "رضایی",
    "mobile": "۰۹۱۲ ۱۲۳ ۴۵۶۷",
    "gender": "male",
    "birth_date": "۱۳۷۰/۰۵/۱۲",
    "anniversary": "1400-1-15",
    "city": "تهران",
    "tags": "VIP، عمده‌فروش, VIP",
    "fields-0-key": "کد ملی",
    "fields-0-value": "0012345678",
    "fields-1-key": "",
    "fields-1-value": "",
}


# Adding and editing ----------------------------------------------------------------


def test_add_a_contact_by_hand(on_nowruz, logged_in):
    vip = ContactList(name="مشتریان ویژه")
    db.session.add(vip)
    db.session.commit()
    form = logged_in.get("/contacts/new")
    assert form.status_code == 200
    assert 'name="fields-0-key"' in form.text and 'name="fields-1-key"' in form.text

    response = logged_in.post("/contacts/new", data={**NEW, "list_ids": [vip.id]})
    assert response.status_code == 302
    contact = db.session.scalar(select(Contact))
    assert response.location == f"/contacts/{contact.id}"
    assert contact.mobile == "+989121234567"
    assert (contact.first_name, contact.last_name) == ("علی", "رضایی")  # Persian ی
    assert contact.gender == "male"
    assert contact.birth_date == date(1991, 8, 3)
    assert (contact.birth_jmonth, contact.birth_jday) == (5, 12)
    assert contact.anniversary == date(2021, 4, 4)
    assert (contact.anniversary_jmonth, contact.anniversary_jday) == (1, 15)
    assert contact.city == "تهران"
    assert sorted(tag.name for tag in contact.tags) == sorted(["VIP", "عمده\u200cفروش"])
    assert contact.fields == {"کد ملی": "0012345678"}
    assert [item.name for item in contact.lists] == ["مشتریان ویژه"]
    assert contact.source == "manual"
    assert contact.created_at == NOWRUZ

    page = logged_in.get(response.location)
    shown = page_text(page)
    assert "علی رضایی" in shown
    assert '<bdi dir="ltr">۰۹۱۲ ۱۲۳ ۴۵۶۷</bdi>' in page.text
    assert "۱۳۷۰/۰۵/۱۲" in shown and "۱۴۰۰/۰۱/۱۵" in shown
    assert "کد ملی" in shown and "0012345678" in shown
    assert "عمده\u200cفروش" in shown and "مشتریان ویژه" in shown
    assert fa(_l("Added by hand")) in shown
    assert "۱۴۰۵/۰۱/۰۱ ۱۰:۳۰" in shown  # created, Tehran time
    assert fa(_l("Male")) in shown


def test_a_contact_needs_only_a_mobile(logged_in):
    response = logged_in.post("/contacts/new", data={"mobile": "+98 935 111 2233"})
    assert response.status_code == 302
    contact = db.session.scalar(select(Contact))
    assert (contact.mobile, contact.first_name, contact.gender, contact.fields) == (
        "+989351112233",
        "",
        None,
        {},
    )
    assert contact.tags == [] and contact.birth_date is None


INVALID = [
    ("mobile", "0912123", _l("A mobile number has 11 digits, like 09121234567.")),
    ("mobile", "", _l("The mobile number is empty.")),
    ("mobile", "02188776655", _l("This is not a mobile number (mobile numbers start with 09).")),
    (
        "birth_date",
        "۱۴۰۳/۰۷/۳۱",  # Mehr has 30 days
        _l("“%(value)s” is not a Jalali date; write it like 1370/05/12.", value="۱۴۰۳/۰۷/۳۱"),
    ),
    (
        "birth_date",
        "12/05/1370",
        _l("“%(value)s” is not a Jalali date; write it like 1370/05/12.", value="12/05/1370"),
    ),
    ("anniversary", "1410/01/01", _l("This date has not come yet.")),
    (
        "tags",
        "VIP, " + "ب" * 51,
        _l("A tag has at most 50 characters: “%(name)s” is longer.", name="ب" * 51),
    ),
]


@pytest.mark.parametrize(("name", "value", "message"), INVALID)
def test_an_invalid_field_is_explained_in_persian_and_nothing_is_written(
    logged_in, name, value, message
):
    response = logged_in.post("/contacts/new", data={**NEW, name: value})
    assert response.status_code == 200
    box = field_box(response, name)
    assert fa(message) in box
    assert count(Contact) == count(Tag) == 0
    # What was typed is kept, so it can be corrected.
    assert 'value="رضایی"' in response.text


def test_a_gregorian_birth_date_is_refused_with_the_jalali_date_it_meant(logged_in):
    response = logged_in.post("/contacts/new", data={**NEW, "birth_date": "1991/08/03"})
    assert response.status_code == 200
    meant = _l(
        "%(value)s is a Gregorian date; did you mean %(jalali)s?",
        value="۱۹۹۱/۰۸/۰۳",
        jalali="۱۳۷۰/۰۵/۱۲",
    )
    label = _l("Birth date (Jalali)")
    assert f"{fa(label)}: {fa(meant)}" in field_box(response, "birth_date")
    assert count(Contact) == 0


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            {"fields-0-key": "", "fields-0-value": "آبی"},
            _l("Give the value “%(value)s” a name.", value="آبی"),
        ),
        (
            {"fields-0-key": "رنگ", "fields-1-key": "رنگ", "fields-1-value": "سبز"},
            _l("The field “%(name)s” is there twice.", name="رنگ"),
        ),
        (
            {"fields-0-key": "{نام}"},
            _l("A field name cannot have { } or |: “%(name)s”.", name="{نام}"),
        ),
    ],
)
def test_bad_custom_fields_are_explained(logged_in, rows, message):
    response = logged_in.post("/contacts/new", data={**NEW, **rows})
    assert response.status_code == 200
    fieldset = re.search(
        r'<fieldset class="field has-error" id="custom-fields">.*?</fieldset>',
        response.text,
        flags=re.S,
    )
    assert fieldset and fa(message) in text_of(fieldset.group(0))
    assert count(Contact) == 0


def test_a_number_that_is_taken_is_refused_with_who_has_it(logged_in, make_contact):
    sara = make_contact("09351112233", first_name="سارا", last_name="علوی")
    response = logged_in.post("/contacts/new", data={**NEW, "mobile": "+98 935 111 2233"})
    assert response.status_code == 200
    assert fa(_l("This number belongs to “%(name)s” already.", name="سارا علوی")) in field_box(
        response, "mobile"
    )
    assert f'href="/contacts/{sara.id}"' in response.text
    assert count(Contact) == 1 and count(Tag) == 0


def test_editing_to_a_taken_number_changes_nothing(logged_in, make_contact):
    make_contact("09351112233")
    ali = make_contact("09121234567", first_name="علی", city="قم")
    response = logged_in.post(
        f"/contacts/{ali.id}/edit", data={**NEW, "mobile": "09351112233", "city": "کرج"}
    )
    assert response.status_code == 200
    assert fa(_l("Another contact has this number already.")) in field_box(response, "mobile")
    db.session.expire_all()
    ali = db.session.get(Contact, ali.id)
    assert (ali.mobile, ali.city, ali.tags) == ("+989121234567", "قم", [])


def test_edit_a_contact(logged_in, make_contact):
    ali = make_contact("09121234567", first_name="علی", fields={"رنگ": "آبی", "سایز": "L"})
    form = logged_in.get(f"/contacts/{ali.id}/edit")
    # The form shows what is stored, dates and number as the owner would type them.
    assert 'value="۰۹۱۲ ۱۲۳ ۴۵۶۷"' in form.text
    assert 'value="رنگ"' in form.text and 'value="آبی"' in form.text
    response = logged_in.post(
        f"/contacts/{ali.id}/edit",
        data={
            "first_name": "علی",
            "last_name": "کریمی",
            "mobile": "09121234567",
            "gender": "",
            "birth_date": "1370/5/12",
            "anniversary": "",
            "city": "",
            "tags": "وفادار",
            "fields-0-key": "رنگ",
            "fields-0-value": "سبز",
            "fields-1-key": "",  # the size row was emptied: that field goes
            "fields-1-value": "",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    ali = db.session.get(Contact, ali.id)
    assert ali.last_name == "کریمی"
    assert ali.fields == {"رنگ": "سبز"}
    assert [tag.name for tag in ali.tags] == ["وفادار"]
    assert ali.birth_date == date(1991, 8, 3)
    edit_again = logged_in.get(f"/contacts/{ali.id}/edit")
    assert 'value="۱۳۷۰/۰۵/۱۲"' in edit_again.text


def test_user_text_is_escaped_everywhere(logged_in, make_contact):
    evil = "<script>alert(1)</script>"
    response = logged_in.post(
        "/contacts/new",
        data={
            **NEW,
            "first_name": evil,
            "city": "<b>تهران</b>",
            "tags": "<i>VIP</i>",
            "fields-0-key": "<u>کد</u>",
            "fields-0-value": '"><img src=x onerror=alert(1)>',
        },
    )
    contact = db.session.scalar(select(Contact))
    for url in (
        response.location,
        f"/contacts/{contact.id}/edit",
        "/contacts/",
        "/contacts/tags",
        f"/contacts/{contact.id}/delete",
        f"/contacts/{contact.id}/opt-out",
    ):
        page = logged_in.get(url)
        assert page.status_code == 200, url
        assert "<script>alert" not in page.text, url
        assert "<img src=x" not in page.text and "<i>VIP" not in page.text, url
    page = logged_in.get(response.location)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "&lt;b&gt;تهران&lt;/b&gt;" in page.text


def test_an_unknown_contact_is_not_found(logged_in):
    assert logged_in.get("/contacts/999").status_code == 404
    assert logged_in.get("/contacts/999/edit").status_code == 404
    assert logged_in.post("/contacts/999/delete").status_code == 404


def test_the_english_page_keeps_jalali_dates_in_latin_digits(english, make_contact):
    ali = make_contact("09121234567", first_name="Ali", birth_date=date(1991, 8, 3))
    shown = page_text(english.get(f"/contacts/{ali.id}"))
    assert "1370/05/12" in shown and "0912 123 4567" in shown
    assert "Birth date" in shown


# Purchases -------------------------------------------------------------------------


def test_record_a_purchase_by_hand(on_nowruz, logged_in, make_contact):
    ali = make_contact("09121234567", first_name="علی")
    page = logged_in.get(f"/contacts/{ali.id}")
    assert 'value="۱۴۰۵/۰۱/۰۱"' in page.text  # today, ready to be changed

    response = logged_in.post(
        f"/contacts/{ali.id}/purchases",
        data={"purchased_on": "۱۴۰۴/۱۰/۳۰", "amount": "۲٬۵۰۰٬۰۰۰", "reference": " INV-7 "},
    )
    assert response.status_code == 302
    logged_in.post(
        f"/contacts/{ali.id}/purchases",
        data={"purchased_on": "1405/01/01", "amount": "1,000,000", "reference": ""},
    )
    purchases = db.session.scalars(select(Purchase).order_by(Purchase.purchased_at)).all()
    assert [(p.amount, p.reference) for p in purchases] == [(2_500_000, "INV-7"), (1_000_000, None)]
    # Noon in Tehran on that day.
    assert purchases[0].purchased_at == datetime(2026, 1, 20, 8, 30, tzinfo=UTC)
    db.session.expire_all()
    ali = db.session.get(Contact, ali.id)
    assert (ali.purchase_count, ali.total_spent) == (2, 3_500_000)

    page = logged_in.get(f"/contacts/{ali.id}")
    row = row_text(page, "INV-7")
    assert "۱۴۰۴/۱۰/۳۰" in row and "۲٬۵۰۰٬۰۰۰" in row and "۲۵۰٬۰۰۰" in row
    stats = page_text(page)
    assert "۳٬۵۰۰٬۰۰۰" in stats and "۳۵۰٬۰۰۰" in stats  # Rials and Toman
    assert re.search(r'data-stat="purchase_count">۲<', page.text)
    assert re.search(r'data-stat="last_purchase">۱۴۰۵/۰۱/۰۱<', page.text)


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        ({"amount": "abc"}, "amount", _l("Write the amount in digits, in Rials, like 2500000.")),
        ({"amount": "0"}, "amount", _l("The amount must be more than zero.")),
        ({"amount": ""}, "amount", _l("Enter the amount in Rials.")),
        ({"purchased_on": ""}, "purchased_on", _l("Enter the date of the purchase.")),
        ({"purchased_on": "1405/13/01"}, "purchased_on", None),
    ],
)
def test_a_bad_purchase_is_explained_and_not_recorded(logged_in, make_contact, data, name, message):
    ali = make_contact("09121234567")
    response = logged_in.post(
        f"/contacts/{ali.id}/purchases",
        data={"purchased_on": "1405/01/01", "amount": "1000", "reference": "", **data},
    )
    assert response.status_code == 400
    box = field_box(response, name)
    if message is not None:
        assert fa(message) in box
    assert count(Purchase) == 0
    db.session.refresh(ali)
    assert ali.purchase_count == 0


def test_an_invoice_number_counts_once(logged_in, make_contact):
    ali = make_contact("09121234567")
    data = {"purchased_on": "1405/01/01", "amount": "1000", "reference": "INV-1"}
    logged_in.post(f"/contacts/{ali.id}/purchases", data=data)
    again = logged_in.post(f"/contacts/{ali.id}/purchases", data={**data, "amount": "5000"})
    assert again.status_code == 400
    assert fa(_l("A purchase with this invoice number is recorded already.")) in field_box(
        again, "reference"
    )
    db.session.refresh(ali)
    assert (count(Purchase), ali.total_spent) == (1, 1000)


# Opting out by hand ----------------------------------------------------------------


def test_opt_out_by_hand_with_a_note_and_back_in(on_nowruz, logged_in, make_contact):
    ali = make_contact("09121234567", first_name="علی")
    confirm = logged_in.get(f"/contacts/{ali.id}/opt-out")
    assert confirm.status_code == 200
    assert ali.opted_out_at is None  # asking changes nothing

    response = logged_in.post(f"/contacts/{ali.id}/opt-out", data={"note": "تلفنی خواست"})
    assert response.location == f"/contacts/{ali.id}"
    db.session.expire_all()
    ali = db.session.get(Contact, ali.id)
    assert ali.opted_out_at == NOWRUZ
    event = db.session.scalar(select(OptOutEvent))
    assert (event.opted_out, event.source, event.text, event.mobile) == (
        True,
        "manual",
        "تلفنی خواست",
        "+989121234567",
    )
    page = page_text(logged_in.get(f"/contacts/{ali.id}"))
    assert fa(_l("Opted out on %(when)s.", when="۱۴۰۵/۰۱/۰۱ ۱۰:۳۰")) in page
    assert fa(_l("By hand")) in page and "تلفنی خواست" in page
    # Asking again to opt out an opted-out contact just shows the contact.
    assert logged_in.get(f"/contacts/{ali.id}/opt-out").status_code == 302

    logged_in.post(f"/contacts/{ali.id}/opt-in", data={"note": ""})
    db.session.expire_all()
    assert db.session.get(Contact, ali.id).opted_out_at is None
    assert [
        e.opted_out for e in db.session.scalars(select(OptOutEvent).order_by(OptOutEvent.id))
    ] == [
        True,
        False,
    ]
    assert fa(_l("Receives marketing messages.")) in page_text(logged_in.get(f"/contacts/{ali.id}"))


def test_the_contacts_page_marks_opted_out_contacts(logged_in, make_contact):
    make_contact("09121234567", first_name="علی", opted_out_at=NOWRUZ)
    make_contact("09351112233", first_name="سارا")
    page = logged_in.get("/contacts/")
    assert fa(_l("Opted out")) in row_text(page, "علی")
    assert fa(_l("Opted out")) not in row_text(page, "سارا")


# Deleting --------------------------------------------------------------------------


def test_delete_a_contact_keeps_the_delivery_log(logged_in, make_contact):
    ali = make_contact("09121234567", first_name="علی")
    vip = ContactList(name="ویژه", contacts=[ali])
    db.session.add(vip)
    db.session.commit()
    message = a_message(ali, body="تخفیف نوروزی")
    db.session.add(Purchase(contact_id=ali.id, purchased_at=NOWRUZ, amount=10))
    db.session.commit()

    confirm = logged_in.get(f"/contacts/{ali.id}/delete")
    assert confirm.status_code == 200
    assert "۱" in page_text(confirm)  # one message stays
    assert count(Contact) == 1

    response = logged_in.post(f"/contacts/{ali.id}/delete")
    assert response.location == "/contacts/"
    db.session.expire_all()
    assert count(Contact) == 0
    assert count(Purchase) == 0
    assert count(list_members) == 0
    kept = db.session.get(Message, message.id)
    assert (kept.contact_id, kept.mobile, kept.body) == (None, "+989121234567", "تخفیف نوروزی")
    assert db.session.get(ContactList, vip.id) is not None
    log = logged_in.get("/reports/messages")
    assert "تخفیف نوروزی" in page_text(log)


def test_a_deleted_opted_out_number_added_again_stays_opted_out(logged_in, make_contact):
    ali = make_contact("09121234567")
    logged_in.post(f"/contacts/{ali.id}/opt-out", data={"note": "۱۱"})
    logged_in.post(f"/contacts/{ali.id}/delete")
    logged_in.post("/contacts/new", data={"mobile": "09121234567"})
    db.session.expire_all()
    again = db.session.scalar(select(Contact))
    assert again.opted_out_at is not None
    assert db.session.scalar(select(OptOutEvent.contact_id)) == again.id


# Messages --------------------------------------------------------------------------


def test_every_message_sent_to_the_contact_newest_first_and_paged(logged_in, make_contact):
    ali = make_contact("09121234567", first_name="علی")
    sara = make_contact("09351112233", first_name="سارا")
    # Sent to the number before the contact was added (or under a deleted record).
    before = a_message(None, mobile=ali.mobile, body="پیام قدیمی", key="old")
    mine = [
        a_message(ali, body=f"پیام {n}", status="delivered" if n % 2 else "failed")
        for n in range(24)
    ]
    a_message(sara, body="مال سارا")

    first = logged_in.get(f"/contacts/{ali.id}")
    ids = [int(v) for v in re.findall(r'data-message="(\d+)"', first.text)]
    assert ids == sorted((m.id for m in mine), reverse=True)[:20]
    assert fa(STATUS_LABELS["delivered"]) in page_text(first)
    assert fa(STATUS_LABELS["failed"]) in page_text(first)
    assert "مال سارا" not in first.text
    assert "۲۵" in page_text(first)  # the count of every message to them

    older = re.search(r'href="([^"]*before=\d+[^"]*)"', first.text).group(1).replace("&amp;", "&")
    second = logged_in.get(older)
    rest = [int(v) for v in re.findall(r'data-message="(\d+)"', second.text)]
    assert rest == [m.id for m in reversed(mine[:4])] + [before.id]


# The anniversary's name ------------------------------------------------------------


def test_the_anniversary_is_named_as_the_owner_chose(logged_in, make_contact):
    ali = make_contact("09121234567", anniversary=date(2021, 4, 4))
    membership = fa(preferences.ANNIVERSARY_KINDS["membership"])
    wedding = fa(preferences.ANNIVERSARY_KINDS["wedding"])
    assert membership in page_text(logged_in.get(f"/contacts/{ali.id}"))

    settings = logged_in.get("/contacts/settings")
    assert re.search(r'<input checked[^>]*value="membership"', settings.text)
    response = logged_in.post("/contacts/settings", data={"anniversary_kind": "wedding"})
    assert response.status_code == 302
    assert preferences.anniversary_kind() == "wedding"
    page = page_text(logged_in.get(f"/contacts/{ali.id}"))
    assert wedding in page and membership not in page
    assert wedding in page_text(logged_in.get(f"/contacts/{ali.id}/edit"))


def test_an_unknown_anniversary_kind_is_refused(logged_in):
    response = logged_in.post("/contacts/settings", data={"anniversary_kind": "birthday"})
    assert response.status_code == 200
    assert preferences.anniversary_kind() == "membership"


def test_the_english_page_counts_messages_and_names_their_campaign(english, make_contact):
    ali = make_contact("09121234567", first_name="Ali")
    campaign = a_campaign(None, "done")
    campaign.name = "Yalda <sale>"
    db.session.commit()
    message = a_message(ali)
    message.campaign_id = campaign.id
    db.session.commit()

    page = english.get(f"/contacts/{ali.id}")
    assert "1 message" in page_text(page) and "1 messages" not in page_text(page)
    link = re.search(rf'href="/campaigns/{campaign.id}">(.*?)</a>', page.text, re.S).group(1)
    assert text_of(link) == "Yalda <sale>" and "&lt;sale&gt;" in link  # named, escaped

    a_message(ali, key="second")
    assert "2 messages" in page_text(english.get(f"/contacts/{ali.id}"))


def test_the_contacts_filter_names_subscribers_one_way(logged_in):
    shown = page_text(logged_in.get("/contacts/"))
    assert "مشترکان و انصراف‌داده‌ها" in shown and "فقط مشترکان" in shown
