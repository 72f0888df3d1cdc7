"""The segment pages: the list with live counts, a segment's page, the rules editor."""

import re
from datetime import UTC, datetime, time

import pytest
import time_machine
from integration_support import page_text, row_text
from sqlalchemy import func, select

from app.audience import service as segments
from app.audience.models import Segment, SegmentCount
from app.contacts.models import Contact, ContactList
from app.extensions import db
from app.jobs import SCHEDULER_JOBS, run_job
from app.persian import TEHRAN, gregorian_date

KEYS = ["new", "active", "at_risk", "lost", "never_bought", "birthday_week", "champions"]


def tehran(year, month, day, hour=12) -> datetime:
    local = datetime.combine(gregorian_date(year, month, day), time(hour), tzinfo=TEHRAN)
    return local.astimezone(UTC)


@pytest.fixture
def shop(app):
    """The built-in segments and a few contacts, on 10 Azar 1405."""
    with time_machine.travel(tehran(1405, 9, 10), tick=False):
        segments.ensure_builtin_segments()
        db.session.add_all(
            [
                Contact(
                    mobile="+989120000001",
                    first_name="علی",
                    last_name="رضایی",
                    city="تهران",
                    birth_jmonth=9,
                    birth_jday=12,
                    first_purchase_at=tehran(1405, 9, 1),
                    last_purchase_at=tehran(1405, 9, 1),
                    purchase_count=1,
                    total_spent=100_000,
                ),
                Contact(
                    mobile="+989120000002",
                    first_name="مریم",
                    city="شیراز",
                    first_purchase_at=tehran(1404, 1, 1),
                    last_purchase_at=tehran(1405, 5, 1),
                    purchase_count=4,
                    total_spent=900_000,
                ),
                Contact(mobile="+989120000003", first_name="رضا", city="تهران"),
            ]
        )
        db.session.commit()
        yield


def by_key(key: str) -> Segment:
    return db.session.scalar(select(Segment).where(Segment.key == key))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def rows(*rules, **fields) -> dict:
    """The editor's form: rules as (condition, value) rows."""
    data = {"name": "تهرانی‌ها", "description": "", "match": "all", "group_match": "any"}
    for number, (condition, value) in enumerate(rules):
        data[f"rule-{number}-condition"] = condition
        data[f"rule-{number}-value"] = value
    data.update(fields)
    return data


def test_the_builtin_segments_are_listed_with_live_counts(logged_in, shop):
    with time_machine.travel(tehran(1405, 9, 10), tick=False):
        page = logged_in.get("/audience/")
    assert page.status_code == 200
    text = page_text(page)
    for key in KEYS:
        assert by_key(key).name in text
    assert "شش ماه است خرید نکرده" in by_key("lost").description
    # علی bought 9 days ago for the first time; مریم 131 days ago; رضا never.
    shown = dict(re.findall(r'data-segment="(\d+)">.*?data-count="(\d+)"', page.text, re.S))
    counts = {key: int(shown[str(by_key(key).id)]) for key in KEYS}
    assert counts == {
        "new": 1,
        "active": 1,
        "at_risk": 1,
        "lost": 0,
        "never_bought": 1,
        "birthday_week": 1,
        "champions": 0,  # nobody scored yet
    }
    assert "مشتریان تازه پیش‌ساخته ۱" in row_text(page, "مشتریان تازه")
    assert 'data-menu="segments"' in page.text


def test_a_segment_page_shows_its_count_a_linked_sample_and_history(logged_in, shop):
    tehranis = segments.create_segment(
        "تهرانی‌ها", "", {"match": "all", "rules": [{"field": "city", "op": "eq", "value": "تهران"}]}
    )
    db.session.add(
        SegmentCount(segment_id=tehranis.id, counted_on=gregorian_date(1405, 9, 9), count=7)
    )
    db.session.commit()
    page = logged_in.get(f"/audience/{tehranis.id}")
    assert "۲ مخاطب" in page_text(page)
    ali, reza = (
        db.session.scalar(select(Contact.id).where(Contact.first_name == name))
        for name in ("علی", "رضا")
    )
    assert f'href="/contacts/{ali}"' in page.text and f'href="/contacts/{reza}"' in page.text
    assert "مریم" not in page_text(page)
    assert "۱۴۰۵/۰۹/۰۹" in page_text(page) and "<rect" in page.text


