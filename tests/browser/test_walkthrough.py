"""A new owner's first session, end to end in a real browser.

First visit → setup → log out and in → import a CSV into a new list → contacts → compose
with the live counter and preview → send now → progress to 100 % → delivery log →
CSV export → English.

The UI's Persian wording is being translated while this test lives, so it asserts on
structure, data attributes, digits, the user's own data and the page's lang/dir — never
on the wording of labels.
"""

import csv
import io
import re
from types import SimpleNamespace

import pytest
from playwright.sync_api import Page, expect

from app.messaging.text import count_parts, render
from app.persian import persian_digits
from app.sending.policy import SendingPolicy

pytestmark = pytest.mark.browser

EMAIL = "owner@example.com"
PASSWORD = "a good password"
LIST_NAME = "مشتریان یلدا"

# Line 1 is the header; the mobiles come in the forms people type. Line 6 is bad.
CSV_LINES = [
    "نام,موبایل,تاریخ تولد",
    "سارا احمدی,0912 123 4567,۱۳۷۰/۰۵/۱۲",
    ",+98 (935) 111-2233,",
    "علی رضایی,۰۹۱۹۸۷۶۵۴۳۲,1365/12/29",
    "مریم کريمي,00989121112233,1372/1/5",
    "رضا,12345,",
    "نیما,9301234567,",
]
BAD_LINE = 6
# (first name, last name, national mobile, Jalali birth date) in file order.
CONTACTS = [
    ("سارا", "احمدی", "0912 123 4567", "1370/05/12"),
    ("", "", "0935 111 2233", ""),
    ("علی", "رضایی", "0919 876 5432", "1365/12/29"),
    ("مریم", "کریمی", "0912 111 2233", "1372/01/05"),  # Arabic ي folded to ی
    ("نیما", "", "0930 123 4567", ""),
]
BODY = "سلام {نام|دوست عزیز}، یلدا مبارک! تا آخر آذر ۲۰٪ تخفیف همه‌ی خریدها برای شماست."
JALALI_MOMENT = re.compile(r"14\d\d/(0[1-9]|1[0-2])/[0-3]\d [0-2]\d:[0-5]\d")
# The same as the Persian pages show it: ۱۴۰۴/۰۹/۳۰ ۱۸:۳۰.
JALALI_MOMENT_FA = re.compile(r"۱۴[۰-۹]{2}/[۰۱][۰-۹]/[۰-۳][۰-۹] [۰-۲][۰-۹]:[۰-۵][۰-۹]")


def fa(value) -> str:
    return persian_digits(str(value))


def rendered(first_name: str) -> str:
    """The text as sent: personalised, with the default opt-out line at the end."""
    return SendingPolicy().with_optout(render(BODY, SimpleNamespace(first_name=first_name)))


def expect_persian_page(page: Page) -> None:
    expect(page.locator("html")).to_have_attribute("lang", "fa")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")


def visual_order(page: Page, selector: str, pieces: list[str]) -> list[str]:
    """The pieces of an element's text sorted by where they are drawn, left to right."""
    lefts = page.evaluate(
        """([selector, pieces]) => {
            const node = document.querySelector(selector).firstChild;
            return pieces.map((piece) => {
                const start = node.textContent.indexOf(piece);
                const range = document.createRange();
                range.setStart(node, start);
                range.setEnd(node, start + piece.length);
                return range.getBoundingClientRect().left;
            });
        }""",
        [selector, pieces],
    )
    return [piece for _left, piece in sorted(zip(lefts, pieces, strict=True))]


def submit(page: Page, form: str = "main form") -> None:
    """Press the form's main button and wait for the page it leads to."""
    with page.expect_navigation():
        page.locator(form).locator("button.primary").click()


