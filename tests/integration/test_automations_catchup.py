"""Automations at the year's end, after downtime, after a crash, and across a restart.

The scheduler's automation job is run at its interval over chosen days, with time
frozen: 30 Esfand birthdays in a leap year (1403, 1408) and a common one (1404), the
1403→1404 and 1404→1405 year ends, a scheduler down for less and for more than the
grace window, a run stopped half-way by a crash, and a new scheduler (and app) on the
same database with its jobs read back from it.
"""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select, text

from app import create_app
from app.extensions import db
from app.jobs import SCHEDULER_JOBS_BY_ID, run_job, start_scheduler
from app.messaging import service as campaigns
from app.messaging.models import Campaign
from app.occasions.automations import (
    AutomationFields,
    fields_of,
    plan,
    save_automation,
    set_active,
)
from app.persian import TEHRAN, gregorian_date
from app.sending.models import Message

JOB = SCHEDULER_JOBS_BY_ID["run_automations"]
INTERVAL = timedelta(seconds=JOB.every)


def tehran(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=TEHRAN).astimezone(UTC)


def j(year: int, month: int, day: int) -> date:
    return gregorian_date(year, month, day)


@pytest.fixture
def tick(app, time_machine):
    """tick(moment): run the automation job at ``moment`` (UTC)."""

    def run(moment: datetime, on=None):
        time_machine.move_to(moment, tick=False)
        run_job(on or app, JOB)

    return run


def walk(tick, first: date, last: date, clocks=(time(9, 58), time(10), time(10, 1), time(16))):
    day = first
    while day <= last:
        for clock in clocks:
            tick(tehran(day, clock))
        day += timedelta(days=1)


def greeted() -> list[tuple[int, str, datetime]]:
    """(contact, campaign occurrence, written at) of every message sent, oldest first."""
    db.session.expire_all()
    rows = db.session.execute(
        select(Message.contact_id, Campaign.occurrence, Message.created_at)
        .join(Campaign, Message.campaign_id == Campaign.id)
        .where(Message.status != "skipped")
        .order_by(Message.id)
    ).all()
    return [(c, o, m if m.tzinfo else m.replace(tzinfo=UTC)) for c, o, m in rows]


def birthday_automation(**changes):
    fields = AutomationFields(
        name="تولد", kind="birthday", body="{نام} تولدت مبارک", send_time=time(10), active=True
    )
    for name, value in changes.items():
        setattr(fields, name, value)
    made = save_automation(fields)
    db.session.commit()
    return made


def test_30_esfand_birthdays_across_two_year_ends_and_in_1408(
    app, make_contact, tick, time_machine
):
    time_machine.move_to(tehran(j(1403, 12, 1), time(8)), tick=False)
    leap = make_contact("09120000001", first_name="اسفند", birth_jmonth=12, birth_jday=30)
    eve = make_contact("09120000002", first_name="آخر", birth_jmonth=12, birth_jday=29)
    nowruz = make_contact("09120000003", first_name="نوروز", birth_jmonth=1, birth_jday=1)
    automation = birthday_automation()
    planned = plan(automation, j(1403, 12, 25), j(1404, 1, 3))
    planned += plan(automation, j(1404, 12, 25), j(1405, 1, 3))
    # 1403→1404 (1403 is leap) and 1404→1405 (1404 is common).
    walk(tick, j(1403, 12, 25), j(1404, 1, 3))
    walk(tick, j(1404, 12, 25), j(1405, 1, 3))
    assert greeted() == [
        (eve.id, j(1403, 12, 29).isoformat(), tehran(j(1403, 12, 29), time(10))),
        (leap.id, j(1403, 12, 30).isoformat(), tehran(j(1403, 12, 30), time(10))),
        (nowruz.id, j(1404, 1, 1).isoformat(), tehran(j(1404, 1, 1), time(10))),
        # 1404 has no 30 Esfand: both greeted on the 29th, once.
        (leap.id, j(1404, 12, 29).isoformat(), tehran(j(1404, 12, 29), time(10))),
        (eve.id, j(1404, 12, 29).isoformat(), tehran(j(1404, 12, 29), time(10))),
        (nowruz.id, j(1405, 1, 1).isoformat(), tehran(j(1405, 1, 1), time(10))),
    ]
    assert sorted(greeted()) == sorted((p.contact_id, p.occurrence, p.send_at) for p in planned)
    # 1408 is leap again: 30 Esfand is its own day.
    walk(tick, j(1408, 12, 28), j(1408, 12, 30), clocks=(time(10), time(10, 1)))
    assert [(c, o) for c, o, _at in greeted()[6:]] == [
        (eve.id, j(1408, 12, 29).isoformat()),
        (leap.id, j(1408, 12, 30).isoformat()),
    ]
    keys = db.session.scalars(select(Message.idempotency_key).where(Message.contact_id == leap.id))
    assert sorted(keys) == [
        f"birthday:{automation.id}:{leap.id}:{year}" for year in (1403, 1404, 1408)
    ]


