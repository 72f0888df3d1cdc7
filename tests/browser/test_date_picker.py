"""The Jalali date picker: a day chosen from the calendar, by keyboard and by mouse, is saved.

The field stays a text input (the integration tests type into it without a script); here
the script's calendar fills it, in Persian digits, and the saved contact has that day.
"""

import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.contacts.models import Contact
from app.extensions import db

pytestmark = pytest.mark.browser


def new_contact(page: Page, mobile: str, birth_date: str):
    """The new-contact form with a mobile and a typed birth date; the date field, the
    calendar's button and the calendar."""
    page.goto("/contacts/new")
    page.locator("#mobile").fill(mobile)
    page.locator("#birth_date").fill(birth_date)
    return (
        page.locator("#birth_date"),
        page.locator("#birth_date + .picker-toggle"),
        page.locator("#birth_date ~ .picker"),
    )


def saved_birth_date(page: Page, live_server, mobile: str) -> date:
    with page.expect_navigation():
        page.locator("main form button.primary").click()
    with live_server.app.app_context():
        contact = db.session.scalar(select(Contact).where(Contact.mobile == mobile))
        return contact.birth_date


def test_pick_a_birth_date_from_the_jalali_calendar(owner_page: Page, live_server):
    page = owner_page
    birth_date, toggle, calendar = new_contact(page, "09121234567", "1370/05/12")
    expect(calendar).to_be_hidden()

    # Keyboard: the calendar opens on the typed day (12 Mordad 1370); in a right-to-left
    # page the left arrow is the next day, and Enter chooses it.
    toggle.click()
    expect(calendar).to_be_visible()
    expect(calendar.locator(".picker-head strong")).to_have_text(re.compile("مرداد ۱۳۷۰"))
    focused = calendar.locator("button[data-day]:focus")
    expect(focused).to_have_text("۱۲")
    page.keyboard.press("ArrowLeft")
    expect(focused).to_have_text("۱۳")
    page.keyboard.press("Enter")
    expect(calendar).to_be_hidden()
    expect(birth_date).to_have_value("۱۳۷۰/۰۵/۱۳")
    expect(toggle).to_be_focused()

    # Mouse: the next month's first day. Escape closes without changing the field.
    toggle.click()
    page.keyboard.press("Escape")
    expect(calendar).to_be_hidden()
    expect(birth_date).to_have_value("۱۳۷۰/۰۵/۱۳")
    toggle.click()
    calendar.locator('button[data-move="1"]').click()
    expect(calendar.locator(".picker-head strong")).to_have_text(re.compile("شهریور ۱۳۷۰"))
    calendar.locator("button[data-day]", has_text=re.compile("^۱$")).click()
    expect(birth_date).to_have_value("۱۳۷۰/۰۶/۰۱")

    with page.expect_navigation():
        page.locator("main form button.primary").click()
    with live_server.app.app_context():
        contact = db.session.scalar(select(Contact).where(Contact.mobile == "+989121234567"))
        assert contact is not None
        assert contact.birth_date == date(1991, 8, 23)


def test_reach_a_birth_year_thirty_years_back(owner_page: Page, live_server):
    """Shift+PageUp goes back a year (as in the WAI-ARIA date picker); the year list jumps."""
    page = owner_page
    birth_date, toggle, calendar = new_contact(page, "09121234567", "1400/05/12")
    focused = calendar.locator("button[data-day]:focus")

    # Keyboard: thirty years back, same day; its name reads as it is said.
    toggle.click()
    for _ in range(30):
        page.keyboard.press("Shift+PageUp")
    expect(calendar.locator(".picker-head strong")).to_have_text("مرداد ۱۳۷۰")
    expect(focused).to_have_attribute("aria-label", "شنبه ۱۲ مرداد ۱۳۷۰")
    page.keyboard.press("Enter")
    expect(birth_date).to_have_value("۱۳۷۰/۰۵/۱۲")
    assert saved_birth_date(page, live_server, "+989121234567") == date(1991, 8, 3)

    # The year list: from 1400 to 1369, then the 1st of that Mordad by mouse.
    birth_date, toggle, calendar = new_contact(page, "09121234568", "1400/05/12")
    toggle.click()
    calendar.locator("select[data-year]").select_option("1369")
    expect(calendar.locator(".picker-head strong")).to_have_text("مرداد ۱۳۶۹")
    calendar.locator("button[data-day]", has_text=re.compile("^۱$")).click()
    expect(birth_date).to_have_value("۱۳۶۹/۰۵/۰۱")
    assert saved_birth_date(page, live_server, "+989121234568") == date(1990, 7, 23)
