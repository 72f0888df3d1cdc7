"""The dashboard: messages and their cost per day, week or Jalali month, the delivery rate,
failures by reason, and the credit left at each provider.

The charts read ``daily_messages``, the messages handed to a provider counted per Tehran
day (``count_recent_days``, a worker job), never the messages themselves: with ten
million of them a GROUP BY over the log would take seconds on every visit. A day is
counted again while its messages may still change (delivery reports come for a few
days); an older day is counted once.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import jdatetime
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, insert, literal, select

from app.extensions import db
from app.persian import day_start, tehran_today
from app.reports.labels import month_name, week_name
from app.reports.models import CountedDay, DailyMessages
from app.sending.accounts import check_credit
from app.sending.models import ERROR_LABELS, STATUS_LABELS, Message, ProviderAccount
from app.types import utcnow

# Days after which a day's messages are taken as settled and not counted again.
SETTLING_DAYS = 7
# Older days counted per run of the job (a new install of an old log catches up in steps).
CATCH_UP_DAYS = 60
# How often the worker reads each account's credit.
CREDIT_EVERY = timedelta(minutes=30)

PERIODS = {
    "day": _l("Daily (last 30 days)"),
    "week": _l("Weekly (last 12 weeks)"),
    "month": _l("Monthly (last 12 months)"),
}
# Handed over and finally settled either way: what the delivery rate is a share of.
SETTLED = ("delivered", "failed", "undeliverable", "blacklisted", "expired")


def count_day(day: date) -> None:
    """Count again the messages handed to a provider on a Tehran day; the caller commits."""
    start, end = day_start(day), day_start(day + timedelta(days=1))
    db.session.execute(delete(DailyMessages).where(DailyMessages.day == day))
    error = func.coalesce(Message.error, "")
    counts = (
        select(
            literal(day),
            Message.provider_id,
            Message.status,
            error,
            func.count(),
            func.sum(Message.parts),
        )
        # Both values of ``marketing``: the handed-over index leads with it.
        .where(
            Message.marketing.in_((True, False)),
            Message.handed_over_at >= start,
            Message.handed_over_at < end,
        )
        .group_by(Message.provider_id, Message.status, error)
    )
    db.session.execute(
        insert(DailyMessages).from_select(
            ["day", "provider_id", "status", "error", "messages", "parts"], counts
        )
    )
    counted = db.session.get(CountedDay, day)
    if counted is None:
        db.session.add(CountedDay(day=day, counted_at=utcnow()))
    else:
        counted.counted_at = utcnow()


def days_to_count(today: date) -> list[date]:
    """The days not yet settled, and older days with messages never counted (at most
    ``CATCH_UP_DAYS`` of them, newest first)."""
    recent = [today - timedelta(days=back) for back in range(SETTLING_DAYS)]
    # The first message ever handed over: one look into the handed-over index for each
    # value of ``marketing`` (a MIN over both at once would read the whole index).
    firsts = [
        db.session.scalar(
            select(func.min(Message.handed_over_at)).where(
                Message.marketing == marketing, Message.handed_over_at.is_not(None)
            )
        )
        for marketing in (True, False)
    ]
    firsts = [moment for moment in firsts if moment is not None]
    if not firsts:
        return []
    first = min(firsts)
    settled_from = today - timedelta(days=SETTLING_DAYS)
    first_day = min(first.astimezone(day_start(today).tzinfo).date(), settled_from)
    counted = set(
        db.session.scalars(
            select(CountedDay.day).where(CountedDay.day >= first_day - timedelta(days=1))
        )
    )
    older = []
    day = settled_from
    while day >= first_day - timedelta(days=1) and len(older) < CATCH_UP_DAYS:
        if day not in counted:
            older.append(day)
        day -= timedelta(days=1)
    return recent + older


def count_recent_days() -> int:
    """The worker job: count the days that need it; return how many were counted."""
    days = days_to_count(tehran_today())
    for day in days:
        count_day(day)
        db.session.commit()
    return len(days)


def read_credits(every: timedelta = CREDIT_EVERY) -> int:
    """The worker job: read the credit of each real account not read within ``every``."""
    due = db.session.scalars(
        select(ProviderAccount).where(
            ProviderAccount.kind != "console",
            (ProviderAccount.credit_read_at.is_(None))
            | (ProviderAccount.credit_read_at < utcnow() - every),
        )
    ).all()
    for account in due:
        check_credit(account)
        db.session.commit()
    return len(due)


@dataclass
class Bucket:
    label: str  # the Jalali day, week or month it stands for
    start: date
    end: date  # the first day after it
    messages: int = 0
    parts: int = 0
    cost: int = 0
    delivered: int = 0
    settled: int = 0

    @property
    def delivery_rate(self) -> float | None:
        return 100 * self.delivered / self.settled if self.settled else None


def buckets(period: str, today: date) -> list[Bucket]:
    """The days, Jalali weeks (Saturday to Friday) or Jalali months to chart, oldest first."""
    if period == "month":
        month = jdatetime.date.fromgregorian(date=today).replace(day=1)
        starts = []
        for _ in range(12):
            starts.append(month)
            month = (month - timedelta(days=1)).replace(day=1)
        starts.reverse()
        result = []
        for index, first in enumerate(starts):
            following = (
                starts[index + 1].togregorian()
                if index + 1 < len(starts)
                else today + timedelta(days=1)
            )
            result.append(
                Bucket(month_name(first.year, first.month), first.togregorian(), following)
            )
        return result
    if period == "week":
        # date.weekday(): Monday 0 … Saturday 5.
        saturday = today - timedelta(days=(today.weekday() - 5) % 7)
        starts = [saturday - timedelta(weeks=back) for back in range(11, -1, -1)]
        return [
            Bucket(
                week_name(jdatetime.date.fromgregorian(date=start)),
                start,
                min(start + timedelta(days=7), today + timedelta(days=1)),
            )
            for start in starts
        ]
    days = [today - timedelta(days=back) for back in range(29, -1, -1)]
    return [
        Bucket(jdatetime.date.fromgregorian(date=day).strftime("%m/%d"), day, day + timedelta(1))
        for day in days
    ]


@dataclass
class Dashboard:
    period: str
    buckets: list[Bucket]
    failures: list[tuple[str, int]] = field(default_factory=list)  # (reason, messages)
    accounts: list[ProviderAccount] = field(default_factory=list)

    @property
    def totals(self) -> Bucket:
        total = Bucket("", self.buckets[0].start, self.buckets[-1].end)
        for bucket in self.buckets:
            total.messages += bucket.messages
            total.parts += bucket.parts
            total.cost += bucket.cost
            total.delivered += bucket.delivered
            total.settled += bucket.settled
        return total

    @property
    def most_messages(self) -> int:
        return max((bucket.messages for bucket in self.buckets), default=0)


FAILED = ("failed", "undeliverable", "blacklisted", "expired", "rejected")


def dashboard(period: str, today: date | None = None) -> Dashboard:
    """The figures of the dashboard for ``period`` (a key of PERIODS)."""
    today = today or tehran_today()
    chart = buckets(period if period in PERIODS else "day", today)
    rows = db.session.execute(
        select(
            DailyMessages.day,
            DailyMessages.status,
            DailyMessages.error,
            DailyMessages.messages,
            DailyMessages.parts,
            DailyMessages.parts * ProviderAccount.price_per_part,
        )
        .join(ProviderAccount, ProviderAccount.id == DailyMessages.provider_id)
        .where(DailyMessages.day >= chart[0].start, DailyMessages.day < chart[-1].end)
    ).all()
    starts = [bucket.start for bucket in chart]
    failures: dict[str, int] = defaultdict(int)
    for day, status, error, messages, parts, cost in rows:
        bucket = chart[_bucket_index(starts, day)]
        bucket.messages += messages
        bucket.parts += parts
        bucket.cost += cost
        if status in SETTLED:
            bucket.settled += messages
        if status == "delivered":
            bucket.delivered += messages
        if status in FAILED:
            failures[error or status] += messages
    accounts = db.session.scalars(
        select(ProviderAccount)
        .where(ProviderAccount.kind != "console")
        .order_by(ProviderAccount.id)
    ).all()
    return Dashboard(
        period if period in PERIODS else "day",
        chart,
        sorted(((failure_reason(key), count) for key, count in failures.items()), key=_most),
        list(accounts),
    )


def _most(item: tuple[str, int]):
    return -item[1], item[0]


def _bucket_index(starts: list[date], day: date) -> int:
    index = 0
    while index + 1 < len(starts) and starts[index + 1] <= day:
        index += 1
    return index


def failure_reason(key: str) -> str:
    """A failure's reason as the owner reads it: the error's words, or the status's."""
    label = ERROR_LABELS.get(key) or STATUS_LABELS.get(key)
    return str(label) if label else key


def counted_at() -> datetime | None:
    """When the dashboard's figures were last counted (None: never)."""
    return db.session.scalar(select(func.max(CountedDay.counted_at)))
