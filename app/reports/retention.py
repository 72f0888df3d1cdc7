"""Customer retention over a Jalali period, and monthly cohorts: the numbers and their sums.

Everything is counted in SQL from the purchases (and ``Contact.first_purchase_at``, which
``refresh_purchase_totals`` keeps equal to a contact's earliest purchase):

- A customer *counts at* a Tehran day D when they bought in the ``lost`` Tehran days up
  to and including D (D is day 0): their last purchase up to D is fewer than ``lost``
  days before it. ``lost`` is the threshold of the built-in segment «از دست رفته» (180
  days unless the owner changed it), so a customer stops counting on the very day that
  segment would take them in. "Their last purchase up to D is recent" is the same as "a
  purchase of theirs falls in the window", so it is one range of an index on
  ``purchased_at``, whatever they bought after D.
- Customers at the start of a period count at the close of the day before it; at the end,
  at the close of its last day. New customers made their first purchase in the period;
  returning customers are customers at the end who had bought before the period but were
  not customers at its start: they had lapsed and came back.
- Retention rate = (customers at the end − new customers) ÷ customers at the start × 100,
  where the "new customers" taken away are every customer at the end who was not one at
  the start: the first-time buyers among them and the returning ones. So the rate is the
  share of the start's customers who are still customers at the end, never above 100 %
  (returning customers would otherwise count as kept, and a shop whose lapsed customers
  came back would read «۲۰۰٪»), and never below 0 (in a period longer than the threshold
  some first-time buyers are lost again by its end; they are not among the end's).
- Customer lifetime value = average order value × purchase frequency × average lifespan,
  where the lifespan is ``1 ÷ churn`` periods: if a share c of the customers leaves each
  period, a customer stays 1/c periods on average. Frequency is orders per customer per
  period, so the product is Rials per customer over their expected stay.

A division by zero gives None, which pages show as «—» with a note why.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import Index, case, distinct, exists, func, select

from app.audience.models import Segment
from app.contacts.models import Contact, Purchase
from app.extensions import db
from app.persian import (
    day_start,
    digits_shown,
    gregorian_date,
    jalali_month_day,
    show_date,
    show_number,
    tehran_today,
)

DEFAULT_LOST_DAYS = 180
COHORT_MONTHS = 12
PRESETS = ("this_month", "last_3_months", "this_year", "last_year")

# Purchases in a range of time, with whose and how much: the windows and the period below
# read this index alone (migration 0025).
Index(
    "ix_purchases_purchased_at_contact_id_amount",
    Purchase.purchased_at,
    Purchase.contact_id,
    Purchase.amount,
)


@dataclass(frozen=True)
class Period:
    """Tehran days ``start`` through ``end``, both included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


# Periods -----------------------------------------------------------------------------


def jalali_year_month(day: date) -> tuple[int, int]:
    month, number = jalali_month_day(day)
    first = day - timedelta(days=number - 1)
    # The Jalali year of the month's first day: the Gregorian year - 621 or - 622.
    year = first.year - 621
    if gregorian_date(year, month, 1) != first:
        year -= 1
    return year, month


def month_start(year: int, month: int) -> date:
    """The first day of a Jalali month; months past 12 or before 1 roll the year."""
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return gregorian_date(year, month, 1)


def preset_period(name: str, today: date) -> Period:
    """This month, the last three months (this one included), this year, last year.

    The first three run to today; last year is the whole Jalali year before this one.
    """
    year, month = jalali_year_month(today)
    if name == "this_month":
        return Period(month_start(year, month), today)
    if name == "last_3_months":
        return Period(month_start(year, month - 2), today)
    if name == "this_year":
        return Period(month_start(year, 1), today)
    if name == "last_year":
        return Period(month_start(year - 1, 1), month_start(year, 1) - timedelta(days=1))
    raise ValueError(f"unknown period {name}")


# The threshold -----------------------------------------------------------------------


def lost_days() -> int:
    """After how many days without a purchase a customer is lost: the built-in segment
    ``lost``'s threshold when its rules are still one "last purchase N or more days ago"
    (or "more than N days ago"); else the default, 180."""
    rules = db.session.scalar(select(Segment.rules).where(Segment.key == "lost")) or {}
    found = rules.get("rules") if isinstance(rules, dict) else None
    if isinstance(found, list) and len(found) == 1 and isinstance(found[0], dict):
        rule = found[0]
        value = rule.get("value")
        if rule.get("field") == "last_purchase" and isinstance(value, int) and value > 0:
            if rule.get("op") == "at_least":
                return value
            if rule.get("op") == "more_than":
                return value + 1
    return DEFAULT_LOST_DAYS


# The report --------------------------------------------------------------------------


def _ratio(part: float, whole: float, scale: float = 1) -> float | None:
    return part / whole * scale if whole else None


