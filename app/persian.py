"""Persian text, digits and Jalali dates: the one place that knows about them.

Babel has no Persian calendar and formats numbers with Latin digits, so dates are
formatted with jdatetime and digits are translated after formatting. In the other
direction every form and API boundary turns Persian (۰-۹) and Arabic-Indic (٠-٩)
digits into ASCII before parsing: ``strptime`` and regexes fail on ``۰۹۱۲``.
"""

import re
import unicodedata
from bisect import bisect_right
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import jdatetime
from markupsafe import Markup

from app.types import utcnow

TEHRAN = ZoneInfo("Asia/Tehran")

_TO_ASCII = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_TO_PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_ARABIC_LETTERS = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ۀ": "هٔ"})
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f]+")


def ascii_digits(text: str) -> str:
    """Turn Persian and Arabic-Indic digits into ASCII ones."""
    # translate() looks every character up in the table; ASCII text has nothing to turn.
    return text if text.isascii() else text.translate(_TO_ASCII)


def persian_digits(text: str) -> str:
    """Turn ASCII digits into Persian ones (for display in the fa locale)."""
    return text.translate(_TO_PERSIAN)


def normalize_text(text: str | None) -> str:
    """Normalise Persian text on the way in.

    Presentation forms are folded with NFKC (which keeps ZWNJ), Arabic ي/ك become
    Persian ی/ک, runs of spaces collapse and the ends are trimmed.
    """
    if not text:
        return ""
    if not text.isascii():  # ASCII is its own NFKC form and has no Arabic letters
        text = unicodedata.normalize("NFKC", text).translate(_ARABIC_LETTERS)
    return _SPACES.sub(" ", text).strip()


def to_tehran(moment: datetime) -> datetime:
    """The wall-clock time in Tehran of a stored moment (naive values are UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(TEHRAN)


def tehran_today() -> date:
    """Today's date in Tehran."""
    return utcnow().astimezone(TEHRAN).date()


def day_start(day: date) -> datetime:
    """Midnight in Tehran at the start of ``day``, as a UTC moment."""
    return datetime.combine(day, time(), tzinfo=TEHRAN).astimezone(UTC)


@lru_cache(maxsize=16384)
def jalali_date(day: date) -> str:
    """1405/01/01 for a Gregorian date.

    Cached: an export of a million contacts has a few thousand distinct days, and
    jdatetime's conversion and strftime were half of its time.
    """
    return jdatetime.date.fromgregorian(date=day).strftime("%Y/%m/%d")


def jalali_datetime(moment: datetime) -> str:
    """1405/01/01 10:30 for a moment, in Tehran time."""
    local = to_tehran(moment)
    return f"{jalali_date(local.date())} {local.hour:02d}:{local.minute:02d}"


_JALALI_DATE = re.compile(r"^\s*(\d{4})\s*[/\-.]\s*(\d{1,2})\s*[/\-.]\s*(\d{1,2})\s*$")
_TIME = re.compile(r"^\s*(\d{1,2})\s*:\s*(\d{2})\s*$")
# A year from here on is Gregorian: Jalali 1700 is Gregorian 2321, and people typing a
# birthday or a purchase write 13xx/14xx in the Jalali calendar, 19xx/20xx in the other.
GREGORIAN_YEARS_FROM = 1700


class GregorianDate(ValueError):
    """A Gregorian date typed where a Jalali one belongs; ``day`` is that Gregorian day.

    Accepting it as the Jalali year 2026 would store a date six centuries away, and
    converting it silently would hide that the owner typed in the other calendar.
    """

    def __init__(self, typed: str, day: date):
        super().__init__(f"{typed} is a Gregorian date")
        self.typed = typed
        self.day = day

    def reason(self) -> str:
        """«۲۰۲۶/۰۱/۱۵ تاریخ میلادی است؛ منظورتان ۱۴۰۴/۱۰/۲۵ است؟», in the page's language."""
        from flask_babel import gettext

        return gettext(
            "%(value)s is a Gregorian date; did you mean %(jalali)s?",
            value=_localised(self.typed),
            jalali=show_date(self.day),
        )


def parse_jalali_date(text: str) -> date:
    """Parse 1370/5/12, ۱۳۷۰-۰۵-۱۲ or 1370.05.12 into a Gregorian date.

    Raises GregorianDate for 2026/01/15 (a real Gregorian day), and ValueError when the
    text is not a date or the day does not exist, e.g. 1403/07/31; the caller words it.
    """
    match = _JALALI_DATE.match(ascii_digits(text))
    if not match:
        raise ValueError("not a Jalali date")
    year, month, day = (int(part) for part in match.groups())
    if year >= GREGORIAN_YEARS_FROM:
        raise GregorianDate(ascii_digits(text).strip(), date(year, month, day))
    return gregorian_date(year, month, day)


def parse_jalali_datetime(day_text: str, time_text: str) -> datetime:
    """A Jalali date and an HH:MM time in Tehran, as an aware UTC datetime."""
    day = parse_jalali_date(day_text)
    local = datetime.combine(day, parse_clock(time_text), tzinfo=TEHRAN)
    return local.astimezone(UTC)


def parse_clock(text: str) -> time:
    """A time of day typed as 8:00, 08:00 or ۰۸:۰۰; ValueError for anything else (25:00)."""
    match = _TIME.match(ascii_digits(text))
    if not match:
        raise ValueError("not a time")
    return time(int(match.group(1)), int(match.group(2)))


# Jalali months 1-6 have 31 days, 7-11 have 30, Esfand 29 (30 in a leap year): a day's
# place in its year, and back, is arithmetic once the year's first day is known.
_MONTH_STARTS = (0, 31, 62, 93, 124, 155, 186, 216, 246, 276, 306, 336)


