"""The dashboard: messages, cost, delivery rate and failures per Jalali day, week and month,
and the credit left at each provider — counted on a log built here, answers by hand."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from integration_support import KEY, page_text

from app.extensions import db
from app.jobs import SCHEDULER_JOBS, run_job
from app.reports import dashboard
from app.reports.models import DailyMessages
from app.sending.models import Message, ProviderAccount

# 12:00 on 1405/09/10 in Tehran (Monday 1 December 2026).
NOW = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
TODAY = date(2026, 12, 1)


def tehran(day: date, hour: int, minute: int = 0) -> datetime:
    """A Tehran wall-clock moment (UTC+03:30) as a UTC one."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(
        hours=3, minutes=30
    )


@pytest.fixture
def accounts(app):
    """Two real accounts: 1,500 and 2,000 Rials per part."""
    kave = ProviderAccount(name="کاوه", kind="kavenegar", price_per_part=1500, senders="3000")
    meli = ProviderAccount(name="ملی", kind="melipayamak", price_per_part=2000, senders="5000")
    db.session.add_all([kave, meli])
    db.session.commit()
    return kave, meli


def log(account, handed_over_at, status="delivered", parts=1, error=None, count=1):
    for _ in range(count):
        number = db.session.query(Message).count() + 1
        db.session.add(
            Message(
                provider_id=account.id,
                mobile=f"+98912{number:07d}",
                body="سلام",
                parts=parts,
                sender="3000",
                status=status,
                error=error,
                idempotency_key=f"test:{number}",
                created_at=handed_over_at,
                handed_over_at=handed_over_at,
            )
        )
    db.session.commit()


def count(app):
    (job,) = [job for job in SCHEDULER_JOBS if job.id == "count_dashboard_days"]
    run_job(app, job)


def test_each_day_counts_the_messages_handed_over_on_it_in_tehran_time(
    app, logged_in, accounts, time_machine
):
    time_machine.move_to(NOW, tick=False)
    kave, meli = accounts
    # Today (1405/09/10): 3 delivered of 2 parts through کاوه (3 × 2 × 1,500 = 9,000 Rials),
    # 1 failed through ملی (1 part, 2,000 Rials). At 00:10 Tehran: today, though it is
    # still yesterday in UTC.
    log(kave, tehran(TODAY, 0, 10), parts=2, count=3)
    log(meli, tehran(TODAY, 9), status="failed", error="invalid_number", count=1)
    # Yesterday 23:50 Tehran: 1 blacklisted; the day before: 1 still at the operator.
    log(kave, tehran(TODAY - timedelta(days=1), 23, 50), status="blacklisted")
    log(kave, tehran(TODAY - timedelta(days=2), 12), status="sent")
    # Queued and skipped messages never reached a provider: not counted.
    db.session.add(
        Message(
            provider_id=kave.id,
            mobile="+989120000000",
            body="x",
            parts=1,
            sender="3000",
            status="skipped",
            idempotency_key="test:skipped",
            created_at=NOW,
        )
    )
    db.session.commit()
    count(app)

    board = dashboard.dashboard("day", TODAY)
    by_day = {bucket.start: bucket for bucket in board.buckets}
    assert len(board.buckets) == 30 and board.buckets[-1].start == TODAY
    today = by_day[TODAY]
    assert (today.messages, today.parts, today.cost) == (4, 7, 3 * 2 * 1500 + 2000)
    # 3 delivered of 4 whose fate is known.
    assert today.delivery_rate == 75
    assert by_day[TODAY - timedelta(days=1)].messages == 1
    # Still at the operator: counted, but not in the delivery rate yet.
    assert by_day[TODAY - timedelta(days=2)].delivery_rate is None
    totals = board.totals
    assert (totals.messages, totals.cost) == (6, 9000 + 2000 + 1500 + 1500)
    assert totals.delivered == 3 and totals.settled == 5

    page = logged_in.get("/reports/")
    assert page.status_code == 200
    text = page_text(page)
    assert "پیشخوان" in text or "داشبورد" in text
    # Cost in Rials, the unit the campaign form and the settings use; the rate as 60 (3 of 5).
    assert re.search(r"data-figure=\"cost\">۱۴٬۰۰۰<", page.text)
    assert "هزینه (ریال)" in text and "تومان" not in text
    assert 'data-figure="delivery-rate">۶۰٪<' in page.text
    # Failures by reason, most first: the blacklisted one and the provider's error 5.
    assert "لیست سیاه" in text