@dataclass(frozen=True)
class Retention:
    """The counts of a period and every rate made of them (None: a division by zero)."""

    period: Period
    lost_days: int
    customers_start: int
    customers_end: int
    new_customers: int
    # … of whom still customers at the end: all of them unless the period is longer than
    # the threshold (a year's first buyers of spring may be lost by winter).
    new_at_end: int
    # Customers at the end who bought before the period but were not customers at its start.
    returning: int
    buyers: int  # customers with a purchase in the period
    repeat_buyers: int  # … with two or more
    orders: int
    revenue: int  # Rials

    @property
    def kept(self) -> int:
        """Customers at the start still customers at the end."""
        return self.customers_end - self.new_at_end - self.returning

    @property
    def retention_rate(self) -> float | None:
        return _ratio(self.kept, self.customers_start, 100)

    @property
    def churn_rate(self) -> float | None:
        rate = self.retention_rate
        return None if rate is None else 100 - rate

    @property
    def repeat_purchase_rate(self) -> float | None:
        return _ratio(self.repeat_buyers, self.buyers, 100)

    @property
    def purchase_frequency(self) -> float | None:
        return _ratio(self.orders, self.buyers)

    @property
    def average_order_value(self) -> float | None:
        return _ratio(self.revenue, self.orders)

    @property
    def lifespan_periods(self) -> float | None:
        """1 ÷ churn: how many periods like this one a customer stays, on average.

        None when no one left: the stay has no end to count.
        """
        churn = self.churn_rate
        return 100 / churn if churn is not None and churn > 0 else None

    @property
    def lifespan_days(self) -> float | None:
        periods = self.lifespan_periods
        return None if periods is None else periods * self.period.days

    @property
    def clv(self) -> float | None:
        parts = (self.average_order_value, self.purchase_frequency, self.lifespan_periods)
        if any(part is None for part in parts):
            return None
        return parts[0] * parts[1] * parts[2]


def customers_at(day: date, lost: int) -> int:
    """How many customers count at the close of Tehran day ``day`` (see the module)."""
    return (
        db.session.scalar(
            select(func.count(distinct(Purchase.contact_id))).where(
                Purchase.purchased_at >= day_start(day - timedelta(days=lost - 1)),
                Purchase.purchased_at < day_start(day + timedelta(days=1)),
            )
        )
        or 0
    )


def retention_report(period: Period, lost: int | None = None) -> Retention:
    """The period's counts: a query for its purchases, one for its new customers (and, for
    a period longer than the threshold, one for those of them still customers at its end),
    one for the returning customers, one for each of the two days' customers."""
    lost = lost or lost_days()
    start, end = day_start(period.start), day_start(period.end + timedelta(days=1))
    per_buyer = (
        select(
            func.count().label("orders"),
            func.sum(Purchase.amount).label("revenue"),
        )
        .where(Purchase.purchased_at >= start, Purchase.purchased_at < end)
        .group_by(Purchase.contact_id)
        .subquery()
    )
    buyers, repeat_buyers, orders, revenue = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((per_buyer.c.orders >= 2, 1), else_=0)), 0),
            func.coalesce(func.sum(per_buyer.c.orders), 0),
            func.coalesce(func.sum(per_buyer.c.revenue), 0),
        )
    ).one()
    first_in_period = (Contact.first_purchase_at >= start, Contact.first_purchase_at < end)
    new = db.session.scalar(select(func.count()).where(*first_in_period)) or 0
    end_window = day_start(period.end - timedelta(days=lost - 1))
    new_at_end = new
    if end_window > start:
        # A new customer's first purchase may be older than the threshold at the end.
        # Few contacts are new; each is one seek of ix_purchases_contact_id_purchased_at.
        new_at_end = db.session.scalar(
            select(func.count()).where(
                *first_in_period,
                exists().where(
                    Purchase.contact_id == Contact.id,
                    Purchase.purchased_at >= end_window,
                    Purchase.purchased_at < end,
                ),
            )
        )
    # Returning: a purchase in the end's window, a first purchase before the period and no
    # purchase in the start's window. Driven by the end window's purchases (one range of
    # ix_purchases_purchased_at_contact_id_amount), each a seek for the start's window.
    earlier = Purchase.__table__.alias("earlier")
    returning = db.session.scalar(
        select(func.count(distinct(Purchase.contact_id)))
        .join(Contact, Contact.id == Purchase.contact_id)
        .where(
            Purchase.purchased_at >= end_window,
            Purchase.purchased_at < end,
            Contact.first_purchase_at < start,
            ~exists().where(
                earlier.c.contact_id == Purchase.contact_id,
                earlier.c.purchased_at >= day_start(period.start - timedelta(days=lost)),
                earlier.c.purchased_at < start,
            ),
        )
    )
    return Retention(
        period=period,
        lost_days=lost,
        customers_start=customers_at(period.start - timedelta(days=1), lost),
        customers_end=customers_at(period.end, lost),
        new_customers=new,
        new_at_end=new_at_end,
        returning=returning or 0,
        buyers=buyers,
        repeat_buyers=int(repeat_buyers),
        orders=int(orders),
        revenue=int(revenue),
    )


