"""An import's files on disk: the upload, its rejected rows, the numbers seen so far."""

import csv
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from app.contacts.importing import reasons, sandbox
from app.contacts.importing.limits import PREVIEW_ROWS, Limits
from app.contacts.importing.reading import EXTENSIONS, Cell, cell_text, first_rows
from app.contacts.models import ImportJob
from app.exports import csv_cell

# Files ------------------------------------------------------------------------------


WRONG_EXTENSION = _l(
    "Only CSV and Excel (.xlsx) files can be imported. Save the file as one of them."
)


def imports_folder() -> Path:
    folder = Path(
        current_app.config.get("VAFA_IMPORT_FOLDER") or Path(current_app.instance_path) / "imports"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def upload_path(job: ImportJob) -> Path:
    return imports_folder() / job.stored_as


def rejected_path(job: ImportJob) -> Path:
    return imports_folder() / f"{Path(job.stored_as).stem}-rejected.csv"


def seen_path(job: ImportJob) -> Path:
    return imports_folder() / f"{Path(job.stored_as).stem}-seen.sqlite"


def import_limits() -> Limits:
    """The limits files are read under, from the settings (VAFA_IMPORT_*)."""
    return Limits.from_config(current_app.config)


def extension_allowed(filename: str) -> bool:
    return Path(filename).suffix.lower().lstrip(".") in EXTENSIONS


class SeenIndex:
    """Keys (numbers, references) of the rows read so far and their lines, on disk.

    A scratch SQLite file, so a million numbers cost no memory and survive a restart:
    after one, what was recorded past the last committed line is forgotten. Scratch, so
    not synced to the disk: what a crash loses, the resumed import forgets anyway. Keys
    are added in a transaction that ``commit`` (called with each commit of the import)
    ends.
    """

    def __init__(self, path: Path):
        self.connection = sqlite3.connect(path, isolation_level=None)
        # WAL keeps the file whole when the process dies in the middle of a commit.
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=OFF")
        # A million keys fit in some 30 MB of pages: read from memory, written at commits.
        self.connection.execute("PRAGMA cache_size=-32768")
        self.connection.execute(
            "CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, line INTEGER) WITHOUT ROWID"
        )

    def forget_after(self, line: int) -> None:
        self.connection.execute("DELETE FROM seen WHERE line > ?", (line,))

    def lines(self, keys: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(keys), 5000):
            part = keys[start : start + 5000]
            marks = ",".join("?" * len(part))
            found.update(
                self.connection.execute(f"SELECT key, line FROM seen WHERE key IN ({marks})", part)
            )
        return found

    def add(self, pairs: list[tuple[str, int]]) -> None:
        if not self.connection.in_transaction:
            self.connection.execute("BEGIN")
        self.connection.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?)", pairs)

    def commit(self) -> None:
        if self.connection.in_transaction:
            self.connection.execute("COMMIT")

    def close(self) -> None:
        self.commit()
        self.connection.close()


class RejectedFile:
    """The rejected rows as CSV (UTF-8 with a BOM, for Excel): original cells + reason.

    The reason column is worded in the language of whoever started the import: this file
    is also what `vafa contacts import` points to. Beside it, ``reasons_path`` keeps each
    reason untranslated, one JSON line per row, for the panel to word it again in the
    language of whoever reads it (``reasons.py``, ``rejected_rows``).
    """

    def __init__(self, path: Path, header: list[str], keep: tuple[int, int]):
        fresh = keep[0] == 0 or not path.exists()
        # Open for the whole import (closed by close()), appended to chunk by chunk;
        # what an interrupted chunk wrote is dropped first.
        self.handle = _reopened(path, fresh, keep[0])
        self.reasons = _reopened(reasons_path(path), fresh, keep[1])
        self.writer = csv.writer(self.handle, lineterminator="\r\n")
        if fresh:
            self.handle.write("\ufeff")
            self.writer.writerow([csv_cell(title) for title in header])

    def write(self, cells: list[Cell], reason, digits) -> None:
        """One row and why: ``reason`` a lazy message, worded here with ``digits``."""
        plain = reasons.plain(reason)
        worded = reasons.worded(plain, digits)
        self.writer.writerow([*(csv_cell(cell_text(cell)) for cell in cells), csv_cell(worded)])
        self.reasons.write(json.dumps(plain, ensure_ascii=False, separators=(",", ":")) + "\n")

    def size(self) -> tuple[int, int]:
        """How far both files are written, for an interrupted import to resume from."""
        sizes = []
        for handle in (self.handle, self.reasons):
            handle.flush()
            sizes.append(os.fstat(handle.fileno()).st_size)
        return sizes[0], sizes[1]

    def close(self) -> None:
        self.handle.close()
        self.reasons.close()


def reasons_path(rejected: Path) -> Path:
    """The untranslated reasons beside a rejected-rows file."""
    return rejected.with_suffix(".reasons")


def _reopened(path: Path, fresh: bool, keep_bytes: int):
    if not fresh and path.exists():
        with open(path, "r+b") as handle:
            handle.truncate(keep_bytes)
    return open(path, "w" if fresh else "a", encoding="utf-8", newline="")  # noqa: SIM115


@dataclass
class Preview:
    rows: list[list[str]]
    width: int
    kind: str  # csv | xlsx
    encoding: str | None
    delimiter: str | None
    # What the inspection found: kept on the job, so the file is inspected once.
    facts: dict


def read_upload_preview(path: Path, facts: dict | None = None) -> Preview:
    """The first rows of a file, read (and inspected, unless ``facts`` are known) in a child."""
    with sandbox.open_sheet(path, import_limits(), facts) as sheet:
        rows = first_rows(sheet, PREVIEW_ROWS + 1)
    width = max((len(row.cells) for row in rows), default=0)
    # Trailing columns with nothing in them (Excel pads rows to the sheet's width).
    while width and all(
        width > len(row.cells) or not cell_text(row.cells[width - 1]).strip() for row in rows
    ):
        width -= 1
    cells = [[row.cells[i] if i < len(row.cells) else "" for i in range(width)] for row in rows]
    return Preview(cells, width, sheet.kind, sheet.encoding, sheet.delimiter, sheet.facts)


def preview(job: ImportJob) -> Preview:
    """The first rows of the job's file, as the mapping page shows them."""
    return read_upload_preview(upload_path(job), job.options.get("inspected"))
