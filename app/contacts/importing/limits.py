"""Every limit an imported file is held to, in one place, and the refusal that names it.

A file is inspected against these limits before any reader allocates for it
(``inspecting``), and read in a child process whose address space is capped
(``sandbox``), so one hostile file costs one refused import, never the panel. Each limit
is a setting (``VAFA_IMPORT_*`` in app/config.py); the defaults here are the same, for
code that runs without an app (the reader's child process, unit tests).

The defaults let a real shop's file through: a million rows fit (Excel itself stops at
1,048,576), as do the 100-300 MB sheets and 50-250 MB shared strings such a file unpacks
to. The zip checks follow Apache POI's ZipSecureFile (at most 100× compression, checked
on what a part really unpacks to, not on what its header claims).

This module imports nothing of Flask: the child process that reads files loads it.
"""

from dataclasses import asdict, dataclass, fields

MB = 1024 * 1024

# The first rows shown on the mapping page (and read to guess the columns).
PREVIEW_ROWS = 8
# More columns than this is not a contact list (or not a CSV read the right way).
MAX_COLUMNS = 60
# Sheets whose XML is larger than this are streamed rather than read whole by calamine.
STREAM_ABOVE = 64 * MB
# Calamine holds a sheet as one grid of every row × every column between the first and
# the last cell (some 32 bytes a cell): larger grids are streamed instead.
CALAMINE_MAX_CELLS = 8_000_000
# Parts that unpack to less than this are not held to the compression ratio.
RATIO_GRACE = MB


@dataclass(frozen=True)
class Limits:
    """The limits one import is read under (each field is the setting VAFA_IMPORT_<NAME>)."""

    max_file_mb: int = 512
    max_rows: int = 2_000_000
    max_columns: int = MAX_COLUMNS
    # Excel's own limit for one cell.
    max_cell_chars: int = 32_767
    max_line_chars: int = 1_048_576
    max_zip_parts: int = 1_000
    max_sheet_mb: int = 2_048
    max_shared_strings_mb: int = 256
    max_part_mb: int = 64
    max_zip_ratio: int = 100
    # The address space of the process that reads a file (RLIMIT_AS); 0: no limit.
    memory_mb: int = 2_048
    # The reader's CPU time (RLIMIT_CPU), in seconds: a reader stuck in a loop is stopped.
    # Reading a 1,000,000-row file takes some 5 s (CSV) to 60 s (a streamed sheet).
    cpu_seconds: int = 900
    stream_above: int = STREAM_ABOVE

    @classmethod
    def from_config(cls, config) -> "Limits":
        found = {}
        for item in fields(cls):
            key = "VAFA_IMPORT_STREAM_ABOVE" if item.name == "stream_above" else None
            key = key or f"VAFA_IMPORT_{item.name.upper()}"
            if config.get(key) is not None:
                found[item.name] = int(config[key])
        return cls(**found)

    def as_dict(self) -> dict:
        return asdict(self)


def _l(text: str) -> str:
    """Marks a message for the catalog; the panel translates it when it shows it."""
    return text


# Why a file is refused: a code, and the message (English msgid) that names the limit.
MESSAGES = {
    "empty": _l("The file is empty."),
    "no_rows": _l("The file has no rows."),
    "not_text": _l("This is not a CSV or Excel file. Save it as “CSV UTF-8” or “Excel (.xlsx)”."),
    "unreadable_workbook": _l(
        "This Excel file cannot be read. Open it in Excel and save it again as .xlsx."
    ),
    "file_mb": _l(
        "The file is larger than %(max)s MB, the most Vafa imports at once "
        "(setting VAFA_IMPORT_MAX_FILE_MB). Split it into smaller files."
    ),
    "rows": _l(
        "The file has more than %(max)s rows, the most Vafa imports at once "
        "(setting VAFA_IMPORT_MAX_ROWS). Split it into smaller files."
    ),
    "row_number": _l(
        "The sheet has a row numbered %(found)s; Vafa reads rows up to %(max)s "
        "(setting VAFA_IMPORT_MAX_ROWS). Copy the rows into a new sheet and save it again."
    ),
    "columns": _l(
        "The sheet has a value in column %(letter)s (column %(found)s); Vafa reads at most "
        "%(max)s columns (setting VAFA_IMPORT_MAX_COLUMNS). Delete the columns after the "
        "last one you need."
    ),
    "line_chars": _l(
        "A line of the file is longer than %(max)s characters (setting "
        "VAFA_IMPORT_MAX_LINE_CHARS). Is it the right file?"
    ),
    "cell_chars": _l(
        "A cell of the sheet holds more than %(max)s characters, more than Excel itself "
        "allows (setting VAFA_IMPORT_MAX_CELL_CHARS)."
    ),
    "zip_parts": _l(
        "The Excel file is made of %(found)s parts; Vafa reads files of at most %(max)s "
        "(setting VAFA_IMPORT_MAX_ZIP_PARTS). Save the sheet alone in a new file."
    ),
    "part_mb": _l(
        "A part of the Excel file (%(part)s) unpacks to more than %(max)s MB (setting "
        "%(setting)s). Split the sheet into smaller files."
    ),
    "zip_ratio": _l(
        "A part of the Excel file (%(part)s) unpacks to more than %(max)s times its packed "
        "size (setting VAFA_IMPORT_MAX_ZIP_RATIO): it is mostly empty or not a real sheet. "
        "Copy the rows into a new sheet and save it again."
    ),
    "memory": _l(
        "Vafa's file reader stopped on this file: reading it needs more than the %(max)s MB "
        "of memory it may use (setting VAFA_IMPORT_MEMORY_MB). Nothing of it was imported."
    ),
    "cpu": _l(
        "Vafa's file reader stopped on this file: reading it took more than %(max)s seconds "
        "(setting VAFA_IMPORT_CPU_SECONDS). Nothing of it was imported."
    ),
    "reader_stopped": _l(
        "Vafa's file reader stopped on this file without reading it. Open it in Excel and "
        "save it again as .xlsx or CSV."
    ),
}


class UnreadableFile(ValueError):
    """The file as a whole cannot be read; ``reason`` says why, for the owner."""

    def __init__(self, reason):
        super().__init__(str(reason))
        self.reason = reason


class Refused(UnreadableFile):
    """A file is refused: ``code`` names the limit or fault, ``params`` its numbers.

    ``reason`` is the English message, for code that runs without the panel; the panel
    shows the translated one (app.contacts.importing.sandbox).
    """

    def __init__(self, code: str, **params):
        self.code = code
        self.params = params
        super().__init__(MESSAGES[code] % {k: _plain(v) for k, v in params.items()})


def _plain(value) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)
