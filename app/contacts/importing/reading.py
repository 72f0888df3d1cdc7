"""Rows from the files shops really have: CSV in any encoding Iranian software writes, and Excel.

The importer never asks which encoding or delimiter a CSV uses, and never holds a whole
file's rows in memory:

- CSV: UTF-8 (with or without a BOM) if the whole file decodes strictly as UTF-8; UTF-16
  when it starts with a UTF-16 BOM (Excel's "Unicode text"); otherwise Windows-1256, what
  older Persian Windows software saves (the inspection decides, reading the whole file).
  The delimiter is sniffed among , ; tab and |.
- Excel (.xlsx): the first sheet, read with python-calamine. Calamine parses a whole sheet
  into memory (about 1.7 times the sheet's XML, as a grid of every row × every column
  between the first and last cell), so a sheet larger than ``stream_above`` bytes, or
  whose grid would be large or sparse, is read with a small streaming parser instead
  (expat over the zipped XML: flat memory, about half calamine's speed). Both give the
  same cells: text, floats for numbers, booleans, and date/datetime for date cells;
  calamine also gives the blank rows between two rows, the streaming reader does not.

What a file holds is decided by its content, not its name: an "xlsx" that is really text
is read as CSV, and a "csv" that is really a zipped workbook is read as Excel.

Every file is inspected first (app.contacts.importing.inspecting): its facts choose the
reader, and a file that breaks a limit is refused before a reader allocates for it. The
readers hold themselves to the same limits as they go: the streaming one never fills
the gap between two far-apart rows, never makes a row wider than the column limit
allows, and stops at a cell longer than the cell limit. In the panel, the CLI and the
workers, files are read only in a child process (app.contacts.importing.sandbox).

This module imports nothing of Flask: it runs in the reader's child process.
"""

import csv
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from xml.parsers import expat

from app.contacts.importing.inspecting import (
    SAMPLE,
    column_index,
    inspect_file,
    local_name,
    parse_xml,
)
from app.contacts.importing.limits import STREAM_ABOVE, Limits, Refused, UnreadableFile

Cell = str | float | int | bool | date | datetime | time | timedelta | None

DELIMITERS = (",", ";", "\t", "|")
EXTENSIONS = ("csv", "txt", "tsv", "xlsx")
__all__ = ["UnreadableFile"]


@dataclass(slots=True)
class Row:
    """One row of the file: its line (CSV) or row number (Excel) as the owner sees it.

    Not frozen: a frozen dataclass sets each field through object.__setattr__, and a
    million rows are made (nothing changes a row once read).
    """

    line: int
    cells: list[Cell]
    # Set when the row itself cannot be read (a CSV field beyond the size limit, …).
    error: str | None = None


