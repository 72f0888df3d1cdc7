"""The occasions on the Iranian calendar, each occurrence computed from its rule.

Three calendars: solar Hijri (Jalali, through app.persian), lunar Hijri and Gregorian.
An occurrence is named in its own calendar's year (``yalda:1405``, ``eid_fitr:1447``,
``valentine:2026``): one Jalali year can hold two Eid al-Fitr.

``occurrences(start, end)`` is the one way to ask which occasions fall on which days.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l

from app.persian import gregorian_date

JALALI, HIJRI, GREGORIAN = "jalali", "hijri", "gregorian"
CALENDARS = {
    JALALI: _l("Solar (Jalali)"),
    HIJRI: _l("Lunar (Hijri)"),
    GREGORIAN: _l("Gregorian"),
}


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
    mourning: bool = False

    def within(self, start: date, end: date) -> Iterator[Occurrence]:
        for year in _years(self.calendar, start, end):
            day = self.on(year)
            if day is not None and start <= day <= end:
                yield Occurrence(
                    self.key, str(self.name), self.calendar, day, year, mourning=self.mourning
                )


def _years(calendar: str, start: date, end: date) -> range:
    """The years of ``calendar`` that overlap the Gregorian days start..end."""
    if calendar == JALALI:
        return range(start.year - 622, end.year - 620)
    return range(start.year - 1, end.year + 2)


def _jalali(month: int, day: int) -> Callable[[int], date]:
    return lambda year: gregorian_date(year, month, day)


def _gregorian(month: int, day: int) -> Callable[[int], date]:
    return lambda year: date(year, month, day)


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
    Occasion("yalda", _l("Yalda night"), JALALI, _jalali(9, 30)),
    Occasion("sepandarmazgan", _l("Sepandarmazgan"), JALALI, _jalali(11, 29)),
    Occasion("chaharshanbe_suri", _l("Chaharshanbe Suri"), JALALI, _last_wednesday_eve),
    Occasion("new_year", _l("New Year's Day"), GREGORIAN, _gregorian(1, 1)),
    Occasion("valentine", _l("Valentine's Day"), GREGORIAN, _gregorian(2, 14)),
)
BY_KEY = {occasion.key: occasion for occasion in OCCASIONS}


def occurrences(start: date, end: date) -> list[Occurrence]:
    """Every occasion falling on the days start..end (both included), in day order."""
    found = [item for occasion in OCCASIONS for item in occasion.within(start, end)]
    return sorted(found, key=lambda item: (item.day, item.key))
