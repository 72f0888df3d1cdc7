"""The retention report: every number worked out by hand on a shop built for it.

Today is 1405/09/10 (2026-12-01, 12:30 in Tehran). The period is Aban 1405: 1405/08/01
(2026-10-23) through 1405/08/30 (2026-11-21), 30 Tehran days. A customer is lost after
180 days (the built-in segment's default), so a customer counts on day D when they bought
on one of the 180 Tehran days D−179 … D.

- Customers at the start count at the close of 1405/07/30 (2026-10-22): a purchase on
  2026-04-26 … 2026-10-22.
- Customers at the end count at the close of 2026-11-21: a purchase on 2026-05-26 …
  2026-11-21.

Purchases (Tehran days, noon unless said; amounts in Rials)::

    A  2026-06-01; in the period 11-01 (1,000,000); after it 11-28
    B  2026-05-01; after the period 11-30   (its last purchase today is after the end:
                                             the end counts purchases up to the end only)
    C  2026-10-01; in the period 10-25 (2,000,000) and 11-10 (3,000,000)
    D  first ever in the period 11-05 (500,000)
    E  first ever at 00:00 on 10-23, the period's first moment (1,500,000), and at
       23:59 on 11-21, its last minute (2,500,000)
    F  first ever at 00:00 on 11-22, the first moment after the period
    G  2026-04-25: 180 days before 10-22, so already lost at the start
    H  2026-04-26: 179 days before 10-22, a customer at the start
    I  2026-05-26: 179 days before 11-21, a customer at the end (and at the start)
    J  2026-05-25: 180 days before 11-21, lost at the end (a customer at the start)
    K  never bought
    L  2025-01-01, long lost; back in the period on 11-15 (3,500,000)
    M  2026-03-01 only: lost long before the period
    N  2025-06-01, lapsed; back in the period on 11-20 (1,000,000)

    At the start S: A B C H I J                    = 6
    At the end   E: A C D E I L N                  = 7
    New          N: D E (F's first is after the end) = 2
    Returning    R: L N (at the end, not at the start, bought before the period) = 2
    Still customers from the start: A C I = 7 − 2 − 2 = 3
    Bought in the period: A C D E L N = 6; twice or more: C E = 2
    Orders 1 + 2 + 1 + 2 + 1 + 1 = 8; revenue 1 + 5 + 0.5 + 4 + 3.5 + 1 = 15,000,000 Rials

    retention = (7 − 2 − 2) ÷ 6 × 100 = 50 %     churn = 100 − 50 = 50 %
    (counting L and N as kept would say (7 − 2) ÷ 6 = 83.33 %: they were not there to keep)
    repeat purchase rate = 2 ÷ 6 × 100 = 33.33 % frequency = 8 ÷ 6 = 1.33
    average order value = 15,000,000 ÷ 8 = 1,875,000
    lifespan = 1 ÷ (1/2) = 2 periods of 30 days (60 days)
    CLV = 1,875,000 × 4/3 × 2 = 5,000,000 Rials
"""

import io
import re
from datetime import UTC, date, datetime, time

import pytest
from integration_support import log_in, page_text, text_of
from python_calamine import CalamineWorkbook
from sqlalchemy import select

from app.api.service import create_token
from app.audience.models import Segment
from app.audience.service import ensure_builtin_segments
from app.contacts.models import Purchase
from app.contacts.service import refresh_purchase_totals
from app.extensions import db
from app.persian import TEHRAN, gregorian_date
from app.reports import retention
from app.reports.retention import Period

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 12:30 on 1405/09/10 in Tehran
ABAN = Period(date(2026, 10, 23), date(2026, 11, 21))
M = 1_000_000


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    """A Tehran wall-clock moment, as the UTC moment it is stored as."""
    return datetime.combine(day, time(hour, minute), tzinfo=TEHRAN).astimezone(UTC)


