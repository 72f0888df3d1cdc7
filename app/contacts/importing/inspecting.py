"""The first wall: a file is measured against the limits before any reader allocates for it.

``inspect_file`` reads the whole file once, in pieces, holding no more than a piece, and
returns the facts the readers need (encoding, which sheet, which reader) or raises
Refused naming the limit the file broke:

- every file: its size;
- CSV: the number of lines and the longest line, on the decoded text (a reader holds
  a line whole, so a gigabyte without a line break is refused here, not read);
- Excel: the zip's part count (from its end record, before the directory is loaded),
  each part's size and compression ratio *as it really unpacks* (the part's raw deflate
  stream is inflated here with a cap: a header may lie about sizes, and calamine's zip
  reader does not stop where the header says), then the sheet's claimed <dimension>,
  the row and column numbers its rows and cells really carry, and the shared strings'
  size and longest text.

Hand-written because no Python library inspects an OOXML zip against limits (Apache
POI's ZipSecureFile does it for Java; its 100× ratio is the default here), and because
the sheet is only scanned, not parsed: a few regular expressions over the XML bytes run
at some 150 MB/s, where a full parse would cost as much as the import itself.

The numbers found also choose the reader: calamine (fast, but it holds the sheet as a
grid of every row × every column between the first and last cell) only when that grid is
small; the streaming reader otherwise.

This module imports nothing of Flask: it runs in the reader's child process.
"""

import codecs
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from xml.parsers import expat

from app.contacts.importing.limits import CALAMINE_MAX_CELLS, MB, RATIO_GRACE, Limits, Refused

ZIP_MAGIC = b"PK\x03\x04"
SAMPLE = 64 * 1024
PIECE = 1 << 20
SHARED_STRINGS = "xl/sharedStrings.xml"
# Excel's grid: a dimension beyond it is not an Excel sheet.
EXCEL_COLUMNS = 16_384

_BREAKS = re.compile(r"[\r\n]")
_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
# A central directory entry is 46 bytes and a name; Excel's names are short.
_DIRECTORY_BYTES_PER_PART = 1024
# The longest tag the scanner carries from one piece to the next.
_MAX_TAG = 64 * 1024


def inspect_file(path: Path | str, limits: Limits) -> dict:
    """The file's facts for the readers; raise Refused when it breaks a limit."""
    path = Path(path)
    size = path.stat().st_size
    if size > limits.max_file_mb * MB:
        raise Refused("file_mb", max=limits.max_file_mb)
    with open(path, "rb") as handle:
        head = handle.read(SAMPLE)
    if not head.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise Refused("empty")
    if head.startswith(ZIP_MAGIC):
        return inspect_workbook(path, size, limits)
    return inspect_csv(path, head, size, limits)


# CSV ---------------------------------------------------------------------------------


def inspect_csv(path: Path, head: bytes, size: int, limits: Limits) -> dict:
    """Encoding, line count and longest line of a text file (one pass, or two for cp1256)."""
    utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if b"\x00" in head and not utf16:
        # Zero bytes do not occur in text: a binary file, or UTF-16 without its BOM.
        raise Refused("not_text")
    if utf16:
        encoding = "utf-16"
    elif head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    else:
        encoding = "utf-8"
    try:
        lines = _scan_lines(path, encoding, limits)
    except UnicodeDecodeError:
        # A Windows-1256 file can begin with plain ASCII and hold its first Persian
        # letter a million rows down: only the whole file says it is not UTF-8.
        encoding = "cp1256"
        lines = _scan_lines(path, encoding, limits)
    return {"kind": "csv", "bytes": size, "encoding": encoding, "rows": lines}


