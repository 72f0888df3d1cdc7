"""The compose page's counts in English: "1 part", not "1 parts"; an empty text has none.

The counter counts the text as written (placeholders included) and the preview the text
one contact receives; each says which it is.
"""

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_the_english_counter_says_one_part_and_nothing_for_an_empty_text(owner_page: Page):
    page = owner_page
    page.goto("/contacts/new")
    page.locator("#mobile").fill("09121234567")
    page.locator("#first_name").fill("Sara")
    with page.expect_navigation():
        page.locator("main form button.primary").click()
    with page.expect_navigation():
        page.locator("button[name=lang]").click()

    page.goto("/campaigns/new")
    counter = page.locator("#counter")
    preview = page.locator("#preview-parts")
    body = page.locator("#body")
    body.press_sequentially("Hi")
    expect(counter).to_contain_text("As written, placeholders included:")
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
