"""The customer record in a real browser, as a new owner meets it.

Setup → contacts (empty) → add a contact by hand (a mistake first) → edit and tag →
record a purchase → a search longer than one page → tag every contact it finds →
export to Excel → opt the contact out → delete it, the delivery log keeping its message.

As in test_walkthrough.py the Persian wording is still being translated, so this test
asserts on structure, ids, data attributes, digits and the owner's own data, not on the
wording of labels. Every page is checked for sideways overflow (something too wide for
the window in RTL), and VAFA_BROWSER_SHOTS=<folder> keeps a screenshot of each step.
"""

import re

import pytest
from playwright.sync_api import Page, expect
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from app.contacts.models import Contact, Tag, contact_tags
from app.extensions import db
from app.sending.models import Message
from app.sending.service import default_account

pytestmark = pytest.mark.browser

EMAIL = "owner@example.com"
PASSWORD = "a good password"


def expect_persian_page(page: Page) -> None:
    expect(page.locator("html")).to_have_attribute("lang", "fa")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the window"


def submit(page: Page, form: str) -> None:
    with page.expect_navigation():
        page.locator(form).locator("button.primary, button.danger, button#confirm").first.click()


def seed_customers(app, count: int) -> None:
    """Contacts already in the shop's book (as an import would leave them)."""
    with app.app_context():
        db.session.add_all(
            Contact(
                mobile=f"+98912000{n:04d}",
                first_name="علی" if n % 2 else "علیرضا",
                last_name=f"مشتری {n}",
                source="import",
            )
            for n in range(count)
        )
        db.session.add_all(
            Contact(mobile=f"+98935000{n:04d}", first_name="سارا", last_name=f"کریمی {n}")
            for n in range(10)
        )
        db.session.commit()


