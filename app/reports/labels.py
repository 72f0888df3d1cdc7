"""How reports name a Jalali month, week or hour on a chart or in a table."""

import jdatetime
from flask_babel import get_locale
from flask_babel import gettext as _

from app.persian import show_digits


def month_name(year: int, month: int) -> str:
    """«آذر ۱۴۰۵» in Persian, "Azar 1405" in English (Persian outside a request)."""
    locale = get_locale()
    persian = locale is None or locale.language == "fa"
    names = jdatetime.date.j_months_fa if persian else jdatetime.date.j_months_en
    return f"{names[month - 1]} {show_digits(str(year))}"


def week_name(first: jdatetime.date) -> str:
    """«هفتهٔ ۰۹/۰۷»: the week that starts on that Saturday (month/day)."""
    return _("Week of %(day)s", day=show_digits(first.strftime("%m/%d")))


def hour_name(number: int) -> str:
    """«ساعت ۱» for the first hour after a send (``number`` counts from 1)."""
    return _("Hour %(number)s", number=show_digits(str(number)))
