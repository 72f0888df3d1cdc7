"""When an automation sends, and to whom: each kind's trigger as SQL over contacts.

A *run* is one automation on one day (or, for an occasion, one occurrence): the
contacts whose moment it is, all sent at the run's Tehran time. Each run becomes one
campaign (``Campaign.automation_id`` and ``Campaign.occurrence``), and each of its
messages carries an idempotency key naming the automation, the contact and what is
being greeted, so a run made twice (a crash, a restart, two schedulers) sends once:

- birthday ``birthday:<automation>:<contact>:<Jalali year of the birthday>``;
- anniversary ``anniversary:<automation>:<contact>:<Jalali year>``;
- occasion ``occasion:<automation>:<contact>:<occurrence ident>`` (``yalda:1405``);
- winback ``winback:<automation>:<contact>:<day of the last purchase>``: a new purchase
  starts a new quiet spell, and with it a new key;
- welcome ``welcome:<automation>:<contact>``: once per contact. Counted from the day
  the customer was added ("signup"), it welcomes only those added by hand or through
  the API (``Contact.source`` "manual", "api"): customers brought in by a file import
  ("import", contacts or purchases) are existing ones, never welcomed;
- followup ``followup:<automation>:<contact>:<day of the purchase>``.

Days are Tehran days. Birthdays are read through the (birth_jmonth, birth_jday) index as
segments read them (app.audience.rules.day_window_condition): a birthday on 30 Esfand is
greeted on 29 Esfand in a common year.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, false, func, or_, select, true

from app.audience.rules import day_window, day_window_condition
from app.contacts.models import Contact, Purchase
from app.extensions import db
from app.occasions.calendar import occurrences
from app.occasions.models import Automation
from app.persian import TEHRAN, day_start, gregorian_date, jalali_date, to_tehran

# Kinds sent at their Tehran time on a day; welcome counts minutes from each contact's
# own moment instead.
DAY_KINDS = ("birthday", "anniversary", "occasion", "winback", "followup")


@dataclass(frozen=True)
class Run:
    """One automation's sending on one day or occurrence."""

    occurrence: str  # the campaign's ``occurrence``: "2026-12-21", or "yalda:1405"
    day: date  # the Tehran day it sends on
    due: datetime  # UTC: when it sends (welcome: the start of its stretch of the day)
    condition: ColumnElement[bool]  # whose moment it is (the audience comes on top)
    key: str  # the idempotency key, "{contact}" standing for the contact's id
    # Contacts become due through the day (welcome): the run is read again each time.
    again: bool = False
    # Welcome only: when each contact's moment comes, as an SQL expression.
    moment: object = None


def send_moment(day: date, clock: time) -> datetime:
    """A Tehran day and time of day, as a UTC moment."""
    return datetime.combine(day, clock, tzinfo=TEHRAN).astimezone(UTC)


def tehran_days(since: datetime, until: datetime) -> Iterator[date]:
    """The Tehran days the moments since..until touch."""
    day, last = to_tehran(since).date(), to_tehran(until).date()
    while day <= last:
        yield day
        day += timedelta(days=1)


def _on_day(column, day: date) -> ColumnElement[bool]:
    """A moment column on the Tehran day ``day`` (a range of its index)."""
    return and_range(column, day_start(day), day_start(day + timedelta(days=1)))


def _jalali_year(day: date) -> int:
    return int(jalali_date(day)[:4])


def _counts_from(automation: Automation):
    return Contact.created_at if automation.counts_from == "signup" else Contact.first_purchase_at


def _anniversary(automation: Automation, day: date, first_year: int | None):
    """Contacts whose first purchase (or signup) fell on this Jalali month and day in an
    earlier year: one range of the moment column per year (and per day of a folded 30
    Esfand)."""
    column = _counts_from(automation)
    year = _jalali_year(day)
    if first_year is None:
        return false()
    ranges = []
    for month, first, last in day_window(day, 0):
        for past in range(first_year, year):
            for number in range(first, last + 1):
                try:
                    then = gregorian_date(past, month, number)
                except ValueError:  # 30 Esfand of a common year
                    continue
                ranges.append(_on_day(column, then))
    return or_(*ranges) if ranges else false()


