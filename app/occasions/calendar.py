"""The occasions on the Iranian calendar, each occurrence computed from its rule.

Three calendars: solar Hijri (Jalali, through app.persian), lunar Hijri (as Iran observes
it: app.occasions.hijri, official month starts where published, an estimate beyond) and
Gregorian. An occurrence is named in its own calendar's year (``yalda:1405``,
``eid_fitr:1447``, ``valentine:2026``): one Jalali year can hold two Eid al-Fitr.

``occurrences(start, end)`` is the one way to ask which occasions fall on which days. It
lists the built-in occasions and the shop's own (custom occasions), with the owner's
choices applied: a lunar occurrence moved by a day, and which occasions are mourning.
Those choices are read from the database when there is an application context (and
passed in as ``OwnerCalendar`` by callers that have them already).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta

from flask import has_app_context
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from app.occasions import hijri
from app.persian import gregorian_date

JALALI, HIJRI, GREGORIAN = "jalali", "hijri", "gregorian"
CALENDARS = {
    JALALI: _l("Solar (Jalali)"),
    HIJRI: _l("Lunar (Hijri)"),
    GREGORIAN: _l("Gregorian"),
}

# The months of each calendar, as the owner reads them.
MONTHS = {
    JALALI: (
        _l("Farvardin"), _l("Ordibehesht"), _l("Khordad"), _l("Tir"), _l("Mordad"),
        _l("Shahrivar"), _l("Mehr"), _l("Aban"), _l("Azar"), _l("Dey"), _l("Bahman"),
        _l("Esfand"),
    ),
    HIJRI: (
        _l("Muharram"), _l("Safar"), _l("Rabi' al-Awwal"), _l("Rabi' al-Thani"),
        _l("Jumada al-Awwal"), _l("Jumada al-Thani"), _l("Rajab"), _l("Sha'ban"),
        _l("Ramadan"), _l("Shawwal"), _l("Dhu al-Qa'da"), _l("Dhu al-Hijja"),
    ),
    GREGORIAN: (
        _l("January"), _l("February"), _l("March"), _l("April"), _l("May"), _l("June"),
        _l("July"), _l("August"), _l("September"), _l("October"), _l("November"),
        _l("December"),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Occurrence:
    """One occasion on one day."""

    key: str  # the occasion: "yalda"
    name: str  # as the owner reads it, in the request's language
    calendar: str  # JALALI | HIJRI | GREGORIAN
    day: date  # the Gregorian day it falls on in Iran
    year: int  # its year in its own calendar: 1405, 1447, 2026
    estimate: bool = False  # a lunar date computed, not yet published officially
    mourning: bool = False  # marketing waits for the next day that is not
    shift: int = 0  # days the owner moved it by (-1, 0, +1): a lunar day seen differently

    @property
    def ident(self) -> str:
        """Names this occurrence among all others: ``yalda:1405``."""
        return f"{self.key}:{self.year}"


@dataclass(frozen=True)
class Occasion:
    key: str
    name: object  # a lazy translation
    calendar: str
    # The day it falls on in a year of its calendar; None when that year has none.
    on: Callable[[int], date | None]
    mourning: bool = False  # by default; the owner may change it (OwnerCalendar.mourning)
    # Whether that day is an estimate (a lunar month not yet published officially).
    estimated: Callable[[int], bool] = lambda year: False

    def within(self, start: date, end: date) -> Iterator[Occurrence]:
        for year in _years(self.calendar, start, end):
            try:
                day = self.on(year)
            except (ValueError, OverflowError):  # a year the calendar library cannot reach
                continue
            if day is not None and start <= day <= end:
                yield Occurrence(
                    self.key,
                    str(self.name),
                    self.calendar,
                    day,
                    year,
                    estimate=self.estimated(year),
                    mourning=self.mourning,
                )


def _years(calendar: str, start: date, end: date) -> range:
    """The years of ``calendar`` that overlap the Gregorian days start..end."""
    if calendar == JALALI:
        return range(max(start.year - 622, 1), end.year - 620)
    if calendar == HIJRI:
        return hijri.hijri_years(start, end)
    return range(max(start.year - 1, 1), min(end.year + 2, 10_000))


def _jalali(month: int, day: int) -> Callable[[int], date]:
    return lambda year: gregorian_date(year, month, day)


def _gregorian(month: int, day: int) -> Callable[[int], date]:
    return lambda year: date(year, month, day)


def _lunar(month: int, day: int) -> dict:
    """A Hijri month and day (30: the month's last day, 29 or 30) as Occasion's fields."""

    def on(year: int) -> date | None:
        found = hijri.hijri_day(year, month, day)
        return found[0] if found else None

    def estimated(year: int) -> bool:
        found = hijri.hijri_day(year, month, day)
        return found[1] if found else True

    return {"on": on, "estimated": estimated}


def _last_wednesday_eve(year: int) -> date:
    """Chaharshanbe-Suri: the evening before the last Wednesday of the Jalali year."""
    next_nowruz = gregorian_date(year + 1, 1, 1)
    wednesday = next_nowruz - timedelta(days=1)
    while wednesday.weekday() != 2:
        wednesday -= timedelta(days=1)
    return wednesday - timedelta(days=1)


OCCASIONS = (
    Occasion("nowruz", _l("Nowruz"), JALALI, _jalali(1, 1)),
    Occasion("sizdah_bedar", _l("Sizdah Bedar (Nature Day)"), JALALI, _jalali(1, 13)),
    Occasion("teachers_day", _l("Teacher's Day"), JALALI, _jalali(2, 12)),
    Occasion("khomeini_demise", _l("Demise of Imam Khomeini"), JALALI, _jalali(3, 14), True),
    Occasion("yalda", _l("Yalda night"), JALALI, _jalali(9, 30)),
    Occasion("sepandarmazgan", _l("Sepandarmazgan"), JALALI, _jalali(11, 29)),
    Occasion("chaharshanbe_suri", _l("Chaharshanbe Suri"), JALALI, _last_wednesday_eve),
    Occasion("new_year", _l("New Year's Day"), GREGORIAN, _gregorian(1, 1)),
    Occasion("valentine", _l("Valentine's Day"), GREGORIAN, _gregorian(2, 14)),
    # Lunar: the days Iran's official calendar marks, celebrations first. Mourning ones are
    # its official holidays of mourning (تعطیلات رسمی عزاداری): by default no marketing
    # SMS leaves on them.
    Occasion("mothers_day", _l("Mother's Day"), HIJRI, **_lunar(6, 20)),
    Occasion("fathers_day", _l("Father's Day"), HIJRI, **_lunar(7, 13)),
    Occasion("mabath", _l("Eid al-Mab'ath"), HIJRI, **_lunar(7, 27)),
    Occasion("nimeh_shaban", _l("Mid-Sha'ban"), HIJRI, **_lunar(8, 15)),
    Occasion("eid_fitr", _l("Eid al-Fitr"), HIJRI, **_lunar(10, 1)),
    Occasion("eid_adha", _l("Eid al-Adha"), HIJRI, **_lunar(12, 10)),
    Occasion("eid_ghadir", _l("Eid al-Ghadir"), HIJRI, **_lunar(12, 18)),
    Occasion("prophet_birthday", _l("Birthday of the Prophet"), HIJRI, **_lunar(3, 17)),
    Occasion("tasua", _l("Tasua"), HIJRI, mourning=True, **_lunar(1, 9)),
    Occasion("ashura", _l("Ashura"), HIJRI, mourning=True, **_lunar(1, 10)),
    Occasion("arbaeen", _l("Arbaeen"), HIJRI, mourning=True, **_lunar(2, 20)),
    Occasion(
        "prophet_demise",
        _l("Demise of the Prophet and martyrdom of Imam Hasan"),
        HIJRI,
        mourning=True,
        **_lunar(2, 28),
    ),
    # The last day of Safar, whether it has 29 days or 30.
    Occasion("imam_reza", _l("Martyrdom of Imam Reza"), HIJRI, mourning=True, **_lunar(2, 30)),
    Occasion(
        "imam_askari", _l("Martyrdom of Imam Hasan Askari"), HIJRI, mourning=True, **_lunar(3, 8)
    ),
    Occasion("fatimiyya", _l("Martyrdom of Fatima"), HIJRI, mourning=True, **_lunar(6, 3)),
    Occasion("imam_ali", _l("Martyrdom of Imam Ali"), HIJRI, mourning=True, **_lunar(9, 21)),
    Occasion("imam_sadiq", _l("Martyrdom of Imam Sadiq"), HIJRI, mourning=True, **_lunar(10, 25)),
)
BY_KEY = {occasion.key: occasion for occasion in OCCASIONS}
# How far the owner may move a lunar occurrence, in days.
SHIFTS = (-1, 1)


@dataclass(frozen=True)
class OwnerCalendar:
    """The owner's choices over the calendar (app/occasions/models.py keeps them).

    ``custom``: the shop's own occasions, as (key, name, calendar, month, day);
    ``shifts``: (occurrence ident, days) for lunar occurrences moved by a day;
    ``mourning``: (occasion key, mourning?) where the owner changed the default.
    Hashable, so what is computed from it can be cached by it.
    """

    custom: tuple[tuple[str, str, str, int, int], ...] = ()
    shifts: tuple[tuple[str, int], ...] = ()
    mourning: tuple[tuple[str, bool], ...] = ()

    @property
    def occasions(self) -> tuple[Occasion, ...]:
        return OCCASIONS + tuple(custom_occasion(*spec) for spec in self.custom)

    def is_mourning(self, occasion: Occasion) -> bool:
        return dict(self.mourning).get(occasion.key, occasion.mourning)


def custom_occasion(key: str, name: str, calendar: str, month: int, day: int) -> Occasion:
    """A shop's own occasion on ``calendar``. A day a month lacks in some years falls on
    the month's last day then: 30 Esfand in a common year on 29 Esfand, 29 February on
    28 February, 30 of a 29-day lunar month on its 29th."""
    if calendar == HIJRI:
        return Occasion(key, name, HIJRI, **_lunar(month, day))

    def on(year: int) -> date | None:
        for last in range(day, day - 3, -1):
            try:
                if calendar == JALALI:
                    return gregorian_date(year, month, last)
                return date(year, month, last)
            except ValueError:
                continue
        return None

    return Occasion(key, name, calendar, on)


def owner_calendar() -> OwnerCalendar:
    """The owner's choices as stored; none without an application context (a script or
    unit test asking about the calendar itself)."""
    if not has_app_context():
        return OwnerCalendar()
    from app.occasions.service import stored_owner_calendar

    return stored_owner_calendar()


def occurrences(start: date, end: date, owner: OwnerCalendar | None = None) -> list[Occurrence]:
    """Every occasion falling on the days start..end (both included), in day order, with
    the owner's choices (``owner``; by default as stored) applied."""
    owner = owner_calendar() if owner is None else owner
    shifts = dict(owner.shifts)
    # A day wider on each side: an occurrence moved by a day may move into the range.
    wide_start = start - timedelta(1) if start > date.min else start
    wide_end = end + timedelta(1) if end < date.max else end
    found = []
    for occasion in owner.occasions:
        mourning = owner.is_mourning(occasion)
        for item in occasion.within(wide_start, wide_end):
            shift = shifts.get(item.ident, 0)
            if shift and not date.min + timedelta(1) < item.day < date.max - timedelta(1):
                shift = 0
            item = replace(item, day=item.day + timedelta(shift), shift=shift, mourning=mourning)
            if start <= item.day <= end:
                found.append(item)
    return sorted(found, key=lambda item: (item.day, item.calendar != JALALI, item.key))


def persian_name(occurrence: Occurrence) -> str:
    """The occurrence's name in Persian, whatever the request's language (the API's
    ``name``, the {مناسبت} placeholder: messages are written in Persian)."""
    occasion = BY_KEY.get(occurrence.key)
    if occasion is None:
        return occurrence.name  # the shop's own, as the owner named it
    with force_locale("fa"):
        return str(occasion.name)
