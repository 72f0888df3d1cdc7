"""The importer's judgement of headers and values: one table per question."""

from datetime import UTC, date, datetime

import pytest
import time_machine

from app.contacts.importing.columns import MappingError, check_mapping, guess_field, guess_mapping
from app.contacts.importing.rows import (
    RowError,
    parse_amount,
    parse_date,
    parse_gender,
    parse_moment,
    parse_yes_no,
    split_tags,
)


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("نام", "first_name"),
        ("اسم", "first_name"),
        ("First name", "first_name"),
        ("first_name", "first_name"),
        ("نام خانوادگی", "last_name"),
        ("نام‌خانوادگی", "last_name"),  # with a ZWNJ
        ("نام_خانوادگی", "last_name"),
        ("فامیلی", "last_name"),
        ("Surname", "last_name"),
        ("نام و نام خانوادگی", "full_name"),
        ("نام مشتري", "full_name"),  # Arabic ي
        ("Full Name", "full_name"),
        ("name", "full_name"),
        ("شماره موبایل", "mobile"),
        ("موبايل", "mobile"),
        ("تلفن همراه", "mobile"),
        ("تلفن‌همراه", "mobile"),
        ("شماره همراه", "mobile"),
        ("Mobile", "mobile"),
        ("Phone Number", "mobile"),
        ("  MOBILE  ", "mobile"),
        ("موبایل (اصلی)", "mobile"),
        ("تاریخ تولد", "birth_date"),
        ("تاريخ تولد", "birth_date"),
        ("تولد", "birth_date"),
        ("Birthday", "birth_date"),
        ("Date of birth", "birth_date"),
        ("birth_date", "birth_date"),
        ("جنسیت", "gender"),
        ("Gender", "gender"),
        ("sex", "gender"),
        ("سالگرد ازدواج", "anniversary"),
        ("تاریخ عضویت", "anniversary"),
        ("Anniversary", "anniversary"),
        ("شهر", "city"),
        ("City", "city"),
        ("برچسب", "tags"),
        ("برچسب‌ها", "tags"),
        ("Tags", "tags"),
        ("لغو عضویت", "opted_out"),
        ("Unsubscribed", "opted_out"),
        ("opted_out", "opted_out"),
        ("reason", "ignore"),  # the rejected-rows file's own column
        ("Reason", "ignore"),
        ("دلیل", "ignore"),
        ("ردیف", "ignore"),
        ("#", "ignore"),
        ("", "ignore"),
        ("   ", "ignore"),
        ("کد ملی", "custom"),
        ("Branch", "custom"),
        ("ignore", "custom"),
    ],
)
def test_guess_field_for_contacts(header, field):
    assert guess_field(header) == field


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("موبایل", "mobile"),
        ("Mobile", "mobile"),
        ("تاریخ", "purchased_at"),
        ("تاریخ خرید", "purchased_at"),
        ("Date", "purchased_at"),
        ("مبلغ", "amount"),
        ("مبلغ (ریال)", "amount"),
        ("مبلغ (تومان)", "amount"),
        ("Amount", "amount"),
        ("شماره فاکتور", "reference"),
        ("Invoice", "reference"),
        ("Order ID", "reference"),
        ("کد ملی", "ignore"),
        ("نام", "ignore"),
    ],
)
def test_guess_field_for_purchases(header, field):
    assert guess_field(header, "purchases") == field


def test_a_lone_name_column_holds_the_whole_name():
    guess = guess_mapping([["نام", "موبایل"], ["علی رضایی", "09121234567"]])
    assert guess.header
    assert guess.mapping == {0: "full_name", 1: "mobile"}


def test_first_and_last_name_columns_stay_apart():
    guess = guess_mapping([["نام", "نام خانوادگی", "تلفن همراه"], ["علی", "رضایی", "0912"]])
    assert guess.mapping == {0: "first_name", 1: "last_name", 2: "mobile"}


def test_without_a_header_the_values_decide():
    rows = [
        ["علی رضایی", "09121234567", "1370/05/12", "x"],
        ["سارا", "0935 111 2233", "", "y"],
        ["نیما", "+98 901 222 3344", "1365-01-01", "z"],
    ]
    guess = guess_mapping(rows)
    assert not guess.header
    assert guess.mapping == {0: "full_name", 1: "mobile", 2: "birth_date", 3: "ignore"}


