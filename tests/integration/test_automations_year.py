"""A whole Jalali year (1403, a leap year) walked with the scheduler's automation job.

Time is frozen and moved through every Tehran day of 1403, the job run at its interval
around each send time and a few times more each day; half-way through, the app is
made again on the same database (a restart). Each automation fires exactly once per
occurrence, at its Tehran time, for the right people, and what it had planned is what
it then sent.
"""

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from app import create_app
from app.contacts.models import ContactList, Tag
from app.contacts.record import add_purchase
from app.extensions import db
from app.jobs import SCHEDULER_JOBS_BY_ID, run_job
from app.messaging.audience import AudienceChoice
from app.messaging.models import Campaign
from app.occasions.automations import AutomationFields, plan, save_automation
from app.persian import TEHRAN, gregorian_date
from app.sending.models import Message

JOB = SCHEDULER_JOBS_BY_ID["run_automations"]
INTERVAL = timedelta(seconds=JOB.every)
# The job's ticks around each send time on the days something is due.
AROUND = (time(9, 59), time(10, 1), time(10, 2), time(17, 59), time(18, 1), time(21, 29))
AROUND += (time(21, 31),)


def tehran(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=TEHRAN).astimezone(UTC)


def j(year: int, month: int, day: int) -> date:
    return gregorian_date(year, month, day)


def sends() -> dict[tuple[int, int, str], list[datetime]]:
    """(automation, contact, occurrence) → when each message of it was written."""
    db.session.expire_all()
    rows = db.session.execute(
        select(Campaign.automation_id, Message.contact_id, Campaign.occurrence, Message.created_at)
        .join(Campaign, Message.campaign_id == Campaign.id)
        .where(Campaign.automation_id.is_not(None), Message.status != "skipped")
    ).all()
    found: dict[tuple[int, int, str], list[datetime]] = {}
    for automation_id, contact_id, occurrence, created_at in rows:
        moment = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)
        found.setdefault((automation_id, contact_id, occurrence), []).append(moment)
    return found


def automation(name: str, kind: str, **fields):
    made = save_automation(
        AutomationFields(name=name, kind=kind, body=f"{name} {{نام}}", active=True, **fields)
    )
    db.session.commit()
    return made


