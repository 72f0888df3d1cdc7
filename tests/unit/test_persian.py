"""Persian digits, letters and the Jalali calendar."""

from datetime import UTC, date, datetime, timedelta, timezone

import jdatetime
import pytest

from app.persian import (
    TEHRAN,
    GregorianDate,
    as_typed,
    ascii_digits,
    gregorian_date,
    jalali_date,
    jalali_datetime,
    jalali_month_day,
    ltr,
    national_mobile,
    normalize_text,
    parse_jalali_date,
    parse_jalali_datetime,
    persian_digits,
    quotes_as_typed,
    to_tehran,
)


def test_ascii_digits_reads_persian_and_arabic_indic_digits():
    assert ascii_digits("۰۱۲۳۴۵۶۷۸۹") == "0123456789"
    assert ascii_digits("٠١٢٣٤٥٦٧٨٩") == "0123456789"
    assert ascii_digits("کد ۱۲3٤") == "کد 1234"
    assert ascii_digits("") == ""


def test_persian_digits_writes_ascii_digits_in_persian():
    assert persian_digits("1405/01/01 10:30") == "۱۴۰۵/۰۱/۰۱ ۱۰:۳۰"
    assert persian_digits("ab") == "ab"
    assert ascii_digits(persian_digits("0123456789")) == "0123456789"


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("علي", "علی"),  # Arabic yeh
        ("مصطفى", "مصطفی"),  # alef maksura
        ("كاظم", "کاظم"),  # Arabic kaf
        ("خانۀ ما", "خانهٔ ما"),
        ("می\u200cخواهم", "می\u200cخواهم"),  # ZWNJ is part of the word: kept
        ("  سلام   دنیا  ", "سلام دنیا"),
        ("سلام\t\u00a0دنیا", "سلام دنیا"),
        ("سلام\u2009\u200bدنیا", "سلام دنیا"),  # thin and zero-width spaces
        ("ﺳﻼﻡ", "سلام"),  # presentation forms, as old PDFs and Word hold them
        ("ﻋﻠﯽ", "علی"),
        ("ﻛﺘﺎﺏ", "کتاب"),  # a presentation-form Arabic kaf folds to Persian ک
        ("ＡＢＣ１２", "ABC12"),  # full-width Latin
        ("", ""),
        (None, ""),
        ("   ", ""),
    ],
)
def test_normalize_text(text, normal):
    assert normalize_text(text) == normal


def test_normalize_text_keeps_line_breaks_and_persian_digits():
    assert normalize_text("سلام\nکد ۱۲۳") == "سلام\nکد ۱۲۳"


@pytest.mark.parametrize(
    "text",
    [
        "1370/5/12",
        "1370/05/12",
        "۱۳۷۰-۰۵-۱۲",
        "1370.05.12",
        "١٣٧٠/٠٥/١٢",
        " 1370 / 05 / 12 ",
        "۱۳۷۰/5/۱۲",
    ],
)
def test_parse_jalali_date_accepts_the_usual_forms(text):
    assert parse_jalali_date(text) == date(1991, 8, 3)


@pytest.mark.parametrize(
    "text",
    [
        "1403/07/31",  # Mehr has 30 days
        "1404/12/30",  # 1404 is not a leap year
        "1370/13/01",
        "1370/00/10",
        "1370/05/00",
        "1370/05",
        "70/05/12",
        "1370/05/12/1",
        "12/05/1370",
        "۱۳۷۰ مرداد ۱۲",
        "",
        "abc",
    ],
)
def test_parse_jalali_date_rejects_what_is_not_a_day(text):
    with pytest.raises(ValueError):
        parse_jalali_date(text)


@pytest.mark.parametrize(
    ("text", "day"),
    [("2026/01/15", date(2026, 1, 15)), ("۱۹۹۱-۰۸-۰۳", date(1991, 8, 3))],
)
def test_a_gregorian_date_is_not_read_as_a_jalali_year(text, day):
    with pytest.raises(GregorianDate) as refused:
        parse_jalali_date(text)
    assert refused.value.day == day
    with pytest.raises(GregorianDate):
        parse_jalali_datetime(text, "10:30")


def test_a_gregorian_day_that_does_not_exist_is_not_a_date():
    with pytest.raises(ValueError) as refused:
        parse_jalali_date("2026/02/30")
    assert not isinstance(refused.value, GregorianDate)


def test_leap_year_esfand_30_exists():
    assert parse_jalali_date("1403/12/30") == date(2025, 3, 20)


