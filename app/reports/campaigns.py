"""A campaign's (or an automation's) delivery report: who it reached, what failed and why,
what it cost, and how delivery came in over the hours after the send.

Read from the campaign's own messages through ``ix_messages_campaign_id_status_created_at_id``: one
GROUP BY for the figures, one for the hours.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, select

from app.extensions import db
from app.messaging.models import Campaign
from app.reports.dashboard import FAILED, SETTLED, failure_reason
from app.reports.labels import hour_name
from app.sending.models import HANDED_OVER, Message, ProviderAccount

# Delivery over time: the first this many hours after the send, hour by hour.
HOURS = 48


@dataclass
class DeliveryReport:
    recipients: int = 0  # every message written, skipped ones included
    sent: int = 0  # handed to the provider
    delivered: int = 0
    blacklisted: int = 0
    uncertain: int = 0
    skipped: int = 0
    parts: int = 0  # of the messages handed over
    cost: int = 0  # Rials
    settled: int = 0
    failures: list[tuple[str, int]] = field(default_factory=list)
    # Messages delivered in each hour after the first was handed over (hour 0 first).
    hours: list[int] = field(default_factory=list)

    @property
    def delivery_rate(self) -> float | None:
        return 100 * self.delivered / self.settled if self.settled else None

    @property
    def most_in_an_hour(self) -> int:
        return max(self.hours, default=0)

    @property
    def hour_rows(self) -> list[dict]:
        """The hours as the chart reads them: {"hour": 0, "label": "ساعت ۱", "delivered": …}."""
        return [
            {"hour": hour, "label": hour_name(hour + 1), "delivered": count}
            for hour, count in enumerate(self.hours)
        ]


def campaign_report(campaign: Campaign) -> DeliveryReport:
    return delivery_report(Message.campaign_id == campaign.id)


def automation_report(automation_id: int) -> DeliveryReport:
    """The report of every campaign an automation made, together."""
    runs = select(Campaign.id).where(Campaign.automation_id == automation_id)
    return delivery_report(Message.campaign_id.in_(runs))


def delivery_report(of: ColumnElement[bool]) -> DeliveryReport:
    """The figures of the messages ``of`` picks (a campaign's, an automation's)."""
    report = DeliveryReport()
    rows = db.session.execute(
        select(
            Message.status,
            func.coalesce(Message.error, ""),
            func.count(),
            func.sum(Message.parts),
            func.sum(Message.parts * ProviderAccount.price_per_part),
        )
        .join(ProviderAccount, ProviderAccount.id == Message.provider_id)
        .where(of)
        .group_by(Message.status, Message.error)
    ).all()
    failures: dict[str, int] = {}
    for status, error, count, parts, cost in rows:
        report.recipients += count
        if status in (*HANDED_OVER, "rejected", "unknown"):
            report.sent += count
            report.parts += parts or 0
            report.cost += cost or 0
        if status in SETTLED:
            report.settled += count
        if status == "delivered":
            report.delivered += count
        elif status == "blacklisted":
            report.blacklisted += count
        elif status == "unknown":
            report.uncertain += count
        elif status == "skipped":
            report.skipped += count
        if status in FAILED:
            reason = failure_reason(error or status)
            failures[reason] = failures.get(reason, 0) + count
    report.failures = sorted(failures.items(), key=lambda item: (-item[1], item[0]))
    report.hours = _delivered_by_hour(of) if report.delivered else []
    return report


def _delivered_by_hour(of: ColumnElement[bool]) -> list[int]:
    """Delivered messages per hour after the first message was handed over.

    The database groups them by the UTC hour they were delivered in (a cut of the stored
    moment, cheaper per row than date arithmetic); the hours after the send are counted
    here, from the few groups.
    """
    start = db.session.scalar(select(func.min(Message.handed_over_at)).where(of))
    if start is None:
        return []
    hour = _hour_of(Message.done_at)
    rows = db.session.execute(
        select(hour, func.count())
        .where(of, Message.status == "delivered", Message.done_at.is_not(None))
        .group_by(hour)
    ).all()
    first = start.replace(minute=0, second=0, microsecond=0)
    hours = [0] * HOURS
    for moment, count in rows:
        index = int((_as_hour(moment) - first).total_seconds() // 3600)
        if 0 <= index < HOURS:
            hours[index] += count
    last = max((index for index, count in enumerate(hours) if count), default=-1)
    return hours[: last + 1]


def _hour_of(column):
    """The UTC hour a moment falls in, in SQL (each database its own way)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.date_trunc("hour", func.timezone("UTC", column))
    # SQLite keeps moments as UTC text: "2026-12-01 08:30:00.000000" → "2026-12-01 08".
    return func.substr(column, 1, 13)


def _as_hour(value) -> datetime:
    if isinstance(value, str):
        return datetime.strptime(value, "%Y-%m-%d %H").replace(tzinfo=UTC)
    return value.replace(tzinfo=UTC)