def cell_text(value: Cell) -> str:
    """A cell as text: Excel's 9121234567.0 is "9121234567", a date cell is 1991-08-03."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M" if value.second == 0 else "%Y-%m-%d %H:%M:%S")
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def is_blank(cells: list[Cell]) -> bool:
    return all(cell_text(cell).strip() == "" for cell in cells)


class Sheet:
    """Rows of one file; ``kind`` is "csv" or "xlsx", ``encoding`` set for CSV."""

    kind: str
    encoding: str | None = None
    delimiter: str | None = None

    def rows(self) -> Iterator[Row]:
        raise NotImplementedError

    def count_rows(self) -> int:
        """How many rows are not blank (for the progress bar; may be an estimate)."""
        return sum(1 for row in self.rows() if not is_blank(row.cells))

    def close(self) -> None:
        """Release what the sheet holds open (the workbook)."""

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.close()


def open_sheet(
    path: Path | str,
    stream_above: int = STREAM_ABOVE,
    limits: Limits | None = None,
    facts: dict | None = None,
) -> Sheet:
    """Inspect a CSV or XLSX file and open it for reading rows, in this process.

    Raises Refused (an UnreadableFile) when the file breaks a limit or cannot be read.
    ``facts`` from an earlier inspection of the same file spare a second one. The panel
    opens files through app.contacts.importing.sandbox, which calls this in a child.
    """
    path = Path(path)
    limits = limits or Limits(stream_above=stream_above)
    facts = facts or inspect_file(path, limits)
    if facts["kind"] == "csv":
        return CsvSheet(path, facts, limits)
    if facts["reader"] == "calamine":
        return CalamineSheet(path, facts)
    return StreamedXlsxSheet(path, facts, limits)


# CSV ---------------------------------------------------------------------------------


def sniff_delimiter(sample: str) -> str:
    """The delimiter that splits the first lines into the same number of cells, most often.

    csv.Sniffer guesses from character frequencies and is easily fooled by a comma in a
    Persian address; counting cells per line, as a person would, is steadier.
    """
    lines = [line for line in sample.splitlines()[:20] if line.strip()]
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may end in the middle of a line
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        try:
            counts = [len(cells) for cells in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        same = sum(1 for count in counts if count == counts[0])
        score = (same, counts[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


class CsvSheet(Sheet):
    kind = "csv"

    def __init__(self, path: Path, facts: dict, limits: Limits):
        self.path = path
        self.facts = facts
        self.limits = limits
        self.encoding = facts["encoding"]
        with self._open() as handle:
            self.delimiter = sniff_delimiter(handle.read(SAMPLE))

    def _open(self):
        # errors="replace" matters only for UTF-16 (an odd byte at the end); UTF-8 was
        # checked strictly and every byte has a meaning in Windows-1256.
        return open(self.path, encoding=self.encoding, errors="replace", newline="")

    def rows(self) -> Iterator[Row]:
        # The limit is the csv module's, for the whole process: set as each read starts.
        csv.field_size_limit(self.limits.max_cell_chars)
        with self._open() as handle:
            reader = csv.reader(handle, delimiter=self.delimiter)
            line = 1
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as error:
                    yield Row(line, [], error=str(error))
                    line = reader.line_num + 1
                    continue
                yield Row(line, cells)
                line = reader.line_num + 1

    def count_rows(self) -> int:
        """The file's lines, counted when it was inspected (a row may take two)."""
        return self.facts["rows"]


# Excel -------------------------------------------------------------------------------


class CalamineSheet(Sheet):
    kind = "xlsx"

    def __init__(self, path: Path, facts: dict | None = None):
        from python_calamine import CalamineWorkbook

        self.facts = facts

        try:
            self.workbook = CalamineWorkbook.from_path(str(path))
            self.sheet = self.workbook.get_sheet_by_index(0)
        except MemoryError:
            raise  # the file is not damaged: the reader may not have what it needs
        except Exception:  # calamine raises its own error types for every kind of damage
            raise Refused("unreadable_workbook") from None

    def rows(self) -> Iterator[Row]:
        # iter_rows starts at the sheet's first row (blank ones included), so the index
        # is the row number Excel shows, less one.
        for index, cells in enumerate(self.sheet.iter_rows()):
            yield Row(index + 1, cells)

    def count_rows(self) -> int:
        end = self.sheet.end
        return end[0] + 1 if end else 0

    def close(self) -> None:
        self.workbook.close()


# Built-in number formats that show a date or a time (ECMA-376 18.8.30).
_DATE_FORMAT_IDS = {*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)}
_FORMAT_NOISE = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.')
_EPOCH_1900 = datetime(1899, 12, 30)  # noqa: DTZ001
_EPOCH_1904 = datetime(1904, 1, 1)  # noqa: DTZ001
_DIGITS = "0123456789"


def _is_date_format(code: str) -> bool:
    """Does an Excel number format show a date or time (yyyy-mm-dd, [$-fa-IR]…, h:mm)?"""
    code = _FORMAT_NOISE.sub("", code.split(";")[0]).lower()
    return any(letter in code for letter in "dmyhs") and "general" not in code


