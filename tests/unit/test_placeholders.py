"""Placeholders: what each shows, its fallback, the salutation, days to the birthday,
malformed and unknown ones, and that a message text can never reach into Python."""

from dataclasses import dataclass, field
from datetime import date

import pytest

from app.messaging.text import PLACEHOLDERS, Template, count_parts, placeholder_problems
from app.persian import gregorian_date
from app.sending.policy import SendingPolicy

# 1405/01/10 (a Monday in Farvardin); 1404 is a common year, 1403 a leap year.
TODAY = gregorian_date(1405, 1, 10)


@dataclass
class Person:
    """A contact as the text reads it: only these attributes exist."""

    first_name: str = ""
    last_name: str = ""
    city: str = ""
    gender: str | None = None
    birth_date: date | None = None
    birth_jmonth: int | None = None
    birth_jday: int | None = None
    anniversary: date | None = None
    fields: dict = field(default_factory=dict)


ALI = Person(
    first_name="علی",
    last_name="رضایی",
    city="اصفهان",
    gender="male",
    birth_date=gregorian_date(1370, 6, 15),
    birth_jmonth=6,
    birth_jday=15,
    anniversary=gregorian_date(1398, 2, 1),
    fields={"کد اشتراک": "A-12"},
)
NOBODY = Person()


def text(body: str, person=ALI, today=TODAY, business="گل‌فروشی نرگس") -> str:
    return Template(body, ["کد اشتراک"], today=today, business=business).render(person)


@pytest.mark.parametrize(
    ("names", "shown"),
    [
        (("نام", "first_name"), "علی"),
        (("نام خانوادگی", "last_name"), "رضایی"),
        (("نام کامل", "full_name"), "علی رضایی"),
        (("شهر", "city"), "اصفهان"),
        (("تاریخ تولد", "birth_date"), "۱۳۷۰/۰۶/۱۵"),
        (("تاریخ سالگرد", "anniversary"), "۱۳۹۸/۰۲/۰۱"),
        (("عنوان", "title"), "آقای"),
        (("روز تا تولد", "days_to_birthday"), "۱۶۰"),  # 10 Farvardin → 15 Shahrivar: 21+4×31+15
        (("نام کسب‌وکار", "business_name"), "گل‌فروشی نرگس"),
        (("تاریخ امروز", "today"), "۱۴۰۵/۰۱/۱۰"),
        (("کد اشتراک",), "A-12"),
    ],
)
def test_each_placeholder_shows_its_value_by_its_persian_and_english_name(names, shown):
    for name in names:
        assert text(f"«{{{name}}}»") == f"«{shown}»"
        assert text(f"«{{{name}|جایگزین}}»") == f"«{shown}»"  # a value: no fallback


@pytest.mark.parametrize(
    "name",
    [
        "نام",
        "نام خانوادگی",
        "نام کامل",
        "شهر",
        "تاریخ تولد",
        "تاریخ سالگرد",
        "عنوان",
        "روز تا تولد",
        "نام کسب‌وکار",
        "کد اشتراک",
    ],
)
def test_each_empty_value_shows_its_fallback(name):
    assert text(f"«{{{name}|مشتری عزیز}}»", NOBODY, business="") == "«مشتری عزیز»"
    assert text(f"«{{{name}}}»", NOBODY, business="") == "«»"


def test_every_placeholder_has_a_persian_and_an_english_name():
    persian = {p for name, p in PLACEHOLDERS.items() if not name.isascii()}
    english = {p for name, p in PLACEHOLDERS.items() if name.isascii()}
    assert persian == english and len(persian) == 12


def test_the_salutation_follows_the_gender_and_is_empty_when_unknown():
    body = "سلام {عنوان} {نام}، خوش آمدید"
    assert text(body) == "سلام آقای علی، خوش آمدید"
    assert text(body, Person(first_name="سارا", gender="female")) == "سلام خانم سارا، خوش آمدید"
    # Unknown: no salutation, and no double space where it would have been.
    assert text(body, Person(first_name="نگار")) == "سلام نگار، خوش آمدید"
    assert text("{title} {first_name}", Person(first_name="Sara", gender="female")) == "خانم Sara"


def days(month: int, day: int, today: date) -> str:
    person = Person(birth_jmonth=month, birth_jday=day)
    return text("{روز تا تولد}", person, today=today)


def test_days_until_the_birthday_are_zero_on_the_day_and_cross_the_year_end():
    assert days(1, 10, TODAY) == "۰"
    assert days(1, 11, TODAY) == "۱"
    assert days(1, 9, TODAY) == "۳۶۴"  # yesterday: next year's (1405 is common: 365 days)
    esfand_28 = gregorian_date(1404, 12, 28)
    assert days(1, 1, esfand_28) == "۲"  # 29 Esfand, then 1 Farvardin
    assert days(1, 3, esfand_28) == "۴"
    assert days(12, 28, esfand_28) == "۰"