def test_downtime_within_the_grace_window_is_caught_up_and_beyond_it_let_go(
    app, make_contact, tick, time_machine
):
    app.config["VAFA_AUTOMATION_GRACE"] = 6
    time_machine.move_to(tehran(j(1405, 9, 1), time(8)), tick=False)
    first = make_contact("09120000001", first_name="یک", birth_jmonth=9, birth_jday=10)
    second = make_contact("09120000002", first_name="دو", birth_jmonth=9, birth_jday=11)
    third = make_contact("09120000003", first_name="سه", birth_jmonth=9, birth_jday=12)
    birthday_automation()
    # Down from 08:00 to 15:30 on the 10th (5.5 hours past 10:00): caught up at 15:30.
    tick(tehran(j(1405, 9, 10), time(8)))
    tick(tehran(j(1405, 9, 10), time(15, 30)))
    tick(tehran(j(1405, 9, 10), time(15, 30)) + INTERVAL)
    # Down from 08:00 on the 11th to 16:30 (6.5 hours past 10:00): that day is let go,
    # and the next day's run comes at its time.
    tick(tehran(j(1405, 9, 11), time(8)))
    tick(tehran(j(1405, 9, 11), time(16, 30)))
    walk(tick, j(1405, 9, 12), j(1405, 9, 12))
    assert greeted() == [
        (first.id, j(1405, 9, 10).isoformat(), tehran(j(1405, 9, 10), time(15, 30))),
        (third.id, j(1405, 9, 12).isoformat(), tehran(j(1405, 9, 12), time(10))),
    ]
    assert second.id not in {contact for contact, _o, _at in greeted()}


def test_a_run_stopped_by_a_crash_is_finished_once(
    app, make_contact, tick, time_machine, monkeypatch
):
    time_machine.move_to(tehran(j(1405, 9, 1), time(8)), tick=False)
    people = [
        make_contact(f"0912000000{i}", first_name=f"ن{i}", birth_jmonth=9, birth_jday=10)
        for i in range(1, 6)
    ]
    birthday_automation()
    # Messages are written two contacts at a time; the process dies after the first two.
    monkeypatch.setattr(campaigns, "MATERIALISE_CHUNK", 2)
    written = []

    def crash_after_first_chunk():
        written.append(1)
        if len(written) == 1:
            raise SystemExit("the process died")

    monkeypatch.setattr(campaigns, "queued_here", crash_after_first_chunk)
    with pytest.raises(SystemExit):
        tick(tehran(j(1405, 9, 10), time(10)))
    db.session.expire_all()
    run = db.session.scalars(select(Campaign)).one()
    assert run.status == "preparing"
    assert db.session.scalar(select(func.count(Message.id))) == 2
    # A new app (the process restarted) resumes it at its next tick, within the window.
    config = {key: app.config[key] for key in ("TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI")}
    restarted = create_app(config)
    try:
        tick(tehran(j(1405, 9, 10), time(10)) + INTERVAL, on=restarted)
        tick(tehran(j(1405, 9, 10), time(10)) + 2 * INTERVAL, on=restarted)
    finally:
        with restarted.app_context():
            db.engine.dispose()
    assert sorted(contact for contact, _o, _at in greeted()) == [p.id for p in people]
    db.session.expire_all()
    assert db.session.scalars(select(Campaign.status)).one() == "sending"