class StreamedXlsxSheet(Sheet):
    """The first sheet of a large workbook, parsed as it is read: memory stays flat.

    Holds the shared strings (Excel stores each distinct text once) and the styles that
    say which number cells are dates; the rows themselves are never all in memory.
    """

    kind = "xlsx"

    def __init__(self, path: Path, facts: dict, limits: Limits):
        self.path = path
        self.target = facts["sheet"]
        self.facts = facts
        self.limits = limits
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
                self.strings = self._shared_strings(archive, names)
                self.date_styles = self._date_styles(archive, names)
                self.epoch = self._epoch(archive)
        except (zipfile.BadZipFile, KeyError, ValueError, expat.ExpatError, OSError):
            raise Refused("unreadable_workbook") from None
        # From the inspection, not the sheet's claimed dimension: what the cells reach.
        self.first_column = facts["first_column"]
        self.width = facts["width"] + self.first_column

    @staticmethod
    def _shared_strings(archive, names) -> list[str]:
        strings: list[str] = []
        if "xl/sharedStrings.xml" not in names:
            return strings
        state = {"parts": [], "in_text": False, "skip": 0}

        def start(name, _attrs):
            name = local_name(name)
            if name == "si":
                state["parts"] = []
            elif name == "t":
                state["in_text"] = True
            elif name in ("rPh", "phoneticPr"):
                state["skip"] += 1  # East Asian reading hints are not the text

        def end(name):
            name = local_name(name)
            if name == "si":
                strings.append("".join(state["parts"]))
            elif name == "t":
                state["in_text"] = False
            elif name in ("rPh", "phoneticPr"):
                state["skip"] -= 1

        def text(data):
            if state["in_text"] and not state["skip"]:
                state["parts"].append(data)

        parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.StartElementHandler, parser.EndElementHandler = start, end
        parser.CharacterDataHandler = text
        with archive.open("xl/sharedStrings.xml") as handle:
            parser.ParseFile(handle)
        return strings

    @staticmethod
    def _date_styles(archive, names) -> dict[int, str]:
        """Style index → "date", "datetime" or "time", for the styles that show one."""
        if "xl/styles.xml" not in names:
            return {}
        formats: dict[int, str] = {}
        styles: list[int] = []
        depth = {"cellXfs": False}

        def start(name, attrs):
            name = local_name(name)
            if name == "numFmt":
                formats[int(attrs["numFmtId"])] = attrs.get("formatCode", "")
            elif name == "cellXfs":
                depth["cellXfs"] = True
            elif name == "xf" and depth["cellXfs"]:
                styles.append(int(attrs.get("numFmtId", 0)))

        def end(name):
            if local_name(name) == "cellXfs":
                depth["cellXfs"] = False

        parse_xml(archive.read("xl/styles.xml"), start=start, end=end)
        kinds: dict[int, str] = {}
        for index, format_id in enumerate(styles):
            if format_id in _DATE_FORMAT_IDS:
                has_time = format_id in (18, 19, 20, 21, 22, 45, 46, 47)
                has_date = format_id not in (18, 19, 20, 21, 45, 46, 47)
            elif format_id in formats and _is_date_format(formats[format_id]):
                code = _FORMAT_NOISE.sub("", formats[format_id].split(";")[0]).lower()
                has_time = "h" in code or "s" in code
                has_date = "d" in code or "y" in code or ("m" in code and not has_time)
            else:
                continue
            kinds[index] = "datetime" if has_time and has_date else "time" if has_time else "date"
        return kinds

    @staticmethod
    def _epoch(archive) -> datetime:
        found = {"1904": False}

        def start(name, attrs):
            if local_name(name) == "workbookPr" and attrs.get("date1904") in ("1", "true"):
                found["1904"] = True

        parse_xml(archive.read("xl/workbook.xml"), start=start)
        # Excel's times are wall-clock times with no zone, as calamine returns them.
        return _EPOCH_1904 if found["1904"] else _EPOCH_1900

    def _value(self, kind: str | None, style: int, text: str) -> Cell:
        if kind == "s":
            try:
                return self.strings[int(text)] if text else ""
            except (IndexError, ValueError):
                return ""  # a reference to no string: an empty cell, as calamine reads it
        if kind in ("inlineStr", "str", "e"):
            return text
        if kind == "b":
            return text.strip() == "1"
        if kind == "d":
            return datetime.fromisoformat(text) if text else ""
        if not text:
            return ""
        number = float(text)
        shown = self.date_styles.get(style)
        if shown is None:
            return number
        moment = self.epoch + timedelta(days=number)
        # Round to the second, as Excel shows it.
        moment = (moment + timedelta(microseconds=500_000)).replace(microsecond=0)
        if shown == "date":
            return moment.date()
        if shown == "time":
            return moment.time()
        return moment

    def rows(self) -> Iterator[Row]:
        with zipfile.ZipFile(self.path) as archive, archive.open(self.target) as handle:
            head = handle.read(1 << 16)
            # Element names carry the prefix the file uses, if any (x:row): compared as
            # they are, they cost nothing per event.
            match = re.search(rb"<(\w+:)?worksheet\b", head)
            prefix = match.group(1).decode() if match and match.group(1) else ""
            yield from self._rows(handle, head, prefix)

    def _rows(self, handle, head: bytes, prefix: str) -> Iterator[Row]:
        # The handlers run once per XML event (millions for a large sheet): they keep
        # their state in closure variables and do as little as they can.
        c_tag, v_tag, t_tag = f"{prefix}c", f"{prefix}v", f"{prefix}t"
        row_tag = f"{prefix}row"
        pending: list[Row] = []
        row: dict[int, Cell] = {}
        parts: list[str] = []
        line = column = style = size = 0
        kind: str | None = None
        in_value = False
        value = self._value
        first, width = self.first_column, self.width
        # A row keeps one cell past the column limit (the first with a value), so the
        # importer can say the row is too wide without the reader holding all of it.
        last = first + self.limits.max_columns
        most_chars = self.limits.max_cell_chars
        most_row = self.limits.max_rows

        def start(name, attrs):
            nonlocal line, column, kind, style, in_value, size
            if name == c_tag:
                ref = attrs.get("r")
                column = column_index(ref.rstrip(_DIGITS)) if ref else column + 1
                kind = attrs.get("t")
                style = int(attrs.get("s", 0))
                parts.clear()
                size = 0
            elif name in (v_tag, t_tag):
                in_value = True
            elif name == row_tag:
                row.clear()
                line = int(attrs.get("r", line + 1))
                if line > most_row:
                    raise Refused("row_number", found=line, max=most_row)
                column = first - 1

        def end(name):
            nonlocal in_value
            if name in (v_tag, t_tag):
                in_value = False
            elif name == c_tag:
                if column < last:
                    row[column] = value(kind, style, "".join(parts))
                elif last not in row and parts:
                    row[last] = value(kind, style, "".join(parts))
            elif name == row_tag:
                end_at = max(max(row) + 1 if row else 0, width)
                pending.append(Row(line, [row.get(i, "") for i in range(first, end_at)]))

        def text(data):
            nonlocal size
            if in_value:
                size += len(data)
                if size > most_chars:
                    raise Refused("cell_chars", max=most_chars)
                parts.append(data)

        parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.StartElementHandler, parser.EndElementHandler = start, end
        parser.CharacterDataHandler = text
        piece = head
        while True:
            parser.Parse(piece, not piece)
            # Rows Excel leaves out (blank ones) are left out here too: a gap between
            # row 2 and row 1,000,000 costs nothing.
            yield from pending
            pending.clear()
            if not piece:
                return
            piece = handle.read(1 << 16)

    def count_rows(self) -> int:
        """The rows the sheet's XML holds (blank ones are left out), from the inspection."""
        return self.facts["rows"]


def first_rows(sheet: Sheet, rows: int) -> list[Row]:
    """The first ``rows`` rows of a sheet that are not blank (for the preview)."""
    found: list[Row] = []
    for row in sheet.rows():
        if row.error or is_blank(row.cells):
            continue
        found.append(row)
        if len(found) == rows:
            break
    return found
