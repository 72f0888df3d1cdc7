"""Automations: saving and checking them, and their plan."""

from datetime import UTC, date, datetime, time

import pytest

from app.contacts.models import ContactList
from app.extensions import db
from app.messaging.audience import AudienceChoice
from app.occasions.automations import (
    AutomationError,
    AutomationFields,
    fields_of,
    plan,
    save_automation,
    set_active,
)
from app.persian import TEHRAN, gregorian_date


def birthday(**changes) -> AutomationFields:
    fields = AutomationFields(
        name="تبریک تولد", kind="birthday", body="{نام} عزیز، تولدت مبارک!", send_time=time(10)
    )
    for name, value in changes.items():
        setattr(fields, name, value)
    return fields


def test_an_automation_is_saved_and_read_back(app):
    automation = save_automation(birthday(days_before=2, active=True))
    db.session.commit()
    fields = fields_of(automation)
    assert (fields.kind, fields.days_before, fields.active) == ("birthday", 2, True)
    assert fields.audience == AudienceChoice(everyone=True)
    assert automation.audience == {}


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"name": "  "}, "name", "نام"),
        ({"kind": "weekly"}, "kind", "نوع ارسال خودکار"),
        ({"body": "سلام {نام"}, "body", "{"),
        ({"days_before": 61}, "days_before", "۶۰"),
        ({"kind": "winback", "days_after": 0}, "days_after", "یک روز"),
        ({"kind": "occasion", "occasion_key": "nope"}, "occasion_key", "مناسبت"),
        ({"kind": "welcome", "counts_from": "birth"}, "counts_from", "خرید"),
        ({"audience": AudienceChoice(lists=(99,))}, "audience", "گروه"),
        ({"provider_id": 77}, "provider_id", "حساب"),
        ({"body": "کد شما {کد تخفیف}", "coupon_prefix": "ت"}, "coupon_prefix", "A"),
        ({"body": "کد شما {کد تخفیف}", "coupon_length": 3}, "coupon_length", "۶"),
    ],
)
def test_bad_settings_are_refused_with_the_field_named(app, changes, field, words):
    with pytest.raises(AutomationError) as refused:
        save_automation(birthday(**changes))
    assert refused.value.field == field
    assert words in str(refused.value)


def test_a_name_is_taken_once(app):
    first = save_automation(birthday())
    db.session.commit()
    save_automation(birthday(days_before=1), first)  # its own name is not taken
    with pytest.raises(AutomationError) as refused:
        save_automation(birthday())
    assert refused.value.field == "name"


def test_the_plan_lists_whose_birthday_comes_with_their_text(app, make_contact, time_machine):
    time_machine.move_to(datetime(2026, 12, 1, 8, 0, tzinfo=UTC), tick=False)
    group = ContactList(name="مشتریان")
    db.session.add(group)
    sara = make_contact("09120000001", first_name="سارا", birth_jmonth=9, birth_jday=30)
    make_contact("09120000002", first_name="علی", birth_jmonth=9, birth_jday=29)
    group.contacts.append(sara)
    db.session.commit()
    automation = save_automation(birthday(audience=AudienceChoice(lists=(group.id,))))
    db.session.commit()
    yalda = gregorian_date(1405, 9, 30)
    planned = plan(automation, date(2026, 12, 1), date(2026, 12, 31))
    assert [(p.contact_id, p.occurrence) for p in planned] == [(sara.id, yalda.isoformat())]
    assert planned[0].send_at == datetime(2026, 12, 21, 6, 30, tzinfo=UTC)
    assert planned[0].body.startswith("سارا عزیز، تولدت مبارک!")
    set_active(automation, False)


def test_the_calendar_counts_are_the_plan_counted(app, make_contact, time_machine):
    """planned_counts (by SQL, for the calendar page) agrees with plan (each contact),
    day by day, opted-out contacts and a summer-time purchase of 1400 included."""
    from collections import Counter

    from app.contacts.record import add_purchase
    from app.occasions.automations import planned_counts

    time_machine.move_to(datetime(2026, 3, 1, 8, 0, tzinfo=UTC), tick=False)
    group = ContactList(name="گروه")
    db.session.add(group)
    people = [
        make_contact(
            f"0912000{i:04d}", first_name=f"ن{i}", birth_jmonth=1 + i % 12, birth_jday=1 + i % 30
        )
        for i in range(40)
    ]
    people[3].opted_out_at = datetime(2025, 1, 1, tzinfo=UTC)
    group.contacts.extend(people[::2])
    db.session.commit()
    # 00:15 in Tehran on 1400/04/11 under summer time (+04:30), 19:45 UTC the day before.
    add_purchase(people[5], datetime(2021, 7, 1, 19, 45, tzinfo=UTC), 1000, "summer")
    add_purchase(people[6], datetime(2025, 8, 1, 10, 0, tzinfo=UTC), 1000, "later")
    add_purchase(people[7], datetime(2026, 1, 20, 10, 0, tzinfo=UTC), 1000, "quiet")
    db.session.commit()
    made = [
        save_automation(birthday(active=True, audience=AudienceChoice(lists=(group.id,)))),
        save_automation(birthday(name="پیش از تولد", active=True, days_before=2)),
        save_automation(
            AutomationFields(name="سالگرد", kind="anniversary", body="سلام", active=True)
        ),
        save_automation(
            AutomationFields(name="دلتنگی", kind="winback", body="سلام", days_after=45, active=True)
        ),
        save_automation(
            AutomationFields(
                name="یلدا", kind="occasion", body="سلام", occasion_key="yalda", active=True
            )
        ),
    ]
    db.session.commit()
    start, end = date(2026, 3, 1), date(2027, 2, 28)
    counted = {
        (automation.id, day): count
        for day, items in planned_counts(start, end).items()
        for automation, count in items
    }
    planned = Counter(
        (automation.id, p.send_at.astimezone(TEHRAN).date())
        for automation in made
        for p in plan(automation, start, end)
    )
    assert counted == dict(planned)
    assert (made[2].id, gregorian_date(1405, 4, 11)) in counted  # the summer-time purchase