def test_an_inactive_automation_makes_no_runs_and_campaign_jobs_leave_runs_alone(
    app, make_contact, tick, time_machine
):
    time_machine.move_to(tehran(j(1405, 9, 1), time(8)), tick=False)
    make_contact("09120000001", first_name="یک", birth_jmonth=9, birth_jday=10)
    make_contact("09120000002", first_name="دو", birth_jmonth=9, birth_jday=11)
    automation = birthday_automation(active=False)
    walk(tick, j(1405, 9, 10), j(1405, 9, 10))
    assert greeted() == []
    set_active(automation, True)
    db.session.commit()
    walk(tick, j(1405, 9, 11), j(1405, 9, 11))
    assert len(greeted()) == 1
    # The run is the engine's: the campaigns' start job does not write it again, and the
    # campaigns list does not show it.
    run = db.session.scalars(select(Campaign)).one()
    assert run.name == "تولد · ۱۴۰۵/۰۹/۱۱"
    db.session.execute(
        text("UPDATE campaigns SET status = 'preparing' WHERE id = :id"), {"id": run.id}
    )
    db.session.commit()
    assert campaigns.start_due_campaigns() == 0
    assert campaigns.due_campaigns(tehran(j(1405, 9, 12), time(0))) == 0


def test_the_scheduler_keeps_its_jobs_in_the_database_and_a_new_one_reads_them(app):
    scheduler = start_scheduler(app)
    try:
        job = scheduler.get_job("run_automations")
        assert job.func_ref == "app.jobs:run_scheduled"
        assert job.args == ("run_automations",)
    finally:
        scheduler.shutdown()
    stored = db.session.execute(text("SELECT id FROM scheduler_jobs")).scalars().all()
    assert "run_automations" in stored
    # A new process's scheduler, on the same database, finds the same jobs stored.
    config = {key: app.config[key] for key in ("TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI")}
    restarted = create_app(config)
    try:
        again = start_scheduler(restarted)
        try:
            ids = {job.id for job in again.get_jobs()}
            assert {"run_automations", "start_due_campaigns"} <= ids
        finally:
            again.shutdown()
    finally:
        with restarted.app_context():
            db.engine.dispose()


def test_runs_are_kept_out_of_the_campaigns_list(logged_in, make_contact, tick, time_machine):
    time_machine.move_to(tehran(j(1405, 9, 1), time(8)), tick=False)
    make_contact("09120000001", first_name="یک", birth_jmonth=9, birth_jday=10)
    birthday_automation()
    walk(tick, j(1405, 9, 10), j(1405, 9, 10), clocks=(time(10),))
    run = db.session.scalars(select(Campaign)).one()
    assert run.automation_id is not None
    page = logged_in.get("/campaigns/").get_data(as_text=True)
    assert run.name not in page
    # Its own page shows it, as any campaign's.
    assert run.name in logged_in.get(f"/campaigns/{run.id}").get_data(as_text=True)


def test_a_welcome_after_the_first_purchase_and_a_follow_up_per_purchase_day(
    app, make_contact, tick, time_machine
):
    from app.contacts.record import add_purchase

    time_machine.move_to(tehran(j(1405, 9, 1), time(8)), tick=False)
    buyer = make_contact("09120000001", first_name="خریدار")
    welcome = save_automation(
        AutomationFields(
            name="خوش‌آمد",
            kind="welcome",
            body="خوش آمدید",
            delay_minutes=60,
            counts_from="first_purchase",
            active=True,
        )
    )
    followup = save_automation(
        AutomationFields(
            name="نظرسنجی",
            kind="followup",
            body="از ۰ تا ۱۰ چه نمره‌ای می‌دهید؟",
            days_after=2,
            send_time=time(11),
            active=True,
        )
    )
    db.session.commit()
    bought = tehran(j(1405, 9, 1), time(12))
    for moment, reference in ((bought, "a"), (bought + timedelta(hours=3), "b")):
        time_machine.move_to(moment, tick=False)
        add_purchase(buyer, moment, 1000, reference)
        db.session.commit()
    time_machine.move_to(tehran(j(1405, 9, 2), time(9)), tick=False)
    add_purchase(buyer, tehran(j(1405, 9, 2), time(9)), 1000, "c")
    db.session.commit()
    # The welcome: an hour after the first purchase, at the job's interval, once.
    for step in range(-2, 4):
        tick(bought + timedelta(hours=1) + step * INTERVAL)
    walk(tick, j(1405, 9, 2), j(1405, 9, 5), clocks=(time(10, 59), time(11), time(11, 1)))
    sent = greeted()
    db.session.expire_all()
    kinds = dict(db.session.execute(select(Campaign.occurrence, Campaign.automation_id)).all())
    assert [(o, at) for _c, o, at in sent if kinds[o] == welcome.id] == [
        (j(1405, 9, 1).isoformat(), bought + timedelta(hours=1))
    ]
    # Two purchases on the 1st, one on the 2nd: a follow-up on the 3rd and the 4th.
    assert [(o, at) for _c, o, at in sent if kinds[o] == followup.id] == [
        (j(1405, 9, 3).isoformat(), tehran(j(1405, 9, 3), time(11))),
        (j(1405, 9, 4).isoformat(), tehran(j(1405, 9, 4), time(11))),
    ]


