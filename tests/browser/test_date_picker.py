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


def test_pick_a_birth_date_from_the_jalali_calendar(page: Page, live_server):
    page.goto("/")
    page.locator("#email").fill("owner@example.com")
    page.locator("#password").fill("a good password")
    page.locator("#confirm").fill("a good password")
    with page.expect_navigation():
        page.locator("main form button.primary").click()

    page.goto("/contacts/new")
    page.locator("#mobile").fill("09121234567")
    birth_date = page.locator("#birth_date")
    birth_date.fill("1370/05/12")
    toggle = page.locator("#birth_date + .picker-toggle")
    calendar = page.locator("#birth_date ~ .picker")
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
