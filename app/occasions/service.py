"""The owner's calendar: the shop's own occasions, lunar occurrences moved by a day, the
mourning list, and what the rest of the panel asks of them (the days no marketing SMS
leaves, the occasion a campaign's {مناسبت} names).

The caller commits. Nothing here imports messaging or sending: the sending policy asks
``mourning_days`` and the campaign text asks ``campaign_occasion``, not the other way.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import jdatetime
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from app.extensions import db
from app.occasions.calendar import (
    CALENDARS,
    HIJRI,
    JALALI,
    OCCASIONS,
    SHIFTS,
    Occurrence,
    OwnerCalendar,
    occurrences,
    persian_name,
)
from app.occasions.models import CustomOccasion, OccasionMourning, OccasionShift
from app.persian import gregorian_date, normalize_text, show_number, to_tehran
from app.types import utcnow

CUSTOM_NAME_MAX = 100  # CustomOccasion.name
CUSTOM_MAX = 200  # the shop's own occasions: a calendar, not a database
# How far ahead the days of mourning are known to the sending policy: a campaign is
# scheduled at most this far ahead in practice, and one further is checked again later.
MOURNING_HORIZON = timedelta(days=800)
# The longest month of each calendar (a day that is not in every year falls on the
# month's last day then: see app.occasions.calendar.custom_occasion).
_MONTH_DAYS = {
    JALALI: (31,) * 6 + (30,) * 6,
    HIJRI: (30,) * 12,
    "gregorian": (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31),
}


def stored_owner_calendar() -> OwnerCalendar:
    """The owner's choices as stored (three small tables, read in full)."""
    custom = db.session.execute(
        select(
            CustomOccasion.id,
            CustomOccasion.name,
            CustomOccasion.calendar,
            CustomOccasion.month,
            CustomOccasion.day,
        ).order_by(CustomOccasion.id)
    ).all()
    shifts = db.session.execute(
        select(OccasionShift.occurrence, OccasionShift.days).order_by(OccasionShift.occurrence)
    ).all()
    mourning = db.session.execute(
        select(OccasionMourning.key, OccasionMourning.mourning).order_by(OccasionMourning.key)
    ).all()
    return OwnerCalendar(
        custom=tuple((f"custom_{id_}", name, cal, m, d) for id_, name, cal, m, d in custom),
        shifts=tuple((ident, days) for ident, days in shifts),
        mourning=tuple((key, bool(value)) for key, value in mourning),
    )


def today_in_tehran() -> date:
    return to_tehran(utcnow()).date()


def mourning_days() -> frozenset[date]:
    """The Tehran days, from yesterday to MOURNING_HORIZON ahead, that have an occasion
    counted as mourning: the sending policy's quiet days of mourning.

    The policy is loaded for every claim of the dispatcher, so the calendar is worked
    out once per day and owner's choices (cached by both), not per call: a call costs
    the three small reads of ``stored_owner_calendar``.
    """
    return _mourning_between(stored_owner_calendar(), today_in_tehran())


@lru_cache(maxsize=16)
def _mourning_between(owner: OwnerCalendar, today: date) -> frozenset[date]:
    found = occurrences(today - timedelta(days=1), today + MOURNING_HORIZON, owner)
    return frozenset(item.day for item in found if item.mourning)


def by_day(start: date, end: date, owner: OwnerCalendar | None = None) -> dict:
    """The occurrences of start..end, by day (days without any are left out)."""
    days: dict[date, list[Occurrence]] = {}
    for item in occurrences(start, end, owner):
        days.setdefault(item.day, []).append(item)
    return days


def occasion_on(day: date) -> Occurrence | None:
    """The first occasion of a Tehran day (solar ones first), or None."""
    found = occurrences(day, day)
    return found[0] if found else None


def occasion_text_on(day: date) -> str:
    """The first occasion of a Tehran day, in Persian; empty when it has none."""
    found = occasion_on(day)
    return persian_name(found) if found else ""