def test_a_field_named_twice_keeps_the_second_as_an_own_field():
    guess = guess_mapping([["موبایل", "تلفن", "نام"], ["09121234567", "02188776655", "علی"]])
    assert guess.mapping == {0: "mobile", 1: "custom", 2: "full_name"}


def test_unknown_headers_find_the_mobile_column_by_its_values():
    rows = [["مشتری عزیز", "ستون ۲"], ["علی", "09121234567"], ["سارا", "09351112233"]]
    guess = guess_mapping(rows)
    assert guess.header
    # An unknown name is kept as the owner's own field; the numbers make «ستون ۲» the mobile.
    assert guess.mapping == {0: "custom", 1: "mobile"}


def test_purchases_in_tomans_are_noticed_from_the_header():
    rows = [["موبایل", "تاریخ", "مبلغ (تومان)"], ["09121234567", "1403/01/01", "1000"]]
    guess = guess_mapping(rows, "purchases")
    assert guess.mapping == {0: "mobile", 1: "purchased_at", 2: "amount"}
    assert guess.toman
    assert not guess_mapping([["mobile", "date", "amount"]], "purchases").toman


def test_excel_numbers_are_mobiles_too():
    guess = guess_mapping([[9121234567.0, "علی"], [9351112233.0, "سارا"]])
    assert guess.mapping[0] == "mobile" and not guess.header


@pytest.mark.parametrize(
    ("mapping", "kind", "message"),
    [
        ({0: "full_name"}, "contacts", "mobile numbers"),
        ({0: "mobile", 1: "mobile"}, "contacts", "Only one column"),
        ({0: "mobile", 1: "city", 2: "city"}, "contacts", "Only one column"),
        ({0: "mobile", 1: "name"}, "contacts", "“name” is not a field"),
        ({0: "mobile", 1: "custom:کد", 2: "custom:کد"}, "contacts", "Two columns"),
        ({0: "mobile", 1: "custom:"}, "contacts", "needs a name"),
        ({0: "mobile", 1: "amount"}, "purchases", "Date of purchase"),
        ({0: "mobile", 1: "purchased_at"}, "purchases", "Amount"),
        ({0: "mobile", 1: "gender", 2: "purchased_at", 3: "amount"}, "purchases", "“gender”"),
    ],
)
def test_check_mapping_refuses(mapping, kind, message):
    with pytest.raises(MappingError, match=message):
        check_mapping(mapping, kind)


def test_check_mapping_accepts():
    check_mapping(
        {0: "mobile", 1: "custom:کد", 2: "custom:شعبه", 3: "ignore", 4: "ignore"}, "contacts"
    )
    check_mapping({0: "mobile", 1: "purchased_at", 2: "amount"}, "purchases")


# Dates ------------------------------------------------------------------------------

BORN = date(1991, 8, 3)  # 1370/05/12


@pytest.mark.parametrize(
    "value",
    [
        "1370/5/12",
        "1370/05/12",
        "۱۳۷۰-۰۵-۱۲",
        "١٣٧٠/٠٥/١٢",
        "1370.05.12",
        "1370 / 05 / 12",
        "13700512",
        13700512.0,
        "1991-08-03",
        "1991/8/3",
        "19910803",
        "1991-08-03 10:30",
        "1991-08-03T10:30:00Z",
        "1370/05/12 10:30",
        BORN,
        datetime(1991, 8, 3, 10, 30),  # noqa: DTZ001 (an Excel cell's wall-clock time)
        33453.0,  # Excel's serial number for 1991-08-03
        33453,
    ],
)
def test_every_date_form(value):
    assert parse_date(value) == BORN


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1403/07/31", "not a real date"),  # Mehr has 30 days
        ("1370/13/01", "not a real date"),
        ("1400/12/30", "not a real date"),  # 1400 is not a leap year
        ("1991-02-29", "not a real date"),
        ("31/12/1370", "Write the year first"),
        ("03/08/1991", "Write the year first"),
        ("70/05/12", "Write the year first"),
        ("yesterday", "not a date"),
        ("1370", "not a date"),
        ("", "empty"),
        (True, "not a date"),
        (-5.0, "not a date"),
        (99999999.0, "not a date"),
        ("1370/05/12 25:00", "time that does not exist"),
    ],
)
def test_dates_that_are_not(value, reason):
    with pytest.raises(RowError, match=reason):
        parse_date(value)


