"""Reading rows from CSV (any encoding, any delimiter) and Excel, whatever the file is called."""

import codecs
import zipfile
from datetime import date, datetime, time

import pytest
import xlsxwriter

from app.contacts.importing.reading import (
    CalamineSheet,
    Row,
    StreamedXlsxSheet,
    UnreadableFile,
    cell_text,
    is_blank,
    open_sheet,
    sniff_delimiter,
)

TEXT = "نام,موبایل\r\nعلی کریمی,09121234567\r\n"
CP1256_TEXT = "نام,موبايل\r\nعلي كريمي,09121234567\r\n"  # Windows-1256 has Arabic ي/ك


@pytest.mark.parametrize(
    ("data", "encoding", "text"),
    [
        (TEXT.encode(), "utf-8", TEXT),
        (codecs.BOM_UTF8 + TEXT.encode(), "utf-8-sig", TEXT),
        (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "utf-16", TEXT),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16", TEXT),
        (CP1256_TEXT.encode("cp1256"), "cp1256", CP1256_TEXT),
    ],
    ids=["utf-8", "utf-8 bom", "utf-16 le", "utf-16 be", "windows-1256"],
)
def test_each_encoding_is_detected(tmp_path, data, encoding, text):
    path = tmp_path / "contacts.csv"
    path.write_bytes(data)
    sheet = open_sheet(path)
    assert sheet.kind == "csv"
    assert sheet.encoding == encoding
    assert [row.cells for row in sheet.rows()] == [
        line.split(",") for line in text.strip().split("\r\n")
    ]


def test_windows_1256_is_found_far_down_a_file(tmp_path):
    """The first Persian letter may come after megabytes of digits and Latin letters."""
    path = tmp_path / "contacts.csv"
    ascii_rows = b"".join(b"n%07d,0912%07d\n" % (i, i) for i in range(120_000))
    path.write_bytes(b"name,mobile\n" + ascii_rows + "علي,09121234567\n".encode("cp1256"))
    assert len(ascii_rows) > 2_000_000
    sheet = open_sheet(path)
    assert sheet.encoding == "cp1256"
    *_rest, last = sheet.rows()
    assert last.cells == ["علي", "09121234567"]


@pytest.mark.parametrize(
    ("sample", "delimiter"),
    [
        ("a,b,c\n1,2,3\n", ","),
        ("a;b;c\n1;2;3\n", ";"),
        ("a\tb\tc\n1\t2\t3\n", "\t"),
        ("a|b|c\n1|2|3\n", "|"),
        # A comma inside an address does not make it comma-separated.
        ("نام;نشانی;موبایل\nعلی;تهران، خیابان ولیعصر, پلاک ۲;0912\n", ";"),
        ('name,address\n"Ali","Tehran; Vanak"\n', ","),
        ("09121234567\n09351112233\n", ","),  # one column
        ("a;b\n1;2\n3;4\n5;", ";"),  # the sample ends mid-line
    ],
)
def test_the_delimiter_is_sniffed(sample, delimiter):
    assert sniff_delimiter(sample) == delimiter


def test_line_numbers_follow_the_file_through_blank_lines_and_quoted_newlines(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text('name,mobile\n\n"Ali\nRezaei",0912\nSara,0935\n', encoding="utf-8")
    rows = list(open_sheet(path).rows())
    assert [(row.line, row.cells) for row in rows] == [
        (1, ["name", "mobile"]),
        (2, []),
        (3, ["Ali\nRezaei", "0912"]),
        (5, ["Sara", "0935"]),
    ]


def test_a_line_csv_cannot_read_is_a_row_with_an_error(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("name,mobile\n" + "x" * 200_000 + ",0912\nSara,0935\n", encoding="utf-8")
    rows = list(open_sheet(path).rows())
    assert rows[1].error and rows[1].cells == []
    assert rows[2] == Row(3, ["Sara", "0935"])


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"\n\r\n  \n", "empty"),
        (codecs.BOM_UTF8, "empty"),
        (b"\x00\x01\x02\x03binary" * 20, "not a CSV or Excel file"),
        (b"PK\x03\x04not really a zip", "cannot be read"),
    ],
)
def test_files_that_cannot_be_read(tmp_path, data, reason):
    path = tmp_path / "contacts.csv"
    path.write_bytes(data)
    with pytest.raises(UnreadableFile, match=reason):
        open_sheet(path)


def test_a_zip_that_is_not_a_workbook(tmp_path):
    path = tmp_path / "contacts.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<document/>")
    with pytest.raises(UnreadableFile, match="cannot be read"):
        open_sheet(path)