def test_first_session(page: Page, live_server, shot, tmp_path):
    # First visit: no user yet, so every page leads to the setup form.
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    expect_persian_page(page)
    shot("setup")
    page.locator("#email").fill(EMAIL)
    page.locator("#password").fill(PASSWORD)
    page.locator("#confirm").fill(PASSWORD)
    submit(page)
    expect(page).to_have_url(re.compile(r"/contacts/import$"))
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator(".topbar")).to_contain_text(EMAIL)

    # Log out and back in through the login form; ?next= brings us back.
    with page.expect_navigation():
        page.locator('form[action$="/logout"] button').click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/contacts/import")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect_persian_page(page)
    shot("login")
    page.locator("#email").fill(EMAIL)
    page.locator("#password").fill("not the password")
    submit(page)
    expect(page.locator(".flash-error")).to_be_visible()
    page.locator("#email").fill(EMAIL)
    page.locator("#password").fill(PASSWORD)
    submit(page)
    expect(page).to_have_url(re.compile(r"/contacts/import$"))
    expect_persian_page(page)

    # Import a CSV into a new list: upload, check the guessed columns, import, watch it go in.
    csv_file = tmp_path / "مشتریان.csv"
    csv_file.write_text("\n".join(CSV_LINES) + "\n", encoding="utf-8")
    page.locator("#file").set_input_files(csv_file)
    shot("import")
    submit(page)
    expect(page).to_have_url(re.compile(r"/contacts/import/\d+$"))
    expect(page.locator("#preview tbody tr").nth(1)).to_contain_text("سارا احمدی")
    selected = [page.locator(f'select[name="column-{i}"]').input_value() for i in range(3)]
    assert selected == ["full_name", "mobile", "birth_date"]
    page.locator("#new_list").fill(LIST_NAME)
    shot("import-mapping")
    submit(page, "#mapping")
    stats = {
        name: page.locator(f'[data-stat="{name}"]')
        for name in ("rows", "created", "updated", "duplicates", "invalid")
    }
    expect(page.locator("#import-progress")).to_have_attribute("data-finished", "true")
    expect(stats["rows"]).to_have_text(fa(len(CSV_LINES) - 1))
    expect(stats["created"]).to_have_text(fa(len(CONTACTS)))
    expect(stats["updated"]).to_have_text(fa(0))
    expect(stats["duplicates"]).to_have_text(fa(0))
    expect(stats["invalid"]).to_have_text(fa(1))
    rejected = page.locator("#rejected tbody tr")
    expect(rejected).to_have_count(1)
    expect(rejected.locator("td.reason")).to_contain_text(fa(BAD_LINE))
    expect(page.locator("main")).to_contain_text(LIST_NAME)
    shot("import-result")

    # The contacts of the new list, with Persian digits.
    with page.expect_navigation():
        page.locator('main a.button[href*="/contacts/?list="]').click()
    expect_persian_page(page)
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(len(CONTACTS))
    for first, last, mobile, birth in CONTACTS:
        row = rows.filter(has=page.locator("bdi", has_text=fa(mobile)))
        expect(row).to_have_count(1)
        if first:
            expect(row).to_contain_text(f"{first} {last}".strip())
        if birth:
            expect(row).to_contain_text(fa(birth))
        expect(row).to_contain_text(JALALI_MOMENT_FA)
    expect(page.locator("main table")).not_to_contain_text(re.compile("[0-9]"))
    shot("contacts")

    # Compose: the live counter, then the preview for real contacts of the list.
    page.locator('#menu [data-group="messages"] > summary').click()
    with page.expect_navigation():
        page.locator('#menu a[data-menu="campaigns"]').click()
    with page.expect_navigation():
        page.locator("main a.button.primary").click()
    expect_persian_page(page)
    page.locator("#name").fill("یلدا ۱۴۰۴")
    page.locator('input[name="audience"][value="chosen"]').check()
    page.locator("#audience-lists li", has_text=LIST_NAME).locator("input").check()
    counter = page.locator("#counter")
    body = page.locator("#body")
    body.press_sequentially("سلام")
    # «سلام», a line break and «لغو۱۱»: the counter counts what is sent.
    expect(counter).to_have_attribute("data-characters", "10")
    expect(counter).to_have_attribute("data-parts", "1")
    expect(counter).to_contain_text(fa(10))
    body.fill(BODY)
    # The longest text of the list: the contact without a name gets «دوست عزیز».
    count = count_parts(rendered(""))
    assert count.parts == 2, "the sample text should need two parts"
    expect(counter).to_have_attribute("data-characters", str(count.characters))
    expect(counter).to_have_attribute("data-parts", str(count.parts))
    expect(counter).to_contain_text(fa(count.characters))
    expect(counter).to_contain_text(fa(count.parts))
    expect(page.locator("#preview-text")).to_have_text(rendered("سارا"))
    expect(page.locator("#preview-contact")).to_contain_text("سارا احمدی")
    expect(page.locator("#preview-contact")).to_contain_text(fa(CONTACTS[0][2]))
    expect(page.locator("#preview-contact")).to_contain_text(fa(len(CONTACTS)))
    # The number reads 0912 123 4567 left to right inside the right-to-left sentence.
    groups = fa(CONTACTS[0][2]).split()
    assert visual_order(page, "#preview-contact", groups) == groups
    page.locator("#preview-next").click()
    expect(page.locator("#preview-text")).to_have_text(rendered(""))
    assert "دوست عزیز" in rendered("")
    shot("compose")

    # The date and time fields show only for a scheduled send.
    expect(page.locator('input[name="when"][value="now"]')).to_be_checked()
    expect(page.locator("#schedule")).to_be_hidden()
    page.locator('input[name="when"][value="later"]').check()
    expect(page.locator("#send_date")).to_be_visible()
    page.locator('input[name="when"][value="now"]').check()
    expect(page.locator("#schedule")).to_be_hidden()

    # Review: recipients and parts before anything is sent; then send now.
    submit(page, "#compose")
    expect(page).to_have_url(re.compile(r"/campaigns/\d+$"))
    estimate = page.locator("#estimate")
    expect(estimate.locator('[data-stat="recipients"]')).to_have_text(fa(len(CONTACTS)))
    expect(estimate.locator('[data-stat="opted_out"]')).to_have_text(fa(0))
    parts = sum(count_parts(rendered(first)).parts for first, *_rest in CONTACTS)
    expect(estimate.locator('[data-stat="parts"]')).to_have_text(fa(parts))
    shot("review")
    submit(page, "#estimate form")
    expect(page.locator(".flash-success")).to_be_visible()
    progress = page.locator("#progress")
    expect(progress.locator('[role="progressbar"]')).to_have_attribute(
        "aria-valuenow", "100", timeout=20_000
    )
    expect(progress.locator('[data-status="delivered"] strong')).to_have_text(
        fa(len(CONTACTS)), timeout=20_000
    )
    expect(progress.locator("[data-status]")).to_have_count(1)
    expect(progress.locator('[data-field="total_shown"]')).to_have_text(fa(len(CONTACTS)))
    expect(progress.locator('[data-field="handed_over_shown"]')).to_have_text(fa(len(CONTACTS)))
    shot("campaign")

    # The delivery log: each message personalised and delivered.
    with page.expect_navigation():
        page.locator('main a.button[href*="/messages?campaign="]').click()
    expect_persian_page(page)
    log_rows = page.locator("tr[data-message]")
    expect(log_rows).to_have_count(len(CONTACTS))
    for first, _last, mobile, _birth in CONTACTS:
        row = log_rows.filter(has=page.locator("bdi", has_text=fa(mobile)))
        expect(row.locator("td.text")).to_have_text(rendered(first))
        expect(row.locator("[data-status]")).to_have_attribute("data-status", "delivered")
        expect(row).to_contain_text(JALALI_MOMENT_FA)
    shot("delivery-log")

    # Export the log: UTF-8 with a BOM (for Excel), Persian text, Jalali dates.
    with page.expect_download() as download_info:
        page.locator("#export").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    data = download.path().read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    exported = data.decode("utf-8-sig")
    records = list(csv.reader(io.StringIO(exported, newline="")))
    assert len(records) == 1 + len(CONTACTS)
    for first, _last, mobile, _birth in CONTACTS:
        record = next(r for r in records if mobile in r)
        assert rendered(first) in record
        assert any(JALALI_MOMENT.fullmatch(cell) for cell in record), record
    assert "سلام سارا،" in exported
    assert "سلام دوست عزیز،" in exported

    # English: the same page, left to right, with Latin digits.
    with page.expect_navigation():
        page.locator('button[name="lang"][value="en"]').click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    expect(page.locator("tr[data-message]")).to_have_count(len(CONTACTS))
    expect(page.locator("main table")).to_contain_text(CONTACTS[0][2])
    shot("english")
    with page.expect_navigation():
        page.locator('button[name="lang"][value="fa"]').click()
    expect_persian_page(page)
