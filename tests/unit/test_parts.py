"""SMS part counting (what the owner pays for) and placeholder rendering."""

import pytest

from app.contacts.models import Contact
from app.messaging.text import GSM_BASIC, count_parts, render, unknown_placeholders

PERSIAN = "س"  # one UCS-2 code unit
LATIN = "a"  # one GSM 7-bit character


@pytest.mark.parametrize(
    ("length", "parts"),
    [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_persian_text_takes_70_characters_then_67_per_part(length, parts):
    count = count_parts(PERSIAN * length)
    assert (count.characters, count.parts, count.unicode) == (length, parts, True)


@pytest.mark.parametrize(
    ("length", "parts"),
    [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_latin_text_takes_160_characters_then_153_per_part(length, parts):
    count = count_parts(LATIN * length)
    assert (count.characters, count.parts, count.unicode) == (length, parts, False)


@pytest.mark.parametrize("char", ["{", "}", "[", "]", "~", "|", "^", "\\", "€"])
def test_gsm_extension_characters_count_two(char):
    count = count_parts(char)
    assert (count.characters, count.unicode) == (2, False)


def test_every_character_of_the_gsm_alphabet_counts_one_in_seven_bits():
    for char in sorted(GSM_BASIC):
        count = count_parts(char)
        assert (count.characters, count.unicode) == (1, False), repr(char)
    count = count_parts("".join(sorted(GSM_BASIC)))
    assert (count.characters, count.unicode) == (len(GSM_BASIC), False)


@pytest.mark.parametrize("char", ["`", "û", "\t", "\u00a0", "ی", "\u200c"])
def test_a_character_outside_the_gsm_alphabet_makes_the_text_unicode(char):
    count = count_parts("Hello - [x] " + char)
    assert (count.characters, count.unicode) == (13, True)


def test_extension_characters_push_latin_text_into_a_second_part():
    assert count_parts(LATIN * 158 + "€").parts == 1  # 160
    assert count_parts(LATIN * 159 + "€").parts == 2  # 161


def test_gsm_characters_beyond_ascii_stay_in_seven_bits():
    count = count_parts("Ça coute 5€? Ñandù, Øre, ΔΩ @ £ ¥ §")
    assert (count.characters, count.unicode) == (36, False)  # € counts two
    # û is not in the GSM alphabet: one such letter makes the whole text UCS-2.
    assert count_parts("Ça coûte 5€? Ñandù, Øre, ΔΩ @ £ ¥ §").unicode


def test_an_emoji_counts_two_utf16_units_and_forces_unicode():
    count = count_parts("Hi 😀")
    assert (count.characters, count.parts, count.unicode) == (5, 1, True)
    # 69 Persian letters + one emoji = 71 units: two parts.
    assert count_parts(PERSIAN * 69 + "😀").parts == 2


def test_one_persian_letter_makes_latin_text_unicode():
    text = LATIN * 100 + PERSIAN
    count = count_parts(text)
    assert (count.characters, count.parts, count.unicode) == (101, 2, True)


def test_persian_digits_and_zwnj_are_unicode():
    assert count_parts("کد ۱۲۳۴").unicode
    assert count_parts("می\u200cخواهم").characters == 8  # the ZWNJ is a character too


def test_empty_text_has_no_parts():
    count = count_parts("")
    assert (count.characters, count.parts) == (0, 0)


def test_newlines_count_as_one_character():
    assert count_parts("a\nb").characters == 3
    assert count_parts("سلام\nدنیا").characters == 9


# Rendering ---------------------------------------------------------------------


def contact(first="", last=""):
    return Contact(mobile="+989121234567", first_name=first, last_name=last)


def test_persian_and_english_placeholders_take_the_contact_fields():
    ali = contact("علی", "رضایی")
    assert render("سلام {نام} عزیز", ali) == "سلام علی عزیز"
    assert render("{نام خانوادگی}", ali) == "رضایی"
    assert render("{نام کامل}", ali) == "علی رضایی"
    assert render("Hi {first_name} {last_name}!", ali) == "Hi علی رضایی!"
    assert render("{full_name}", ali) == "علی رضایی"


def test_fallback_is_used_when_the_field_is_empty():
    body = "{نام|مشتری عزیز}، سلام"
    assert render(body, contact()) == "مشتری عزیز، سلام"
    assert render(body, contact("سارا")) == "سارا، سلام"
    assert render("{first_name | friend}", contact("  ")) == "friend"


def test_empty_field_without_fallback_leaves_nothing():
    assert render("سلام {نام}!", contact()) == "سلام !"


def test_full_name_of_a_contact_with_only_a_last_name():
    assert render("{نام کامل|مشتری}", contact(last="رضایی")) == "رضایی"


def test_unknown_placeholders_are_left_alone_and_reported():
    body = "سلام {نام}، کد تخفیف: {code} تا {تاریخ} — {code}"
    assert render(body, contact("علی")) == "سلام علی، کد تخفیف: {code} تا {تاریخ} — {code}"
    assert unknown_placeholders(body) == ["code", "تاریخ"]


def test_known_placeholders_are_not_reported():
    assert unknown_placeholders("{نام} {نام خانوادگی|} {full_name|x} بدون جای خالی") == []


def test_a_value_is_never_rendered_again():
    """A name that looks like a placeholder stays text: rendering is one substitution."""
    assert render("{نام} {last_name}", contact("{last_name}", "رضایی")) == "{last_name} رضایی"
