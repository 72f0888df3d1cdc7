"""The occasion calendar in a real browser, on a desktop and on a 360 px phone: the
coming months with their occasions, the shop's own occasion added, a lunar day moved, the
mourning list saved; the page never scrolls sideways."""

from datetime import timedelta

import jdatetime
import pytest
from playwright.sync_api import Page, expect

from app.auth.service import create_user
from app.extensions import db
from app.occasions.service import today_in_tehran
from app.persian import persian_digits
from tests.browser.test_role_menus import keep_shot, log_in, open_page  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser

OWNER, PASSWORD = "owner@example.com", "a good password"


def fits(page: Page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


@pytest.mark.parametrize("width", [1280, 360])
def test_the_calendar_page(open_page, live_server, width):  # noqa: F811
    with live_server.app.app_context():
        create_user(OWNER, PASSWORD, "owner")
        db.session.commit()
        soon = jdatetime.date.fromgregorian(date=today_in_tehran() + timedelta(days=20))
    page = open_page(width)
    log_in(page, OWNER, PASSWORD)
    page.goto("/occasions/")
    expect(page.locator("main h1")).to_have_text("تقویم مناسبت‌ها")
    expect(page.locator(".occasion-month")).to_have_count(12)
    expect(page.locator(".badge-estimate").first).to_be_visible()
    expect(page.locator(".badge-mourning").first).to_be_visible()
    assert fits(page)

    # The shop's own occasion, typed in Persian digits, shows on its day.
    page.locator("#new-name").fill("سالگرد فروشگاه")
    page.locator("#new-calendar").select_option("jalali")
    page.locator("#new-month").fill(persian_digits(str(soon.month)))
    page.locator("#new-day").fill(str(soon.day))
    with page.expect_navigation():
        page.locator("#new-occasion button.primary").click()
    expect(page.locator(".flash-success")).to_contain_text("سالگرد فروشگاه")
    expect(page.locator(".occasion-name", has_text="سالگرد فروشگاه")).to_be_visible()

    # A lunar day moved a day later.
    form = page.locator(".shift-form").first
    form.locator("select").select_option("1")
    with page.expect_navigation():
        form.locator("button").click()
    expect(page.locator(".flash-success")).to_contain_text("جابه‌جا شد")
    expect(page.locator(".occasion .badge", has_text="یک روز دیرتر")).to_be_visible()

    # The mourning list, saved.
    page.locator('#mourning input[value="yalda"]').check()
    with page.expect_navigation():
        page.locator("#mourning button.primary").click()
    expect(page.locator(".flash-success")).to_contain_text("فهرست روزهای عزاداری")
    expect(page.locator('#mourning input[value="yalda"]')).to_be_checked()
    assert fits(page)

    # The shop's own occasion, deleted with its form's button once the owner confirms
    # (open_page accepts every confirmation).
    asked: list[str] = []
    page.once("dialog", lambda dialog: asked.append(dialog.message))
    with page.expect_navigation():
        page.locator(".custom-occasion button.danger").click()
    assert asked and "سالگرد فروشگاه" in asked[0], asked
    expect(page.locator(".flash-success")).to_contain_text("حذف شد")
    expect(page.locator(".occasion-name", has_text="سالگرد فروشگاه")).to_have_count(0)
    keep_shot(page, f"occasions-{width}")
