"""The default limits let a real shop's million-row file through, and the settings are them."""

import zipfile

import xlsxwriter

from app.config import load_config
from app.contacts.importing.inspecting import inspect_file
from app.contacts.importing.limits import MB, Limits

SAMPLE_ROWS = 2_000
MILLION = 1_000_000
CITIES = ["تهران", "مشهد", "اصفهان", "شیراز", "تبریز", "کرج", "قم", "اهواز"]


def test_the_settings_default_to_the_limits_the_readers_use(tmp_path):
    assert Limits.from_config(load_config(tmp_path)) == Limits()


def test_settings_change_the_limits():
    limits = Limits.from_config({"VAFA_IMPORT_MAX_ROWS": "10", "VAFA_IMPORT_STREAM_ABOVE": 0})
    assert (limits.max_rows, limits.stream_above) == (10, 0)


def shop_workbook(path, rows: int) -> None:
    """A shop's customer list as Excel writes it: text numbers (to keep the 0), names,
    a city, a Jalali birth date as text, an amount. Every name and number distinct, as
    in a real list: the shared strings grow with every row."""
    book = xlsxwriter.Workbook(str(path), {"constant_memory": False})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["نام", "نام خانوادگی", "موبایل", "شهر", "تاریخ تولد", "مبلغ خرید"])
    for i in range(1, rows + 1):
        sheet.write_string(i, 0, f"نام{i:07d}")
        sheet.write_string(i, 1, f"خانوادگی{i:07d}")
        sheet.write_string(i, 2, f"0912{i:07d}")
        sheet.write_string(i, 3, CITIES[i % len(CITIES)])
        sheet.write_string(i, 4, f"13{60 + i % 40}/{1 + i % 12:02d}/{1 + i % 28:02d}")
        sheet.write_number(i, 5, 1_000_000 + i * 7_000)
    book.close()


def test_a_million_row_shop_file_fits_the_default_limits(tmp_path):
    """Measured on a sample, scaled to a million rows with a quarter to spare."""
    path = tmp_path / "sample.xlsx"
    shop_workbook(path, SAMPLE_ROWS)
    facts = inspect_file(path, Limits())  # the sample itself passes
    assert facts["rows"] == SAMPLE_ROWS + 1
    scale = MILLION / SAMPLE_ROWS * 1.25
    limits = Limits()
    with zipfile.ZipFile(path) as archive:
        sheet = archive.getinfo("xl/worksheets/sheet1.xml")
        strings = archive.getinfo("xl/sharedStrings.xml")
        assert sheet.file_size * scale < limits.max_sheet_mb * MB
        assert strings.file_size * scale < limits.max_shared_strings_mb * MB
        for part in (sheet, strings):
            assert part.file_size / part.compress_size < limits.max_zip_ratio
    assert path.stat().st_size * scale < limits.max_file_mb * MB
    assert limits.max_rows > MILLION and limits.max_columns > 6
    # Excel's own last row is allowed, in a dimension and as a row number.
    assert limits.max_rows >= 1_048_576


def test_a_million_row_csv_fits_the_default_limits(tmp_path):
    path = tmp_path / "sample.csv"
    lines = ["نام,نام خانوادگی,موبایل,شهر,تاریخ تولد,مبلغ"]
    lines += [
        f"نام{i:07d},خانوادگی{i:07d},0912{i:07d},{CITIES[i % 8]},1370/05/12,{1_000_000 + i}"
        for i in range(SAMPLE_ROWS)
    ]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    facts = inspect_file(path, Limits())
    assert facts["rows"] == SAMPLE_ROWS + 1
    limits = Limits()
    assert path.stat().st_size * MILLION / SAMPLE_ROWS * 1.25 < limits.max_file_mb * MB
