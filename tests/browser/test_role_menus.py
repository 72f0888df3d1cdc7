"""Roles in a real browser: the owner adds a member of staff on the users page; each sees
the menu of what they may do; staff typing an owner's address get the Persian refusal;
the owner deactivates them and their open session ends. On a 360 px phone too.

The page fixture of conftest.py fails a test on any HTTP error, and a refusal (403) is
what this test expects: it opens its own browser contexts and checks script errors itself.
"""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.auth.audit import record_audit
from app.auth.service import create_user
from app.extensions import db

pytestmark = pytest.mark.browser

OWNER = "owner@example.com"
STAFF = "staff@example.com"
PASSWORD = "a good password"
STAFF_PASSWORD = "staff's own password"

STAFF_MENU = [
    "campaigns",
    "automations",
    "occasions",
    "contacts",
    "lists",
    "segments",
    "coupons",
    "dashboard",
    "reports",
    "retention",
]
OWNER_MENU = [*STAFF_MENU, "providers", "sending_rules", "api_tokens", "users", "audit"]
OWNER_URLS = [
    "/settings/providers",
    "/settings/api-tokens",
    "/settings/sending",
    "/users",
    "/audit",
]


@pytest.fixture
def open_page(browser, live_server):
    """open_page(width) → a page in a context of its own; script errors fail the test."""
    contexts, problems = [], []

    def make(width: int = 1280) -> Page:
        context = browser.new_context(
            base_url=live_server.url,
            viewport={"width": width, "height": 800},
            locale="fa-IR",
            timezone_id="Asia/Tehran",
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
        page.on("dialog", lambda dialog: dialog.accept())
        return page

    yield make
    for context in contexts:
        context.close()
    assert not problems, problems
    assert not live_server.errors, live_server.errors


def log_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    with page.expect_navigation():
        page.locator("main form button.primary").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def menu(page: Page) -> list[str]:
    return page.locator("#menu a").evaluate_all("links => links.map(a => a.dataset.menu)")


def menu_groups(page: Page) -> list[str]:
    return page.locator("#menu .menu-group").evaluate_all(
        "groups => groups.map(g => g.dataset.group)"
    )


def keep_shot(page: Page, name: str) -> None:
    """A screenshot in VAFA_BROWSER_SHOTS, when it names a folder."""
    folder = os.environ.get("VAFA_BROWSER_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{folder}/roles-{name}.png", full_page=True)


def expect_persian_page(page: Page) -> None:
    expect(page.locator("html")).to_have_attribute("lang", "fa")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the window"


def test_each_role_sees_its_menu_and_staff_are_refused_the_owners_pages(open_page, live_server):
    with live_server.app.app_context():
        create_user(OWNER, PASSWORD, "owner")
        db.session.commit()

    owner = open_page()
    log_in(owner, OWNER, PASSWORD)
    assert menu(owner) == OWNER_MENU
    expect(owner.locator('#menu a[data-menu="users"]')).to_have_text("کاربران")

    assert menu_groups(owner) == ["messages", "customers", "reports", "settings"]

    # The owner adds a member of staff through the users page, under Settings.
    owner.locator('#menu [data-group="settings"] > summary').click()
    owner.locator('#menu a[data-menu="users"]').click()
    expect(owner).to_have_url(re.compile(r"/users$"))
    owner.locator("#email").fill(STAFF)
    owner.locator("#role").select_option("staff")
    owner.locator("#password").fill(STAFF_PASSWORD)
    with owner.expect_navigation():
        owner.locator("#add-user button.primary").click()
    expect(owner.locator(".flash-success")).to_contain_text(STAFF)
    staff_row = owner.locator('#users tr[data-role="staff"]')
    expect(staff_row).to_have_attribute("data-active", "yes")
    expect_persian_page(owner)

    # Staff: the menu of their work, nothing of the owner's.
    staff = open_page()
    log_in(staff, STAFF, STAFF_PASSWORD)
    assert menu(staff) == STAFF_MENU
    assert menu_groups(staff) == ["messages", "customers", "reports"], "no empty Settings"
    staff.goto("/contacts/")
    expect(staff.locator("#export-csv")).to_have_count(0)
    # Typing an owner's address: the Persian refusal, with a way back.
    for url in OWNER_URLS:
        response = staff.goto(url)
        assert response.status == 403, url
        expect(staff.locator("#forbidden h1")).to_have_text("این بخش مخصوص مالک فروشگاه است")
        expect_persian_page(staff)
    with staff.expect_navigation():
        staff.locator("#forbidden a.button").click()
    assert menu(staff) == STAFF_MENU

    # The owner deactivates them (after confirming); staff's open session ends.
    owner.locator('#users tr[data-role="staff"] a').click()
    with owner.expect_navigation():
        owner.locator('#activation button[value="0"]').click()
    expect(owner.locator("#user-state")).to_have_attribute("data-active", "no")
    staff.goto("/contacts/")
    expect(staff).to_have_url(re.compile(r"/login"))


def test_the_menus_and_the_refusal_fit_a_phone(open_page, live_server):
    with live_server.app.app_context():
        owner_user = create_user(OWNER, PASSWORD, "owner")
        create_user(STAFF, STAFF_PASSWORD, "staff")
        record_audit(
            "provider.edit",
            "کاوه‌نگار اصلی فروشگاه",
            {"fields": ["name", "senders", "base_url", "api_key"], "host": "sms.example.com"},
            actor=owner_user,
        )
        record_audit("contacts.export", detail={"format": "xlsx", "search": "09121234567"})
        db.session.commit()
    owner = open_page(width=360)
    log_in(owner, OWNER, PASSWORD)
    for name, url in (("users", "/users"), ("user", "/users/2"), ("audit", "/audit")):
        owner.goto(url)
        expect_persian_page(owner)
        keep_shot(owner, name)
    staff = open_page(width=360)
    log_in(staff, STAFF, STAFF_PASSWORD)
    assert menu(staff) == STAFF_MENU
    assert staff.goto("/settings/providers").status == 403
    expect_persian_page(staff)
    keep_shot(staff, "forbidden")
