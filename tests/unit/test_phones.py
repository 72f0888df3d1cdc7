"""Mobile numbers in every form an owner's file or a shop's form may hold them."""

import pytest

from app.contacts.phones import InvalidMobile, normalize_mobile, search_digits

CANONICAL = "+989121234567"

# Every way people write 0912 123 4567.
SAME_NUMBER = [
    "09121234567",
    "+989121234567",
    "00989121234567",
    "989121234567",
    "9121234567",
    "0912 123 4567",
    "0912-123-4567",
    "0912 - 123 - 4567",
    "(0912) 123-4567",
    "0912.123.4567",
    "+98 912 123 4567",
    "+98-912-123-4567",
    "+98 (912) 123 45 67",
    "0098 912 123 4567",
    "98 912 1234567",
    "  09121234567  ",
    "09121234567\n",
    "0912\t123\t4567",
    "0912\u00a0123\u00a04567",  # no-break spaces, as Excel and Word paste them
    "۰۹۱۲۱۲۳۴۵۶۷",  # Persian digits
    "۰۹۱۲ ۱۲۳ ۴۵۶۷",
    "+۹۸۹۱۲۱۲۳۴۵۶۷",
    "۰۰۹۸۹۱۲۱۲۳۴۵۶۷",
    "٠٩١٢١٢٣٤٥٦٧",  # Arabic-Indic digits
    "+٩٨ ٩١٢ ١٢٣ ٤٥٦٧",
    "۰۹۱۲123۴۵۶۷",  # mixed scripts, as a half-converted sheet holds them
    "09١٢١٢٣٤٥67",
    "\u200f09121234567",  # RLM before the number
    "\u200e+989121234567\u200e",  # LRM around it
    "\u202a09121234567\u202c",  # LRE … PDF, from RTL pages
    "\u206609121234567\u2069",  # LRI … PDI, what phones and chat apps copy
    "\u061c۰۹۱۲۱۲۳۴۵۶۷",  # Arabic letter mark
    "0912\u200c123\u200c4567",  # ZWNJ typed between groups on a Persian keyboard
    "\ufeff09121234567",  # a byte-order mark left on a pasted cell
]


@pytest.mark.parametrize("text", SAME_NUMBER)
def test_every_form_of_a_number_is_stored_the_same_way(text):
    assert normalize_mobile(text) == CANONICAL


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("09351112233", "+989351112233"),  # Irancell
        ("09901112233", "+989901112233"),
        ("09011112233", "+989011112233"),
        ("+98 919 000 0000", "+989190000000"),
    ],
)
def test_other_operators_prefixes(text, canonical):
    assert normalize_mobile(text) == canonical


REJECTED = [
    ("", "empty"),
    ("   ", "empty"),
    (None, "empty"),
    ("-- ()", "empty"),
    ("abc", "not digits"),
    ("0912abc4567", "not digits"),
    ("0912_123_4567", "not digits"),
    ("tel:09121234567", "not digits"),
    ("09121234567#", "not digits"),
    ("9१२1234567", "not digits"),  # Devanagari digits are digits, but not ours
    ("0912123456", "11 digits"),  # one short
    ("091212345678", "11 digits"),  # one long
    ("912123456", "11 digits"),
    ("+9891212345678", "11 digits"),
    ("00989121234", "11 digits"),
    ("+98 (0) 912 123 4567", "11 digits"),
    ("02188776655", "start with 09"),  # a Tehran landline
    ("+982188776655", "start with 09"),
    ("03133445566", "start with 09"),
    ("08001234567", "start with 09"),
    ("+447911123456", "Iranian"),  # a British mobile
    ("00447911123456", "Iranian"),
    ("+19175550123", "Iranian"),
    ("0093701234567", "Iranian"),  # Afghanistan: 00… but not 0098
]


@pytest.mark.parametrize(("text", "reason"), REJECTED)
def test_what_is_not_an_iranian_mobile_is_rejected_with_a_reason(text, reason):
    with pytest.raises(InvalidMobile) as caught:
        normalize_mobile(text)
    assert reason in str(caught.value.reason)
    assert str(caught.value) == str(caught.value.reason)


def test_invalid_mobile_is_a_value_error():
    """Callers that parse a whole row catch ValueError for every bad cell."""
    with pytest.raises(ValueError):
        normalize_mobile("02188776655")


@pytest.mark.parametrize(
    ("query", "digits"),
    [
        ("0912", "912"),
        ("۰۹۱۲", "912"),
        ("٠٩١٢", "912"),
        ("+98912", "912"),
        ("0098912", "912"),
        ("98912", "912"),
        ("912", "912"),
        ("0912 123 4567", "9121234567"),
        ("+98 (912) 123-4567", "9121234567"),
        ("4567", "4567"),
        ("۴۵۶۷", "4567"),
        ("0", "0"),  # too short to be a prefix: searched as typed
    ],
)
def test_search_digits_drops_the_prefix_people_type(query, digits):
    assert search_digits(query) == digits


@pytest.mark.parametrize("query", ["", "   ", "علی", "ali", "0912 علی"])
def test_search_digits_is_none_for_text_that_is_not_a_number(query):
    assert search_digits(query) is None