def _scan_lines(path: Path, encoding: str, limits: Limits) -> int:
    """Lines in the file (an upper bound of its rows); Refused beyond the limits."""
    strict = encoding.startswith("utf-8")
    decoder = codecs.getincrementaldecoder(encoding)("strict" if strict else "replace")
    newlines = returns = 0
    run = 0  # characters since the last line break
    most = limits.max_line_chars
    with open(path, "rb") as handle:
        while True:
            piece = handle.read(PIECE)
            text = decoder.decode(piece, final=not piece)
            if text:
                newlines += text.count("\n")
                returns += text.count("\r")
                parts = _BREAKS.split(text)
                if len(parts) == 1:
                    run += len(text)
                else:
                    longest = max(run + len(parts[0]), max(map(len, parts[1:-1]), default=0))
                    if longest > most:
                        raise Refused("line_chars", max=most)
                    run = len(parts[-1])
                if run > most:
                    raise Refused("line_chars", max=most)
                lines = (newlines or returns) + (1 if run else 0)
                if lines > limits.max_rows + 1:  # one line more: the header
                    raise Refused("rows", max=limits.max_rows)
            if not piece:
                break
    return (newlines or returns) + (1 if run else 0)


# Excel -------------------------------------------------------------------------------


def inspect_workbook(path: Path, size: int, limits: Limits) -> dict:
    """Check a workbook's zip and its first sheet; return which sheet and which reader."""
    _check_directory_size(path, size, limits)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise Refused("unreadable_workbook") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_zip_parts:
            raise Refused("zip_parts", found=len(infos), max=limits.max_zip_parts)
        names = [info.filename for info in infos]
        if len(set(names)) != len(names):
            # Two parts of one name: readers disagree on which one counts.
            raise Refused("unreadable_workbook")
        for info in infos:
            if info.flag_bits & 0x1 or info.compress_type not in (
                zipfile.ZIP_STORED,
                zipfile.ZIP_DEFLATED,
            ):
                raise Refused("unreadable_workbook")  # encrypted, or not as Excel packs
        try:
            # Read whole below, but only after their true sizes are known.
            for name in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels"):
                _drain(path, archive.getinfo(name), limits)
            target = first_sheet_target(archive)
            archive.getinfo(target)
        except Refused:
            raise
        except Exception:
            raise Refused("unreadable_workbook") from None
        facts = {"kind": "xlsx", "bytes": size, "sheet": target}
        for info in infos:
            if info.filename == target:
                facts.update(_scan_sheet(path, info, limits))
            elif info.filename == SHARED_STRINGS:
                _check_texts(path, info, limits)
            else:
                _drain(path, info, limits)
    grid = facts.pop("grid")
    # Calamine fills every cell of its grid: only for sheets that are small and dense.
    small = facts["sheet_bytes"] <= limits.stream_above and grid <= CALAMINE_MAX_CELLS
    small = small and grid <= 4 * facts["cells"] + 10_000
    facts["reader"] = "calamine" if small and not facts["unnumbered"] else "streamed"
    return facts


