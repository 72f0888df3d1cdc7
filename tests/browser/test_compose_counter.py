"""The compose page's counter counts what the recipient gets: the longest text anyone in
the audience would receive (``{نام}`` as the longest name, the opt-out line included),
not the placeholder as typed; an unknown placeholder is named before any send, in the
compose form and in the template editor.

In English the counts read "1 part", not "1 parts"; an empty text has none.
"""

import pytest
from playwright.sync_api import Page, expect

from app.contacts.models import Contact
from app.extensions import db

pytestmark = pytest.mark.browser


def add_contacts(live_server, *names: str) -> None:
    with live_server.app.app_context():
        for number, name in enumerate(names, start=1):
            db.session.add(Contact(mobile=f"+98912000000{number}", first_name=name))
        db.session.commit()


def test_the_counter_counts_the_placeholder_as_the_longest_name(owner_page: Page, live_server):
    page = owner_page
    add_contacts(live_server, "سارا", "محمدحسین")
    page.goto("/campaigns/new")
    counter = page.locator("#counter")
    body = page.locator("#body")
    body.fill("س" * 56 + " ")
    page.locator('.chip[data-insert="{نام}"]').click()  # the chip types the placeholder
    expect(body).to_have_value("س" * 56 + " {نام}")
    # As typed it would be 57 + 5 + 6 (opt-out line) = 68, one part; «محمدحسین» makes it
    # 57 + 8 + 6 = 71: two parts.
    expect(counter).to_have_attribute("data-characters", "71")
    expect(counter).to_have_attribute("data-parts", "2")
    expect(counter).to_contain_text("۷۱ کاراکتر")
    expect(counter).to_contain_text("۲ بخش")
    # The preview shows the first contact's own text: «سارا», 67 characters, one part.
    expect(page.locator("#preview-text")).to_contain_text("سارا")
    expect(page.locator("#preview-parts")).to_contain_text("۶۷ کاراکتر")

    body.fill("سلام {نام}، کد شما {کد} است")
    problems = page.locator("#placeholder-problems")
    expect(problems).to_be_visible()
    expect(problems).to_have_text("متغیر ناشناخته: {کد}")
    expect(counter).to_have_text("")

    # The template editor checks the same way, as it is typed.
    page.goto("/campaigns/templates/new")
    page.locator("#body").fill("سلام {نام")
    expect(page.locator("#placeholder-problems")).to_have_text(
        "آکولاد «{نام» بسته نشده است: هر متغیر با } تمام می‌شود."
    )


def test_the_english_counter_says_one_part_and_nothing_for_an_empty_text(
    owner_page: Page, live_server
):
    page = owner_page
    add_contacts(live_server, "Sara")
    with page.expect_navigation():
        page.locator("button[name=lang]").click()

    page.goto("/campaigns/new")
    counter = page.locator("#counter")
    preview = page.locator("#preview-parts")
    body = page.locator("#body")
    body.press_sequentially("Hi")
    expect(counter).to_contain_text("Longest message for this audience")
    expect(counter).to_contain_text(" · 1 part — ")
    expect(counter).not_to_contain_text("1 parts")
    expect(preview).to_contain_text("For this contact:")
    expect(preview).to_contain_text(" · 1 part")
    expect(preview).not_to_contain_text("1 parts")

    body.fill("")
    body.press_sequentially(" ")
    body.press("Backspace")
    expect(counter).to_have_text("")
    expect(preview).to_have_text("")


def test_a_refused_text_names_its_unknown_placeholder_once_until_it_is_changed(
    owner_page: Page, live_server
):
    page = owner_page
    add_contacts(live_server, "سارا")
    page.goto("/occasions/automations/new?kind=birthday")
    page.locator("#name").fill("تولد")
    page.locator("#body").fill("سلام {اسم}")
    page.locator("form#compose button.primary, form#compose button[type=submit]").first.click()
    error = "متغیر ناشناخته: {اسم}"
    # The server's words after the refused submit, and not the live check's as well.
    expect(page.locator("[data-server-error]")).to_have_text(error)
    page.wait_for_timeout(600)  # the live check has answered by now
    expect(page.locator("#placeholder-problems")).to_be_hidden()
    # Once the text changes, the live check speaks, alone.
    page.locator("#body").fill("سلام {اسم} عزیز")
    expect(page.locator("#placeholder-problems")).to_have_text(error)
    expect(page.locator("[data-server-error]")).to_have_count(0)