def test_a_run_whose_moment_passed_before_the_automation_was_saved_is_not_made(
    app, make_contact, tick, time_machine
):
    """Saved (or switched on, or edited) at 20:48 for 18:30: nothing goes out at once;
    the next day's run comes at its time. Saved earlier, the 18:30 run missed while the
    scheduler was down is still caught up."""
    day = j(1405, 9, 10)
    time_machine.move_to(tehran(day, time(8)), tick=False)
    today = make_contact("09120000001", first_name="امروز", birth_jmonth=9, birth_jday=10)
    tomorrow = make_contact("09120000002", first_name="فردا", birth_jmonth=9, birth_jday=11)
    earlier = birthday_automation(name="از صبح", send_time=time(18, 30))
    time_machine.move_to(tehran(day, time(20, 48)), tick=False)
    new = birthday_automation(name="تازه", send_time=time(18, 30))
    switched = birthday_automation(name="روشن‌شده", send_time=time(18, 30), active=False)
    edited = birthday_automation(name="ویرایش‌شده", send_time=time(9), active=True)
    set_active(switched, True)
    fields = fields_of(edited)
    fields.send_time = time(18, 30)
    save_automation(fields, edited)
    db.session.commit()
    tick(tehran(day, time(20, 49)))
    tick(tehran(day, time(20, 49)) + INTERVAL)
    db.session.expire_all()
    made = db.session.execute(select(Campaign.automation_id, Campaign.occurrence)).all()
    assert made == [(earlier.id, day.isoformat())]
    assert [contact for contact, _o, _at in greeted()] == [today.id]
    # The next day every one of them greets at 18:30.
    tick(tehran(day + timedelta(days=1), time(18, 30)))
    db.session.expire_all()
    runs = db.session.scalars(
        select(Campaign.automation_id).where(
            Campaign.occurrence == (day + timedelta(days=1)).isoformat()
        )
    )
    assert sorted(runs) == sorted([earlier.id, new.id, switched.id, edited.id])
    assert {contact for contact, _o, _at in greeted()[1:]} == {tomorrow.id}


def test_a_run_stopped_half_way_then_edited_goes_out_as_far_as_it_got(
    app, make_contact, tick, time_machine
):
    time_machine.move_to(tehran(j(1405, 9, 1), time(8)), tick=False)
    make_contact("09120000001", first_name="یک", birth_jmonth=9, birth_jday=10)
    automation = birthday_automation()
    tick(tehran(j(1405, 9, 10), time(10)))
    db.session.execute(text("UPDATE campaigns SET status = 'preparing'"))
    db.session.commit()
    time_machine.move_to(tehran(j(1405, 9, 10), time(10, 5)), tick=False)
    fields = fields_of(automation)
    fields.body = "{نام} عزیز، تولدت مبارک"
    save_automation(fields, automation)
    db.session.commit()
    tick(tehran(j(1405, 9, 10), time(10, 6)))
    db.session.expire_all()
    assert db.session.scalars(select(Campaign.status)).one() == "sending"
    assert len(greeted()) == 1
