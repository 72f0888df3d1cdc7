"""Rows from the files shops really have: CSV in any encoding Iranian software writes, and Excel.

The importer never asks which encoding or delimiter a CSV uses, and never holds a whole
file's rows in memory:

- CSV: UTF-8 (with or without a BOM) if the whole file decodes strictly as UTF-8; UTF-16
  when it starts with a UTF-16 BOM (Excel's "Unicode text"); otherwise Windows-1256, what
  older Persian Windows software saves. The delimiter is sniffed among , ; tab and |.
- Excel (.xlsx): the first sheet, read with python-calamine. Calamine parses a whole sheet
  into memory (about 1.7 times the sheet's XML: some 600 MB for a million rows), so a
  sheet larger than ``stream_above`` bytes is read with a small streaming parser instead
  (expat over the zipped XML: flat memory, about half calamine's speed). Both give the
  same cells: text, floats for numbers, booleans, and date/datetime for date cells.

What a file holds is decided by its content, not its name: an "xlsx" that is really text
is read as CSV, and a "csv" that is really a zipped workbook is read as Excel.
"""

import codecs
import csv
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from xml.parsers import expat

from flask_babel import lazy_gettext as _l

from app.contacts.importing.limits import STREAM_ABOVE

Cell = str | float | int | bool | date | datetime | time | timedelta | None

DELIMITERS = (",", ";", "\t", "|")
EXTENSIONS = ("csv", "txt", "tsv", "xlsx")
WRONG_EXTENSION = _l(
    "Only CSV and Excel (.xlsx) files can be imported. Save the file as one of them."
)
_ZIP_MAGIC = b"PK\x03\x04"
_SAMPLE = 64 * 1024


class UnreadableFile(ValueError):
    """The file as a whole cannot be read; ``reason`` says why, for the owner."""

    def __init__(self, reason):
        super().__init__(str(reason))
        self.reason = reason


@dataclass(frozen=True)
class Row:
    """One row of the file: its line (CSV) or row number (Excel) as the owner sees it."""

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


def open_sheet(path: Path | str, stream_above: int = STREAM_ABOVE) -> Sheet:
    """Open a CSV or XLSX file for reading rows; raise UnreadableFile when it cannot be."""
    path = Path(path)
    with open(path, "rb") as handle:
        head = handle.read(_SAMPLE)
    if not head.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise UnreadableFile(_l("The file is empty."))
    if head.startswith(_ZIP_MAGIC):
        return _open_workbook(path, stream_above)
    return CsvSheet(path, head)


# CSV ---------------------------------------------------------------------------------


def detect_encoding(path: Path, head: bytes) -> str:
    """UTF-8 if every byte decodes strictly; UTF-16 by its BOM; else Windows-1256.

    The whole file is checked (in pieces, without holding it): a Windows-1256 file can
    begin with plain ASCII and hold its first Persian letter a million rows down.
    """
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    else:
        encoding = "utf-8"
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        with open(path, "rb") as handle:
            while piece := handle.read(1 << 20):
                decoder.decode(piece)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1256"
    return encoding


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

    def __init__(self, path: Path, head: bytes):
        self.path = path
        if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            # Zero bytes do not occur in text: a binary file, or UTF-16 without its BOM.
            raise UnreadableFile(
                _l("This is not a CSV or Excel file. Save it as “CSV UTF-8” or “Excel (.xlsx)”.")
            )
        self.encoding = detect_encoding(path, head)
        with self._open() as handle:
            self.delimiter = sniff_delimiter(handle.read(_SAMPLE))

    def _open(self):
        # errors="replace" matters only for UTF-16 (an odd byte at the end); UTF-8 was
        # checked strictly and every byte has a meaning in Windows-1256.
        return open(self.path, encoding=self.encoding, errors="replace", newline="")

    def rows(self) -> Iterator[Row]:
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
                yield Row(line, list(cells))
                line = reader.line_num + 1


# Excel -------------------------------------------------------------------------------