def find_occurrence(ident: str, owner: OwnerCalendar | None = None) -> Occurrence | None:
    """The occurrence named ``ident`` (``eid_fitr:1448``), moved as the owner moved it;
    None if no occasion has it."""
    key, _colon, year_text = ident.partition(":")
    if not (year_text.isascii() and year_text.isdigit() and len(year_text) <= 4):
        return None
    owner = owner or stored_owner_calendar()
    occasion = next((item for item in owner.occasions if item.key == key), None)
    if occasion is None:
        return None
    try:
        day = occasion.on(int(year_text))
    except (ValueError, OverflowError):
        return None
    if day is None:
        return None
    near = occurrences(day - timedelta(days=2), day + timedelta(days=2), owner)
    return next((item for item in near if item.ident == ident), None)


def campaign_occasion(campaign) -> str:
    """What {مناسبت} shows in a campaign, the same for every recipient, in Persian.

    A campaign an occasion automation made names the occurrence it was made for
    (``Campaign.occurrence``); any other, the first occasion of the Tehran day it is
    scheduled for. Empty when there is none (the placeholder's fallback shows then).
    """
    automation = getattr(campaign, "automation", None)
    if automation is not None and automation.kind == "occasion" and campaign.occurrence:
        found = find_occurrence(campaign.occurrence)
        return persian_name(found) if found else ""
    moment = getattr(campaign, "scheduled_at", None) or utcnow()
    return occasion_text_on(to_tehran(moment).date())


# The page: the coming twelve Jalali months -----------------------------------------


@dataclass
class Day:
    day: date
    jalali: jdatetime.date
    occurrences: list[Occurrence] = field(default_factory=list)

    @property
    def mourning(self) -> bool:
        return any(item.mourning for item in self.occurrences)


@dataclass
class Month:
    year: int
    month: int
    days: list[Day]