def first_year(automation: Automation) -> int | None:
    """The Jalali year of the earliest moment an anniversary counts from (None: none)."""
    earliest = db.session.scalar(select(func.min(_counts_from(automation))))
    return _jalali_year(to_tehran(earliest).date()) if earliest else None


def day_run(automation: Automation, day: date, first: int | None = None) -> Run | None:
    """The run of a day kind (not occasion) on the Tehran day ``day``."""
    kind, number = automation.kind, automation.id
    due = send_moment(day, automation.send_time)
    if kind == "birthday":
        target = day + timedelta(days=automation.days_before)
        condition = day_window_condition(Contact.birth_jmonth, Contact.birth_jday, target, 0)
        key = f"birthday:{number}:{{contact}}:{_jalali_year(target)}"
    elif kind == "anniversary":
        target = day + timedelta(days=automation.days_before)
        condition = _anniversary(automation, target, first)
        key = f"anniversary:{number}:{{contact}}:{_jalali_year(target)}"
    elif kind == "winback":
        bought = day - timedelta(days=automation.days_after)
        condition = _on_day(Contact.last_purchase_at, bought)
        key = f"winback:{number}:{{contact}}:{bought.isoformat()}"
    elif kind == "followup":
        bought = day - timedelta(days=automation.days_after)
        buyers = select(Purchase.contact_id).where(_on_day(Purchase.purchased_at, bought))
        condition = Contact.id.in_(buyers)
        key = f"followup:{number}:{{contact}}:{bought.isoformat()}"
    else:
        return None
    return Run(day.isoformat(), day, due, condition, key)


# Where the contacts a "signup" welcome leaves out came from: a file import brings in
# existing customers (Contact.source; the others are "manual" and "api").
NOT_WELCOMED_SOURCES = ("import",)


def welcomed(automation: Automation) -> ColumnElement[bool]:
    """Who a welcome may greet at all: counted from signup, not the imported."""
    if automation.counts_from == "signup":
        return Contact.source.not_in(NOT_WELCOMED_SOURCES)
    return true()


def welcome_run(automation: Automation, day: date, since: datetime, until: datetime) -> Run:
    """Contacts whose welcome comes on ``day`` between ``since`` and ``until`` (UTC)."""
    column = _counts_from(automation)
    delay = timedelta(minutes=automation.delay_minutes)
    low = max(since, day_start(day))
    high = min(until, day_start(day + timedelta(days=1)))
    condition = and_range(column, low - delay, high - delay) & welcomed(automation)
    return Run(
        day.isoformat(),
        day,
        low,
        condition,
        f"welcome:{automation.id}:{{contact}}",
        again=True,
        moment=column,
    )


def and_range(column, low: datetime, high: datetime) -> ColumnElement[bool]:
    """low <= column < high (nothing when the range is empty)."""
    if high <= low:
        return false()
    return (column >= low) & (column < high)


def runs_between(automation: Automation, since: datetime, until: datetime) -> list[Run]:
    """The runs of an automation due from ``since`` up to (not including) ``until``."""
    kind = automation.kind
    days = list(tehran_days(since, until))
    if kind == "welcome":
        return [welcome_run(automation, day, since, until) for day in days]
    if kind == "occasion":
        shift = timedelta(days=automation.days_before)
        found = []
        for item in occurrences(days[0] + shift, days[-1] + shift):
            if item.key != automation.occasion_key:
                continue
            day = item.day - shift
            due = send_moment(day, automation.send_time)
            if since <= due < until:
                key = f"occasion:{automation.id}:{{contact}}:{item.ident}"
                found.append(Run(item.ident, day, due, true(), key))
        return found
    first = first_year(automation) if kind == "anniversary" else None
    found = []
    for day in days:
        run = day_run(automation, day, first)
        if run is not None and since <= run.due < until:
            found.append(run)
    return found


def run_of(automation: Automation, occurrence: str, since: datetime, until: datetime):
    """The run named ``occurrence`` among those due since..until, or None."""
    for run in runs_between(automation, since, until):
        if run.occurrence == occurrence:
            return run
    return None