@lru_cache(maxsize=4096)
def _jalali_year(year: int) -> tuple[date, bool]:
    """The Gregorian day of 1 Farvardin of a Jalali year, and whether the year is leap.

    Both from jdatetime, so every conversion below agrees with it; jdatetime itself
    is slow per day (each date object looks up the process's locale).
    """
    first = jdatetime.date(year, 1, 1)
    return first.togregorian(), first.isleap()


def gregorian_date(year: int, month: int, day: int) -> date:
    """The Gregorian date of a Jalali one; ValueError (as jdatetime) if there is no such day."""
    if not 1 <= month <= 12:
        raise ValueError("month must be in 1..12")
    first, leap = _jalali_year(year)
    length = 31 if month <= 6 else 30 if month <= 11 or leap else 29
    if not 1 <= day <= length:
        raise ValueError("day is out of range for month")
    return first + timedelta(days=_MONTH_STARTS[month - 1] + day - 1)


def jalali_month_day(day: date) -> tuple[int, int]:
    """The Jalali (month, day) of a Gregorian date, for birthday lookups."""
    year = day.year - 621
    if year > jdatetime.MAXYEAR or day < _jalali_year(year)[0]:
        year -= 1
    first = _jalali_year(year)[0]
    offset = (day - first).days
    month = bisect_right(_MONTH_STARTS, offset)
    return month, offset - _MONTH_STARTS[month - 1] + 1


# Display, in the request's locale -------------------------------------------------


def _is_persian() -> bool:
    from flask_babel import get_locale

    locale = get_locale()
    return locale is not None and locale.language == "fa"


def _localised(text: str) -> str:
    """Persian digits when the page is Persian, the text as it is otherwise."""
    return persian_digits(text) if _is_persian() else text


def show_digits(text: str) -> str:
    """Persian digits in a text formatted elsewhere, e.g. ngettext's ``%(num)s``.

    ngettext formats ``num`` itself from the count it chooses the plural form by, so
    the count cannot be passed already localised.
    """
    return _localised(text)


def digits_shown():
    """``show_digits`` for many numbers: the locale is looked up once, here.

    An import writes a line number into each of thousands of reasons, and looking up the
    request's locale costs more than translating the digits.
    """
    return persian_digits if _is_persian() else str


def show_number(value: int | None) -> str:
    """12,345 in English, ۱۲٬۳۴۵ in Persian."""
    if value is None:
        return ""
    text = f"{value:,}"
    return persian_digits(text.replace(",", "٬")) if _is_persian() else text


def show_percent(value: float | None) -> str:
    """62.5% in English, ۶۲٫۵٪ in Persian, to one decimal (none when whole); «—» for None
    (a share of nothing)."""
    if value is None:
        return "—"
    text = f"{value:.1f}".removesuffix(".0")
    if _is_persian():
        return persian_digits(text.replace(".", "٫")) + "٪"
    return text + "%"


def show_datetime(moment: datetime | None) -> str:
    return _localised(jalali_datetime(moment)) if moment else ""


def show_date(day: date | datetime | None) -> str:
    """1405/01/01 for a date; for a stored moment, its day in Tehran."""
    if isinstance(day, datetime):
        day = to_tehran(day).date()
    return _localised(jalali_date(day)) if day else ""


def show_toman(rials: int | None) -> str:
    """An amount in Rials shown in Toman (a tenth), the way owners usually say prices."""
    return show_number(rials // 10) if rials is not None else ""


def national_mobile(mobile: str) -> str:
    """0912 123 4567, the way Iranians write a stored +98 number.

    The spaces also keep Excel from reading it as a number and dropping the 0.
    """
    national = "0" + mobile.removeprefix("+98")
    return f"{national[:4]} {national[4:7]} {national[7:]}"


def show_mobile(mobile: str | None) -> str:
    """The national form, digits localised; wrap it in <bdi dir="ltr"> in templates."""
    return _localised(national_mobile(mobile)) if mobile else ""


# Isolation in pages ---------------------------------------------------------------
# Inside Persian text a mobile reads «4567 123 0912» and a +98 number «…+98» unless it
# is isolated; each template isolates through these two filters, never by hand.


def ltr(value) -> Markup:
    """What Vafa writes left to right (a mobile, a sender line, a number, a date), isolated
    from the text around it so it keeps its order; it never breaks across lines."""
    return Markup('<bdi dir="ltr">%s</bdi>') % value


def as_typed(value) -> Markup:
    """The owner's or a provider's own text shown as it came (an imported cell, an email,
    a key, an address, a reference), digits and all: isolated, in its own direction, and
    broken anywhere when it is longer than a phone is wide."""
    return Markup('<bdi class="as-typed">%s</bdi>') % value


_QUOTED = re.compile(r"(«|“)([^«»“”]*)(»|”)")


def quotes_as_typed(text: str) -> Markup:
    """A sentence of Vafa's that quotes the owner's text (an import's reason for a row:
    ‹Line 5, column «Mobile»: «021-88776655» is not a mobile›): each quote ``as_typed``."""
    shown, end = Markup(), 0
    for match in _QUOTED.finditer(text):
        shown += text[end : match.start(2)] + as_typed(match.group(2))
        end = match.end(2)
    return shown + text[end:]


FILTERS = {
    "quotes_as_typed": quotes_as_typed,
    "ltr": ltr,
    "as_typed": as_typed,
    "digits": lambda value: _localised(str(value)),
    "number": show_number,
    "jdatetime": show_datetime,
    "jdate": show_date,
    "mobile": show_mobile,
    "toman": show_toman,
    "percent": show_percent,
}