def test_the_customer_record(page: Page, live_server, shot, tmp_path):
    app = live_server.app
    app.config["VAFA_CONTACTS_PER_PAGE"] = 10

    page.goto("/")
    page.locator("#email").fill(EMAIL)
    page.locator("#password").fill(PASSWORD)
    page.locator("#confirm").fill(PASSWORD)
    submit(page, "main form")

    page.goto("/contacts/")
    expect_persian_page(page)
    expect(page.locator(".empty")).to_be_visible()
    shot("contacts-empty")

    # Add a contact; a short number first.
    page.locator(".page-head a.button.primary").click()
    expect(page).to_have_url(re.compile(r"/contacts/new$"))
    expect_persian_page(page)
    page.locator("#first_name").fill("علي")  # typed on an Arabic keyboard
    page.locator("#last_name").fill("رضایی")
    page.locator("#mobile").fill("۰۹۱۲ ۱۲۳")
    page.locator("#gender").select_option("male")
    page.locator("#birth_date").fill("۱۳۷۰/۰۵/۱۲")
    page.locator("#anniversary").fill("1400/1/15")
    page.locator("#city").fill("تهران")
    page.locator("#tags").fill("VIP")
    page.locator("#fields-0-key").fill("کد ملی")
    page.locator("#fields-0-value").fill("0012345678")
    submit(page, "#contact-form")
    expect(page.locator(".has-error #mobile")).to_be_visible()
    expect(page.locator("#first_name")).to_have_value("علي")  # kept, to be corrected
    shot("contact-form-error")
    page.locator("#mobile").fill("۰۹۱۲ ۱۲۳ ۴۵۶۷")
    submit(page, "#contact-form")
    expect(page).to_have_url(re.compile(r"/contacts/\d+$"))
    expect_persian_page(page)
    contact_id = int(page.url.rsplit("/", 1)[1])
    details = page.locator("#details")
    expect(details).to_contain_text("علی رضایی")
    expect(details).to_contain_text("۱۳۷۰/۰۵/۱۲")
    expect(details).to_contain_text("۱۴۰۰/۰۱/۱۵")
    expect(details).to_contain_text("0012345678")
    expect(details.locator('bdi[dir="ltr"]')).to_have_text("۰۹۱۲ ۱۲۳ ۴۵۶۷")
    expect(page.locator("#tags .chip")).to_have_text(["VIP"])
    shot("contact-page")

    # Edit: one more tag, with a Persian comma.
    page.locator(".page-head .actions a.button.primary").click()
    expect(page.locator("#mobile")).to_have_value("۰۹۱۲ ۱۲۳ ۴۵۶۷")
    page.locator("#tags").fill("VIP، وفادار")
    shot("contact-edit")
    submit(page, "#contact-form")
    expect(page.locator("#tags .chip")).to_have_text(["VIP", "وفادار"])

    # A purchase, in Persian digits with separators.
    form = page.locator("#purchase-form")
    form.locator("#purchased_on").fill("۱۴۰۴/۱۰/۳۰")
    form.locator("#amount").fill("۲٬۵۰۰٬۰۰۰")
    form.locator("#reference").fill("INV-1")
    submit(page, "#purchase-form")
    row = page.locator("#purchase-list tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("۱۴۰۴/۱۰/۳۰")
    expect(row).to_contain_text("۲٬۵۰۰٬۰۰۰")
    expect(row).to_contain_text("۲۵۰٬۰۰۰")  # Toman
    expect(page.locator('[data-stat="purchase_count"]')).to_have_text("۱")
    page.locator("#purchases").scroll_into_view_if_needed()
    shot("contact-purchase")

    # A search that finds more than a page, then a tag for every contact it found.
    seed_customers(app, 24)
    page.goto("/contacts/")
    page.locator('.searchbar input[name="q"]').fill("علی")
    with page.expect_navigation():
        page.locator(".searchbar button").click()
    expect(page.locator('input[name="contact_ids"]')).to_have_count(10)
    expect(page.locator("#count")).to_contain_text("۲۵")
    expect_persian_page(page)
    shot("contacts-search")
    page.locator("#bulk-action").select_option("tag")
    with page.expect_navigation():
        page.locator("#bulk button").click()
    expect(page.locator("#bulk-confirm")).to_have_attribute("data-count", "25")
    expect(page.locator("#affected")).to_contain_text("۲۵")
    page.locator("#tag").fill("نوروز ۱۴۰۵")
    expect_persian_page(page)
    shot("bulk-confirm")
    with page.expect_navigation():
        page.locator("#confirm").click()
    expect(page.locator(".flash-success")).to_contain_text("۲۵")
    with app.app_context():
        tagged = db.session.scalar(
            select(func.count()).select_from(contact_tags).join(Tag).where(Tag.name == "نوروز ۱۴۰۵")
        )
    assert tagged == 25
    shot("bulk-done")

    # The tag as a filter, then an Excel file of exactly those contacts.
    page.goto("/contacts/tags")
    expect_persian_page(page)
    shot("tags")
    with page.expect_navigation():
        page.locator("#tag-list a", has_text="نوروز ۱۴۰۵").click()
    expect(page.locator("#count")).to_contain_text("۲۵")
    with page.expect_download() as download:
        page.locator("#export-xlsx").click()
    path = tmp_path / "contacts.xlsx"
    download.value.save_as(path)
    header, *rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    assert len(rows) == 25
    mobiles = {row[2] for row in rows}
    assert "0912 123 4567" in mobiles  # text, with its 0
    ali = next(row for row in rows if row[2] == "0912 123 4567")
    assert ali[:2] == ["علی", "رضایی"] and "1370/05/12" in ali and "1404/10/30" in ali

    # A larger export is made in the background; its page waits for the file.
    app.config["VAFA_EXPORT_BACKGROUND_OVER"] = 10
    page.goto("/contacts/")
    with page.expect_navigation():
        page.locator("#export-xlsx").click()
    expect(page).to_have_url(re.compile(r"/contacts/exports/[\w-]+$"))
    expect_persian_page(page)
    expect(page.locator("#download")).to_be_visible(timeout=20_000)
    shot("export-ready")
    with page.expect_download() as download:
        page.locator("#download").click()
    download.value.save_as(tmp_path / "everyone.xlsx")
    _header, *rows = (
        CalamineWorkbook.from_path(str(tmp_path / "everyone.xlsx"))
        .get_sheet_by_index(0)
        .to_python()
    )
    assert len(rows) == 35

    # A message was sent to them; then they opt out, then they are deleted.
    with app.app_context():
        db.session.add(
            Message(
                contact_id=contact_id,
                provider_id=default_account().id,
                mobile="+989121234567",
                body="سلام علی، نوروز مبارک!",
                parts=1,
                sender="10000000",
                status="delivered",
                idempotency_key="browser:1",
            )
        )
        db.session.commit()
    page.goto(f"/contacts/{contact_id}")
    expect(page.locator("#messages tbody tr")).to_have_count(1)
    page.locator('.page-head a[href$="/opt-out"]').click()
    expect_persian_page(page)
    page.locator("#note").fill("تلفنی خواست")
    shot("opt-out-confirm")
    with page.expect_navigation():
        page.locator("#confirm").click()
    expect(page.locator("#opted-out-badge")).to_be_visible()
    expect(page.locator("#marketing")).to_contain_text("تلفنی خواست")
    shot("contact-opted-out")

    # On a phone the wide tables scroll in their boxes; the page itself does not.
    page.set_viewport_size({"width": 390, "height": 800})
    for url in (f"/contacts/{contact_id}", "/contacts/?q=علی", f"/contacts/{contact_id}/edit"):
        page.goto(url)
        expect_persian_page(page)
    shot("phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"/contacts/{contact_id}")

    page.locator('.page-head a[href$="/delete"]').click()
    expect_persian_page(page)
    shot("delete-confirm")
    with page.expect_navigation():
        page.locator("#confirm").click()
    expect(page).to_have_url(re.compile(r"/contacts/$"))
    expect(page.locator(".flash-success")).to_be_visible()
    with app.app_context():
        assert db.session.get(Contact, contact_id) is None
        kept = db.session.scalar(select(Message))
        assert (kept.contact_id, kept.mobile) == (None, "+989121234567")
    page.goto("/reports/messages")
    expect(page.locator("tbody")).to_contain_text("سلام علی، نوروز مبارک!")

    page.goto("/contacts/settings")
    expect_persian_page(page)
    shot("settings")
