"""A new owner imports the files a shop has, in a real browser: a messy Excel export and
an old Windows-1256 CSV. Upload → the guessed columns → import in the worker with a live
progress page → the result → the rejected rows downloaded to fix.

Like test_walkthrough.py it asserts on structure, data attributes, digits and the
owner's own data, not on the wording of labels (which is being translated).
"""

import codecs
import csv
import io
import re
from datetime import date

import pytest
import xlsxwriter
from playwright.sync_api import Page, expect

from app.persian import persian_digits

pytestmark = pytest.mark.browser

EMAIL = "owner@example.com"
PASSWORD = "a good password"


def fa(value) -> str:
    return persian_digits(str(value))


def submit(page: Page, form: str) -> None:
    with page.expect_navigation():
        page.locator(form).locator("button.primary").click()


def messy_workbook(path) -> None:
    """Lines 2-10: mobiles as text and as Excel numbers, Arabic letters, an Excel date
    cell, a day that does not exist (line 6), a landline (line 8), a repeat (line 10)."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("مشتریان")
    day = book.add_format({"num_format": "yyyy/mm/dd"})
    sheet.write_row(0, 0, ["ردیف", "نام و نام خانوادگی", "تلفن همراه", "تاریخ تولد", "جنسیت"])
    rows = [
        ["علي رضايي", "0912 123 4567", "1370/05/12", "آقا"],
        ["سارا احمدی", 9351112233, None, "خانم"],
        ["مريم كريمي", "+98 919 876 5432", "۱۳۶۵-۱۲-۲۹", "زن"],
        ["نیما", "00989301234567", "", ""],
        ["زهرا", "09011112233", "1403/07/31", "زن"],
        ["حسین", 9122223344, "1368.09.30", "مرد"],
        ["تلفن ثابت", "021-88776655", "", ""],
        ["رضا", "09123334455", "", "مرد"],
        ["علی دوباره", 9121234567, "", ""],
    ]
    for index, (name, mobile, birth, gender) in enumerate(rows, start=1):
        sheet.write(index, 0, index)
        sheet.write(index, 1, name)
        sheet.write(index, 2, mobile)
        if index == 2:
            sheet.write_datetime(index, 3, date(1991, 8, 3), day)
        elif birth:
            sheet.write(index, 3, birth)
        sheet.write(index, 4, gender)
    book.close()


def test_importing_excel_and_an_old_windows_csv(page: Page, live_server, shot, tmp_path):
    live_server.app.config["VAFA_IMPORT_CHUNK"] = 3  # several chunks, as a big file has
    page.goto("/")
    page.locator("#email").fill(EMAIL)
    page.locator("#password").fill(PASSWORD)
    page.locator("#confirm").fill(PASSWORD)
    submit(page, "main form")
    expect(page).to_have_url(re.compile(r"/contacts/import$"))

    # An Excel export: upload, then the columns as Vafa guessed them.
    workbook = tmp_path / "مشتریان قدیمی.xlsx"
    messy_workbook(workbook)
    page.locator("#file").set_input_files(workbook)
    submit(page, "#upload")
    expect(page).to_have_url(re.compile(r"/contacts/import/\d+$"))
    expect(page.locator("#preview tbody tr")).to_have_count(9)  # the names and 8 rows
    guesses = [page.locator(f'select[name="column-{i}"]').input_value() for i in range(5)]
    assert guesses == ["ignore", "full_name", "mobile", "birth_date", "gender"]
    expect(page.locator('input[name="header"]')).to_be_checked()
    # An Excel number is shown as written, not as 9351112233.0.
    expect(page.locator("#preview")).to_contain_text("9351112233")
    expect(page.locator("#preview")).not_to_contain_text("9351112233.0")
    page.locator("#new_list").fill("مشتریان قدیمی")
    shot("import-mapping")
    submit(page, "#mapping")

    # The progress page turns into the result once the worker is done.
    progress = page.locator("#import-progress")
    expect(progress).to_have_attribute("data-finished", "true", timeout=15_000)
    shot("import-result")
    expected = {"rows": 9, "created": 6, "updated": 0, "duplicates": 1, "invalid": 2}
    for name, value in expected.items():
        expect(page.locator(f'[data-stat="{name}"]')).to_have_text(fa(value))
    reasons = page.locator("#rejected td.reason")
    expect(reasons).to_have_count(3)
    for index, line in enumerate((6, 8, 10)):
        expect(reasons.nth(index)).to_contain_text(fa(line))
    expect(page.locator("#rejected")).to_contain_text("1403/07/31")

    # The rejected rows, to fix in Excel: the original cells and a reason, UTF-8 with a BOM.
    with page.expect_download() as download:
        page.locator("#download-rejected").click()
    assert download.value.suggested_filename == "مشتریان قدیمی-rejected.csv"
    data = download.value.path().read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:5] == ["ردیف", "نام و نام خانوادگی", "تلفن همراه", "تاریخ تولد", "جنسیت"]
    assert [row[:3] for row in rows[1:]] == [
        ["5", "زهرا", "09011112233"],
        ["7", "تلفن ثابت", "021-88776655"],
        ["9", "علی دوباره", "9121234567"],
    ]
    assert all(len(row) == 6 and row[5] for row in rows[1:])

    # An old Windows CSV, with semicolons and Arabic letters; numbers already stored are updated.
    old = tmp_path / "export.csv"
    lines = ["نام;نام خانوادگي;موبايل;شهر", "علي;كاظمي;09121234567;شيراز", "كيان;;09350001122;"]
    old.write_bytes("\r\n".join(lines).encode("cp1256"))
    page.goto("/contacts/import")
    page.locator("#file").set_input_files(old)
    submit(page, "#upload")
    expect(page.locator("main")).to_contain_text("Windows-1256")
    expect(page.locator("#preview")).to_contain_text("كاظمي")
    page.locator('input[name="on_duplicate"][value="update"]').check()
    shot("import-mapping-cp1256")
    submit(page, "#mapping")
    expect(page.locator("#import-progress")).to_have_attribute("data-finished", "true")
    for name, value in {"rows": 2, "created": 1, "updated": 1, "invalid": 0}.items():
        expect(page.locator(f'[data-stat="{name}"]')).to_have_text(fa(value))
    expect(page.locator("#rejected-rows")).to_have_count(0)

    # Both imports are listed on the import page; the contacts are there, normalised.
    page.goto("/contacts/import")
    expect(page.locator("#imports tbody tr")).to_have_count(2)
    page.goto("/contacts/?q=0912 123 4567")
    row = page.locator("main table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("علی کاظمی")  # updated from the CSV, Arabic letters folded
    expect(row).to_contain_text(fa("1370/05/12"))
