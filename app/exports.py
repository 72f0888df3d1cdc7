"""Writing a report's rows to CSV and to XLSX: one row stream, two files, bounded memory.

A report builds its rows once (a header, then lists of str/int/None, read from the
database in chunks) and hands them to either writer:

- CSV: UTF-8 with a BOM, so Excel reads Persian; streamed as text chunks.
- XLSX: xlsxwriter in constant_memory mode — each row goes to a temporary file as it
  is written — saved to a temporary file the response then streams. Strings are
  written as text, so a mobile number keeps its leading 0 and a name that starts with
  "=" stays a name; the sheet reads right to left in Persian.

Cells that start like a formula (= + - @, tab or CR) are prefixed with ' in every CSV the
panel writes, header included (`csv_cell`), the usual guard against formula injection:
names, field names and whole rows come from customers and imported files.
"""

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import xlsxwriter

CSV_FLUSH_ROWS = 1000
# The media type every XLSX download is sent as.
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A value as a CSV cell that no spreadsheet reads as a formula."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_chunks(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    """The rows as CSV text, in chunks of about a thousand rows, the BOM first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([csv_cell(title) for title in header])
    for count, row in enumerate(rows, start=1):
        writer.writerow([csv_cell(value) for value in row])
        if count % CSV_FLUSH_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_xlsx(
    target: str | Path,
    header: list[str],
    rows: Iterable[list],
    *,
    sheet: str,
    rtl: bool,
    widths: dict[int, int] | None = None,
) -> None:
    """Write the rows as an .xlsx workbook at ``target``, one row at a time."""
    workbook = xlsxwriter.Workbook(
        str(target), {"constant_memory": True, "tmpdir": tempfile.gettempdir()}
    )
    worksheet = workbook.add_worksheet(sheet[:31])
    if rtl:
        worksheet.right_to_left()
    bold = workbook.add_format({"bold": True})
    for column, width in (widths or {}).items():
        worksheet.set_column(column, column, width)
    worksheet.freeze_panes(1, 0)
    for column, title in enumerate(header):
        worksheet.write_string(0, column, str(title), bold)
    for row_number, row in enumerate(rows, start=1):
        for column, value in enumerate(row):
            if value is None or value == "":
                continue
            if isinstance(value, bool):
                worksheet.write_boolean(row_number, column, value)
            elif isinstance(value, int | float):
                worksheet.write_number(row_number, column, value)
            else:
                worksheet.write_string(row_number, column, str(value))
    workbook.close()


def xlsx_file(header: list[str], rows: Iterable[list], **options) -> IO[bytes]:
    """The rows as an .xlsx workbook in a temporary file, opened for reading from the start.

    The file is deleted when it is closed (by the response, once it is sent).
    """
    output = tempfile.NamedTemporaryFile(suffix=".xlsx")  # noqa: SIM115 (returned open)
    write_xlsx(output.name, header, rows, **options)
    output.seek(0)
    return output