def _open_workbook(path: Path, stream_above: int) -> Sheet:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise _unreadable_workbook() from None
    with archive:
        try:
            target = _first_sheet_target(archive)
            size = archive.getinfo(target).file_size
        except (KeyError, ValueError, expat.ExpatError):
            raise _unreadable_workbook() from None
    if size > stream_above:
        return StreamedXlsxSheet(path, target)
    return CalamineSheet(path)


def _unreadable_workbook() -> UnreadableFile:
    return UnreadableFile(
        _l("This Excel file cannot be read. Open it in Excel and save it again as .xlsx.")
    )


def _parse(data: bytes, start=None, end=None, text=None) -> None:
    parser = expat.ParserCreate()
    parser.buffer_text = True
    if start:
        parser.StartElementHandler = start
    if end:
        parser.EndElementHandler = end
    if text:
        parser.CharacterDataHandler = text
    parser.Parse(data, True)


def _local(name: str) -> str:
    """An element's name without its namespace prefix (x:row → row)."""
    return name.rpartition(":")[2]


def _first_sheet_target(archive: zipfile.ZipFile) -> str:
    """The zip member of the workbook's first sheet (workbook order, as Excel shows it)."""
    sheets: list[str] = []
    targets: dict[str, str] = {}

    def on_sheet(name, attrs):
        if _local(name) == "sheet":
            rid = next((v for k, v in attrs.items() if _local(k) == "id"), None)
            if rid:
                sheets.append(rid)

    def on_rel(name, attrs):
        if _local(name) == "Relationship" and attrs.get("Type", "").endswith("/worksheet"):
            targets[attrs["Id"]] = attrs["Target"]

    _parse(archive.read("xl/workbook.xml"), start=on_sheet)
    _parse(archive.read("xl/_rels/workbook.xml.rels"), start=on_rel)
    if not sheets or sheets[0] not in targets:
        raise ValueError("no worksheet")
    target = targets[sheets[0]]
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


class CalamineSheet(Sheet):
    kind = "xlsx"

    def __init__(self, path: Path):
        from python_calamine import CalamineWorkbook

        try:
            self.workbook = CalamineWorkbook.from_path(str(path))
            self.sheet = self.workbook.get_sheet_by_index(0)
        except Exception:  # calamine raises its own error types for every kind of damage
            raise _unreadable_workbook() from None

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
_CELL_REF = re.compile(r"([A-Z]+)(\d+)")


def _is_date_format(code: str) -> bool:
    """Does an Excel number format show a date or time (yyyy-mm-dd, [$-fa-IR]…, h:mm)?"""
    code = _FORMAT_NOISE.sub("", code.split(";")[0]).lower()
    return any(letter in code for letter in "dmyhs") and "general" not in code


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index - 1


