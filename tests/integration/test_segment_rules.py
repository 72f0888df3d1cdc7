"""Segment rules: each kind of rule on contacts whose right answer is known, in Tehran days."""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from sqlalchemy import select

from app.audience.rules import RulesInvalid, check_rules, rules_condition
from app.contacts.models import Contact, ContactList, Purchase, Tag
from app.contacts.record import add_purchase
from app.extensions import db
from app.messaging.models import Campaign
from app.persian import TEHRAN, gregorian_date, jalali_month_day
from app.sending.models import Message
from app.sending.service import default_account


def tehran(year, month, day, hour=12, minute=0) -> datetime:
    """A Jalali day and a Tehran clock time, as a UTC moment."""
    local = datetime.combine(gregorian_date(year, month, day), time(hour, minute), tzinfo=TEHRAN)
    return local.astimezone(UTC)


def on(year, month, day, hour=12):
    return time_machine.travel(tehran(year, month, day, hour), tick=False)


def person(name: str, mobile_tail: int, **fields) -> Contact:
    for prefix in ("birth", "anniversary"):
        jalali = fields.pop(f"{prefix}_j", None)
        if jalali:
            fields[f"{prefix}_jmonth"], fields[f"{prefix}_jday"] = jalali
    contact = Contact(mobile=f"+98912{mobile_tail:07d}", first_name=name, **fields)
    db.session.add(contact)
    db.session.commit()
    return contact


def matching(*rules, match="all") -> set[str]:
    condition = rules_condition({"match": match, "rules": list(rules)})
    return set(db.session.scalars(select(Contact.first_name).where(condition)))


def rule(field, op, value=None) -> dict:
    return {"field": field, "op": op, "value": value}


def test_contact_fields(app):
    person("علی", 1, last_name="رضایی", city="تهران", gender="male", fields={"شعبه": "ونک"})
    person("مریم", 2, last_name="احمدی", city="شیراز", gender="female", fields={"شعبه": "تجریش"})
    person("رضا", 3, last_name="", city="اصفهان", fields={"کد": "۱۲"})
    born = gregorian_date(1370, 5, 12)
    person("سارا", 4, last_name="رضا_زاده", birth_date=born, birth_j=(5, 12))

    assert matching(rule("first_name", "eq", "علي")) == {"علی"}  # Arabic ي normalised
    assert matching(rule("first_name", "contains", "ر")) == {"رضا", "سارا", "مریم"}
    assert matching(rule("first_name", "starts_with", "ر")) == {"رضا"}
    assert matching(rule("last_name", "empty")) == {"رضا"}
    # LIKE's wildcards in the owner's text are plain characters.
    assert matching(rule("last_name", "contains", "_")) == {"سارا"}
    assert matching(rule("last_name", "starts_with", "رضا")) == {"علی", "سارا"}
    assert matching(rule("city", "eq", "تهران")) == {"علی"}
    assert matching(rule("city", "in", "تهران، شیراز")) == {"علی", "مریم"}
    assert matching(rule("gender", "eq", "female")) == {"مریم"}
    assert matching(rule("gender", "eq", "unknown")) == {"رضا", "سارا"}
    assert matching(rule("birth_date", "known")) == {"سارا"}
    assert matching(rule("birth_date", "unknown")) == {"علی", "مریم", "رضا"}
    assert matching(rule("own:شعبه", "eq", "ونک")) == {"علی"}
    assert matching(rule("own:شعبه", "contains", "جر")) == {"مریم"}
    assert matching(rule("own:شعبه", "empty")) == {"رضا", "سارا"}
    assert matching(rule("own:کد", "eq", "۱۲")) == {"رضا"}