def _check_directory_size(path: Path, size: int, limits: Limits) -> None:
    """Refuse a zip whose directory claims too many parts, before zipfile loads it.

    zipfile makes an object for every entry of the central directory: a directory of
    millions of entries would cost gigabytes before a part could be counted.
    """
    with open(path, "rb") as handle:
        tail_start = max(0, size - 65_536 - 22)
        handle.seek(tail_start)
        tail = handle.read()
        at = tail.rfind(_EOCD)
        if at < 0 or len(tail) < at + 22:
            raise Refused("unreadable_workbook")
        _sig, _disk, _cd_disk, _here, parts, directory, _offset, _comment = struct.unpack(
            "<4s4H2LH", tail[at : at + 22]
        )
        if parts == 0xFFFF or directory == 0xFFFFFFFF:
            locator = tail.rfind(_EOCD64_LOCATOR, 0, at)
            if locator < 0:
                raise Refused("unreadable_workbook")
            (record,) = struct.unpack("<Q", tail[locator + 8 : locator + 16])
            handle.seek(record)
            zip64 = handle.read(56)
            if len(zip64) < 56:
                raise Refused("unreadable_workbook")
            parts, directory = struct.unpack("<QQ", zip64[32:40] + zip64[40:48])
    if parts > limits.max_zip_parts:
        raise Refused("zip_parts", found=parts, max=limits.max_zip_parts)
    if directory > limits.max_zip_parts * _DIRECTORY_BYTES_PER_PART:
        raise Refused("zip_parts", found=directory // 46, max=limits.max_zip_parts)


def _part_limit(name: str, limits: Limits, sheet: str | None = None) -> tuple[int, str]:
    if name == sheet:
        return limits.max_sheet_mb, "VAFA_IMPORT_MAX_SHEET_MB"
    if name == SHARED_STRINGS:
        return limits.max_shared_strings_mb, "VAFA_IMPORT_MAX_SHARED_STRINGS_MB"
    return limits.max_part_mb, "VAFA_IMPORT_MAX_PART_MB"


def unpacked(
    path: Path, info: zipfile.ZipInfo, limits: Limits, sheet: str | None = None
) -> Iterator[bytes]:
    """A part's bytes as its raw data really inflates, never more than its limits allow.

    The compressed bytes are read from the part's local header on (as every zip reader
    does); the header's claimed uncompressed size is not trusted.
    """
    cap_mb, setting = _part_limit(info.filename, limits, sheet)
    cap = cap_mb * MB
    if info.file_size > cap:
        raise Refused("part_mb", part=info.filename, max=cap_mb, setting=setting)
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        header = handle.read(30)
        if len(header) < 30 or header[:4] != ZIP_MAGIC:
            raise Refused("unreadable_workbook")
        name_length, extra_length = struct.unpack("<2H", header[26:30])
        handle.seek(info.header_offset + 30 + name_length + extra_length)
        left = info.compress_size
        inflater = zlib.decompressobj(-zlib.MAX_WBITS) if info.compress_type else None
        total = 0
        while left > 0 or (inflater and inflater.unconsumed_tail):
            if inflater and inflater.unconsumed_tail:
                raw = inflater.unconsumed_tail
            else:
                raw = handle.read(min(PIECE, left))
                if not raw:
                    raise Refused("unreadable_workbook")
                left -= len(raw)
            try:
                out = inflater.decompress(raw, PIECE) if inflater else raw
            except zlib.error:
                raise Refused("unreadable_workbook") from None
            total += len(out)
            if total > cap:
                raise Refused("part_mb", part=info.filename, max=cap_mb, setting=setting)
            if total > RATIO_GRACE and total > limits.max_zip_ratio * max(info.compress_size, 1):
                raise Refused("zip_ratio", part=info.filename, max=limits.max_zip_ratio)
            if out:
                yield out
            if inflater and inflater.eof:
                break


def _drain(path: Path, info: zipfile.ZipInfo, limits: Limits) -> None:
    for _piece in unpacked(path, info, limits):
        pass


def _check_texts(path: Path, info: zipfile.ZipInfo, limits: Limits) -> None:
    """The shared strings: their size (by unpacking) and their longest text."""
    # Bytes, not characters, are counted: up to 10 bytes a character (&#x10FFFF;).
    most = limits.max_cell_chars * 10
    run = 0
    for piece in unpacked(path, info, limits):
        parts = piece.split(b"<")
        if len(parts) == 1:
            run += len(piece)
        else:
            run = max(run + len(parts[0]), max(map(len, parts[1:-1]), default=0))
            if run > most:
                raise Refused("cell_chars", max=limits.max_cell_chars)
            run = len(parts[-1])
        if run > most:
            raise Refused("cell_chars", max=limits.max_cell_chars)


def parse_xml(data: bytes, start=None, end=None, text=None) -> None:
    parser = expat.ParserCreate()
    parser.buffer_text = True
    if start:
        parser.StartElementHandler = start
    if end:
        parser.EndElementHandler = end
    if text:
        parser.CharacterDataHandler = text
    parser.Parse(data, True)


def local_name(name: str) -> str:
    """An element's name without its namespace prefix (x:row → row)."""
    return name.rpartition(":")[2]


def first_sheet_target(archive: zipfile.ZipFile) -> str:
    """The zip member of the workbook's first sheet (workbook order, as Excel shows it)."""
    sheets: list[str] = []
    targets: dict[str, str] = {}

    def on_sheet(name, attrs):
        if local_name(name) == "sheet":
            rid = next((v for k, v in attrs.items() if local_name(k) == "id"), None)
            if rid:
                sheets.append(rid)

    def on_rel(name, attrs):
        if local_name(name) == "Relationship" and attrs.get("Type", "").endswith("/worksheet"):
            targets[attrs["Id"]] = attrs["Target"]

    parse_xml(archive.read("xl/workbook.xml"), start=on_sheet)
    parse_xml(archive.read("xl/_rels/workbook.xml.rels"), start=on_rel)
    if not sheets or sheets[0] not in targets:
        raise ValueError("no worksheet")
    target = targets[sheets[0]]
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def column_index(letters: str) -> int:
    """A column's letters as an index from 0: A → 0, Z → 25, AA → 26."""
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index - 1


def column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


_PREFIX = re.compile(rb"<([\w.-]+:)?worksheet\b")
_DIMENSION = re.compile(rb'<(?:[\w.-]+:)?dimension\s+ref="([A-Z]*)(\d*)(?::([A-Z]*)(\d*))?"')


class _Patterns:
    """The scanner's patterns for one sheet's namespace prefix (x:row, or plain row).

    Every writer puts the reference first (``<row r="7"``, ``<c r="B7"``): patterns that
    begin with that literal text are found at memchr speed. A piece where some row or
    cell does not begin so is scanned again with the general patterns.
    """

    def __init__(self, prefix: bytes, max_rows: int, claimed_column: int | None):
        p = re.escape(prefix)
        # Cells in columns A to Z past the column the dimension claims is the last (a
        # sheet true to its dimension yields nothing here).
        after = chr(66 + claimed_column) if claimed_column is not None else "A"
        self.narrow = (
            re.compile(rb'<%sc r="([%s-Z])\d' % (p, after.encode()))
            if claimed_column is None or claimed_column < 25
            else None
        )
        self.row_tag, self.cell_tag = b"<%srow" % prefix, b"<%sc " % prefix
        self.cell_first = b'<%sc r="' % prefix
        self.rows = re.compile(rb'<%srow r="(\d+)"' % p)
        # Cells past column Z only: a sheet of up to 26 columns yields nothing here.
        self.wide = re.compile(rb'<%sc r="([A-Z]{2,4})\d+"([^>]*)>' % p)
        self.any_row = re.compile(rb'<%srow\s[^>]*?\br="(\d+)"' % p)
        self.any_wide = re.compile(rb'<%sc\s[^>]*?\br="([A-Z]{2,4})\d+"([^>]*)>' % p)
        # References with more digits than the largest row allowed: checked one by one.
        self.long_ref = re.compile(rb'r="[A-Z]{0,4}(\d{%d,})"' % len(str(max_rows)))


def _scan_sheet(path: Path, info: zipfile.ZipInfo, limits: Limits) -> dict:
    """Row and column numbers the sheet really has (and claims), from its XML bytes."""
    pieces = unpacked(path, info, limits, sheet=info.filename)
    carry = head = b""
    rows = numbered = cells = last_row = 0
    unnumbered = False
    wide: set[tuple[bytes, bytes]] = set()
    narrow: set[bytes] = set()
    sheet_bytes = 0
    patterns = None
    claimed_column = None
    plain_cells = True
    for piece in pieces:
        sheet_bytes += len(piece)
        if patterns is None:
            head = piece[:SAMPLE]
            match = _PREFIX.search(head)
            dimension = _DIMENSION.search(head)
            if dimension and (dimension.group(3) or dimension.group(1)):
                claimed_column = column_index((dimension.group(3) or dimension.group(1)).decode())
            prefix = (match.group(1) or b"") if match else b""
            patterns = _Patterns(prefix, limits.max_rows, claimed_column)
        text = carry + piece
        # Keep an unfinished tag for the next piece.
        cut = text.rfind(b"<")
        if cut >= 0 and text.find(b">", cut) < 0:
            text, carry = text[:cut], text[cut:]
            if len(carry) > _MAX_TAG:
                raise Refused("unreadable_workbook")
        else:
            carry = b""
        row_tags = text.count(patterns.row_tag)
        cell_tags = text.count(patterns.cell_tag)
        rows += row_tags
        cells += cell_tags
        if rows > limits.max_rows:
            raise Refused("rows", max=limits.max_rows)
        found_rows = patterns.rows.findall(text)
        if len(found_rows) < row_tags:
            found_rows = patterns.any_row.findall(text)
        plain = text.count(patterns.cell_first) == cell_tags
        plain_cells = plain_cells and plain
        wide.update((patterns.wide if plain else patterns.any_wide).findall(text))
        if patterns.narrow is not None and plain:
            narrow.update(patterns.narrow.findall(text))
        if len(found_rows) < row_tags or (not plain and b"<c>" in text):
            unnumbered = True  # rows or cells that follow the one before, unnumbered
        if found_rows:
            numbered += len(found_rows)
            last_row = max(last_row, max(map(int, found_rows)))
        for number in patterns.long_ref.findall(text):
            if int(number) > limits.max_rows:
                raise Refused("row_number", found=int(number), max=limits.max_rows)
    # Rows without a number follow the one before: as far as they could reach.
    last_row = max(last_row + (rows - numbered), rows)
    if last_row > limits.max_rows:
        raise Refused("row_number", found=last_row, max=limits.max_rows)
    valued = sorted(column_index(c.decode()) for c, rest in wide if not rest.endswith(b"/"))
    every = sorted(column_index(c.decode()) for c, _rest in wide)
    if valued and valued[-1] >= limits.max_columns:
        raise Refused(
            "columns",
            letter=column_letters(valued[-1]),
            found=valued[-1] + 1,
            max=limits.max_columns,
        )
    # Without a wide cell, the sheet reaches its claimed column, or the last letter found
    # past it; without a dimension (or with unnumbered cells), as far as Z.
    if every:
        last_column = every[-1]
    elif claimed_column is not None and plain_cells:
        last_column = max([claimed_column, *(column_index(c.decode()) for c in narrow)])
    else:
        last_column = 25
    first_column = first_row = width = 0
    dimension = _DIMENSION.search(head)
    if dimension:
        first_letters, first_digits, last_letters, last_digits = (
            (part or b"").decode() for part in dimension.groups()
        )
        claimed_last = int(last_digits or first_digits or 0)
        if claimed_last > limits.max_rows:
            raise Refused("row_number", found=claimed_last, max=limits.max_rows)
        if first_letters:
            # Columns before the first used one are dropped, as calamine does.
            first_column = column_index(first_letters)
        first_row = int(first_digits or 1) - 1
        claimed_column = column_index(last_letters or first_letters or "A")
        last_column = max(last_column, min(claimed_column, EXCEL_COLUMNS - 1))
        # Rows are padded to the claimed width (as calamine pads them), within the limit.
        width = max(0, min(claimed_column + 1 - first_column, limits.max_columns))
        last_row = max(last_row, claimed_last)
    height = last_row - min(first_row, last_row)
    grid = height * (last_column - min(first_column, last_column) + 1)
    return {
        "rows": rows,
        "last_row": last_row,
        "first_column": first_column,
        "width": width,
        "unnumbered": unnumbered,
        "sheet_bytes": sheet_bytes,
        "cells": cells,
        "grid": grid,
    }