def test_a_birthday_on_30_esfand_is_29_esfand_in_a_common_year():
    # 1403 is a leap year: 30 Esfand exists.
    assert days(12, 30, gregorian_date(1403, 12, 29)) == "۱"
    assert days(12, 30, gregorian_date(1403, 12, 30)) == "۰"
    # 1404 is common: the birthday is kept on 29 Esfand.
    assert days(12, 30, gregorian_date(1404, 12, 29)) == "۰"
    assert days(12, 30, gregorian_date(1404, 12, 28)) == "۱"
    # The day after 29 Esfand 1404 is 1 Farvardin 1405: next birthday, 29 Esfand 1405.
    assert days(12, 30, gregorian_date(1405, 1, 1)) == "۳۶۴"


def problems(body: str) -> list[tuple[str, str]]:
    return [(p.kind, p.text) for p in placeholder_problems(body, ["کد اشتراک"])]


def test_unknown_and_malformed_placeholders_are_each_named():
    assert problems("سلام {نام|دوست}، {کد اشتراک} {شهر}") == []
    assert problems("سلام {نام") == [("unclosed", "{نام")]
    assert problems("سلام نام}") == [("unopened", "سلام نام}")]
    assert problems("سلام {} و {|دوست}") == [("empty", "{}"), ("empty", "{|دوست}")]
    assert problems("سلام {کد} و {code} و {کد}") == [("unknown", "کد"), ("unknown", "code")]
    assert problems("{{ config }}") == [
        ("unclosed", "{"),
        ("unknown", "config"),
        ("unopened", "}"),
    ]


class Watched:
    """A contact that records every attribute the template reads from it."""

    def __init__(self):
        object.__setattr__(self, "read", [])

    def __getattribute__(self, name):
        if name != "read" and not name.startswith("__"):
            object.__getattribute__(self, "read").append(name)
        return object.__getattribute__(self, name) if name == "read" else None


@pytest.mark.parametrize(
    "body",
    [
        "{{ config }}",
        "{__class__}",
        "{0.__class__}",
        "{نام.__class__}",
        "{first_name.__class__.__mro__}",
        "{0}{1}{fields[x]}",
        "{نام!r:>10}",
        "%(first_name)s {first_name:%s}",
    ],
)
def test_message_text_stays_inert_and_reads_no_attribute(body):
    contact = Watched()
    assert Template(body, today=TODAY).render(contact) == body
    assert contact.read == []


def test_a_placeholder_inside_double_braces_reads_only_its_own_column():
    contact = Watched()
    assert Template("{{نام|دوست}}", today=TODAY).render(contact) == "{دوست}"
    assert contact.read == ["first_name"]


def test_a_value_with_braces_is_shown_as_it_is():
    person = Person(first_name="{0.__class__} {{x}}")
    assert text("سلام {نام}", person) == "سلام {0.__class__} {{x}}"


# Part counting at the boundaries --------------------------------------------------------


def test_gsm_extension_characters_count_double_at_the_160_and_153_boundaries():
    assert (count_parts("a" * 158 + "[").characters, count_parts("a" * 158 + "[").parts) == (160, 1)
    assert count_parts("a" * 159 + "[").parts == 2  # 161
    assert count_parts("a" * 304 + "€").parts == 2  # 306 = 2 × 153
    assert count_parts("a" * 305 + "€").parts == 3  # 307


def test_ucs2_takes_70_then_67_per_part():
    assert count_parts("س" * 70).parts == 1
    assert count_parts("س" * 71).parts == 2
    assert count_parts("س" * 134).parts == 2
    assert count_parts("س" * 135).parts == 3


def test_an_emoji_is_two_utf16_units():
    count = count_parts("س" * 68 + "🎉")
    assert (count.characters, count.parts, count.unicode) == (70, 1, True)
    assert count_parts("س" * 69 + "🎉").parts == 2


def test_the_opt_out_line_pushes_a_full_part_into_a_second():
    with_optout = SendingPolicy().with_optout  # a line break and «لغو۱۱»: six more
    assert count_parts("س" * 64).parts == count_parts(with_optout("س" * 64)).parts == 1
    assert count_parts("س" * 65).parts == 1
    assert count_parts(with_optout("س" * 65)).parts == 2  # 71


def test_the_occasion_shows_the_campaigns_occasion_or_its_fallback():
    body = "{مناسبت|جشن} مبارک {نام}!"
    assert Template(body, today=TODAY, occasion="عید فطر").render(ALI) == "عید فطر مبارک علی!"
    assert Template(body, today=TODAY, occasion="").render(ALI) == "جشن مبارک علی!"
    # The English name reads the same value; without a fallback nothing shows.
    assert Template("{occasion}!", occasion="شب یلدا").render(NOBODY) == "شب یلدا!"
    assert Template("{مناسبت} مبارک", occasion="").render(NOBODY) == "مبارک"


def test_the_occasion_is_the_same_for_every_recipient_and_counted():
    template = Template("{مناسبت} مبارک {نام}", occasion="میلاد پیامبر")
    texts = {template.render(Person(first_name=name)) for name in ("علی", "زهرا")}
    assert texts == {"میلاد پیامبر مبارک علی", "میلاد پیامبر مبارک زهرا"}
    assert count_parts(template.render(ALI)).characters == len("میلاد پیامبر مبارک علی")
