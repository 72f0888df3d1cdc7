"""Message templates in the panel and the API: placeholders for every stored field, one
rendering for the API, the editor and the campaigns, the counter's longest text, and the
template library."""

import re
from datetime import time
from html import unescape

import pytest
import time_machine
from integration_support import page_text, text_of
from sqlalchemy import select

from app.contacts.models import ContactList, list_members
from app.extensions import db
from app.messaging import service as campaigns
from app.messaging.audience import AudienceChoice
from app.messaging.library import BUILTIN_TEMPLATES
from app.messaging.models import MessageTemplate
from app.persian import gregorian_date
from app.sending.models import Message
from app.sending.policy import SendingPolicy, save_policy
from app.sending.service import default_account

OPTOUT = "\nلغو۱۱"
# 10 Farvardin 1405, noon in Tehran.
TODAY = "2026-03-30T08:30:00+00:00"


@pytest.fixture(autouse=True)
def any_hour(app):
    save_policy(SendingPolicy(window_start=time(0), window_end=time(0)))
    db.session.commit()


@pytest.fixture
def ali(make_contact):
    return make_contact(
        "09121234567",
        first_name="علی",
        last_name="رضایی",
        city="اصفهان",
        gender="male",
        birth_date=gregorian_date(1370, 1, 12),
        birth_jmonth=1,
        birth_jday=12,
        anniversary=gregorian_date(1398, 2, 1),
        anniversary_jmonth=2,
        anniversary_jday=1,
        fields={"کد اشتراک": "A-12"},
    )


@pytest.fixture
def api_client(client, token):
    """``call(method, path, json)`` against /api/v1 with the token."""

    def call(method: str, path: str, payload=None, **headers):
        return client.open(
            "/api/v1" + path,
            method=method,
            json=payload,
            headers={"Authorization": f"Bearer {token}", **headers},
        )

    return call


@pytest.fixture
def token(app):
    from app.api.service import create_token

    _token, secret = create_token("tests")
    db.session.commit()
    return secret


def set_business_name(client, name: str):
    response = client.post(
        "/contacts/settings", data={"anniversary_kind": "membership", "business_name": name}
    )
    assert response.status_code == 302, page_text(response)


# Rendering through the API ---------------------------------------------------------------


@time_machine.travel(TODAY, tick=False)
def test_the_api_renders_every_field_for_a_contact(logged_in, api_client, ali):
    set_business_name(logged_in, "  گل‌فروشی   نرگس ")
    body = (
        "{عنوان} {نام کامل} از {شهر}، تولد {تاریخ تولد} ({روز تا تولد} روز مانده)، عضو از "
        "{تاریخ سالگرد}، کد {کد اشتراک}. {نام کسب‌وکار} — {تاریخ امروز}"
    )
    answer = api_client("POST", "/templates/render", {"body": body, "contact_id": ali.id})
    assert answer.status_code == 200, answer.text
    expected = (
        "آقای علی رضایی از اصفهان، تولد ۱۳۷۰/۰۱/۱۲ (۲ روز مانده)، عضو از ۱۳۹۸/۰۲/۰۱، "
        "کد A-12. گل‌فروشی نرگس — ۱۴۰۵/۰۱/۱۰" + OPTOUT
    )
    assert answer.json == {
        "text": expected,
        "chars": len(expected),
        "encoding": "ucs2",
        "parts": 2,
    }
    # Without the opt-out line: a service text.
    plain = api_client(
        "POST",
        "/templates/render",
        {"body": "Hi {first_name}", "contact_id": ali.id, "marketing": False},
    )
    assert plain.json == {"text": "Hi علی", "chars": 6, "encoding": "ucs2", "parts": 1}
    latin = api_client("POST", "/templates/render", {"body": "Hi [x]", "marketing": False})
    assert latin.json == {"text": "Hi [x]", "chars": 8, "encoding": "gsm7", "parts": 1}


def test_without_a_contact_the_api_renders_a_sample(api_client):
    answer = api_client(
        "POST",
        "/templates/render",
        {"body": "{نام|مشتری عزیز}، {نام خانوادگی}، {عنوان}، {تاریخ تولد}", "marketing": False},
    )
    # A fallback where the text has one, an example value where it has none.
    assert answer.json["text"] == "مشتری عزیز، محمدی، خانم، ۱۳۷۰/۰۶/۱۵"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("سلام {کد ملی}", "متغیر ناشناخته: {کد ملی}"),
        ("سلام {نام", "آکولاد «{نام» بسته نشده است: هر متغیر با } تمام می‌شود."),
        ("سلام نام}", "آکولاد بستهٔ «سلام نام}» بازشدنی ندارد: هر متغیر با { شروع می‌شود."),
        ("سلام {}", "متغیر خالی {}: نام متغیر را بین دو آکولاد بنویسید، مثل {نام}."),
    ],
)
def test_an_unknown_or_malformed_placeholder_is_a_422_naming_it_in_persian(
    api_client, body, message
):
    answer = api_client("POST", "/templates/render", {"body": body})
    assert answer.status_code == 422
    error = answer.json["error"]
    assert error["code"] == "invalid"
    assert error["details"] == [{"field": "body", "message": message}]