def test_the_editor_saves_rules_typed_in_rows(logged_in, shop):
    form = rows(
        ("city|in", "تهران، شیراز"),
        ("purchase_count|gte", "۱"),
        ("gender|eq|unknown", ""),
    )
    form.update({"group-0-condition": "first_name|eq", "group-0-value": "مریم"})
    form.update({"group-1-condition": "birthday|in_month", "group-1-value": "۹"})
    response = logged_in.post("/audience/new", data=form)
    assert response.status_code == 302
    saved = db.session.scalar(select(Segment).where(Segment.name == "تهرانی‌ها"))
    assert saved.rules == {
        "match": "all",
        "rules": [
            {"field": "city", "op": "in", "value": ["تهران", "شیراز"]},
            {"field": "purchase_count", "op": "gte", "value": 1},
            {"field": "gender", "op": "eq", "value": "unknown"},
            {
                "match": "any",
                "rules": [
                    {"field": "first_name", "op": "eq", "value": "مریم"},
                    {"field": "birthday", "op": "in_month", "value": 9},
                ],
            },
        ],
    }
    assert segments.segment_count(saved) == 2  # علی (born in Azar) and مریم
    # The editor shows the stored rules back in its rows.
    page = logged_in.get(f"/audience/{saved.id}/edit")
    assert '<option value="gender|eq|unknown" selected>' in page.text
    assert 'value="تهران، شیراز"' in page.text and 'value="مریم"' in page.text


def test_lists_are_typed_by_name(logged_in, shop):
    vip = ContactList(name="VIP")
    vip.contacts.append(db.session.scalar(select(Contact).where(Contact.first_name == "رضا")))
    db.session.add(vip)
    db.session.commit()
    response = logged_in.post("/audience/new", data=rows(("list|member", "VIP")))
    assert response.status_code == 302
    saved = db.session.scalar(select(Segment).where(Segment.name == "تهرانی‌ها"))
    assert saved.rules["rules"] == [{"field": "list", "op": "member", "value": vip.id}]
    assert 'value="VIP"' in logged_in.get(f"/audience/{saved.id}/edit").text


def test_bad_rules_keep_the_form_and_save_nothing(logged_in, shop):
    before = count(Segment)
    form = rows(
        ("city|eq", "تهران"),
        ("last_purchase|more_than", "۵۰۰۰"),
        ("list|member", "گروهی که نیست"),
        description="مشتریان <b>قدیمی</b>",
    )
    response = logged_in.post("/audience/new", data=form)
    assert response.status_code == 422
    text = page_text(response)
    assert "قانون ۲: تعداد روز باید عددی از ۰ تا ۳۶۵۰ باشد." in text
    assert "قانون ۳: چنین گروه مخاطبانی وجود ندارد." in text
    assert 'value="۵۰۰۰"' in response.text and 'value="گروهی که نیست"' in response.text
    assert '<option value="last_purchase|more_than" selected>' in response.text
    assert "مشتریان &lt;b&gt;قدیمی&lt;/b&gt;" in response.text
    assert count(Segment) == before
    # The rows keep the numbers the problems name; empty rows and the empty group carry
    # none, so no two parts of the form share a number.
    labels = re.findall(r'<label for="(?:rule|group)-\d+-condition">([^<]*)</label>', response.text)
    numbered = [label for label in labels if label.startswith("قانون ") and label[6:].isdigit()]
    assert numbered == ["قانون ۱", "قانون ۲", "قانون ۳"]
    assert "قانون تازه" in labels and "دسته‌ای از قانون‌ها (اختیاری)" in text