def test_lists_and_tags(app):
    ali, maryam, reza = person("علی", 1), person("مریم", 2), person("رضا", 3)
    vip, wholesale = ContactList(name="VIP"), Tag(name="عمده")
    vip.contacts += [ali, maryam]
    wholesale.contacts += [reza, ali]
    db.session.add_all([vip, wholesale])
    db.session.commit()

    assert matching(rule("list", "member", vip.id)) == {"علی", "مریم"}
    assert matching(rule("list", "not_member", vip.id)) == {"رضا"}
    assert matching(rule("tag", "has", wholesale.id)) == {"رضا", "علی"}
    assert matching(rule("tag", "has_not", wholesale.id)) == {"مریم"}


def test_birthdays_anniversaries_and_months(app):
    person("امروز", 1, birth_j=(9, 10))
    person("شش_روز_دیگر", 2, birth_j=(9, 16))
    person("هفت_روز_دیگر", 3, birth_j=(9, 17))
    person("دیروز", 4, birth_j=(9, 9))
    person("سالگرد", 5, anniversary_j=(9, 12), birth_j=(1, 1))
    with on(1405, 9, 10):
        assert matching(rule("birthday", "today")) == {"امروز"}
        assert matching(rule("birthday", "within_next", 6)) == {"امروز", "شش_روز_دیگر"}
        assert matching(rule("birthday", "within_next", "۷")) == {
            "امروز",
            "شش_روز_دیگر",
            "هفت_روز_دیگر",
        }
        assert matching(rule("birthday", "in_month", 1)) == {"سالگرد"}
        assert matching(rule("anniversary", "within_next", 2)) == {"سالگرد"}
        assert matching(rule("anniversary", "today")) == set()
        assert matching(rule("anniversary", "in_month", 9)) == {"سالگرد"}
        # A whole year's window is everyone whose birthday is known.
        assert len(matching(rule("birthday", "within_next", 365))) == 5
    # Tehran's day, not UTC's: 23:30 UTC on 9 Azar is already 10 Azar in Tehran.
    with time_machine.travel(tehran(1405, 9, 10, 0, 30), tick=False):
        assert matching(rule("birthday", "today")) == {"امروز"}


def test_the_birthday_window_runs_across_the_year_end(app):
    """1404 is a common year: its Esfand has 29 days, and 30 Esfand is kept on the 29th."""
    for tail, (month, day) in enumerate(
        [(12, 26), (12, 27), (12, 29), (12, 30), (1, 1), (1, 3), (1, 4), (1, 5)], start=1
    ):
        person(f"{month}/{day}", tail, birth_j=(month, day))
    with on(1404, 12, 27):
        window = matching(rule("birthday", "within_next", 6))
    # 27, 28, 29 (and 30) Esfand, then 1 to 4 Farvardin: seven days, today included.
    assert window == {"12/27", "12/29", "12/30", "1/1", "1/3", "1/4"}
    with on(1404, 12, 29):
        assert matching(rule("birthday", "today")) == {"12/29", "12/30"}
    with on(1405, 1, 1):
        assert matching(rule("birthday", "today")) == {"1/1"}


def test_30_esfand_in_a_leap_year_is_its_own_day(app):
    person("۲۹", 1, birth_j=(12, 29))
    person("۳۰", 2, birth_j=(12, 30))
    with on(1403, 12, 29):  # 1403 is a leap year
        assert matching(rule("birthday", "today")) == {"۲۹"}
    with on(1403, 12, 30):
        assert matching(rule("birthday", "today")) == {"۳۰"}
        assert matching(rule("birthday", "within_next", 1)) == {"۳۰"}
    with on(1408, 12, 28):  # so is 1408; its window reaches 1409
        assert matching(rule("birthday", "within_next", 3)) == {"۲۹", "۳۰"}
    assert jalali_month_day(gregorian_date(1403, 12, 30)) == (12, 30)