class StreamedXlsxSheet(Sheet):
    """The first sheet of a large workbook, parsed as it is read: memory stays flat.

    Holds the shared strings (Excel stores each distinct text once) and the styles that
    say which number cells are dates; the rows themselves are never all in memory.
    """

    kind = "xlsx"

    def __init__(self, path: Path, target: str):
        self.path = path
        self.target = target
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
                self.strings = self._shared_strings(archive, names)
                self.date_styles = self._date_styles(archive, names)
                self.epoch = self._epoch(archive)
        except (zipfile.BadZipFile, KeyError, ValueError, expat.ExpatError, OSError):
            raise _unreadable_workbook() from None
        self.first_column, self.width, self.last_row = 0, 0, None

    @staticmethod
    def _shared_strings(archive, names) -> list[str]:
        strings: list[str] = []
        if "xl/sharedStrings.xml" not in names:
            return strings
        state = {"parts": [], "in_text": False, "skip": 0}

        def start(name, _attrs):
            name = _local(name)
            if name == "si":
                state["parts"] = []
            elif name == "t":
                state["in_text"] = True
            elif name in ("rPh", "phoneticPr"):
                state["skip"] += 1  # East Asian reading hints are not the text

        def end(name):
            name = _local(name)
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
            name = _local(name)
            if name == "numFmt":
                formats[int(attrs["numFmtId"])] = attrs.get("formatCode", "")
            elif name == "cellXfs":
                depth["cellXfs"] = True
            elif name == "xf" and depth["cellXfs"]:
                styles.append(int(attrs.get("numFmtId", 0)))

        def end(name):
            if _local(name) == "cellXfs":
                depth["cellXfs"] = False

        _parse(archive.read("xl/styles.xml"), start=start, end=end)
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
            if _local(name) == "workbookPr" and attrs.get("date1904") in ("1", "true"):
                found["1904"] = True

        _parse(archive.read("xl/workbook.xml"), start=start)
        # Excel's times are wall-clock times with no zone, as calamine returns them.
        return _EPOCH_1904 if found["1904"] else _EPOCH_1900

    def _value(self, kind: str | None, style: int, text: str) -> Cell:
        if kind == "s":
            return self.strings[int(text)] if text else ""
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
        row_tag, dimension_tag = f"{prefix}row", f"{prefix}dimension"
        pending: list[Row] = []
        row: dict[int, Cell] = {}
        parts: list[str] = []
        line = column = style = 0
        kind: str | None = None
        in_value = False
        value = self._value

        def start(name, attrs):
            nonlocal line, column, kind, style, in_value
            if name == c_tag:
                ref = attrs.get("r")
                column = _column_index(ref.rstrip(_DIGITS)) if ref else column + 1
                kind = attrs.get("t")
                style = int(attrs.get("s", 0))
                parts.clear()
            elif name in (v_tag, t_tag):
                in_value = True
            elif name == row_tag:
                row.clear()
                line = int(attrs.get("r", line + 1))
                column = self.first_column - 1
            elif name == dimension_tag:
                self._dimension(attrs.get("ref", ""))

        def end(name):
            nonlocal in_value
            if name in (v_tag, t_tag):
                in_value = False
            elif name == c_tag:
                row[column] = value(kind, style, "".join(parts))
            elif name == row_tag:
                width = max(max(row) + 1 if row else 0, self.width)
                pending.append(Row(line, [row.get(i, "") for i in range(self.first_column, width)]))

        def text(data):
            if in_value:
                parts.append(data)

        parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.StartElementHandler, parser.EndElementHandler = start, end
        parser.CharacterDataHandler = text
        done, piece = 0, head
        while True:
            parser.Parse(piece, not piece)
            for found in pending:
                # Rows Excel leaves out (blank ones) are blank rows here too.
                for blank in range(done + 1, found.line):
                    yield Row(blank, [""] * (self.width - self.first_column))
                done = found.line
                yield found
            pending.clear()
            if not piece:
                return
            piece = handle.read(1 << 16)

    def _dimension(self, ref: str) -> None:
        cells = _CELL_REF.findall(ref)
        if cells:
            # Columns before the first used one are dropped, as calamine does.
            self.first_column = _column_index(cells[0][0])
            self.width = _column_index(cells[-1][0]) + 1
            self.last_row = int(cells[-1][1])

    def count_rows(self) -> int:
        """The sheet's last row, from its dimension; counted from the XML when it has none."""
        with zipfile.ZipFile(self.path) as archive, archive.open(self.target) as handle:
            piece = handle.read(1 << 20)
            match = re.search(rb"<(?:\w+:)?dimension ref=\"[A-Z]*\d*:?[A-Z]*(\d+)\"", piece)
            if match:
                return int(match.group(1))
            count, tail = 0, b""
            while piece:
                # A tag cut in two by the read is counted once, in tail + piece.
                count += (tail + piece).count(b"row r=") - tail.count(b"row r=")
                tail = piece[-8:]
                piece = handle.read(1 << 20)
            return count


def read_preview(path: Path | str, rows: int, stream_above: int = STREAM_ABOVE):
    """The first ``rows`` rows that are not blank, and the sheet's description."""
    with open_sheet(path, stream_above) as sheet:
        found: list[Row] = []
        for row in sheet.rows():
            if row.error or is_blank(row.cells):
                continue
            found.append(row)
            if len(found) == rows:
                break
        return found, sheet
