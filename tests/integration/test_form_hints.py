"""Hints and examples in the forms are written in the page's language and digits.

An English page shows «1405/09/15», not «۱۴۰۵/۰۹/۱۵»; a Persian one the reverse. The
compose page offers the placeholder names the editor accepts in that language.
"""

import re

import pytest
from integration_support import text_of

PERSIAN_DIGIT = re.compile("[۰-۹]")


def placeholders(page) -> list[str]:
    return re.findall(r'placeholder="([^"]*)"', page.text)


def chips(page) -> list[str]:
    return re.findall(r'data-insert="([^"]*)"', page.text)


@pytest.mark.parametrize("path", ["/campaigns/new", "/contacts/new"])
def test_english_forms_write_their_examples_in_latin_digits(english, path):
    shown = placeholders(english.get(path))
    assert shown and not any(PERSIAN_DIGIT.search(text) for text in shown)


def test_persian_forms_write_their_examples_in_persian_digits(logged_in):
    assert {"۱۴۰۵/۰۹/۱۵", "۱۸:۳۰"} <= set(placeholders(logged_in.get("/campaigns/new")))
    assert {"۰۹۱۲ ۱۲۳ ۴۵۶۷", "۱۳۷۰/۰۵/۱۲"} <= set(placeholders(logged_in.get("/contacts/new")))


def test_the_purchase_form_on_an_english_contact_page(english, make_contact):
    ali = make_contact("09121234567", first_name="Ali")
    shown = placeholders(english.get(f"/contacts/{ali.id}"))
    assert "1405/01/01" in shown and "2,500,000" in shown


def test_the_placeholder_buttons_and_examples_speak_the_pages_language(english, logged_in):
    page = english.get("/campaigns/new")
    assert chips(page) == [
        "{first_name}",
        "{last_name}",
        "{full_name}",
        "{title}",
        "{city}",
        "{birth_date}",
        "{days_to_birthday}",
        "{anniversary}",
        "{business_name}",
        "{today}",
        "{occasion}",
        "{coupon}",
    ]
    assert "{first_name|" in text_of(page.text)
    hint = english.get("/contacts/new").text
    assert "Separate tags with commas, like: VIP, wholesale" in text_of(hint)

    logged_in.post("/language", data={"lang": "fa"})
    assert chips(logged_in.get("/campaigns/new"))[:5] == [
        "{نام}",
        "{نام خانوادگی}",
        "{نام کامل}",
        "{عنوان}",
        "{شهر}",
    ]