def test_a_contact_that_does_not_exist_is_named(api_client):
    answer = api_client("POST", "/templates/render", {"body": "سلام", "contact_id": 999})
    assert answer.status_code == 422
    assert answer.json["error"]["details"] == [
        {"field": "contact_id", "message": "مخاطبی با شناسهٔ 999 وجود ندارد."}
    ]


def test_a_campaign_with_a_malformed_placeholder_is_refused_by_the_api(api_client):
    answer = api_client(
        "POST", "/campaigns", {"name": "x", "text": "سلام {نام", "audience": {"all": True}}
    )
    assert answer.status_code == 422
    assert answer.json["error"]["details"][0]["field"] == "text"


# Campaigns read the new values in their one query ------------------------------------


@time_machine.travel(TODAY, tick=False)
def test_a_campaign_fills_every_placeholder_from_its_audience_query(logged_in, ali, make_contact):
    set_business_name(logged_in, "نرگس")
    make_contact("09351112233", first_name="سارا", gender="female", birth_jmonth=12, birth_jday=30)
    make_contact("09190001122")
    account = default_account()
    campaign = campaigns.create_campaign(
        name="تولد",
        body="{عنوان} {نام|دوست} از {شهر|ایران}، {روز تا تولد|؟} روز تا تولد. {نام کسب‌وکار}",
        list_id=None,
        provider_id=account.id,
        sender=account.sender_lines[0],
        scheduled_at=None,
        created_by_id=None,
    )
    db.session.commit()
    figures = campaigns.estimate(campaign)
    assert campaigns.materialise(campaign) == 3
    bodies = db.session.scalars(select(Message.body).order_by(Message.contact_id)).all()
    assert bodies == [
        "آقای علی از اصفهان، ۲ روز تا تولد. نرگس" + OPTOUT,
        # 30 Esfand, and 1405 is a common year: 29 Esfand 1405.
        "خانم سارا از ایران، ۳۵۵ روز تا تولد. نرگس" + OPTOUT,
        "دوست از ایران، ؟ روز تا تولد. نرگس" + OPTOUT,
    ]
    assert figures.recipients == 3


# The compose page's counter: the longest text across the audience ------------------------


def preview(client, body, list_id=0, route=""):
    audience = {"audience": "chosen", "lists": list_id} if list_id else {"audience": "all"}
    response = client.post("/campaigns/preview", data={"body": body, "route": route, **audience})
    assert response.status_code == 200
    return response.json


@pytest.fixture
def shop(make_contact):
    """An audience with names of every length, one with none; a list of two of them."""
    people = [
        make_contact("09121000001", first_name="علی", city="قم"),
        make_contact("09121000002", first_name="محمدحسین", last_name="میرزایی", city="تهران"),
        make_contact("09121000003", first_name="", city="کرمانشاه"),
    ]
    members = ContactList(name="ویژه")
    db.session.add(members)
    db.session.flush()
    db.session.execute(
        list_members.insert(), [{"list_id": members.id, "contact_id": p.id} for p in people[::2]]
    )
    db.session.commit()
    return people, members


def test_the_counter_counts_the_longest_name_of_the_audience(logged_in, shop):
    _people, members = shop
    account = default_account()
    account.price_per_part = 1150
    db.session.commit()
    route = f"{account.id}:{account.sender_lines[0]}"
    body = "س" * 56 + " {نام}"  # 57 + name + 6 for the opt-out line
    everyone = preview(logged_in, body, route=route)["longest"]
    # «محمدحسین» (8): 57 + 8 + 6 = 71 → two parts.
    assert everyone == {
        "characters": 71,
        "parts": 2,
        "unicode": True,
        "cost": 2300,
        "cost_shown": "۲٬۳۰۰",
        # One of them has no name.
        "empty": "بعضی از گیرندگان {نام} ندارند و جایش در متنشان خالی می‌ماند. "
        "برایش جایگزین بنویسید، مثل {نام|…}.",
    }
    # The list has «علی» and an empty name: 57 + 3 + 6 = 66, one part.
    assert preview(logged_in, body, members.id, route)["longest"]["characters"] == 66
    # A fallback longer than any name counts, since one member has no name.
    fallback = preview(logged_in, "س" * 56 + " {نام|مشتری گرامی}", members.id, route)
    assert fallback["longest"]["characters"] == 57 + 11 + 6
    # The full name and the city: the longest of each.
    both = preview(logged_in, "{نام کامل} - {شهر}", route=route)["longest"]
    assert both["characters"] == len("محمدحسین میرزایی - کرمانشاه") + 6