def jalali(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return at(gregorian_date(year, month, day), hour, minute)


def d(month: int, day: int, year: int = 2026) -> date:
    return date(year, month, day)


def record(make_contact, mobile: str, name: str, purchases: list[tuple[datetime, int]]) -> int:
    """A contact with its purchases, their totals kept as recording a purchase keeps them."""
    contact = make_contact(mobile, first_name=name)
    for moment, amount in purchases:
        db.session.add(Purchase(contact_id=contact.id, purchased_at=moment, amount=amount))
    db.session.flush()
    refresh_purchase_totals({contact.id})
    db.session.commit()
    return contact.id


@pytest.fixture
def now(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def shop(now, make_contact) -> dict[str, int]:
    """The shop of the docstring: name → contact id."""
    small = 100_000
    buyers = {
        "A": [(at(d(6, 1)), small), (at(d(11, 1)), 1 * M), (at(d(11, 28)), small)],
        "B": [(at(d(5, 1)), small), (at(d(11, 30)), small)],
        "C": [(at(d(10, 1)), small), (at(d(10, 25)), 2 * M), (at(d(11, 10)), 3 * M)],
        "D": [(at(d(11, 5)), M // 2)],
        "E": [(at(d(10, 23), 0, 0), 1_500_000), (at(d(11, 21), 23, 59), 2_500_000)],
        "F": [(at(d(11, 22), 0, 0), small)],
        "G": [(at(d(4, 25)), small)],
        "H": [(at(d(4, 26)), small)],
        "I": [(at(d(5, 26)), small)],
        "J": [(at(d(5, 25)), small)],
        "K": [],
        "L": [(at(d(1, 1, 2025)), small), (at(d(11, 15)), 3_500_000)],
        "M": [(at(d(3, 1)), small)],
        "N": [(at(d(6, 1, 2025)), small), (at(d(11, 20)), M)],
    }
    return {
        name: record(make_contact, f"0912100{number:04d}", name, purchases)
        for number, (name, purchases) in enumerate(buyers.items())
    }


# The numbers -----------------------------------------------------------------------------


def test_every_number_of_the_period_is_as_worked_out_by_hand(shop):
    report = retention.retention_report(ABAN)
    assert ABAN.days == 30
    assert report.lost_days == 180
    assert (report.customers_start, report.customers_end, report.new_customers) == (6, 7, 2)
    assert report.new_at_end == 2  # a period shorter than the threshold: every new one
    assert report.returning == 2  # L and N
    assert report.kept == 3  # A C I
    assert (report.buyers, report.repeat_buyers, report.orders) == (6, 2, 8)
    assert report.revenue == 15 * M
    assert report.retention_rate == 50  # (7 − 2 − 2) ÷ 6 × 100
    assert report.churn_rate == 50  # 100 − 50
    assert report.repeat_purchase_rate == pytest.approx(100 / 3)  # 2 ÷ 6 × 100
    assert report.purchase_frequency == pytest.approx(4 / 3)  # 8 ÷ 6
    assert report.average_order_value == 1_875_000  # 15,000,000 ÷ 8
    assert report.lifespan_periods == pytest.approx(2)  # 1 ÷ (1/2)
    assert report.lifespan_days == pytest.approx(60)  # 2 × 30
    assert report.clv == pytest.approx(5 * M)  # 1,875,000 × 4/3 × 2


def test_customers_who_lapsed_and_came_back_are_not_counted_as_kept(now, make_contact):
    """One customer at the start, lost in the period; two lapsed ones came back in it.

    Start 1 (A), end 2 (B C), no new one, returning B C: (2 − 0 − 2) ÷ 1 = 0 %, churn
    100 %. Counting B and C as kept would say 200 % and churn −100 %.
    """
    record(make_contact, "09121000001", "A", [(at(d(5, 1)), M)])  # lost on 10-28
    record(make_contact, "09121000002", "B", [(at(d(1, 1)), M), (at(d(11, 1)), M)])
    record(make_contact, "09121000003", "C", [(at(d(2, 1)), M), (at(d(11, 2)), M)])
    report = retention.retention_report(ABAN)
    assert (report.customers_start, report.customers_end) == (1, 2)
    assert (report.new_customers, report.returning, report.kept) == (0, 2, 0)
    assert (report.retention_rate, report.churn_rate) == (0, 100)


def test_the_edges_of_the_period_and_of_the_threshold(shop):
    # E's 23:59 on the last day is in the period, F's 00:00 the next day is not:
    # a one-day period of the last day has E's purchase and no one else's.
    last_day = retention.retention_report(Period(d(11, 21), d(11, 21)))
    assert (last_day.buyers, last_day.orders, last_day.revenue) == (1, 1, 2_500_000)
    next_day = retention.retention_report(Period(d(11, 22), d(11, 22)))
    assert (next_day.buyers, next_day.new_customers, next_day.revenue) == (1, 1, 100_000)
    # E's 00:00 on the first day is in the period (and makes E new in it).
    first_day = retention.retention_report(Period(d(10, 23), d(10, 23)))
    assert (first_day.buyers, first_day.new_customers) == (1, 1)
    # Exactly 180 days ago is lost, 179 days ago still counts: G and J drop, H and I stay.
    assert retention.customers_at(d(10, 22), 180) == 6  # A B C H I J, not G
    assert retention.customers_at(d(10, 23), 180) == 6  # + E (00:00), − H (now 180 days)
    assert retention.customers_at(d(11, 21), 180) == 7  # A C D E I L N, not J


def test_a_period_longer_than_the_threshold_takes_away_only_the_new_customers_at_its_end(app, shop):
    """1405/01/01 (2026-03-21) to 2026-11-21, 246 days.

    At the start (close of 03-20: purchases since 2025-09-22): M = 1.
    At the end, as before: A C D E I L N = 7.
    New (first purchase 03-21 … 11-21): A B C D E G H I J = 9; of them at the end A C D E I = 5.
    Returning: L N = 2. Retention = (7 − 5 − 2) ÷ 1 × 100 = 0 % (M, the one customer at the
    start, is lost); (7 − 9) ÷ 1 would say −200 %.
    """
    report = retention.retention_report(Period(d(3, 21), d(11, 21)))
    assert (report.customers_start, report.customers_end) == (1, 7)
    assert (report.new_customers, report.new_at_end, report.returning) == (9, 5, 2)
    assert report.retention_rate == 0 and report.churn_rate == 100
    with app.test_request_context(headers={"Accept-Language": "fa"}):
        lines = {line.key: line for line in retention.report_lines(report)}
    assert lines["new_customers"].note.startswith("دوره از ۱۸۰ روز بلندتر است: فقط ۵ نفر")
    assert lines["retention_rate"].worked == "(۷ − ۵ − ۲) ÷ ۱ × ۱۰۰"


def test_later_purchases_do_not_change_a_past_day(shop):
    """B bought again after the period and A too: the end still counts up to its last day."""
    assert retention.customers_at(d(11, 21), 180) == 7
    assert retention.customers_at(d(11, 30), 180) == 8  # + B (11-30) + F (11-22) − I (05-26)


def test_the_threshold_is_the_lost_segments_when_the_owner_changed_it(shop):
    ensure_builtin_segments()
    lost = db.session.scalar(select(Segment).where(Segment.key == "lost"))
    lost.rules = {
        "match": "all",
        "rules": [{"field": "last_purchase", "op": "at_least", "value": 200}],
    }
    db.session.commit()
    assert retention.lost_days() == 200
    report = retention.retention_report(ABAN)
    # Start: 200 days up to 10-22 reach back to 04-06, so G (04-25) counts too: 7.
    # End: back to 05-06, so J (05-25) counts too; B (05-01) does not: 8.
    assert (report.customers_start, report.customers_end) == (7, 8)
    # "More than 199 days" is the same threshold; rules of another kind fall back to 180.
    lost.rules = {
        "match": "all",
        "rules": [{"field": "last_purchase", "op": "more_than", "value": 199}],
    }
    db.session.commit()
    assert retention.lost_days() == 200
    lost.rules = {"match": "any", "rules": [{"field": "purchases", "op": "never"}]}
    db.session.commit()
    assert retention.lost_days() == 180


def test_an_empty_shop_divides_by_nothing_and_says_so(now, app):
    report = retention.retention_report(ABAN)
    assert (report.customers_start, report.customers_end, report.new_customers) == (0, 0, 0)
    assert report.returning == 0
    assert report.retention_rate is None and report.churn_rate is None
    assert report.repeat_purchase_rate is None and report.purchase_frequency is None
    assert report.average_order_value is None and report.clv is None
    with app.test_request_context(headers={"Accept-Language": "fa"}):
        lines = {line.key: line for line in retention.report_lines(report)}
    assert lines["retention_rate"].note
    assert lines["average_order_value"].note
    assert lines["clv"].note


def test_no_one_lost_leaves_the_lifespan_and_clv_unknown(now, make_contact):
    # Bought on 10-01 and again in the period: a customer at the start and at the end.
    record(make_contact, "09121000001", "A", [(at(d(10, 1)), M), (at(d(11, 1)), M)])
    report = retention.retention_report(ABAN)
    assert (report.retention_rate, report.churn_rate) == (100, 0)  # (1 − 0) ÷ 1 × 100
    assert report.average_order_value == M and report.purchase_frequency == 1
    assert report.lifespan_periods is None and report.clv is None


# Presets ---------------------------------------------------------------------------------


def test_presets_are_jalali_months_and_years_up_to_today():
    today = gregorian_date(1405, 9, 10)
    assert retention.preset_period("this_month", today) == Period(gregorian_date(1405, 9, 1), today)
    assert retention.preset_period("last_3_months", today) == Period(
        gregorian_date(1405, 7, 1), today
    )
    assert retention.preset_period("this_year", today) == Period(gregorian_date(1405, 1, 1), today)
    assert retention.preset_period("last_year", today) == Period(
        gregorian_date(1404, 1, 1), gregorian_date(1404, 12, 29)
    )
    # Across Nowruz: the last three months of 1405/02/05 start in Esfand 1404.
    spring = gregorian_date(1405, 2, 5)
    assert retention.preset_period("last_3_months", spring).start == gregorian_date(1404, 12, 1)


# Cohorts ---------------------------------------------------------------------------------
#
# The twelve months ending with Khordad 1405: Tir 1404 (0) … Esfand 1404 (8), Farvardin
# 1405 (9), Ordibehesht (10), Khordad (11).
#
#   Esfand 1404 — P, Q, R, S first bought in it:
#     P again in Esfand (the same month: not a later one), Farvardin (1), Khordad (3)
#     Q twice in Farvardin, the first at 00:00 on 1405/01/01 (1: counted once)
#     R in Ordibehesht (2);  S never again before the window ends (Tir 1405 is after it)
#     → month 1: P Q = 2 of 4 = 50 %; month 2: R = 25 %; month 3: P = 25 %
#   Tir 1404 — U, first at 00:00 on 1404/04/01 (the window's first moment); again in
#     Mehr 1404 (3) and at 23:59 on 1405/03/31 (11, the window's last minute)
#     → 100 % in months 3 and 11, 0 % in the others
#   V first bought at 23:59 on 1404/03/31, before the window: in no cohort
#   Khordad 1405 — T: no later month yet
#   Every other month: no one (its shares are None, shown «—»).


@pytest.fixture
def cohort_shop(now, make_contact):
    people = {
        "P": [(1404, 12, 5), (1404, 12, 20), (1405, 1, 10), (1405, 3, 1)],
        "Q": [(1404, 12, 6), (1405, 1, 1, 0, 0), (1405, 1, 25)],
        "R": [(1404, 12, 7), (1405, 2, 2)],
        "S": [(1404, 12, 8), (1405, 4, 2)],
        "U": [(1404, 4, 1, 0, 0), (1404, 7, 15), (1405, 3, 31, 23, 59)],
        "V": [(1404, 3, 31, 23, 59), (1404, 5, 1)],
        "T": [(1405, 3, 10)],
    }
    for number, (name, days) in enumerate(people.items()):
        record(make_contact, f"0912200{number:04d}", name, [(jalali(*day), M) for day in days])


def test_cohorts_by_month_of_first_purchase_as_worked_out_by_hand(cohort_shop):
    found = retention.cohorts(gregorian_date(1405, 3, 15))
    assert [(c.year, c.month) for c in found] == [(1404, m) for m in range(4, 13)] + [
        (1405, 1),
        (1405, 2),
        (1405, 3),
    ]
    sizes = {(c.year, c.month): c.size for c in found}
    assert sizes == {**{key: 0 for key in sizes}, (1404, 4): 1, (1404, 12): 4, (1405, 3): 1}
    esfand = found[8]
    assert esfand.returned == [2, 1, 1]  # months 1, 2, 3: to Khordad
    assert esfand.shares == [50, 25, 25]
    tir = found[0]
    assert len(tir.returned) == 11
    assert tir.shares == [0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 100]
    assert found[11].returned == []  # Khordad: no later month yet
    assert found[1].shares == [None] * 10  # Mordad 1404: no one to divide by


# The page --------------------------------------------------------------------------------


def metric(response, key: str) -> str:
    """The visible text of one number's card: its name, value, formula, sum and note."""
    return text_of(re.search(rf'data-metric="{key}">(.*?)</section>', response.text, re.S)[1])


def test_the_page_shows_each_number_beside_its_formula_in_persian(shop, logged_in):
    page = logged_in.get("/reports/retention?start=1405/08/01&end=۱۴۰۵/۰۸/۳۰")
    assert page.status_code == 200
    assert metric(page, "customers_start").startswith("مشتریان در آغاز دوره ۶ ")
    assert "۱۴۰۵/۰۷/۳۰" in metric(page, "customers_start")  # the day before the period
    assert metric(page, "retention_rate") == (
        "نرخ حفظ مشتری ۵۰٫۰٪ (مشتریان پایان دوره − آن‌هایی از میانشان که در آغاز دوره مشت"
        "ری نبودند: تازه‌ها و برگشته‌ها) ÷ مشتریان آغاز دوره × ۱۰۰ (۷ − ۲ − ۲) ÷ ۶ × ۱۰۰"
    )
    assert metric(page, "returning_customers").startswith("مشتری‌های برگشته ۲ ")
    assert "از دست رفته بودند و برگشتند" in metric(page, "returning_customers")
    assert "۵۰٫۰٪" in metric(page, "churn_rate")
    assert "۳۳٫۳٪" in metric(page, "repeat_purchase_rate")
    assert "۱٫۳۳" in metric(page, "purchase_frequency")
    assert "۱٬۸۷۵٬۰۰۰ ریال (۱۸۷٬۵۰۰ تومان)" in metric(page, "average_order_value")
    assert "۵٬۰۰۰٬۰۰۰ ریال" in metric(page, "clv")
    assert "۱٬۸۷۵٬۰۰۰ × ۱٫۳۳ × ۲٫۰۰" in metric(page, "clv")
    assert "حدود ۶۰ روز" in metric(page, "lifespan")
    # Each value is isolated in the page's direction: a minus would stay on its right.
    assert '<bdi dir="rtl">۵۰٫۰٪</bdi>' in page.text
    # The cohort table's months are Jalali, by name.
    assert 'data-cohort="1405-8"' in page.text and "آبان ۱۴۰۵" in page_text(page)


def test_a_preset_fills_the_days_and_an_empty_shop_shows_dashes_with_reasons(now, logged_in):
    page = logged_in.get("/reports/retention?preset=last_year")
    assert page.status_code == 200
    assert 'value="۱۴۰۴/۰۱/۰۱"' in page.text and 'value="۱۴۰۴/۱۲/۲۹"' in page.text
    assert 'aria-current="page"' in page.text
    text = metric(page, "retention_rate")
    assert "—" in text and "کسی در آغاز دوره مشتری نبود" in text
    assert "—" in metric(page, "clv")


def test_wrong_days_are_refused_with_a_persian_reason_and_no_numbers(now, logged_in):
    page = logged_in.get("/reports/retention?start=1405/08/30&end=1405/08/01")
    assert page.status_code == 400
    assert "دوره پیش از آغازش تمام می‌شود" in page_text(page)
    assert "data-metric=" not in page.text
    page = logged_in.get("/reports/retention?start=1405/07/31&end=1405/08/01")
    assert page.status_code == 400 and "1405/07/31" in page_text(page)
    page = logged_in.get("/reports/retention?start=1405/08/01&end=1405/10/01")
    assert page.status_code == 400 and "هنوز نرسیده" in page_text(page)
    page = logged_in.get("/reports/retention?start=1405/08/01")
    assert page.status_code == 400 and "روز پایان دوره را هم بنویسید" in page_text(page)


def test_staff_read_the_report_and_its_exports(shop, client, staff_user):
    staff = log_in(client, "staff@example.com")
    assert staff.get("/reports/retention").status_code == 200
    assert staff.get("/reports/retention.xlsx").status_code == 200
    assert staff.get("/reports/retention-cohorts.xlsx").status_code == 200


def test_the_report_needs_a_signed_in_user(client):
    assert client.get("/reports/retention").status_code == 302


# Exports ---------------------------------------------------------------------------------


def read_xlsx(response) -> list[list]:
    assert response.status_code == 200
    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return (
        CalamineWorkbook.from_filelike(io.BytesIO(response.data)).get_sheet_by_index(0).to_python()
    )


def test_the_report_exports_to_excel_with_persian_headers_and_jalali_days(shop, logged_in):
    rows = read_xlsx(logged_in.get("/reports/retention.xlsx?start=1405/08/01&end=1405/08/30"))
    assert rows[0] == ["شاخص", "مقدار", "فرمول", "محاسبه", "یادداشت"]
    assert rows[1][:2] == ["دوره", "1405/08/01 – 1405/08/30"]
    by_label = {row[0]: row for row in rows[1:]}
    assert by_label["مشتریان در آغاز دوره"][1] == 6
    assert by_label["مشتریان در پایان دوره"][1] == 7
    assert by_label["مشتری‌های تازه"][1] == 2
    assert by_label["مشتری‌های برگشته"][1] == 2
    assert by_label["نرخ حفظ مشتری"][1:4] == [
        50,
        "(مشتریان پایان دوره − آن‌هایی از میانشان که در آغاز دوره مشت"
        "ری نبودند: تازه‌ها و برگشته‌ها) ÷ مشتریان آغاز دوره × ۱۰۰",
        "(۷ − ۲ − ۲) ÷ ۶ × ۱۰۰",
    ]
    assert by_label["نرخ ریزش مشتری"][1] == 50
    assert by_label["نرخ تکرار خرید"][1] == 33.33
    assert by_label["میانگین ارزش سفارش"][1] == 1_875_000
    assert by_label["ارزش طول عمر مشتری (CLV)"][1] == 5 * M


def test_the_cohort_table_exports_to_excel(cohort_shop, logged_in):
    rows = read_xlsx(
        logged_in.get("/reports/retention-cohorts.xlsx?start=1405/03/01&end=1405/03/15")
    )
    assert rows[0][:4] == ["ماه اولین خرید", "مشتری‌ها", "ماه ۱", "ماه ۲"]
    assert rows[0][-1] == "ماه ۱۱"
    assert rows[1][:5] == ["1404/04", 1, 0, 0, 100]
    assert rows[9][:5] == ["1404/12", 4, 50, 25, 25]
    assert rows[12][:2] == ["1405/03", 1]


def test_an_export_of_wrong_days_is_refused(now, logged_in):
    response = logged_in.get("/reports/retention.xlsx?start=1405/08/30&end=1405/08/01")
    assert response.status_code == 400
    assert "دوره پیش از آغازش تمام می‌شود" in page_text(response)


def test_the_page_reads_in_english_too(shop, english):
    page = english.get("/reports/retention?start=1405/08/01&end=1405/08/30")
    assert "Retention rate 50.0%" in metric(page, "retention_rate")
    assert '<bdi dir="ltr">50.0%</bdi>' in page.text
    assert "Azar 1404" in page_text(page)


# The API ---------------------------------------------------------------------------------


@pytest.fixture
def api(client):
    """``api(query)``: GET /api/v1/reports/retention with a fresh token."""
    _token, secret = create_token("tests")
    db.session.commit()

    def get(query: str, **headers):
        return client.get(
            f"/api/v1/reports/retention{query}",
            headers={"Authorization": f"Bearer {secret}", **headers},
        )

    return get


def test_the_api_answers_the_numbers_of_the_period(shop, api):
    answer = api("?from=2026-10-23&to=2026-11-21")
    assert answer.status_code == 200, answer.json
    assert answer.json == {
        "from": "2026-10-23",
        "to": "2026-11-21",
        "from_jalali": "1405/08/01",
        "to_jalali": "1405/08/30",
        "lost_days": 180,
        "customers_start": 6,
        "customers_end": 7,
        "new_customers": 2,
        "new_customers_at_end": 2,
        "returning_customers": 2,  # L N
        "retention_rate": 50.0,  # (7 − 2 − 2) ÷ 6 × 100
        "churn_rate": 50.0,
        "repeat_purchase_rate": 33.33,  # 2 ÷ 6 × 100
        "purchase_frequency": 1.33,  # 8 ÷ 6
        "average_order_value": 1_875_000,  # 15,000,000 ÷ 8
        "clv": 5_000_000,  # 1,875,000 × 4/3 × 2
        "customers_who_bought": 6,
        "orders": 8,
        "revenue": 15_000_000,
    }
    # The same days in the Jalali calendar, in Persian digits too.
    assert api("?from=1405-08-01&to=۱۴۰۵-۰۸-۳۰").json == answer.json


def test_the_api_answers_null_where_it_would_divide_by_zero(now, api):
    answer = api("?from=2026-10-23&to=2026-11-21").json
    assert answer["customers_start"] == 0 and answer["orders"] == 0
    for field in (
        "retention_rate",
        "churn_rate",
        "repeat_purchase_rate",
        "purchase_frequency",
        "average_order_value",
        "clv",
    ):
        assert answer[field] is None, field


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("?to=2026-11-21", "from", "پر کردن این خانه الزامی است."),
        ("?from=2026-11-21&to=2026-10-23", "to", "دوره پیش از آغازش تمام می‌شود."),
        ("?from=2026-02-30&to=2026-11-21", "from", "«2026-02-30» تاریخ درستی نیست"),
        ("?from=1405-07-31&to=1405-08-30", "from", "«1405-07-31» تاریخ درستی نیست"),
        ("?from=2026-10-23&to=2026-12-02", "to", "«2026-12-02» در آینده است."),
        ("?from=23/10/2026&to=2026-11-21", "from", "«2026-11-22»"),
    ],
)
def test_the_api_refuses_wrong_days_naming_each(now, api, query, field, message):
    answer = api(query)
    assert answer.status_code == 422
    error = answer.json["error"]
    assert error["code"] == "invalid"
    assert error["message"] == "دوره درست نیست؛ جزئیات را ببینید."
    assert [problem["field"] for problem in error["details"]] == [field]
    assert message in error["details"][0]["message"]


def test_the_api_needs_a_token(client):
    answer = client.get("/api/v1/reports/retention?from=2026-10-23&to=2026-11-21")
    assert answer.status_code == 401 and answer.json["error"]["code"] == "unauthorized"
