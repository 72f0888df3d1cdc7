"""WTForms' own refusals in the panel's Persian, with Persian digits (app/form_messages.py).

Walking the panel, an empty token name answered «این فیلد اجباریست.» and a short
password «طول فیلد حداقل باید 10 حرف باشد.»: WTForms' bundled catalog, not ours.
"""

import re

from app.form_messages import MESSAGES


def field_errors(response) -> list[str]:
    return [e.strip() for e in re.findall(r'<p class="error"[^>]*>(.*?)</p>', response.text)]


def test_a_required_field_left_empty(logged_in):
    response = logged_in.post("/settings/api-tokens", data={"name": ""})
    assert field_errors(response) == ["پر کردن این خانه الزامی است."]
    assert "اجباریست" not in response.text


def test_a_number_out_of_range_is_refused_in_persian_digits(logged_in):
    response = logged_in.post(
        "/settings/sending",
        data={"window_start": "08:00", "window_end": "22:00", "frequency_cap_days": "400"},
    )
    assert field_errors(response) == ["عدد باید بین ۰ و ۳۶۵ باشد."]


def test_too_long_a_value_names_the_limit_in_persian_digits(logged_in):
    response = logged_in.post(
        "/settings/providers/new",
        data={"name": "ن" * 101, "kind": "kavenegar", "senders": "3000123456"},
    )
    assert "حداکثر ۱۰۰ کاراکتر می‌توانید بنویسید." in field_errors(response)


def test_not_a_number(logged_in):
    response = logged_in.post(
        "/settings/sending",
        data={"window_start": "08:00", "window_end": "22:00", "frequency_cap_days": "دو"},
    )
    assert "یک عدد صحیح بنویسید." in field_errors(response)


def test_in_english_the_messages_are_wtforms_own(logged_in):
    logged_in.post("/language", data={"lang": "en"})
    response = logged_in.post(
        "/settings/sending",
        data={"window_start": "08:00", "window_end": "22:00", "frequency_cap_days": "400"},
    )
    assert field_errors(response) == ["Number must be between 0 and 365."]
    response = logged_in.post(
        "/settings/providers/new",
        data={"name": "n" * 101, "kind": "kavenegar", "senders": "3000123456"},
    )
    assert "Field cannot be longer than 100 characters." in field_errors(response)


def test_every_listed_message_has_its_persian(app):
    from babel.messages.pofile import read_po

    with open("translations/fa/LC_MESSAGES/messages.po", encoding="utf-8") as po:
        catalog = read_po(po)
    for message in MESSAGES:
        assert catalog[message] is not None and catalog[message].string, message