def test_the_counter_warns_of_placeholders_some_recipients_have_no_value_for(
    logged_in, make_contact
):
    make_contact("09121000001", first_name="علی", city="قم")
    make_contact("09121000002", first_name="سارا")
    warned = preview(logged_in, "سلام {نام} از {شهر}، {تاریخ تولد}")["longest"]["empty"]
    assert warned == (
        "بعضی از گیرندگان {شهر}، {تاریخ تولد} ندارند و جایش در متنشان خالی می‌ماند. "
        "برایش جایگزین بنویسید، مثل {شهر|…}."
    )
    # A fallback, or values everyone has: nothing to warn of.
    assert preview(logged_in, "سلام {نام} از {شهر|شهر شما}")["longest"]["empty"] == ""


def test_the_counter_counts_an_emoji_in_a_name_as_two_units(logged_in, make_contact):
    make_contact("09121000001", first_name="سارا😀")
    make_contact("09121000002", first_name="محمد")
    body = "س" * 58 + " {نام}"  # 59 + name + 6 for the opt-out line
    longest = preview(logged_in, body)["longest"]
    # «سارا😀» is five characters to the database but six UTF-16 units to the operator:
    # 59 + 6 + 6 = 71, two parts (counted as five, it would seem to fit in one).
    assert (longest["characters"], longest["parts"]) == (71, 2)


def test_the_counter_knows_a_latin_text_with_latin_names_is_gsm(logged_in, make_contact):
    make_contact("09121000001", first_name="Sara")
    make_contact("09121000002", first_name="Alexandra")
    save_policy(SendingPolicy(window_start=time(0), window_end=time(0), optout_line=False))
    db.session.commit()
    longest = preview(logged_in, "a" * 150 + " {first_name}")["longest"]
    assert (longest["characters"], longest["parts"], longest["unicode"]) == (160, 1, False)
    make_contact("09121000003", first_name="سارا")
    assert preview(logged_in, "a" * 150 + " {first_name}")["longest"]["unicode"] is True


def test_the_counter_is_one_query_not_a_render_per_contact(logged_in, shop, app):
    from sqlalchemy import event

    statements = []

    def count(*args):
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        from app.messaging.rendering import longest_variant

        longest_variant(
            "{نام} {شهر} {تاریخ تولد} {عنوان}",
            campaigns.audience_query(AudienceChoice(everyone=True)),
        )
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    # The shop's own fields and the business name, then the audience: one query over it.
    over_contacts = [s for s in statements if "max(" in s.lower()]
    assert len(over_contacts) == 1


def test_the_editor_names_an_unknown_or_malformed_placeholder(logged_in, shop):
    data = preview(logged_in, "سلام {نام")
    assert data["problems"] == ["آکولاد «{نام» بسته نشده است: هر متغیر با } تمام می‌شود."]
    assert data["longest"] is None


def test_the_text_survives_a_failed_submit(logged_in, shop):
    body = "سلام {نام}، کد شما {کد} است"
    response = logged_in.post(
        "/campaigns/new",
        data={"name": "x", "body": body, "list_id": 0, "when": "now", "route": "1:1"},
    )
    assert response.status_code == 200
    textarea = re.search(r"<textarea[^>]*>(.*?)</textarea>", response.text, re.S).group(1)
    assert unescape(textarea).strip() == body
    assert "متغیر ناشناخته: {کد}" in page_text(response)


# The template library ------------------------------------------------------------------


def test_a_fresh_install_has_the_built_in_templates_in_persian(logged_in):
    page = logged_in.get("/campaigns/templates")
    assert page.status_code == 200
    keys = re.findall(r'data-key="(\w+)"', page.text)
    assert keys == list(BUILTIN_TEMPLATES)
    text = page_text(page)
    for name, _body in BUILTIN_TEMPLATES.values():
        assert name in text
    assert "دلمون برات تنگ شده" in text
    assert "استفاده از این قالب" in text
    # Every built-in is a text a campaign may send: its placeholders are all known.
    for _name, body in BUILTIN_TEMPLATES.values():
        assert logged_in.post("/campaigns/preview", data={"body": body}).json["problems"] == []
    # Seen twice, written once.
    logged_in.get("/campaigns/templates")
    assert db.session.scalar(select(db.func.count(MessageTemplate.id))) == len(BUILTIN_TEMPLATES)


def test_use_this_template_fills_the_compose_form(logged_in):
    logged_in.get("/campaigns/templates")
    winback = db.session.scalar(select(MessageTemplate).where(MessageTemplate.key == "winback"))
    page = logged_in.get(f"/campaigns/new?template={winback.id}")
    textarea = re.search(r"<textarea[^>]*>(.*?)</textarea>", page.text, re.S).group(1)
    assert unescape(textarea).strip() == winback.body
    assert f'value="{winback.name}"' in page.text