def test_purchases_in_tehran_days(app):
    with on(1405, 9, 10):
        today = gregorian_date(1405, 9, 10)

        def at(days_ago, hour, minute=0):
            day = today - timedelta(days=days_ago)
            return datetime.combine(day, time(hour, minute), tzinfo=TEHRAN).astimezone(UTC)

        person(
            "امروز",
            1,
            last_purchase_at=at(0, 0, 10),
            first_purchase_at=at(29, 23),
            purchase_count=5,
            total_spent=5_000_000,
        )
        person(
            "دیروز",
            2,
            last_purchase_at=at(1, 23, 50),
            first_purchase_at=at(30, 1),
            purchase_count=2,
            total_spent=900_000,
        )
        person("۸۹", 3, last_purchase_at=at(89, 23, 59), first_purchase_at=at(200, 9))
        person("۹۰", 4, last_purchase_at=at(90, 0, 1), first_purchase_at=at(400, 9))
        person("۱۸۰", 5, last_purchase_at=at(180, 8), first_purchase_at=at(180, 8))
        person("هرگز", 6)
        for name in ("۸۹", "۹۰", "۱۸۰"):
            contact = db.session.scalar(select(Contact).where(Contact.first_name == name))
            contact.purchase_count, contact.total_spent = 1, 100_000
        db.session.commit()

        assert matching(rule("last_purchase", "within_last", 90)) == {"امروز", "دیروز", "۸۹"}
        assert matching(rule("last_purchase", "at_most", 89)) == {"امروز", "دیروز", "۸۹"}
        assert matching(rule("last_purchase", "at_most", 1)) == {"امروز", "دیروز"}
        assert matching(rule("last_purchase", "within_last", 1)) == {"امروز"}
        assert matching(rule("last_purchase", "more_than", 89)) == {"۹۰", "۱۸۰"}
        assert matching(rule("last_purchase", "at_least", 180)) == {"۱۸۰"}
        assert matching(
            rule("last_purchase", "at_least", 90), rule("last_purchase", "within_last", 180)
        ) == {"۹۰"}
        assert matching(rule("first_purchase", "within_last", 30)) == {"امروز"}
        assert matching(rule("first_purchase", "within_last", 31)) == {"امروز", "دیروز"}
        assert matching(rule("purchase_count", "gte", 2)) == {"امروز", "دیروز"}
        assert matching(rule("purchase_count", "lte", 1)) == {"۸۹", "۹۰", "۱۸۰", "هرگز"}
        assert matching(rule("purchase_count", "eq", 2)) == {"دیروز"}
        assert matching(rule("total_spent", "gte", "۱٬۰۰۰٬۰۰۰")) == {"امروز"}
        assert matching(rule("total_spent", "lte", 100_000)) == {"۸۹", "۹۰", "۱۸۰", "هرگز"}
        assert matching(rule("purchases", "never")) == {"هرگز"}
        assert matching(rule("purchases", "ever")) == {"امروز", "دیروز", "۸۹", "۹۰", "۱۸۰"}


def _message(contact, campaign, status, at):
    db.session.add(
        Message(
            contact_id=contact.id,
            campaign_id=campaign.id if campaign else None,
            provider_id=default_account().id,
            mobile=contact.mobile,
            body="سلام",
            parts=1,
            sender="10000000",
            status=status,
            idempotency_key=f"test:{contact.id}:{campaign.id if campaign else 0}:{status}",
            created_at=at,
        )
    )
    db.session.commit()