def coming_months(today: date, count: int = 12) -> list[Month]:
    """The Jalali months from ``today``'s for ``count`` months, each day with its
    occasions (the days of the current month before today left out)."""
    first = jdatetime.date.fromgregorian(date=today)
    year, month = first.year, first.month
    end_year, end_month = year + (month + count - 2) // 12, (month + count - 2) % 12 + 1
    last = gregorian_date(end_year + end_month // 12, end_month % 12 + 1, 1) - timedelta(1)
    found = by_day(today, last)
    months: list[Month] = []
    day = today
    while day <= last:
        shown = jdatetime.date.fromgregorian(date=day)
        if not months or months[-1].month != shown.month:
            months.append(Month(shown.year, shown.month, []))
        months[-1].days.append(Day(day, shown, found.get(day, [])))
        day += timedelta(days=1)
    return months


# The owner's choices ---------------------------------------------------------------


class OccasionError(ValueError):
    """Why the owner's change was refused: ``field`` and a message for people."""

    def __init__(self, field_name: str, message):
        super().__init__(field_name, message)
        self.field = field_name
        self.message = str(message)


def shift_occurrence(ident: str, days: int) -> Occurrence:
    """Move the lunar occurrence ``ident`` by ``days`` (−1, +1; 0: back to the calendar's
    day). Raises OccasionError for an occurrence that is not lunar or not known."""
    if days not in (0, *SHIFTS):
        raise OccasionError("days", _l("A day can be moved by one day earlier or later only."))
    found = find_occurrence(ident)
    if found is None or found.calendar != HIJRI:
        raise OccasionError("occurrence", _l("Only a lunar occasion can be moved by a day."))
    stored = db.session.get(OccasionShift, ident)
    if days == 0:
        if stored is not None:
            db.session.delete(stored)
    elif stored is None:
        db.session.add(OccasionShift(occurrence=ident, days=days))
    else:
        stored.days = days
    db.session.flush()
    return found


def check_custom(name: str, calendar: str, month, day, editing: int | None = None) -> dict:
    """The fields of a custom occasion, checked; OccasionError names the first wrong one."""
    name = normalize_text(name)
    if not name:
        raise OccasionError("name", _l("Write a name for the occasion."))
    if len(name) > CUSTOM_NAME_MAX:
        raise OccasionError(
            "name",
            _l(
                "The name is too long: at most %(count)s characters.",
                count=show_number(CUSTOM_NAME_MAX),
            ),
        )
    taken = db.session.scalar(select(CustomOccasion.id).where(CustomOccasion.name == name))
    if taken is not None and taken != editing:
        raise OccasionError("name", _l("Another occasion of the shop has this name."))
    if calendar not in CALENDARS:
        raise OccasionError("calendar", _l("Choose one of the three calendars."))
    if not isinstance(month, int) or not 1 <= month <= 12:
        raise OccasionError("month", _l("The month is a number from 1 to 12."))
    longest = _MONTH_DAYS[calendar][month - 1]
    if not isinstance(day, int) or not 1 <= day <= longest:
        raise OccasionError(
            "day", _l("This month has days 1 to %(count)s.", count=show_number(longest))
        )
    return {"name": name, "calendar": calendar, "month": month, "day": day}


def save_custom_occasion(
    occasion: CustomOccasion | None, name: str, calendar: str, month, day
) -> CustomOccasion:
    """Add the shop's own occasion (``occasion`` None) or change one; OccasionError if a
    field is wrong or the shop has CUSTOM_MAX already."""
    fields = check_custom(name, calendar, month, day, occasion.id if occasion else None)
    if occasion is None:
        count = db.session.scalar(select(db.func.count()).select_from(CustomOccasion))
        if count >= CUSTOM_MAX:
            raise OccasionError(
                "name",
                _l(
                    "The shop has %(count)s occasions of its own, the most it may.",
                    count=show_number(CUSTOM_MAX),
                ),
            )
        occasion = CustomOccasion(**fields)
        db.session.add(occasion)
    else:
        for key, value in fields.items():
            setattr(occasion, key, value)
    db.session.flush()
    return occasion


def custom_occasions() -> list[CustomOccasion]:
    """The shop's own occasions, by calendar, month and day."""
    return list(
        db.session.scalars(
            select(CustomOccasion).order_by(
                CustomOccasion.calendar, CustomOccasion.month, CustomOccasion.day, CustomOccasion.id
            )
        )
    )


def delete_custom_occasion(occasion: CustomOccasion) -> None:
    """Delete the shop's own occasion, with its moved days and mourning choice."""
    key = occasion.key
    db.session.execute(delete(OccasionMourning).where(OccasionMourning.key == key))
    db.session.execute(delete(OccasionShift).where(OccasionShift.occurrence.like(f"{key}:%")))
    db.session.delete(occasion)
    db.session.flush()


@dataclass(frozen=True)
class MourningChoice:
    key: str
    name: str
    calendar: str
    mourning: bool
    default: bool


def mourning_choices() -> list[MourningChoice]:
    """Every occasion, built-in and the shop's own, and whether it counts as mourning."""
    owner = stored_owner_calendar()
    defaults = {occasion.key: occasion.mourning for occasion in OCCASIONS}
    return [
        MourningChoice(
            occasion.key,
            str(occasion.name),
            occasion.calendar,
            owner.is_mourning(occasion),
            defaults.get(occasion.key, False),
        )
        for occasion in owner.occasions
    ]


def set_mourning(keys) -> None:
    """Make exactly the occasions ``keys`` mourning; only what differs from an occasion's
    default is stored, so a default changed in a later version still applies."""
    keys = set(keys)
    db.session.execute(delete(OccasionMourning))
    for occasion in stored_owner_calendar().occasions:
        chosen = occasion.key in keys
        if chosen != occasion.mourning:
            db.session.add(OccasionMourning(key=occasion.key, mourning=chosen))
    db.session.flush()
