"""The owner sets up an automatic birthday greeting in the editor, on a wide screen: the
kind's own fields show as the kind changes, the time is typed in Persian digits, the
compose page's counter counts the text. Then, on a 360 px phone, the list and the plan of
who receives it fit the screen without sideways scrolling."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from app.contacts.models import Contact
from app.extensions import db
from app.persian import jalali_month_day, to_tehran

pytestmark = pytest.mark.browser

PHONE = 360


def add_birthdays(live_server) -> None:
    """Two customers with a birthday in the coming days, one with a long name."""
    today = to_tehran(datetime.now(UTC)).date()
    with live_server.app.app_context():
        for number, (name, days) in enumerate(
            (("سارا", 3), ("محمدحسین حسین‌زاده اصفهانی نژاد", 12)), start=1
        ):
            month, day = jalali_month_day(today + timedelta(days=days))
            db.session.add(
                Contact(
                    mobile=f"+98912000000{number}",
                    first_name=name,
                    birth_jmonth=month,
                    birth_jday=day,
                )
            )
        db.session.commit()


def scroll_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_a_birthday_greeting_is_set_up_and_planned(owner_page: Page, live_server, shot):
    page = owner_page
    add_birthdays(live_server)
    page.goto("/occasions/automations/")
    expect(page.locator("#no-automations")).to_be_visible()
    page.locator('#menu [data-group="messages"] > summary').click()
    page.locator('#menu a[data-menu="automations"]').click()
    page.locator(".page-head a.button.primary").click()

    # The kind's own fields: a welcome waits minutes; a birthday has days before and a time.
    expect(page.locator("[data-kind-refresh]")).to_be_hidden()
    page.locator("#kind").select_option("welcome")
    expect(page.locator("#delay")).to_be_visible()
    expect(page.locator("#send_time")).to_be_hidden()
    expect(page.locator("#days_before")).to_be_hidden()
    page.locator("#kind").select_option("birthday")
    expect(page.locator("#delay")).to_be_hidden()
    expect(page.locator("#days_before")).to_be_visible()
    expect(page.locator("#occasion_key")).to_be_hidden()

    page.locator("#name").fill("تبریک تولد")
    page.locator("#send_time").fill("۰۹:۳۰")
    page.locator("#body").fill("")
    page.locator('.chip[data-insert="{نام}"]').click()
    page.locator("#body").press("End")
    page.locator("#body").type(" عزیز، تولدت مبارک!")
    # The compose page's counter and preview, for this audience.
    expect(page.locator("#counter")).to_contain_text("بخش")
    expect(page.locator("#preview-text")).to_contain_text("سارا عزیز، تولدت مبارک!")
    shot("automation-editor")
    with page.expect_navigation():
        page.locator("#compose button.primary").click()
    expect(page.locator("#summary")).to_contain_text("روز تولد هر مشتری، ساعت ۰۹:۳۰")

    page.goto("/occasions/automations/")
    item = page.locator("li.automation")
    expect(item).to_contain_text("روز تولد هر مشتری، ساعت ۰۹:۳۰")
    expect(item).to_contain_text("همهٔ مخاطبان")
    expect(item.locator('[data-state="on"]')).to_be_visible()

    page.set_viewport_size({"width": PHONE, "height": 740})
    page.reload()
    assert scroll_width(page) <= PHONE
    shot("automations-360")
    page.locator("li.automation a", has_text="چه کسانی دریافت می‌کنند").click()
    expect(page.locator("#plan-count")).to_contain_text("۲ پیامک")
    expect(page.locator(".plan-row").first).to_contain_text("سارا عزیز، تولدت مبارک!")
    expect(page.locator(".plan-row").nth(1)).to_contain_text("محمدحسین")
    assert scroll_width(page) <= PHONE
    shot("automation-plan-360")
    # A shorter range: only Sara's birthday, three days from now.
    page.locator('[data-span="7"]').click()
    expect(page.locator("#plan-count")).to_contain_text("۱ پیامک")
    assert scroll_width(page) <= PHONE

    # Switched off from the list, on the phone.
    page.goto("/occasions/automations/")
    with page.expect_navigation():
        page.locator('[data-switch="off"]').click()
    expect(page.locator(".flash-success")).to_contain_text("خاموش شد")
    expect(page.locator('li.automation [data-state="off"]')).to_be_visible()
    assert scroll_width(page) <= PHONE