def test_a_name_is_needed_and_unique(logged_in, shop):
    response = logged_in.post("/audience/new", data=rows(("purchases|never", ""), name=""))
    assert response.status_code == 422 and "برای بخش نامی بنویسید." in page_text(response)
    taken = rows(("purchases|never", ""), name=by_key("lost").name)
    response = logged_in.post("/audience/new", data=taken)
    assert response.status_code == 422 and "نام دیگری" not in page_text(response)
    assert f"بخش دیگری با نام «{by_key('lost').name}» هست." in page_text(response)


def test_a_forged_row_count_makes_no_more_than_the_editor_holds(logged_in, shop):
    form = rows(("city|eq", "تهران"), more="rules", **{"rule-shown": "1000000000"})
    response = logged_in.post("/audience/new", data=form)
    assert response.status_code == 200
    assert 'value="تهران"' in response.text


def test_more_rows_keeps_what_was_typed(logged_in, shop):
    form = rows(("city|eq", "تهران"), more="rules", **{"rule-shown": "4"})
    response = logged_in.post("/audience/new", data=form)
    assert response.status_code == 200
    # Four rows at first (one filled), three more: seven.
    assert 'name="rule-6-condition"' in response.text
    assert 'name="rule-7-condition"' not in response.text
    assert 'value="تهران"' in response.text
    assert count(Segment) == len(KEYS)


def test_a_builtin_threshold_is_edited_but_the_segment_is_never_deleted(logged_in, shop):
    lost = by_key("lost")
    form = rows(("last_purchase|at_least", "۱۲۰"), name=lost.name, description=lost.description)
    assert logged_in.post(f"/audience/{lost.id}/edit", data=form).status_code == 302
    db.session.refresh(lost)
    assert lost.rules["rules"] == [{"field": "last_purchase", "op": "at_least", "value": 120}]
    assert lost.key == "lost" and lost.builtin
    # The threshold shows in Persian digits, as every number in a Persian form.
    assert 'value="۱۲۰"' in logged_in.get(f"/audience/{lost.id}/edit").text
    assert 'id="delete-segment"' not in logged_in.get(f"/audience/{lost.id}").text
    response = logged_in.post(f"/audience/{lost.id}/delete", follow_redirects=True)
    assert "بخش‌های پیش‌ساخته پاک نمی‌شوند" in page_text(response)
    assert by_key("lost") is not None


def test_an_own_segment_is_deleted(logged_in, shop):
    mine = segments.create_segment(
        "بی‌خرید", "", {"match": "all", "rules": [{"field": "purchases", "op": "never"}]}
    )
    db.session.commit()
    response = logged_in.post(f"/audience/{mine.id}/delete")
    assert response.status_code == 302
    assert db.session.scalar(select(Segment.id).where(Segment.id == mine.id)) is None


def test_staff_may_use_segments(staff_client, shop):
    assert staff_client.get("/audience/").status_code == 200
    assert staff_client.get(f"/audience/{by_key('new').id}").status_code == 200
    response = staff_client.post("/audience/new", data=rows(("city|eq", "تهران")))
    assert response.status_code == 302


def test_each_segment_is_counted_once_a_day(app, shop):
    job = next(job for job in SCHEDULER_JOBS if job.id == "record_segment_counts")
    with time_machine.travel(tehran(1405, 9, 10), tick=False):
        run_job(app, job)
        run_job(app, job)
    assert count(SegmentCount) == len(KEYS)
    never = by_key("never_bought")
    assert (
        db.session.scalar(select(SegmentCount.count).where(SegmentCount.segment_id == never.id))
        == 1
    )
    with time_machine.travel(tehran(1405, 9, 11, 1), tick=False):
        run_job(app, job)
    days = db.session.scalars(
        select(SegmentCount.counted_on).where(SegmentCount.segment_id == never.id)
    ).all()
    assert sorted(days) == [gregorian_date(1405, 9, 10), gregorian_date(1405, 9, 11)]