def test_messaging(app):
    with on(1405, 9, 10):
        today = tehran(1405, 9, 10)
        yalda = Campaign(
            name="یلدا", body="سلام", provider_id=default_account().id, sender="10000000"
        )
        other = Campaign(
            name="نوروز", body="سلام", provider_id=default_account().id, sender="10000000"
        )
        db.session.add_all([yalda, other])
        db.session.commit()
        delivered, failed, waiting = person("رسید", 1), person("نرسید", 2), person("در_صف", 3)
        recent, _never = person("تازه", 4), person("هرگز", 5)
        _message(delivered, yalda, "delivered", today - timedelta(days=40))
        _message(failed, yalda, "failed", today - timedelta(days=40))
        _message(waiting, yalda, "queued", today - timedelta(days=40))
        _message(recent, other, "sent", today - timedelta(days=2))
        _message(failed, None, "skipped", today)  # never left: does not count
        gone = person("پاک‌شده", 9)
        _message(gone, None, "delivered", today)
        db.session.delete(gone)  # its messages stay, without a contact
        db.session.commit()

        assert matching(rule("campaign", "received", yalda.id)) == {"رسید", "نرسید"}
        assert matching(rule("campaign", "delivered", yalda.id)) == {"رسید"}
        assert matching(rule("campaign", "not_delivered", yalda.id)) == {"نرسید"}
        assert matching(rule("last_messaged", "more_than", 30)) == {
            "رسید",
            "نرسید",
            "در_صف",
            "هرگز",
        }
        # Messaged two days ago: more than one day ago, not more than two.
        assert "تازه" in matching(rule("last_messaged", "more_than", 1))
        assert "تازه" not in matching(rule("last_messaged", "more_than", 2))
        assert matching(rule("last_messaged", "never")) == {"در_صف", "هرگز"}


def test_any_all_and_one_nested_group(app):
    person("علی", 1, city="تهران", gender="male", purchase_count=3)
    person("مریم", 2, city="تهران", gender="female", purchase_count=0)
    person("رضا", 3, city="شیراز", gender="male", purchase_count=1)
    person("سارا", 4, city="رشت", gender="female", purchase_count=7)
    group = {
        "match": "any",
        "rules": [rule("gender", "eq", "male"), rule("purchase_count", "gte", 5)],
    }
    assert matching(rule("city", "eq", "تهران"), group) == {"علی"}
    assert matching(rule("city", "eq", "تهران"), group, match="any") == {
        "علی",
        "مریم",
        "رضا",
        "سارا",
    }
    assert matching(rule("city", "eq", "رشت"), rule("gender", "eq", "male"), match="any") == {
        "علی",
        "رضا",
        "سارا",
    }


def test_bad_rules_are_named_in_persian(app):
    problems = check_rules(
        {
            "match": "all",
            "rules": [
                rule("city", "eq", "تهران"),
                rule("last_purchase", "more_than", 5000),
                rule("birthday", "in_month", 13),
                rule("list", "member", 999),
                rule("shoe_size", "eq", 42),
                {"match": "any", "rules": [rule("city", "eq", ""), {"match": "all"}]},
            ],
        }
    )
    assert problems == [
        "قانون ۲: تعداد روز باید عددی از ۰ تا ۳۶۵۰ باشد.",
        "قانون ۳: ماه باید عددی از ۱ تا ۱۲ باشد.",
        "قانون ۴: چنین گروه مخاطبانی وجود ندارد.",
        "قانون ۵: این شرط شناخته نیست.",
        "قانون ۶.۱: مقداری بنویسید.",
        "قانون ۶.۲: دسته‌ای درون دستهٔ دیگر مجاز نیست (فقط یک سطح).",
    ]
    assert (check_rules({"match": "all", "rules": []})) == ["بخش دست‌کم یک قانون لازم دارد."]
    assert (check_rules({"match": "some", "rules": [rule("purchases", "never")]})) == [
        "قانون‌ها با «همه» یا «هرکدام» جور درمی‌آیند."
    ]
    assert (check_rules(["not", "an", "object"]))[0].startswith("قانون‌ها")
    with pytest.raises(RulesInvalid):
        rules_condition({"match": "all", "rules": [rule("gender", "eq", "other")]})


def test_a_purchase_recorded_through_the_app_moves_a_contact_between_segments(app):
    with on(1405, 9, 10):
        contact = person("علی", 1)
        assert matching(rule("purchases", "never")) == {"علی"}
        add_purchase(contact, tehran(1405, 9, 9), 250_000, "INV-1")
        db.session.commit()
        assert matching(rule("purchases", "never")) == set()
        assert matching(rule("last_purchase", "at_most", 1)) == {"علی"}
        assert db.session.scalar(select(Purchase.amount)) == 250_000
