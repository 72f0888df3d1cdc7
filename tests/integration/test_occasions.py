"""The occasion calendar page: the coming twelve Jalali months with their occasions
(estimates and mourning marked), a lunar day moved by a day, the shop's own occasions
and the mourning list, who may change what; and the compose preview's {مناسبت}."""

import re
from datetime import UTC, datetime

import pytest
from integration_support import text_of
from sqlalchemy import select

from app.extensions import db
from app.occasions import service as occasions
from app.occasions.models import CustomOccasion, OccasionShift

# Monday 1405/09/10 (1 December 2026), 10:00 in Tehran.
NOW = datetime(2026, 12, 1, 6, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def day_text(page, iso: str) -> str:
    found = re.search(rf'<li[^>]*id="day-{iso}"[^>]*>(.*?)</ul>', page.text, re.S)
    assert found, iso
    return text_of(found.group(1))


def test_the_page_shows_twelve_months_with_occasions_marked(logged_in):
    page = logged_in.get("/occasions/")
    assert page.status_code == 200
    assert "تقویم مناسبت‌ها" in page.text
    months = re.findall(r'class="card occasion-month" id="month-(\d+)-(\d+)"', page.text)
    assert months[0] == ("1405", "9") and months[-1] == ("1406", "8") and len(months) == 12
    assert "شب یلدا" in day_text(page, "2026-12-21")
    assert "۱۴۰۵/۰۹/۳۰" in day_text(page, "2026-12-21")
    # 1448's second half is published; Eid al-Adha of 1448 is not yet: an estimate.
    assert "تخمینی" not in day_text(page, "2027-03-10")
    assert "عید فطر" in day_text(page, "2027-03-10")
    adha = next(
        o
        for o in occasions.occurrences(NOW.date(), NOW.date().replace(year=2027, month=6))
        if o.key == "eid_adha"
    )
    assert "تخمینی" in day_text(page, adha.day.isoformat())
    assert "عزاداری" in day_text(page, "2027-02-28")  # 21 Ramadan 1448
    assert 'data-menu="occasions"' in page.text


def test_moving_a_lunar_day(logged_in):
    page = logged_in.post(
        "/occasions/shift",
        data={"occurrence": "eid_fitr:1448", "days": "1"},
        follow_redirects=True,
    )
    assert "جابه‌جا شد" in page.text
    assert db.session.get(OccasionShift, "eid_fitr:1448").days == 1
    assert "عید فطر" in day_text(page, "2027-03-11")
    assert "یک روز دیرتر" in day_text(page, "2027-03-11")
    back = logged_in.post(
        "/occasions/shift",
        data={"occurrence": "eid_fitr:1448", "days": "0"},
        follow_redirects=True,
    )
    assert "عید فطر" in day_text(back, "2027-03-10")
    db.session.expire_all()
    assert db.session.get(OccasionShift, "eid_fitr:1448") is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"occurrence": "yalda:1405", "days": "1"}, "فقط مناسبت‌های قمری"),
        ({"occurrence": "nothing:1", "days": "1"}, "فقط مناسبت‌های قمری"),
        ({"occurrence": "eid_fitr:1448", "days": "2"}, "فرم خوانده نشد"),
    ],
)
def test_only_a_lunar_day_moves_and_by_one_day(logged_in, data, message):
    page = logged_in.post("/occasions/shift", data=data, follow_redirects=True)
    assert message in page.text
    assert db.session.scalars(select(OccasionShift)).all() == []


def new(client, name="سالگرد فروشگاه", calendar="jalali", month="۹", day="۱۵"):
    data = {"new-name": name, "new-calendar": calendar, "new-month": month, "new-day": day}
    return client.post("/occasions/custom", data=data, follow_redirects=True)


def test_the_shops_own_occasions_added_edited_and_deleted(logged_in):
    page = new(logged_in)
    assert "مناسبت «سالگرد فروشگاه» ذخیره شد" in page.text
    assert "سالگرد فروشگاه" in day_text(page, "2026-12-06")  # 1405/09/15
    own = db.session.scalars(select(CustomOccasion)).one()
    prefix = f"c{own.id}"
    page = logged_in.post(
        f"/occasions/custom/{own.id}",
        data={
            f"{prefix}-name": "حراج شب عید",
            f"{prefix}-calendar": "hijri",
            f"{prefix}-month": "10",
            f"{prefix}-day": "1",
        },
        follow_redirects=True,
    )
    assert "حراج شب عید" in day_text(page, "2027-03-10")  # 1 Shawwal 1448
    page = logged_in.post(f"/occasions/custom/{own.id}/delete", follow_redirects=True)
    assert "حذف شد" in page.text
    assert db.session.scalars(select(CustomOccasion)).all() == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "نامی برای مناسبت بنویسید"),
        ({"month": "13"}, "ماه عددی از ۱ تا ۱۲ است"),
        ({"month": "دو"}, "ماه عددی از ۱ تا ۱۲ است"),
        ({"month": "7", "day": "31"}, "این ماه روزهای ۱ تا ۳۰ را دارد"),
        ({"calendar": "julian"}, "فرم خوانده نشد"),
        ({"name": "<b>x</b>" * 30}, "نام بلند است"),
    ],
)
def test_a_wrong_occasion_is_refused_saying_what_is_wrong(logged_in, fields, message):
    page = new(logged_in, **fields)
    assert message in page.text
    assert "<b>x</b>" not in page.text
    assert db.session.scalars(select(CustomOccasion)).all() == []