def test_parse_jalali_datetime_is_tehran_time_stored_as_utc():
    moment = parse_jalali_datetime("1405/01/01", "10:30")
    assert moment == datetime(2026, 3, 21, 7, 0, tzinfo=UTC)
    assert moment.utcoffset() == timedelta(0)
    assert parse_jalali_datetime("۱۴۰۵/۰۱/۰۱", "۱۰:۳۰") == moment
    assert parse_jalali_datetime("1405/9/15", " 18 : 30 ") == datetime(
        2026, 12, 6, 15, 0, tzinfo=UTC
    )


def test_parse_jalali_datetime_just_after_midnight_is_the_previous_utc_day():
    assert parse_jalali_datetime("1405/01/01", "00:10") == datetime(2026, 3, 20, 20, 40, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "time"),
    [("1405/01/01", "25:00"), ("1405/01/01", "10:75"), ("1405/01/01", ""), ("", "10:30")],
)
def test_parse_jalali_datetime_rejects_bad_input(day, time):
    with pytest.raises(ValueError):
        parse_jalali_datetime(day, time)


def test_jalali_datetime_shows_a_utc_moment_in_tehran_time():
    assert jalali_datetime(datetime(2026, 3, 21, 7, 0, tzinfo=UTC)) == "1405/01/01 10:30"
    # A naive value is a stored UTC moment.
    assert jalali_datetime(datetime(2026, 3, 21, 7, 0)) == "1405/01/01 10:30"  # noqa: DTZ001
    # Any other offset is the same moment.
    plus_one = timezone(timedelta(hours=1))
    assert jalali_datetime(datetime(2026, 3, 21, 8, 0, tzinfo=plus_one)) == "1405/01/01 10:30"


def test_esfand_to_farvardin_boundary():
    # Nowruz 1405 is Saturday 2026-03-21; the day before is the last of Esfand 1404.
    assert jalali_date(date(2026, 3, 20)) == "1404/12/29"
    assert jalali_date(date(2026, 3, 21)) == "1405/01/01"
    assert parse_jalali_date("1405/01/01") == date(2026, 3, 21)
    # The year turns at midnight in Tehran, 20:30 UTC the day before.
    assert jalali_datetime(datetime(2026, 3, 20, 20, 29, tzinfo=UTC)) == "1404/12/29 23:59"
    assert jalali_datetime(datetime(2026, 3, 20, 20, 30, tzinfo=UTC)) == "1405/01/01 00:00"
    assert jalali_month_day(date(2026, 3, 20)) == (12, 29)
    assert jalali_month_day(date(2026, 3, 21)) == (1, 1)


def test_leap_esfand_30_then_nowruz_1404():
    assert jalali_date(date(2025, 3, 20)) == "1403/12/30"
    assert jalali_date(date(2025, 3, 21)) == "1404/01/01"


def test_jalali_month_day_of_a_birth_date():
    assert jalali_month_day(date(1991, 8, 3)) == (5, 12)


def test_jalali_arithmetic_agrees_with_jdatetime_day_by_day():
    """The importer converts by arithmetic from each year's first day; jdatetime decides."""
    for year in (*range(1300, 1425), 1, 9377):
        for month in range(0, 14):
            for day in range(0, 33):
                try:
                    expected = jdatetime.date(year, month, day).togregorian()
                except ValueError:
                    with pytest.raises(ValueError):
                        gregorian_date(year, month, day)
                    continue
                assert gregorian_date(year, month, day) == expected
                assert jalali_month_day(expected) == (month, day)


def test_to_tehran_is_three_and_a_half_hours_ahead():
    local = to_tehran(datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    assert (local.hour, local.minute) == (15, 30)
    assert local.tzinfo == TEHRAN


def test_national_mobile_is_how_iranians_write_a_number():
    assert national_mobile("+989121234567") == "0912 123 4567"


def test_isolating_filters_escape_what_they_isolate():
    assert ltr("۰۹۱۲ ۱۲۳ ۴۵۶۷") == '<bdi dir="ltr">۰۹۱۲ ۱۲۳ ۴۵۶۷</bdi>'
    assert as_typed("<b>a&b</b>") == '<bdi class="as-typed">&lt;b&gt;a&amp;b&lt;/b&gt;</bdi>'


def test_quotes_as_typed_isolates_each_quoted_value_of_a_reason():
    reason = "سطر ۴، ستون «تلفن همراه»: «+98 21 <8877>»: این شماره موبایل نیست."
    assert quotes_as_typed(reason) == (
        'سطر ۴، ستون «<bdi class="as-typed">تلفن همراه</bdi>»: '
        '«<bdi class="as-typed">+98 21 &lt;8877&gt;</bdi>»: این شماره موبایل نیست.'
    )
    assert quotes_as_typed("Line 4, column “mobile”: x") == (
        'Line 4, column “<bdi class="as-typed">mobile</bdi>”: x'
    )
    assert quotes_as_typed("<no quotes>") == "&lt;no quotes&gt;"