def test_weeks_start_on_saturday_and_months_are_jalali(app, accounts, time_machine, logged_in):
    time_machine.move_to(NOW, tick=False)
    kave, _ = accounts
    # 1405/08/30 (21 November 2026) ends Aban; 1405/09/01 (22 November) starts Azar.
    log(kave, tehran(date(2026, 11, 22), 10), count=2)
    log(kave, tehran(date(2026, 11, 21), 10), count=5)
    # Saturday 28 November starts this week; Friday 27 November ends the one before.
    log(kave, tehran(date(2026, 11, 28), 10), count=7)
    log(kave, tehran(date(2026, 11, 27), 10), count=11)
    count(app)

    months = dashboard.dashboard("month", TODAY).buckets
    assert [b.label for b in months[-2:]] == ["آبان ۱۴۰۵", "آذر ۱۴۰۵"]
    assert (months[-2].messages, months[-1].messages) == (5, 2 + 7 + 11)
    assert months[-1].start == date(2026, 11, 22)
    weeks = dashboard.dashboard("week", TODAY).buckets
    assert len(weeks) == 12
    assert weeks[-1].start == date(2026, 11, 28) and weeks[-1].messages == 7
    assert weeks[-1].label == "هفتهٔ ۰۹/۰۷"  # Saturday 1405/09/07
    # The week before: Saturday 21 to Friday 27 November.
    assert weeks[-2].start == date(2026, 11, 21) and weeks[-2].messages == 5 + 2 + 11
    # The page's rows name the month and the week, in Persian.
    page = logged_in.get("/reports/?period=month")
    assert '<tr data-bucket="2026-11-22"><td><bdi>آذر ۱۴۰۵</bdi></td>' in page.text
    page = logged_in.get("/reports/?period=week")
    assert '<tr data-bucket="2026-11-28"><td><bdi>هفتهٔ ۰۹/۰۷</bdi></td>' in page.text


def test_a_late_delivery_report_is_counted_while_its_day_settles(app, accounts, time_machine):
    time_machine.move_to(NOW, tick=False)
    kave, _ = accounts
    log(kave, tehran(TODAY - timedelta(days=2), 10), status="sent")
    # A month ago: counted once, the first time the job sees it.
    log(kave, tehran(TODAY - timedelta(days=30), 10), status="sent")
    count(app)
    db.session.execute(db.update(Message).values(status="delivered"))
    db.session.commit()
    count(app)
    board = dashboard.dashboard("day", TODAY)
    by_day = {bucket.start: bucket for bucket in board.buckets}
    # Two days ago is recounted: now delivered. A month ago has settled: as first counted.
    assert by_day[TODAY - timedelta(days=2)].delivered == 1
    month_ago = dashboard.dashboard("month", TODAY).totals
    assert month_ago.messages == 2 and month_ago.delivered == 1
    rows = db.session.scalars(db.select(DailyMessages.day)).all()
    assert sorted(rows) == [TODAY - timedelta(days=30), TODAY - timedelta(days=2)]


def test_the_credit_is_read_from_the_provider_and_shown_in_rials(app, logged_in, fake_kavenegar):
    account = ProviderAccount(
        name="کاوه", kind="kavenegar", base_url=fake_kavenegar.base_url, senders="3000123456"
    )
    account.api_key = KEY
    db.session.add(account)
    db.session.commit()
    page = logged_in.get("/reports/")
    assert "—" in page_text(page)  # never read yet
    (job,) = [job for job in SCHEDULER_JOBS if job.id == "read_credits"]
    run_job(app, job)
    page = logged_in.get("/reports/")
    # 1,234,567 Rials, as the campaign form shows a provider's credit.
    assert "۱٬۲۳۴٬۵۶۷" in page_text(page)
    response = logged_in.post("/reports/credit", follow_redirects=True)
    assert response.status_code == 200
    assert len([r for r in fake_kavenegar.state["requests"] if r[1] == "account/info"]) == 2


def test_an_empty_panel_shows_an_empty_dashboard_in_every_period(logged_in):
    for period in ("day", "week", "month", "nonsense"):
        response = logged_in.get(f"/reports/?period={period}")
        assert response.status_code == 200
        assert 'data-figure="messages">۰<' in response.text
