"""Every list page of the panel on a 360 px phone, with rows in its tables: the page never
scrolls sideways; a wide table scrolls inside its own box (.table-scroll).

Found walking the panel as a new owner: the providers and API tokens tables, once an
account or a token existed, made the whole page 300-500 px wider than a phone.
"""

import pytest
from playwright.sync_api import Page, expect

from app.api.service import create_token
from app.auth.service import create_user
from app.contacts.service import find_or_create_list, find_or_create_tags
from app.extensions import db
from app.sending import accounts

pytestmark = pytest.mark.browser

EMAIL = "owner@example.com"
PASSWORD = "a good password"

PAGES = [
    "/settings/providers",
    "/settings/api-tokens",
    "/contacts/lists",
    "/contacts/tags",
    "/users",
]


def test_the_tables_of_the_owners_pages_fit_a_phone(page: Page, live_server, shot):
    with live_server.app.app_context():
        create_user(EMAIL, PASSWORD, "owner")
        accounts.save_account(
            None,
            name="کاوه‌نگار فروشگاه مرکزی",
            kind="kavenegar",
            api_key="4A6B7C8D9E0F1A2B3C4D5E6F7A8B9C0D",
            senders="10004346\n3000123456",
            is_default=True,
        )
        create_token("سایت فروشگاه اینترنتی")
        find_or_create_list("مشتریان وفادار شعبهٔ مرکزی")
        find_or_create_tags(["خریدار عمده"])
        db.session.commit()

    page.set_viewport_size({"width": 360, "height": 740})
    page.goto("/login")
    page.locator("#email").fill(EMAIL)
    page.locator("#password").fill(PASSWORD)
    with page.expect_navigation():
        page.locator("main form button.primary").click()

    for path in PAGES:
        page.goto(path)
        expect(page.locator("main table.table tbody tr").first).to_be_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than the phone"
        shot(path.strip("/").replace("/", "-"))

    # The API's address under the token form breaks inside its card, not over its edge.
    page.goto("/settings/api-tokens")
    card, link = page.evaluate(
        """() => [document.querySelector('main section.card').getBoundingClientRect().left,
                  document.querySelector('main .hint a').getBoundingClientRect().left]"""
    )
    assert link >= card, "the API address runs over the card's edge"