def test_a_leap_year_walked_with_a_restart_half_way(app, make_contact, time_machine):
    config = {
        key: app.config[key]
        for key in ("TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "VAFA_TICK_SECONDS")
    }
    first_day, last_day = j(1403, 1, 1), j(1403, 12, 30)
    time_machine.move_to(tehran(first_day - timedelta(days=1), time(12)), tick=False)

    vip = ContactList(name="ویژه")
    good = Tag(name="خوش‌حساب")
    db.session.add_all([vip, good])
    nowruz = make_contact("09120000001", first_name="نوروز", birth_jmonth=1, birth_jday=1)
    leap = make_contact("09120000002", first_name="کبیسه", birth_jmonth=12, birth_jday=30)
    last = make_contact("09120000003", first_name="آخر", birth_jmonth=12, birth_jday=29)
    gone = make_contact(
        "09120000004",
        first_name="رفته",
        birth_jmonth=7,
        birth_jday=1,
        opted_out_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    outsider = make_contact("09120000005", first_name="بیرونی", birth_jmonth=9, birth_jday=30)
    yalda = make_contact("09120000006", first_name="یلدا", birth_jmonth=9, birth_jday=30)
    loyal = make_contact("09120000008", first_name="وفادار")
    buyer = make_contact("09120000009", first_name="خریدار")
    vip.contacts.extend([nowruz, leap, last, gone, yalda])
    good.contacts.extend([nowruz, yalda])
    db.session.commit()
    add_purchase(loyal, tehran(j(1402, 5, 10), time(12)), 10_000, "first")
    db.session.commit()

    in_vip = AudienceChoice(lists=(vip.id,))
    birthday = automation("تولد", "birthday", audience=in_vip)
    early = automation("پیش از تولد", "birthday", days_before=3, send_time=time(21, 30))
    anniversary = automation("سالگرد", "anniversary", counts_from="first_purchase")
    yalda_night = automation(
        "یلدا", "occasion", occasion_key="yalda", audience=AudienceChoice(tags=(good.id,))
    )
    winback = automation("دلتنگی", "winback", days_after=60)
    followup = automation("پیگیری", "followup", days_after=1, send_time=time(18))
    welcome = automation("خوش‌آمد", "welcome", delay_minutes=30, counts_from="signup")

    planned = {
        item.id: plan(item, first_day, last_day)
        for item in (birthday, early, anniversary, yalda_night)
    }
    assert {p.contact_id for p in planned[birthday.id]} == {nowruz.id, leap.id, last.id, yalda.id}

    # Things that happen during the year, before that day's ticks.
    def buy(contact, moment):
        def act():
            add_purchase(db.session.get(type(contact), contact.id), moment, 5_000, str(moment))
            db.session.commit()

        return act

    newcomer_at = tehran(j(1403, 5, 20), time(9, 10))

    def sign_up():
        make_contact("09120000010", first_name="تازه", created_at=newcomer_at)

    events = {
        j(1403, 2, 2): buy(buyer, tehran(j(1403, 2, 2), time(9))),
        j(1403, 5, 1): buy(buyer, tehran(j(1403, 5, 1), time(9))),
        j(1403, 5, 20): sign_up,
    }
    # The job at its interval around each send time, and at a few other hours.
    # Every day at each send time; on the days something is due, at the job's interval
    # around them too (the ticks after a run, within its grace window, must not send it
    # again; nor 21:30's tick the runs of 18:00).
    clocks = [time(10), time(18), time(21, 30)]
    busy = {p.send_at.astimezone(TEHRAN).date() for item in planned.values() for p in item}
    busy |= {day + timedelta(days=1) for day in events}
    runner = app
    day = first_day
    while day <= last_day:
        if day == j(1403, 7, 1):  # a restart: a new app (and scheduler) on the same database
            runner = create_app(config)
        if day in events:
            time_machine.move_to(tehran(day, time(0, 1)), tick=False)
            events[day]()
        moments = [tehran(day, clock) for clock in clocks]
        if day in busy:
            moments += [tehran(day, clock) for clock in AROUND]
        if day == newcomer_at.astimezone(TEHRAN).date():
            moments += [newcomer_at + INTERVAL * step for step in range(25, 35)]
        for moment in sorted(moments):
            time_machine.move_to(moment, tick=False)
            run_job(runner, JOB)
        day += timedelta(days=1)

    with runner.app_context():
        db.engine.dispose()  # the restarted app's connections
    sent = sends()
    assert all(len(times) == 1 for times in sent.values()), "each occurrence once"

    def of(item) -> dict[tuple[int, str], datetime]:
        return {
            (contact, occurrence): times[0]
            for (automation_id, contact, occurrence), times in sent.items()
            if automation_id == item.id
        }

    at_ten = {day: tehran(day, time(10)) for day in (first_day, last_day)}
    assert of(birthday) == {
        (nowruz.id, first_day.isoformat()): at_ten[first_day],
        (yalda.id, j(1403, 9, 30).isoformat()): tehran(j(1403, 9, 30), time(10)),
        (last.id, j(1403, 12, 29).isoformat()): tehran(j(1403, 12, 29), time(10)),
        # 1403 is leap: 30 Esfand is a day of its own.
        (leap.id, last_day.isoformat()): at_ten[last_day],
    }
    # Three days before: 1404's Nowruz birthday on 1403/12/28, at 21:30.
    assert of(early)[(nowruz.id, j(1403, 12, 28).isoformat())] == tehran(
        j(1403, 12, 28), time(21, 30)
    )
    assert of(anniversary) == {
        (loyal.id, j(1403, 5, 10).isoformat()): tehran(j(1403, 5, 10), time(10))
    }
    assert of(yalda_night) == {
        (contact.id, "yalda:1403"): tehran(j(1403, 9, 30), time(10)) for contact in (nowruz, yalda)
    }
    # Win-back: once per quiet spell, 60 days after each last purchase.
    assert set(of(winback)) == {
        (buyer.id, (j(1403, 2, 2) + timedelta(days=60)).isoformat()),
        (buyer.id, (j(1403, 5, 1) + timedelta(days=60)).isoformat()),
    }
    assert set(of(followup).values()) == {
        tehran(j(1403, 2, 3), time(18)),
        tehran(j(1403, 5, 2), time(18)),
    }
    newcomer = db.session.scalar(select(Message.contact_id).where(Message.mobile.like("%0010")))
    assert list(of(welcome)) == [(newcomer, j(1403, 5, 20).isoformat())]
    welcomed_at = of(welcome)[(newcomer, j(1403, 5, 20).isoformat())]
    assert newcomer_at + timedelta(minutes=30) <= welcomed_at < newcomer_at + timedelta(minutes=31)

    # What was planned before the year began is what was sent.
    for item in (birthday, early, anniversary, yalda_night):
        assert {(p.contact_id, p.occurrence): p.send_at for p in planned[item.id]} == {
            key: moment for key, moment in of(item).items()
        }, item.name
    # The opted-out contact got no message, only a skipped row from each birthday automation.
    skipped = db.session.scalars(select(Message.error).where(Message.contact_id == gone.id)).all()
    assert skipped == ["opted_out", "opted_out"]
    assert outsider.id in {contact for contact, _o in of(early)}  # everyone's birthday