# Cohorts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cohort:
    """The customers whose first purchase fell in one Jalali month, and how many of them
    bought again in each month after it (``returned[0]`` is the month after)."""

    year: int
    month: int
    size: int
    returned: list[int]

    @property
    def shares(self) -> list[float | None]:
        return [_ratio(count, self.size, 100) for count in self.returned]


def cohorts(last_day: date, months: int = COHORT_MONTHS) -> list[Cohort]:
    """The ``months`` Jalali months up to the one holding ``last_day``, oldest first.

    A cohort's following months stop at that same last month: the newest cohort has
    none yet. Each purchase and first purchase is put in its month by comparing it with
    the months' first moments (Tehran midnight), the same SQL on both databases.
    """
    year, month = jalali_year_month(last_day)
    firsts = [month_start(year, month - months + 1 + n) for n in range(months + 1)]
    bounds = [day_start(day) for day in firsts]

    def month_of(column):
        return case(*((column < b, n) for n, b in enumerate(bounds[1:-1])), else_=months - 1)

    in_window = (Contact.first_purchase_at >= bounds[0], Contact.first_purchase_at < bounds[-1])
    # Grouped outside a subquery: PostgreSQL groups by an expression only if it is the
    # very one selected, and each use of a CASE with parameters is a new one.
    firsts_of = (
        select(month_of(Contact.first_purchase_at).label("cohort")).where(*in_window).subquery()
    )
    sizes = dict(
        db.session.execute(
            select(firsts_of.c.cohort, func.count()).group_by(firsts_of.c.cohort)
        ).all()
    )
    bought = (
        select(
            month_of(Contact.first_purchase_at).label("cohort"),
            month_of(Purchase.purchased_at).label("month"),
            Purchase.contact_id,
        )
        .join(Contact, Contact.id == Purchase.contact_id)
        .where(*in_window, Purchase.purchased_at >= bounds[1], Purchase.purchased_at < bounds[-1])
        .subquery()
    )
    returned: dict[tuple[int, int], int] = {}
    for cohort, month_number, count in db.session.execute(
        select(bought.c.cohort, bought.c.month, func.count(distinct(bought.c.contact_id)))
        .where(bought.c.month > bought.c.cohort)
        .group_by(bought.c.cohort, bought.c.month)
    ):
        returned[(cohort, month_number)] = count
    result = []
    for n in range(months):
        cohort_year, cohort_month = jalali_year_month(firsts[n])
        result.append(
            Cohort(
                year=cohort_year,
                month=cohort_month,
                size=sizes.get(n, 0),
                returned=[returned.get((n, later), 0) for later in range(n + 1, months)],
            )
        )
    return result


def today() -> date:
    return tehran_today()


# In words: each number with its formula and its sum -----------------------------------


@dataclass(frozen=True)
class Line:
    """One number of the report as the page and the export show it.

    ``value`` is the number (None: a division by zero); ``kind`` says how to show it
    (count, percent, decimal, rials, periods); ``formula`` is the rule in words and
    ``worked`` the same sum with this period's numbers; ``note`` says why there is none.
    """

    key: str
    label: str
    value: float | int | None
    kind: str
    formula: str
    worked: str
    note: str = ""


def _fixed(value: float | None, places: int) -> str:
    """A decimal as the page shows it: 12.5 / ۱۲٫۵ with thousands grouped; «—» for None."""
    if value is None:
        return "—"
    text = f"{value:,.{places}f}"
    localised = digits_shown()
    return text if localised is str else localised(text.replace(",", "٬").replace(".", "٫"))