def test_a_name_is_escaped_and_taken_once(logged_in):
    new(logged_in, name="<script>x</script>")
    page = new(logged_in, name="<script>x</script>", month="1", day="1")
    assert "<script>x</script>" not in page.text
    assert "مناسبت دیگری از فروشگاه همین نام را دارد" in page.text


def test_the_mourning_list_is_the_owners(logged_in):
    page = logged_in.get("/occasions/")
    assert re.search(r'value="tasua" checked', page.text)
    assert not re.search(r'value="yalda" checked', page.text)
    keep = [c.key for c in occasions.mourning_choices() if c.mourning and c.key != "tasua"]
    page = logged_in.post(
        "/occasions/mourning", data={"mourning": [*keep, "yalda"]}, follow_redirects=True
    )
    assert "فهرست روزهای عزاداری ذخیره شد" in page.text
    assert re.search(r'value="yalda" checked', page.text)
    assert not re.search(r'value="tasua" checked', page.text)
    assert "عزاداری" in day_text(page, "2026-12-21")
    audit = text_of(logged_in.get("/audit").text)
    assert "روزهای عزاداری تغییر کرد" in audit and "شب یلدا" in audit


def test_staff_see_the_calendar_and_add_occasions_but_not_the_rules(staff_client):
    page = staff_client.get("/occasions/")
    assert page.status_code == 200
    assert 'action="/occasions/shift"' not in page.text
    assert "ذخیرهٔ فهرست عزاداری" not in page.text
    assert staff_client.post("/occasions/mourning", data={}).status_code == 403
    assert (
        staff_client.post(
            "/occasions/shift", data={"occurrence": "eid_fitr:1448", "days": "1"}
        ).status_code
        == 403
    )
    assert "ذخیره شد" in new(staff_client).text


def test_the_compose_preview_counts_the_occasion_of_the_day_it_is_sent(logged_in, make_contact):
    make_contact("09121234567", first_name="علی")
    data = {"body": "{مناسبت|جشن} مبارک", "audience": "all", "offset": 0}
    later = {**data, "when": "later", "send_date": "1405/09/30"}
    found = logged_in.post("/campaigns/preview", data=later).get_json()
    assert found["text"].startswith("شب یلدا مبارک")
    assert found["longest"]["characters"] == len("شب یلدا مبارک\nلغو۱۱")
    today = logged_in.post("/campaigns/preview", data=data).get_json()
    assert today["text"].startswith("جشن مبارک")  # 1405/09/10 has no occasion


def planned_on(page, iso: str) -> str:
    found = re.search(
        rf'<li[^>]*id="day-{iso}"[^>]*>.*?<ul class="planned-sends"[^>]*>(.*?)</ul>',
        page.text,
        re.S,
    )
    return text_of(found.group(1)) if found else ""


def test_the_calendar_shows_the_automatic_messages_planned_on_each_day(logged_in, make_contact):
    from datetime import date

    from app.occasions.automations import AutomationFields, save_automation
    from app.persian import gregorian_date

    # Two birthdays on 1405/09/20 (11 December 2026), one on Yalda (1405/09/30).
    for mobile in ("09120000001", "09120000002"):
        make_contact(mobile, birth_date=date(1990, 12, 11), birth_jmonth=9, birth_jday=20)
    make_contact("09120000003", birth_date=date(1990, 12, 21), birth_jmonth=9, birth_jday=30)
    greeting = save_automation(
        AutomationFields(name="تبریک تولد", kind="birthday", body="تولدت مبارک", active=True)
    )
    save_automation(AutomationFields(name="خاموش", kind="birthday", body="سلام", active=False))
    db.session.commit()

    page = logged_in.get("/occasions/")
    birthday_day = gregorian_date(1405, 9, 20).isoformat()
    # A day with no occasion is listed for its automatic messages, with their count.
    assert planned_on(page, birthday_day).replace(" :", ":") == "تبریک تولد: ۲ گیرنده"
    assert "تبریک تولد: ۱ گیرنده" in planned_on(page, "2026-12-21").replace(" :", ":")
    assert "شب یلدا" in day_text(page, "2026-12-21")
    # Only active automations plan sends; each count links to the day's plan.
    assert "خاموش" not in page.text
    assert f"/occasions/automations/{greeting.id}/plan?from=" in page.text


def test_a_refused_occasion_keeps_what_was_typed_with_the_problem_at_its_field(logged_in):
    response = logged_in.post(
        "/occasions/custom",
        data={
            "new-name": "حراج پاییز",
            "new-calendar": "jalali",
            "new-month": "۱۳",
            "new-day": "۵",
        },
    )
    assert response.status_code == 422
    form = re.search(r'<form[^>]*id="new-occasion".*?</form>', response.text, re.S).group(0)
    assert 'value="حراج پاییز"' in form and 'value="۱۳"' in form and 'value="۵"' in form
    # The month's box holds the problem and the focus (the browser scrolls to it).
    month = re.search(r'<div class="field has-error">(.*?)</div>', form, re.S).group(1)
    assert "ماه عددی از ۱ تا ۱۲ است" in month and "autofocus" in month
    assert db.session.scalars(select(CustomOccasion)).all() == []
