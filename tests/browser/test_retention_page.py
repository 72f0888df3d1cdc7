"""The retention page on a 360 px phone: the page never scrolls sideways; the cohort
table, twelve months wide, scrolls inside its own box; a preset changes the period."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from app.contacts.models import Contact
from app.contacts.service import PurchaseInput, record_purchases
from app.extensions import db

pytestmark = pytest.mark.browser

PHONE = 360


def seed_buyers(app) -> None:
    """Forty customers who first bought over the last year, some again in later months."""
    now = datetime.now(UTC)
    with app.app_context():
        people = [Contact(mobile=f"+98912300{n:04d}", first_name="مشتری") for n in range(40)]
        db.session.add_all(people)
        db.session.flush()
        purchases = []
        for n, person in enumerate(people):
            first = now - timedelta(days=10 + n * 9)
            purchases.append(PurchaseInput(person.id, first, 1_250_000 + n * 10_000, None))
            for later in range(1, n % 5):
                purchases.append(
                    PurchaseInput(person.id, first + timedelta(days=31 * later), 990_000, None)
                )
        record_purchases([p for p in purchases if p.purchased_at < now])
        db.session.commit()


def overflow(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth") - PHONE


def test_the_report_fits_a_phone_and_its_cohorts_scroll_in_their_box(
    live_server, owner_page: Page, shot
):
    seed_buyers(live_server.app)
    page = owner_page
    page.set_viewport_size({"width": PHONE, "height": 740})
    page.goto("/reports/retention?preset=this_year")
    expect(page.locator("h1")).to_have_text("ماندگاری مشتریان")
    expect(page.locator('[data-metric="retention_rate"] [data-field="formula"]')).to_have_text(
        "(مشتریان پایان دوره − آن‌هایی از میانشان که در آغاز دوره مشتری نبودند: تازه‌ها و"
        " برگشته‌ها) ÷ مشتریان آغاز دوره × ۱۰۰"
    )
    expect(page.locator("#cohorts tbody tr")).to_have_count(12)
    shot("retention-phone")
    assert overflow(page) <= 0
    box = page.locator(".cohort-scroll")
    widths = box.evaluate("(e) => [e.scrollWidth, e.clientWidth]")
    assert widths[0] > widths[1], "the cohort table is wider than the phone: its box scrolls"
    # Scrolled to its far end (the left, in Persian), the page itself still does not move.
    box.evaluate("(e) => { e.scrollLeft = -e.scrollWidth; }")
    assert box.evaluate("(e) => e.scrollLeft") < 0
    assert page.evaluate("window.scrollX") == 0 and overflow(page) <= 0
    # Shaded cells: a share of a cohort that came back has a darker class than none.
    assert page.locator("#cohorts td.heat").count() > 0
    # A preset from the chips: the days in the form follow it.
    page.locator('[data-preset="last_3_months"]').click()
    expect(page).to_have_url(re.compile(r"preset=last_3_months"))
    expect(page.locator('[data-preset="last_3_months"]')).to_have_attribute("aria-current", "page")
    assert overflow(page) <= 0