def shown(value: float | int | None, kind: str) -> str:
    """A line's value in the page's digits: 1,234 · 12.5% · 1.75 · 1,250,000 Rials."""
    if value is None:
        return "—"
    if kind == "count":
        return show_number(int(value))
    if kind == "percent":
        return _("%(value)s%%", value=_fixed(value, 1))
    if kind == "rials":
        return _(
            "%(rials)s Rials (%(toman)s Toman)",
            rials=show_number(round(value)),
            toman=show_number(round(value) // 10),
        )
    return _fixed(value, 2)


def report_lines(report: Retention) -> list[Line]:
    """Every number of the report, in the order the page shows them."""
    r = report
    n = show_number
    days = n(r.lost_days)
    before = show_date(r.period.start - timedelta(days=1))
    no_buyers = _("Nobody bought in this period.")
    return [
        Line(
            "customers_start",
            _("Customers at the start"),
            r.customers_start,
            "count",
            _(
                "Customers whose last purchase up to %(day)s is less than %(days)s days old.",
                day=before,
                days=days,
            ),
            "",
        ),
        Line(
            "customers_end",
            _("Customers at the end"),
            r.customers_end,
            "count",
            _(
                "Customers whose last purchase up to %(day)s is less than %(days)s days old.",
                day=show_date(r.period.end),
                days=days,
            ),
            "",
        ),
        Line(
            "new_customers",
            _("New customers"),
            r.new_customers,
            "count",
            _("Customers whose first purchase was in this period."),
            "",
            ""
            if r.new_at_end == r.new_customers
            else _(
                "The period is longer than %(days)s days: only %(count)s of them are still "
                "customers at its end, and the retention rate takes away only those.",
                days=days,
                count=n(r.new_at_end),
            ),
        ),
        Line(
            "returning_customers",
            _("Returning customers"),
            r.returning,
            "count",
            _(
                "Customers at the end who had bought before the period but were not "
                "customers at its start: they had lapsed and came back."
            ),
            "",
        ),
        Line(
            "retention_rate",
            _("Retention rate"),
            r.retention_rate,
            "percent",
            _(
                "(customers at the end − those of them who were not customers at the start: "
                "the new and the returning) ÷ customers at the start × 100"
            ),
            f"({n(r.customers_end)} − {n(r.new_at_end)} − {n(r.returning)})"
            f" ÷ {n(r.customers_start)} × {n(100)}",
            _("No customers at the start of the period: there was no one to keep.")
            if r.retention_rate is None
            else "",
        ),
        Line(
            "churn_rate",
            _("Churn rate"),
            r.churn_rate,
            "percent",
            _("100 − retention rate"),
            f"{n(100)} − {_fixed(r.retention_rate, 1)}",
            _("No customers at the start of the period: there was no one to lose.")
            if r.churn_rate is None
            else "",
        ),
        Line(
            "buyers",
            _("Customers who bought in the period"),
            r.buyers,
            "count",
            _("Customers with one or more purchases in this period."),
            "",
        ),
        Line(
            "repeat_buyers",
            _("Customers who bought again"),
            r.repeat_buyers,
            "count",
            _("Customers with two or more purchases in this period."),
            "",
        ),
        Line(
            "repeat_purchase_rate",
            _("Repeat purchase rate"),
            r.repeat_purchase_rate,
            "percent",
            _("customers with two or more purchases ÷ customers with one or more × 100"),
            f"{n(r.repeat_buyers)} ÷ {n(r.buyers)} × {n(100)}",
            no_buyers if r.repeat_purchase_rate is None else "",
        ),
        Line(
            "orders",
            _("Orders"),
            r.orders,
            "count",
            _("Purchases recorded in this period."),
            "",
        ),
        Line(
            "revenue",
            _("Revenue"),
            r.revenue,
            "rials",
            _("The sum of this period's purchases."),
            "",
        ),
        Line(
            "purchase_frequency",
            _("Purchase frequency"),
            r.purchase_frequency,
            "decimal",
            _("orders ÷ customers who bought"),
            f"{n(r.orders)} ÷ {n(r.buyers)}",
            no_buyers if r.purchase_frequency is None else "",
        ),
        Line(
            "average_order_value",
            _("Average order value"),
            r.average_order_value,
            "rials",
            _("revenue ÷ orders"),
            f"{n(r.revenue)} ÷ {n(r.orders)}",
            _("No orders in this period.") if r.average_order_value is None else "",
        ),
        Line(
            "lifespan",
            _("Average customer lifespan (periods)"),
            r.lifespan_periods,
            "decimal",
            _(
                "1 ÷ churn rate: if that share of customers leaves every %(days)s days, "
                "a customer stays this many such periods on average (about %(total)s days).",
                days=n(r.period.days),
                total=_fixed(r.lifespan_days, 0),
            ),
            f"{n(100)} ÷ {_fixed(r.churn_rate, 1)}",
            ""
            if r.lifespan_periods is not None
            else _("No customer was lost in this period, so how long one stays cannot be told."),
        ),
        Line(
            "clv",
            _("Customer lifetime value (CLV)"),
            r.clv,
            "rials",
            _("average order value × purchase frequency × average lifespan"),
            f"{_fixed(r.average_order_value, 0)} × {_fixed(r.purchase_frequency, 2)}"
            f" × {_fixed(r.lifespan_periods, 2)}",
            ""
            if r.clv is not None
            else _("It needs the average order value, the purchase frequency and the lifespan."),
        ),
    ]