def test_templates_are_created_edited_and_deleted_in_the_panel(logged_in):
    response = logged_in.post(
        "/campaigns/templates/new", data={"name": "حراج", "body": "{نام|دوست} عزیز، حراج!"}
    )
    assert response.status_code == 302
    own = db.session.scalar(select(MessageTemplate).where(MessageTemplate.name == "حراج"))
    assert (own.builtin, own.key) == (False, None)

    refused = logged_in.post("/campaigns/templates/new", data={"name": "حراج", "body": "سلام {کد}"})
    assert refused.status_code == 200
    assert "متغیر ناشناخته: {کد}" in page_text(refused)
    taken = logged_in.post("/campaigns/templates/new", data={"name": "حراج", "body": "سلام"})
    assert "قالب دیگری با نام «حراج» وجود دارد." in page_text(taken)

    edited = logged_in.post(
        f"/campaigns/templates/{own.id}", data={"name": "حراج بهاره", "body": "حراج بهاره!"}
    )
    assert edited.status_code == 302
    db.session.refresh(own)
    assert (own.name, own.body) == ("حراج بهاره", "حراج بهاره!")

    assert logged_in.post(f"/campaigns/templates/{own.id}/delete").status_code == 302
    assert (
        db.session.scalar(select(MessageTemplate.id).where(MessageTemplate.name == "حراج بهاره"))
        is None
    )


def test_a_built_in_can_be_edited_but_not_deleted(logged_in):
    logged_in.get("/campaigns/templates")
    yalda = db.session.scalar(select(MessageTemplate).where(MessageTemplate.key == "yalda"))
    page = logged_in.get(f"/campaigns/templates/{yalda.id}")
    assert 'id="delete-template"' not in page.text
    edited = logged_in.post(
        f"/campaigns/templates/{yalda.id}", data={"name": "یلدا", "body": "یلدا مبارک {نام}"}
    )
    assert edited.status_code == 302
    refused = logged_in.post(f"/campaigns/templates/{yalda.id}/delete", follow_redirects=True)
    assert "ویرایش کرد، ولی نمی‌شود حذف کرد" in page_text(refused)
    db.session.expire_all()
    assert db.session.get(MessageTemplate, yalda.id).body == "یلدا مبارک {نام}"


def test_staff_use_templates_too(staff_client):
    assert staff_client.get("/campaigns/templates").status_code == 200


def test_the_templates_api(api_client):
    listed = api_client("GET", "/templates")
    assert listed.status_code == 200
    items = listed.json["items"]
    assert [item["key"] for item in items] == list(BUILTIN_TEMPLATES)
    assert all(item["builtin"] for item in items)
    assert set(items[0]) == {
        "id",
        "name",
        "body",
        "key",
        "builtin",
        "created_at",
        "created_at_jalali",
    }

    created = api_client("POST", "/templates", {"name": "حراج", "body": "حراج {نام|دوست}!"})
    assert created.status_code == 201, created.text
    own = created.json
    assert (own["key"], own["builtin"]) == (None, False)
    assert created.headers["Location"].endswith(f"/api/v1/templates/{own['id']}")

    taken = api_client("POST", "/templates", {"name": "حراج", "body": "x"})
    assert taken.status_code == 422
    assert [d["field"] for d in taken.json["error"]["details"]] == ["name"]
    bad = api_client("POST", "/templates", {"name": "y", "body": "سلام {نام"})
    assert bad.status_code == 422
    assert [d["field"] for d in bad.json["error"]["details"]] == ["body"]

    updated = api_client("PUT", f"/templates/{own['id']}", {"name": "حراج ۲", "body": "حراج!"})
    assert (updated.status_code, updated.json["name"]) == (200, "حراج ۲")
    builtin = items[0]["id"]
    edited = api_client("PUT", f"/templates/{builtin}", {"name": "خوش آمدی", "body": "سلام!"})
    assert (edited.status_code, edited.json["key"]) == (200, "welcome")

    refused = api_client("DELETE", f"/templates/{builtin}")
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "invalid_state"
    deleted = api_client("DELETE", f"/templates/{own['id']}")
    assert (deleted.status_code, deleted.json) == (200, {"deleted": True})
    assert api_client("DELETE", f"/templates/{own['id']}").status_code == 404
    assert api_client("PUT", "/templates/999", {"name": "a", "body": "b"}).status_code == 404


def test_the_business_name_is_set_on_the_settings_page(logged_in):
    set_business_name(logged_in, "نانوایی سنگک")
    page = logged_in.get("/contacts/settings")
    assert 'value="نانوایی سنگک"' in page.text
    assert "{نام کسب‌وکار}" in text_of(page.text)
