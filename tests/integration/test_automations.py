"""Automations: saving and checking them, and their plan."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from app.contacts.models import ContactList
from app.extensions import db
from app.messaging.audience import AudienceChoice
from app.messaging.models import Campaign
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


def welcome_after(minutes: int) -> AutomationFields:
    """An active welcome, ``minutes`` after each customer signs up."""
    return AutomationFields(
        name="خوش‌آمد",
        kind="welcome",
        body="خوش آمدید",
        delay_minutes=minutes,
        counts_from="signup",
        active=True,
    )


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
    db.session.commit()
    assert db.session.scalars(select(Campaign)).all() == []  # a plan stores nothing
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


def test_a_tag_or_segment_an_active_automation_sends_to_is_not_deleted(logged_in):
    from app.audience import service as segments
    from app.audience.models import Segment
    from app.contacts.models import Tag

    tag = Tag(name="ویژه")
    db.session.add(tag)
    segment = segments.create_segment(
        "تهرانی‌ها", "", {"match": "all", "rules": [{"field": "city", "op": "eq", "value": "تهران"}]}
    )
    db.session.commit()
    tag_id, segment_id = tag.id, segment.id
    automation = save_automation(
        birthday(active=True, audience=AudienceChoice(tags=(tag_id,), segments=(segment_id,)))
    )
    db.session.commit()
    page = logged_in.post(f"/contacts/tags/{tag_id}/delete", follow_redirects=True)
    assert "تبریک تولد" in page.get_data(as_text=True)
    with pytest.raises(segments.SegmentError) as refused:
        segments.delete_segment(segment)
    assert "تبریک تولد" in str(refused.value)
    set_active(automation, False)
    db.session.commit()
    segments.delete_segment(segment)
    db.session.commit()
    logged_in.post(f"/contacts/tags/{tag_id}/delete", data={"confirm": "y"})
    db.session.expire_all()
    assert db.session.get(Tag, tag_id) is None
    assert db.session.get(Segment, segment_id) is None


def test_the_plan_times_sends_as_the_sending_rules_would(app, make_contact, time_machine):
    """A run due outside the window, or on a quiet day, is planned for when it opens."""
    from app.sending.policy import SendingPolicy, save_policy

    time_machine.move_to(datetime(2026, 12, 1, 8, 0, tzinfo=UTC), tick=False)
    yalda = gregorian_date(1405, 9, 30)  # a Monday
    save_policy(
        SendingPolicy(
            window_start=time(8), window_end=time(22), quiet_dates=(yalda + timedelta(days=1),)
        )
    )
    make_contact("09120000001", first_name="سارا", birth_jmonth=9, birth_jday=30)
    db.session.commit()
    late = save_automation(birthday(send_time=time(23, 30)))
    db.session.commit()
    (planned,) = plan(late, yalda, yalda)
    # 23:30 is past the window; the next day is quiet: 08:00 the day after.
    assert planned.send_at == datetime.combine(
        yalda + timedelta(days=2), time(8), tzinfo=TEHRAN
    ).astimezone(UTC)
    assert planned.occurrence == yalda.isoformat()


def test_a_welcome_says_when_it_next_sends(app, make_contact, time_machine):
    from app.occasions.automations import day_counts, next_send

    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    time_machine.move_to(now, tick=False)
    welcome = save_automation(welcome_after(90))
    db.session.commit()
    assert next_send(welcome) is None
    make_contact("09120000001", created_at=now - timedelta(minutes=100))  # welcomed already
    make_contact("09120000002", created_at=now - timedelta(minutes=30))
    assert next_send(welcome) == now + timedelta(minutes=60)
    # The plan is what will be sent: the welcome due ten minutes ago is not in it.
    assert [p.send_at for p in plan(welcome, date(2026, 12, 1), date(2026, 12, 1))] == [
        now + timedelta(minutes=60),
    ]
    assert day_counts(welcome, date(2026, 12, 1), date(2026, 12, 1)) == {date(2026, 12, 1): 1}


def test_a_signup_welcome_greets_customers_added_by_hand_or_api_never_the_imported(
    app, make_contact, time_machine, tmp_path
):
    from app.contacts.importing import import_file
    from app.occasions.automations import day_counts, next_send
    from app.occasions.engine import run_automations
    from app.sending.models import Message

    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    today = date(2026, 12, 1)
    time_machine.move_to(now, tick=False)
    welcome = save_automation(welcome_after(30))
    db.session.commit()
    time_machine.move_to(now + timedelta(minutes=5), tick=False)
    customers = tmp_path / "customers.csv"
    customers.write_text("علی,09120000001\nسارا,09120000002\n")
    assert import_file(customers).created == 2
    added = now + timedelta(minutes=5)
    by_hand = make_contact("09120000003", source="manual", created_at=added)
    by_api = make_contact("09120000004", source="api", created_at=added)
    assert {p.contact_id for p in plan(welcome, today, today)} == {by_hand.id, by_api.id}
    assert day_counts(welcome, today, today) == {today: 2}
    assert next_send(welcome) == added + timedelta(minutes=30)
    time_machine.move_to(added + timedelta(minutes=30), tick=False)
    run_automations()
    greeted = db.session.scalars(select(Message.contact_id).order_by(Message.contact_id))
    assert list(greeted) == [by_hand.id, by_api.id]


def test_the_plan_lists_only_what_is_still_to_be_sent(logged_in, make_contact, time_machine):
    """At 21:00 a 10:00 birthday of today is past (sent or not): the plan, its count
    and the API start from now; tomorrow's is listed."""
    from app.occasions.automations import day_counts

    today = gregorian_date(1405, 9, 10)
    time_machine.move_to(datetime.combine(today, time(21), tzinfo=TEHRAN), tick=False)
    make_contact("09120000001", first_name="امروز", birth_jmonth=9, birth_jday=10)
    tomorrow = make_contact("09120000002", first_name="فردا", birth_jmonth=9, birth_jday=11)
    automation = save_automation(birthday(active=True))
    db.session.commit()
    end = today + timedelta(days=1)
    assert [p.contact_id for p in plan(automation, today, end)] == [tomorrow.id]
    assert day_counts(automation, today, end) == {end: 1}
    page = logged_in.get(f"/occasions/automations/{automation.id}/plan")
    assert "فردا" in page.get_data(as_text=True)
    assert "امروز" not in page.get_data(as_text=True)
    assert 'data-count="1"' in page.get_data(as_text=True)