def test_a_leap_esfand_exists():
    assert parse_date("1399/12/30") == date(2021, 3, 20)


@time_machine.travel(datetime(2025, 1, 1, tzinfo=UTC), tick=False)
def test_a_birth_date_is_not_in_the_future():
    assert parse_date("1403/10/11", past=True) == date(2024, 12, 31)
    with pytest.raises(RowError, match="in the future"):
        parse_date("1404/01/01", past=True)
    assert parse_date("1404/01/01") == date(2025, 3, 21)  # an anniversary may be ahead


@time_machine.travel(datetime(2025, 1, 1, tzinfo=UTC), tick=False)
def test_purchase_moments_are_tehran_time():
    assert parse_moment("1403/01/15 14:30") == datetime(2024, 4, 3, 11, 0, tzinfo=UTC)
    assert parse_moment("2024-04-03") == datetime(2024, 4, 2, 20, 30, tzinfo=UTC)
    excel = datetime(2024, 4, 3, 14, 30)  # noqa: DTZ001 (Excel's wall-clock time)
    assert parse_moment(excel) == datetime(2024, 4, 3, 11, 0, tzinfo=UTC)
    with pytest.raises(RowError, match="in the future"):
        parse_moment("1404/01/01")


# Other values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "gender"),
    [
        ("مرد", "male"),
        ("آقا", "male"),
        ("آقای", "male"),
        ("male", "male"),
        ("M", "male"),
        ("1", "male"),
        ("۱", "male"),
        (1.0, "male"),
        ("زن", "female"),
        ("خانم", "female"),
        ("Female", "female"),
        ("f", "female"),
        ("۲", "female"),
        ("", None),
        ("  ", None),
    ],
)
def test_gender(value, gender):
    assert parse_gender(value) == gender


@pytest.mark.parametrize("value", ["نامعلوم", "3", "x", "maybe"])
def test_gender_that_is_not(value):
    with pytest.raises(RowError, match="is not a gender"):
        parse_gender(value)


@pytest.mark.parametrize(
    ("value", "answer"),
    [
        ("بله", True),
        ("yes", True),
        ("Y", True),
        ("1", True),
        ("۱", True),
        (True, True),
        ("لغو", True),
        ("خیر", False),
        ("no", False),
        ("0", False),
        (False, False),
        ("", False),
    ],
)
def test_yes_or_no(value, answer):
    assert parse_yes_no(value) is answer


def test_yes_or_no_that_is_neither():
    with pytest.raises(RowError, match="is not yes or no"):
        parse_yes_no("شاید")


@pytest.mark.parametrize(
    ("value", "rials"),
    [
        ("1,250,000", 1_250_000),
        ("۱٬۲۵۰٬۰۰۰", 1_250_000),
        ("1 250 000", 1_250_000),
        ("1250000.0", 1_250_000),
        (1250000.0, 1_250_000),
        (1250000, 1_250_000),
        ("1,250,000 ریال", 1_250_000),
        ("0", 0),
    ],
)
def test_amounts(value, rials):
    assert parse_amount(value) == rials


def test_amounts_in_tomans_are_stored_in_rials():
    assert parse_amount("125,000 تومان", toman=True) == 1_250_000


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("-5000", "negative"),
        (-5000.0, "negative"),
        ("12.5", "not an amount"),
        (12.5, "whole number"),
        ("پنج هزار", "not an amount"),
        ("", "empty"),
        (True, "not an amount"),
    ],
)
def test_amounts_that_are_not(value, reason):
    with pytest.raises(RowError, match=reason):
        parse_amount(value)


def test_tags_are_split_on_either_comma_and_kept_once():
    assert split_tags("vip، وفادار ,VIP,vip;  شعبه ونک |#عمده") == [
        "vip",
        "وفادار",
        "VIP",
        "شعبه ونک",
        "عمده",
    ]
    assert split_tags("") == []
