from datetime import datetime, time

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Boolean, ForeignKey, SmallInteger, String, Text, Time
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.types import UTCDateTime, utcnow

# What sets an automation off, and the fields each kind reads (the rest stay unused):
# - birthday, anniversary: ``days_before`` the day, at ``send_time``; an anniversary
#   counts from ``counts_from`` (the first purchase or the day the contact was added);
# - occasion: ``occasion_key`` (app.occasions.calendar), at ``send_time`` of its day;
# - winback: ``days_after`` the last purchase, once per quiet spell, at ``send_time``;
# - welcome: ``delay_minutes`` after the contact was added or first bought (``counts_from``);
# - followup: ``days_after`` a purchase (a thank-you, or a 0–10 survey), at ``send_time``.
AUTOMATION_KINDS = {
    "birthday": _l("Birthday"),
    "anniversary": _l("Anniversary"),
    "occasion": _l("Occasion"),
    "winback": _l("Win-back"),
    "welcome": _l("Welcome message"),
    "followup": _l("After a purchase"),
}
COUNTS_FROM = {
    "signup": _l("The day the customer was added"),
    "first_purchase": _l("The first purchase"),
}


class Automation(db.Model):
    """A message the panel sends by itself, to each customer when their moment comes.

    Each day (or occurrence) it sends on becomes one campaign, ``Campaign.automation_id``
    and ``Campaign.occurrence`` naming it, so its messages are logged, paused and reported
    as a campaign's are; a message's idempotency key names the automation, the contact
    and the occurrence, so nothing is sent twice for one occurrence.
    """

    __tablename__ = "automations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str] = mapped_column(Text)
    # Tehran time of day the messages go out (welcome: not used; it counts minutes).
    send_time: Mapped[time] = mapped_column(Time, default=time(10, 0))
    days_before: Mapped[int] = mapped_column(SmallInteger, default=0)
    days_after: Mapped[int] = mapped_column(SmallInteger, default=0)
    delay_minutes: Mapped[int] = mapped_column(SmallInteger, default=0)
    counts_from: Mapped[str] = mapped_column(String(16), default="first_purchase")
    occasion_key: Mapped[str | None] = mapped_column(String(64))
    # Who may receive it, as app.messaging.audience.AudienceChoice's fields of ids
    # ({"lists": [..], "tags": [..], "segments": [..], "exclude_lists": [..],
    # "exclude_segments": [..]}); empty: every contact.
    audience: Mapped[dict] = mapped_column(JSON, default=dict)
    # The account and line it sends through; None: the default account and its first line.
    provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("provider_accounts.id", ondelete="SET NULL")
    )
    sender: Mapped[str | None] = mapped_column(String(32))
    coupon_prefix: Mapped[str | None] = mapped_column(String(8))
    coupon_length: Mapped[int | None] = mapped_column(SmallInteger)
    # Copied onto each run's campaign (Campaign.holdout_percent): the share kept unsent.
    holdout_percent: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class CustomOccasion(db.Model):
    """The shop's own occasion (its anniversary, a yearly sale) on one of the three
    calendars, every year on ``month``/``day``; listed with the built-in ones
    (app.occasions.calendar.occurrences) as ``custom_<id>``."""

    __tablename__ = "custom_occasions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    calendar: Mapped[str] = mapped_column(String(16))  # jalali | hijri | gregorian
    month: Mapped[int] = mapped_column(SmallInteger)
    day: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def key(self) -> str:
        return f"custom_{self.id}"


class OccasionShift(db.Model):
    """A lunar occurrence the owner moved by a day (the crescent was seen a day earlier or
    later than the calendar said), by its ident: ``eid_fitr:1448`` → +1."""

    __tablename__ = "occasion_shifts"

    occurrence: Mapped[str] = mapped_column(String(64), primary_key=True)
    days: Mapped[int] = mapped_column(SmallInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class OccasionMourning(db.Model):
    """An occasion the owner counts as mourning, or not, against its default (a missing
    row: the default). On a mourning day no marketing SMS leaves (app.sending.policy)."""

    __tablename__ = "occasion_mourning"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    mourning: Mapped[bool] = mapped_column(Boolean)
