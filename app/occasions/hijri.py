"""The lunar Hijri calendar as Iran observes it: the first day of each month.

Iran's official calendar (تقویم رسمی کشور) takes its lunar months from the Calendar Center
of the University of Tehran's Geophysics Institute (مرکز تقویم مؤسسه ژئوفیزیک دانشگاه
تهران), approved and published each autumn by the Supreme Council of Public Culture for
the coming Jalali year. Its months begin on the day of Saudi Arabia's Umm al-Qura
calendar or one day after, and not by a constant rule, so the published month starts are
kept here as data, and only the months not yet published are computed.

``OFFICIAL_MONTH_STARTS``: the first day of each month, in Jalali as the official
calendars of 1404 and 1405 print them (the 1405 calendar: the Chamber of Commerce's copy,
pcci.ir/ershad_content/media/image/2025/10/تقویم 1405_1633718.pdf, published October
2025; its lunar holidays — Eid al-Fitr on 1 Farvardin and on 19 Esfand 1405, Eid al-Adha on
6 Khordad, Tasua on 3 Tir — as announced in the press on 30 October 2025). The same
month starts are transcribed, with their sources, in the persian-calendar project
(github.com/persian-calendar/calendar: IranianIslamicDateConverter.kt and the tests
"Islamic Calendar Conversions of 1404" and "Supported Year …" in MainTests.kt). The
calendar of 1406 was not found published; 1406's months are estimates.

Beyond them, an estimate (``estimate=True`` on every occurrence it gives): Umm al-Qura's
first day of the month (the ``hijridate`` package, which carries the Umm al-Qura table
for 1343–1500 AH) plus one day. Over the 26 published months here the official day was
Umm al-Qura's in 11 and the day after in 15, never earlier: one day later is right more
often than not, and the owner can shift an occurrence by a day once it is published.
tests/unit/test_occasion_dates.py checks every published start against Umm al-Qura.
"""

from datetime import date, timedelta
from functools import lru_cache

from hijridate import Hijri

from app.persian import gregorian_date

# (Hijri year, month) → its first day, Jalali, as the official calendar prints it.
# 1446/09 (Ramadan) begins before 1404 and 21 Ramadan falls in it; 1448/10 is the
# second Eid al-Fitr of 1405. Month lengths follow from consecutive starts.
OFFICIAL_MONTH_STARTS = {
    (1446, 9): "1403/12/12",
    (1446, 10): "1404/01/11",
    (1446, 11): "1404/02/09",
    (1446, 12): "1404/03/07",
    (1447, 1): "1404/04/06",
    (1447, 2): "1404/05/04",
    (1447, 3): "1404/06/03",
    (1447, 4): "1404/07/02",
    (1447, 5): "1404/08/01",
    (1447, 6): "1404/09/01",
    (1447, 7): "1404/10/01",
    (1447, 8): "1404/11/01",
    (1447, 9): "1404/11/30",
    (1447, 10): "1405/01/01",
    (1447, 11): "1405/01/30",
    (1447, 12): "1405/02/28",
    (1448, 1): "1405/03/26",
    (1448, 2): "1405/04/25",
    (1448, 3): "1405/05/23",
    (1448, 4): "1405/06/22",
    (1448, 5): "1405/07/20",
    (1448, 6): "1405/08/20",
    (1448, 7): "1405/09/20",
    (1448, 8): "1405/10/20",
    (1448, 9): "1405/11/19",
    (1448, 10): "1405/12/19",
}

# What the Umm al-Qura table of ``hijridate`` covers (Hijri years).
FIRST_YEAR, LAST_YEAR = 1343, 1500
# The estimate: Umm al-Qura's first day of the month, plus this many days.
ESTIMATE_CORRECTION = 1


def _jalali(text: str) -> date:
    year, month, day = map(int, text.split("/"))
    return gregorian_date(year, month, day)


_OFFICIAL = {key: _jalali(text) for key, text in OFFICIAL_MONTH_STARTS.items()}


@lru_cache(maxsize=1024)
def month_start(year: int, month: int) -> tuple[date, bool] | None:
    """The Gregorian first day of a Hijri month in Iran, and whether it is an estimate;
    None outside the years an estimate can be made for."""
    official = _OFFICIAL.get((year, month))
    if official is not None:
        return official, False
    if not FIRST_YEAR <= year <= LAST_YEAR:
        return None
    first = Hijri(year, month, 1).to_gregorian()
    return date(first.year, first.month, first.day) + timedelta(ESTIMATE_CORRECTION), True


def month_length(year: int, month: int) -> tuple[int, bool] | None:
    """How many days a Hijri month has in Iran (29 or 30), and whether it is an estimate."""
    start = month_start(year, month)
    after = month_start(year + month // 12, month % 12 + 1)
    if start is None or after is None:
        return None
    return (after[0] - start[0]).days, start[1] or after[1]


def hijri_day(year: int, month: int, day: int) -> tuple[date, bool] | None:
    """The Gregorian day of a Hijri date in Iran and whether it is an estimate. A day past
    the month's end (30 of a 29-day month) falls on its last day; None: out of range."""
    start = month_start(year, month)
    if start is None:
        return None
    if day <= 29:  # every month has it: its length does not matter
        return start[0] + timedelta(day - 1), start[1]
    length = month_length(year, month)
    if length is None:
        return None
    days, estimate = length
    return start[0] + timedelta(min(day, days) - 1), estimate


def hijri_years(start: date, end: date) -> range:
    """The Hijri years that overlap the Gregorian days start..end."""
    # A Hijri year is 354 or 355 days: year ≈ (Gregorian - 622) × 33/32.
    first = int((start.year - 622) * 33 / 32) - 1
    last = int((end.year - 622) * 33 / 32) + 2
    return range(max(first, FIRST_YEAR), min(last, LAST_YEAR - 1) + 1)