def test_content_decides_not_the_name(tmp_path):
    text = tmp_path / "contacts.xlsx"
    text.write_text("نام,موبایل\nعلی,0912\n", encoding="utf-8")
    assert open_sheet(text).kind == "csv"
    book = tmp_path / "contacts.csv"
    workbook = xlsxwriter.Workbook(str(book))
    workbook.add_worksheet().write_row(0, 0, ["نام", "موبایل"])
    workbook.close()
    assert open_sheet(book).kind == "xlsx"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("متن", "متن"),
        (9121234567.0, "9121234567"),
        (1.5, "1.5"),
        (12, "12"),
        (True, "TRUE"),
        (date(1991, 8, 3), "1991-08-03"),
        (datetime(1991, 8, 3, 10, 30), "1991-08-03 10:30"),  # noqa: DTZ001
        (datetime(1991, 8, 3, 10, 30, 5), "1991-08-03 10:30:05"),  # noqa: DTZ001
        (time(14, 30), "14:30"),
    ],
)
def test_cell_text(value, text):
    assert cell_text(value) == text


# Excel ------------------------------------------------------------------------------

READERS = {"calamine": 1 << 40, "streamed": 0}


def workbook(path, constant_memory=False, date_1904=False):
    book = xlsxwriter.Workbook(
        str(path), {"constant_memory": constant_memory, "date_1904": date_1904}
    )
    first = book.add_worksheet("مشتریان")
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    moment = book.add_format({"num_format": "yyyy/mm/dd hh:mm"})
    jalali = book.add_format({"num_format": "[$-fa-IR,16]yyyy/mm/dd;@"})
    money = book.add_format({"num_format": "#,##0"})
    # Data from B2: a blank first row and column, as people leave them.
    first.write_row(1, 1, ["نام", "موبایل", "تولد", "خرید", "مبلغ", "عضو"])
    first.write_row(2, 1, ["علی", 9121234567])
    first.write_datetime(2, 3, date(1991, 8, 3), day)
    first.write_datetime(2, 4, datetime(2024, 4, 3, 14, 30), moment)  # noqa: DTZ001
    first.write_number(2, 5, 1250000, money)
    first.write_boolean(2, 6, True)
    # Row 4 is left blank.
    first.write_row(4, 1, ["سارا", "09351112233"])
    first.write_datetime(4, 3, date(1987, 3, 20), jalali)
    first.write_formula(4, 5, "=2+3", None, 5)
    book.add_worksheet("دوم").write(0, 0, "not this sheet")
    book.close()


EXPECTED = [
    Row(1, ["", "", "", "", "", ""]),
    Row(2, ["نام", "موبایل", "تولد", "خرید", "مبلغ", "عضو"]),
    Row(
        3,
        [
            "علی",
            9121234567.0,
            date(1991, 8, 3),
            datetime(2024, 4, 3, 14, 30),  # noqa: DTZ001
            1250000.0,
            True,
        ],
    ),
    Row(4, ["", "", "", "", "", ""]),
    Row(5, ["سارا", "09351112233", date(1987, 3, 20), "", 5.0, ""]),
]
EXPECTED_FILLED = [row for row in EXPECTED if not is_blank(row.cells)]


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("constant_memory", [False, True], ids=["shared strings", "inline"])
def test_both_excel_readers_give_the_same_rows(tmp_path, reader, constant_memory):
    path = tmp_path / "contacts.xlsx"
    workbook(path, constant_memory)
    sheet = open_sheet(path, stream_above=READERS[reader])
    assert isinstance(sheet, CalamineSheet if reader == "calamine" else StreamedXlsxSheet)
    # Calamine gives the blank rows between the first and the last; the streaming
    # reader leaves out what the file leaves out (a gap costs it nothing).
    rows = list(sheet.rows())
    assert [row for row in rows if not is_blank(row.cells)] == EXPECTED_FILLED
    assert rows == (EXPECTED if reader == "calamine" else EXPECTED_FILLED)
    assert sheet.count_rows() == (5 if reader == "calamine" else 3)


@pytest.mark.parametrize("reader", READERS)
def test_the_1904_date_system(tmp_path, reader):
    path = tmp_path / "mac.xlsx"
    workbook(path, date_1904=True)
    rows = {row.line: row for row in open_sheet(path, stream_above=READERS[reader]).rows()}
    assert rows[3].cells[2] == date(1991, 8, 3)


def test_a_streamed_sheet_without_a_dimension_is_counted(tmp_path):
    path = tmp_path / "contacts.xlsx"
    workbook(path)
    stripped = tmp_path / "stripped.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(stripped, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<dimension ref="B2:G5"/>', b"")
            target.writestr(item, data)
    sheet = open_sheet(stripped, stream_above=0)
    assert sheet.count_rows() == 3  # the rows the XML holds (blank ones are left out)
    assert [row.line for row in sheet.rows()] == [2, 3, 5]
