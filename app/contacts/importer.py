"""The one importer of contacts and purchases, for the panel, the command line and the API.

How a file goes in:

1. ``save_upload`` keeps the file in the imports folder (instance/imports/) and makes an
   ImportJob in the "mapping" state, with a guess of what each column holds.
2. The owner sees the first rows (``preview``), corrects the guess and confirms:
   ``start_import`` checks the mapping and marks the job "pending".
3. ``run_imports``, a worker job (app.jobs), reads the file in chunks of a few thousand
   rows. A chunk is written with bulk statements and committed whole, together with the
   job's progress, so a page can show it and a restarted worker resumes after the last
   committed chunk. A slice of a few seconds at a time, so the same worker keeps sending.

Every row is accounted for: rows = created + updated + duplicates + invalid. The
rejected rows (invalid ones and duplicates) are written, with their original cells and a
reason, to a CSV beside the upload that the owner can fix and import again as it is.

Memory stays flat at a million rows: rows are streamed (app.contacts.sheets), only one
chunk is held at a time, and the numbers seen so far (to name the earlier line of a
repeat) are kept in a scratch SQLite file beside the upload, not in a dict.

This module commits: a chunk is the unit of work, and progress must be visible while the
import runs. Everything else in the contacts domain leaves commits to its caller.
"""

import csv
import functools
import itertools
import logging
import os
import re
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import jdatetime
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, insert, select, update

from app.contacts import service
from app.contacts.models import Contact, ImportJob, Purchase
from app.contacts.phones import InvalidMobile, normalize_mobile
from app.contacts.sheets import (
    EXTENSIONS,
    STREAM_ABOVE,
    WRONG_EXTENSION,
    Cell,
    Row,
    UnreadableFile,
    cell_text,
    is_blank,
    open_sheet,
    read_preview,
)
from app.exports import csv_cell
from app.extensions import db
from app.persian import TEHRAN, ascii_digits, jalali_month_day, normalize_text, show_digits
from app.types import utcnow

log = logging.getLogger("vafa.import")

CHUNK_ROWS = 2000
PREVIEW_ROWS = 8
# More columns than this is not a contact list (or not a CSV read the right way).
MAX_COLUMNS = 60
# A worker gives an import this long at a time, then sends messages, then comes back.
SLICE_SECONDS = 3.0

CONTACT_FIELDS = {
    "ignore": _l("Ignore"),
    "first_name": _l("First name"),
    "last_name": _l("Last name"),
    "full_name": _l("Full name"),
    "mobile": _l("Mobile"),
    "gender": _l("Gender"),
    "birth_date": _l("Birth date"),
    "anniversary": _l("Anniversary"),
    "city": _l("City"),
    "tags": _l("Tags"),
    "opted_out": _l("Opted out"),
    "custom": _l("Own field"),
}
PURCHASE_FIELDS = {
    "ignore": _l("Ignore"),
    "mobile": _l("Mobile"),
    "purchased_at": _l("Date of purchase"),
    "amount": _l("Amount"),
    "reference": _l("Invoice or order number"),
}
KINDS = {"contacts": CONTACT_FIELDS, "purchases": PURCHASE_FIELDS}
ON_DUPLICATE = ("skip", "update")

# Header names people write (normalised: lower case, ZWNJ and punctuation as spaces).
_MOBILE_WORDS = (
    "mobile",
    "mobile number",
    "mobile phone",
    "phone",
    "phone number",
    "cell",
    "cellphone",
    "cell phone",
    "tel",
    "telephone",
    "msisdn",
    "number",
    "موبایل",
    "شماره موبایل",
    "شماره همراه",
    "تلفن همراه",
    "همراه",
    "شماره",
    "شماره تماس",
    "تلفن",
    "تلفن تماس",
    "شماره تلفن",
    "موبایل مشتری",
    "شماره موبایل مشتری",
)
_IGNORE_WORDS = ("reason", "دلیل", "علت", "row", "#", "no", "ردیف", "شماره ردیف")
_CONTACT_WORDS = {
    "first_name": ("first name", "firstname", "first", "given name", "نام", "اسم", "نام کوچک"),
    "last_name": (
        "last name",
        "lastname",
        "last",
        "surname",
        "family",
        "family name",
        "نام خانوادگی",
        "فامیل",
        "فامیلی",
        "نام فامیل",
        "شهرت",
    ),
    "full_name": (
        "name",
        "full name",
        "fullname",
        "customer",
        "customer name",
        "contact",
        "نام و نام خانوادگی",
        "نام کامل",
        "نام مشتری",
        "مشتری",
        "نام و فامیل",
        "اسم و فامیل",
    ),
    "mobile": _MOBILE_WORDS,
    "gender": ("gender", "sex", "جنسیت", "جنس"),
    "birth_date": (
        "birthday",
        "birth date",
        "birthdate",
        "date of birth",
        "dob",
        "born",
        "تاریخ تولد",
        "تولد",
        "روز تولد",
        "زادروز",
    ),
    "anniversary": (
        "anniversary",
        "wedding",
        "wedding date",
        "member since",
        "membership date",
        "joined",
        "سالگرد",
        "سالگرد ازدواج",
        "تاریخ ازدواج",
        "تاریخ عضویت",
        "سالگرد عضویت",
        "عضویت",
    ),
    "city": ("city", "town", "شهر", "محل سکونت", "شهر محل سکونت"),
    "tags": ("tags", "tag", "labels", "label", "برچسب", "برچسب ها", "برچسبها", "تگ", "تگ ها"),
    "opted_out": (
        "opted out",
        "opt out",
        "optout",
        "unsubscribed",
        "unsubscribe",
        "لغو عضویت",
        "انصراف",
        "لغو",
        "لغو ارسال",
    ),
    "ignore": _IGNORE_WORDS,
}
_PURCHASE_WORDS = {
    "mobile": _MOBILE_WORDS,
    "purchased_at": (
        "date",
        "purchase date",
        "purchased at",
        "order date",
        "invoice date",
        "time",
        "datetime",
        "تاریخ",
        "تاریخ خرید",
        "زمان",
        "زمان خرید",
        "تاریخ فاکتور",
        "تاریخ سفارش",
    ),
    "amount": (
        "amount",
        "total",
        "price",
        "sum",
        "paid",
        "مبلغ",
        "مبلغ خرید",
        "مبلغ کل",
        "جمع",
        "جمع کل",
        "قیمت",
        "مبلغ فاکتور",
        "مبلغ پرداختی",
    ),
    "reference": (
        "reference",
        "ref",
        "invoice",
        "invoice number",
        "order",
        "order id",
        "order number",
        "receipt",
        "شماره فاکتور",
        "فاکتور",
        "شماره سفارش",
        "کد سفارش",
        "سفارش",
        "شماره رسید",
        "رسید",
        "کد پیگیری",
    ),
    "ignore": _IGNORE_WORDS,
}
_WORDS = {
    kind: {word: name for name, words in table.items() for word in words}
    for kind, table in (("contacts", _CONTACT_WORDS), ("purchases", _PURCHASE_WORDS))
}
_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_HEADER_NOISE = re.compile(r"[\u200c_\-.:*/]+")
_TOMAN = re.compile(r"تومان|toman", re.IGNORECASE)


class MappingError(ValueError):
    """The mapping cannot be imported (no mobile column, a field twice, …)."""


class RowError(ValueError):
    """One cell of one row is wrong; ``column`` is its index, or None for the whole row."""

    def __init__(self, reason: str, column: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.column = column


# Guessing ---------------------------------------------------------------------------


def header_key(text: str) -> str:
    """A header cell as compared with known names: «تلفن‌همراه (اصلی)» → «تلفن همراه»."""
    text = _BRACKETS.sub(" ", normalize_text(text)).lower()
    return " ".join(_HEADER_NOISE.sub(" ", text).split())


def guess_field(header: str, kind: str = "contacts") -> str:
    """The field a column holds, judged by its header: "mobile", "birth_date", …

    An empty header is ignored. An unknown one is the owner's own field for contacts
    (kept under its name, usable in messages) and ignored for purchases.
    """
    key = header_key(header)
    if not key:
        return "ignore"
    fields = KINDS[kind]
    if key in fields and key not in ("ignore", "custom"):
        return key  # the rejected-rows file names headerless columns by field
    return _WORDS[kind].get(key, "custom" if kind == "contacts" else "ignore")


@dataclass
class Guess:
    header: bool
    mapping: dict[int, str]
    toman: bool = False


def _looks_like_mobile(cell: Cell) -> bool:
    try:
        normalize_mobile(cell_text(cell))
    except InvalidMobile:
        return False
    return True


def _looks_like_date(cell: Cell) -> bool:
    try:
        _date_and_time(cell)
    except RowError:
        return False
    return True


def _looks_like_amount(cell: Cell) -> bool:
    try:
        parse_amount(cell)
    except RowError:
        return False
    return True


def guess_mapping(rows: list[list[Cell]], kind: str = "contacts") -> Guess:
    """Whether the first row names the columns, and what each column holds.

    Headers are read first; a column they do not settle is judged by its values: the
    one holding mobile numbers, a date column, a name column (files without a header
    were «name, mobile, birth date» in the first version of Vafa).
    """
    if not rows:
        return Guess(header=False, mapping={})
    width = max(len(row) for row in rows)
    first = rows[0]
    first_is_data = any(_looks_like_mobile(cell) for cell in first)
    header = not first_is_data
    data = rows[1:] if header else rows
    mapping: dict[int, str] = {}
    if header:
        used: set[str] = set()
        for index in range(width):
            name = guess_field(cell_text(first[index]) if index < len(first) else "", kind)
            if name not in ("custom", "ignore") and name in used:
                name = "custom" if kind == "contacts" else "ignore"
            used.add(name)
            mapping[index] = name
        if kind == "contacts" and "first_name" in used and not used & {"last_name", "full_name"}:
            # A lone «نام» column holds the whole name in most shops' files.
            mapping = {i: "full_name" if f == "first_name" else f for i, f in mapping.items()}

    def share(index: int, test) -> float:
        values = [row[index] for row in data if index < len(row) and cell_text(row[index]).strip()]
        return sum(1 for value in values if test(value)) / len(values) if values else 0.0

    open_columns = [i for i in range(width) if mapping.get(i, "ignore") in ("ignore", "custom")]
    if "mobile" not in mapping.values():
        scores = [(share(i, _looks_like_mobile), -i) for i in open_columns]
        best = max(scores, default=(0.0, 0))
        if best[0] >= 0.5:
            mapping[-best[1]] = "mobile"
    if not header:
        taken = set(mapping.values())
        for index in range(width):
            if index in mapping:
                continue
            if share(index, _looks_like_date) >= 0.5:
                name = "birth_date" if kind == "contacts" else "purchased_at"
            elif kind == "purchases" and share(index, _looks_like_amount) >= 0.5:
                name = "amount"
            elif kind == "contacts" and share(index, lambda v: not _looks_like_amount(v)) >= 0.5:
                name = "full_name"
            else:
                name = "ignore"
            if name in taken:
                name = "ignore"
            taken.add(name)
            mapping[index] = name
    toman = header and any(
        mapping.get(i) == "amount" and _TOMAN.search(cell_text(first[i])) for i in range(len(first))
    )
    return Guess(header=header, mapping=dict(sorted(mapping.items())), toman=bool(toman))


def check_mapping(mapping: dict[int, str], kind: str) -> None:
    """Raise MappingError unless the mapping can be imported."""
    fields = list(mapping.values())
    if "mobile" not in fields:
        raise MappingError(_("Choose the column that holds the mobile numbers."))
    allowed = KINDS[kind]
    custom_names: set[str] = set()
    for name in fields:
        base, _sep, custom = name.partition(":")
        if base not in allowed:
            raise MappingError(_("“%(field)s” is not a field Vafa knows.", field=name))
        if base == "custom":
            if not custom:
                raise MappingError(_("An own field needs a name."))
            if custom in custom_names:
                raise MappingError(_("Two columns are saved as the field “%(name)s”.", name=custom))
            custom_names.add(custom)
        elif base != "ignore" and fields.count(name) > 1:
            raise MappingError(_("Only one column can be “%(field)s”.", field=str(allowed[base])))
    if kind == "purchases":
        for needed in ("purchased_at", "amount"):
            if needed not in fields:
                raise MappingError(
                    _("Choose the column that holds “%(field)s”.", field=str(allowed[needed]))
                )


# Values -----------------------------------------------------------------------------

_DATE = re.compile(
    r"^(\d{1,4})\s*[/\-.]\s*(\d{1,2})\s*[/\-.]\s*(\d{1,4})"
    r"(?:\s*(?:T|\s|-)\s*(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.\d+)?)?)?(?:\s*(?:Z|\+00:?00))?$"
)
_COMPACT = re.compile(r"^(1[34]\d\d|19\d\d|20\d\d)(\d\d)(\d\d)$")
_EXCEL_EPOCH = datetime(1899, 12, 30)  # noqa: DTZ001 (Excel's wall-clock serial dates)
# Excel serial numbers for 1900-01-01 … 2100-12-31: a plain number in a date column.
_EXCEL_SERIALS = (1, 73415)
_GENDERS = {
    "male": ("مرد", "آقا", "آقای", "اقا", "اقای", "male", "m", "man", "mr", "1", "پسر"),
    "female": ("زن", "خانم", "بانو", "female", "f", "woman", "mrs", "ms", "miss", "2", "دختر"),
}
_GENDER_WORDS = {word: gender for gender, words in _GENDERS.items() for word in words}
_YES = {"yes", "y", "true", "1", "بله", "بلی", "آری", "آره", "اره", "x", "✓", "✔", "لغو", "انصراف"}
_NO = {"no", "n", "false", "0", "خیر", "نه", "-"}
_TAG_SEPARATORS = re.compile(r"[,،;؛|]")
_AMOUNT_NOISE = re.compile(r"[\s,٬'’_]|ریال|rials?|تومان|toman", re.IGNORECASE)


def _shown(cell: Cell) -> str:
    """A value as quoted in a reason: as the owner wrote it, cut if long."""
    text = cell_text(cell).strip()
    return text if len(text) <= 40 else text[:39] + "…"


def _date_and_time(cell: Cell) -> tuple[date, clock | None]:
    """The day and, when written, the time of a cell: Jalali or Gregorian, text or Excel.

    1370/5/12, ۱۳۷۰-۰۵-۱۲, 1370.05.12, 13700512, 1991-08-03, 2024-04-03 14:30, an
    Excel date cell or an Excel serial number. A year below 1700 is Jalali. Raises
    RowError with the reason shown to the owner.
    """
    if isinstance(cell, datetime):
        return cell.date(), cell.time()
    if isinstance(cell, date):
        return cell, None
    text = ascii_digits(normalize_text(cell_text(cell)))
    number = isinstance(cell, float | int) and not isinstance(cell, bool)
    if number and not _COMPACT.match(text):
        if not (_EXCEL_SERIALS[0] <= cell <= _EXCEL_SERIALS[1]):
            raise RowError(_("“%(value)s” is not a date.", value=_shown(cell)))
        moment = _EXCEL_EPOCH + timedelta(days=float(cell))
        moment = (moment + timedelta(microseconds=500_000)).replace(microsecond=0)
        return moment.date(), (moment.time() if float(cell) % 1 else None)
    if not text:
        raise RowError(_("The date is empty."))
    compact = _COMPACT.match(text)
    match = None if compact else _DATE.match(text)
    if compact:
        year, month, day = (int(part) for part in compact.groups())
        moment = None
    elif match:
        first, month_text, last = match.group(1), match.group(2), match.group(3)
        if len(first) != 4:
            raise RowError(
                _(
                    "Write the year first, like 1370/05/12 or 1991-08-03: "
                    "“%(value)s” could be read more than one way.",
                    value=_shown(cell),
                )
            )
        year, month, day = int(first), int(month_text), int(last)
        moment = None
        if match.group(4) is not None:
            hour, minute, second = (int(match.group(i) or 0) for i in (4, 5, 6))
            if hour > 23 or minute > 59 or second > 59:
                raise RowError(_("“%(value)s” has a time that does not exist.", value=_shown(cell)))
            moment = clock(hour, minute, second)
    else:
        raise RowError(
            _(
                "“%(value)s” is not a date. Write it like 1370/05/12 (Jalali) or 1991-08-03.",
                value=_shown(cell),
            )
        )
    try:
        # A year below 1700 is Jalali (1370 is 1991); above, Gregorian.
        day_value = _from_jalali(year, month, day) if year < 1700 else date(year, month, day)
    except ValueError:
        raise RowError(
            _("“%(value)s” is not a real date: there is no such day.", value=_shown(cell))
        ) from None
    return day_value, moment


# Birthdays repeat: a file of a million people has some twenty thousand distinct ones.
@functools.lru_cache(maxsize=65536)
def _from_jalali(year: int, month: int, day: int) -> date:
    return jdatetime.date(year, month, day).togregorian()


@functools.lru_cache(maxsize=65536)
def _month_day(day: date) -> tuple[int, int]:
    return jalali_month_day(day)


def parse_date(cell: Cell, past: bool = False) -> date:
    """A day from any form people write (see _date_and_time); ``past``: not after today."""
    day, _time = _date_and_time(cell)
    if past and day > datetime.now(TEHRAN).date():
        raise RowError(_("“%(value)s” is in the future.", value=_shown(cell)))
    return day


def parse_moment(cell: Cell) -> datetime:
    """A purchase's moment: a day, with its time if written, in Tehran; returned in UTC."""
    day, moment = _date_and_time(cell)
    local = datetime.combine(day, moment or clock(0), tzinfo=TEHRAN)
    if local > datetime.now(TEHRAN) + timedelta(days=1):
        raise RowError(_("“%(value)s” is in the future.", value=_shown(cell)))
    return local.astimezone(UTC)


def parse_gender(cell: Cell) -> str | None:
    """ "male", "female" or None (empty): مرد/زن, آقا/خانم, male/female, m/f, 1/2."""
    key = ascii_digits(normalize_text(cell_text(cell))).lower().strip(" .")
    if not key:
        return None
    if key in _GENDER_WORDS:
        return _GENDER_WORDS[key]
    raise RowError(
        _("“%(value)s” is not a gender: write مرد or زن (male or female).", value=_shown(cell))
    )


def parse_yes_no(cell: Cell) -> bool:
    if isinstance(cell, bool):
        return cell
    key = ascii_digits(normalize_text(cell_text(cell))).lower().strip(" .")
    if key in _YES:
        return True
    if key in _NO or not key:
        return False
    raise RowError(_("“%(value)s” is not yes or no: write بله or خیر.", value=_shown(cell)))


def parse_amount(cell: Cell, toman: bool = False) -> int:
    """Rials as a whole number: 1,250,000 / ۱٬۲۵۰٬۰۰۰ / 1250000.0; Tomans × 10."""
    if isinstance(cell, bool):
        raise RowError(_("“%(value)s” is not an amount.", value=_shown(cell)))
    if isinstance(cell, float | int):
        if cell != int(cell):
            raise RowError(_("“%(value)s” is not a whole number of Rials.", value=_shown(cell)))
        amount = int(cell)
    else:
        text = _AMOUNT_NOISE.sub("", ascii_digits(normalize_text(cell_text(cell))))
        text = re.sub(r"\.0+$", "", text)
        if not text:
            raise RowError(_("The amount is empty."))
        if text.startswith("-") and text[1:].isdigit():
            raise RowError(_("The amount cannot be negative."))
        if not (text.isascii() and text.isdigit()):
            raise RowError(_("“%(value)s” is not an amount.", value=_shown(cell)))
        amount = int(text)
    if amount < 0:
        raise RowError(_("The amount cannot be negative."))
    return amount * 10 if toman else amount


def split_tags(cell: Cell) -> list[str]:
    names = (normalize_text(part).lstrip("#") for part in _TAG_SEPARATORS.split(cell_text(cell)))
    return list(dict.fromkeys(name[:50] for name in names if name))


def parse_mobile(cell: Cell) -> str:
    text = cell_text(cell)
    try:
        return normalize_mobile(text)
    except InvalidMobile as error:
        if not text.strip():
            raise RowError(str(error.reason)) from None
        raise RowError(
            _("“%(value)s”: %(reason)s", value=_shown(cell), reason=str(error.reason))
        ) from None


# Rows -------------------------------------------------------------------------------


@dataclass(slots=True)
class ContactRow:
    line: int
    cells: list[Cell]
    mobile: str
    values: dict[str, object]  # Contact columns with a (non-empty) value in this row
    fields: dict[str, str]  # the owner's own fields
    tags: list[str]
    opt_out: bool


@dataclass(slots=True)
class PurchaseRow:
    line: int
    cells: list[Cell]
    mobile: str
    purchased_at: datetime
    amount: int
    reference: str | None


def _contact_row(row: Row, mapping: dict[int, str]) -> ContactRow:
    values: dict[str, object] = {}
    fields: dict[str, str] = {}
    tags: list[str] = []
    opt_out = False
    mobile = ""
    full = ""
    for index, name in mapping.items():
        cell = row.cells[index] if index < len(row.cells) else ""
        try:
            if name == "mobile":
                mobile = parse_mobile(cell)
                continue
            if name.startswith("custom:"):
                text = normalize_text(cell_text(cell))
                if text:
                    fields[name[7:]] = text[:500]
            elif name in ("first_name", "last_name", "city"):
                text = normalize_text(cell_text(cell))[:100]
                if text:
                    values[name] = text
            elif name == "full_name":
                full = normalize_text(cell_text(cell))
            elif name == "gender":
                gender = parse_gender(cell)
                if gender:
                    values["gender"] = gender
            elif name in ("birth_date", "anniversary"):
                if cell_text(cell).strip():
                    day = parse_date(cell, past=name == "birth_date")
                    prefix = "birth" if name == "birth_date" else "anniversary"
                    values[name] = day
                    values[f"{prefix}_jmonth"], values[f"{prefix}_jday"] = _month_day(day)
            elif name == "tags":
                tags = split_tags(cell)
            elif name == "opted_out":
                opt_out = parse_yes_no(cell)
        except RowError as error:
            error.column = index
            raise
    if full:
        first, _sep, last = full.partition(" ")
        values.setdefault("first_name", first[:100])
        if last:
            values.setdefault("last_name", last[:100])
    return ContactRow(row.line, row.cells, mobile, values, fields, tags, opt_out)


def _purchase_row(row: Row, mapping: dict[int, str], toman: bool) -> PurchaseRow:
    found: dict[str, object] = {"reference": None}
    for index, name in mapping.items():
        cell = row.cells[index] if index < len(row.cells) else ""
        try:
            if name == "mobile":
                found["mobile"] = parse_mobile(cell)
            elif name == "purchased_at":
                found["purchased_at"] = parse_moment(cell)
            elif name == "amount":
                found["amount"] = parse_amount(cell, toman)
            elif name == "reference":
                found["reference"] = normalize_text(cell_text(cell))[:100] or None
        except RowError as error:
            error.column = index
            raise
    return PurchaseRow(row.line, row.cells, **found)


# Files ------------------------------------------------------------------------------


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


def _seen_path(job: ImportJob) -> Path:
    return imports_folder() / f"{Path(job.stored_as).stem}-seen.sqlite"


def _stream_above() -> int:
    return current_app.config.get("VAFA_IMPORT_STREAM_ABOVE", STREAM_ABOVE)


def extension_allowed(filename: str) -> bool:
    return Path(filename).suffix.lower().lstrip(".") in EXTENSIONS


class SeenIndex:
    """Keys (numbers, references) of the rows read so far and their lines, on disk.

    A scratch SQLite file, so a million numbers cost no memory and survive a restart:
    after one, what was recorded past the last committed line is forgotten.
    """

    def __init__(self, path: Path):
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=NORMAL")
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
        self.connection.execute("BEGIN")
        self.connection.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?)", pairs)
        self.connection.execute("COMMIT")

    def close(self) -> None:
        self.connection.close()


class RejectedFile:
    """The rejected rows as CSV (UTF-8 with a BOM, for Excel): original cells + reason."""

    def __init__(self, path: Path, header: list[str], keep_bytes: int):
        fresh = keep_bytes == 0 or not path.exists()
        if not fresh:
            with open(path, "r+b") as handle:
                handle.truncate(keep_bytes)  # drop what an interrupted chunk wrote
        # Open for the whole import (closed by close()), appended to chunk by chunk.
        self.handle = open(path, "w" if fresh else "a", encoding="utf-8", newline="")  # noqa: SIM115
        self.writer = csv.writer(self.handle, lineterminator="\r\n")
        if fresh:
            self.handle.write("\ufeff")
            self.writer.writerow([csv_cell(title) for title in header])

    def write(self, cells: list[Cell], reason: str) -> None:
        self.writer.writerow([*(csv_cell(cell_text(cell)) for cell in cells), reason])

    def size(self) -> int:
        self.handle.flush()
        return os.fstat(self.handle.fileno()).st_size

    def close(self) -> None:
        self.handle.close()


@dataclass
class Preview:
    rows: list[list[str]]
    width: int
    kind: str  # csv | xlsx
    encoding: str | None
    delimiter: str | None


def _read_preview(path: Path) -> Preview:
    rows, sheet = read_preview(path, PREVIEW_ROWS + 1, _stream_above())
    width = max((len(row.cells) for row in rows), default=0)
    # Trailing columns with nothing in them (Excel pads rows to the sheet's width).
    while width and all(
        width > len(row.cells) or not cell_text(row.cells[width - 1]).strip() for row in rows
    ):
        width -= 1
    cells = [[row.cells[i] if i < len(row.cells) else "" for i in range(width)] for row in rows]
    return Preview(cells, width, sheet.kind, sheet.encoding, sheet.delimiter)


def preview(job: ImportJob) -> Preview:
    """The first rows of the job's file, as the mapping page shows them."""
    return _read_preview(upload_path(job))


# Starting an import ----------------------------------------------------------------


def save_upload(source, filename: str, kind: str, user_id: int | None = None) -> ImportJob:
    """Keep an uploaded file and make its job, with the mapping guessed; the caller commits.

    ``source`` is a path or a file object (the upload). Raises UnreadableFile (and keeps
    nothing) when the file cannot be imported at all.
    """
    if kind not in KINDS:
        raise ValueError(kind)
    if not extension_allowed(filename):
        raise UnreadableFile(WRONG_EXTENSION)
    extension = Path(filename).suffix.lower()
    stored_as = f"{uuid.uuid4().hex}{extension}"
    path = imports_folder() / stored_as
    if isinstance(source, str | Path):
        shutil.copyfile(source, path)
    else:
        with open(path, "wb") as handle:
            shutil.copyfileobj(source, handle, 1 << 20)
    try:
        found = _read_preview(path)
        if not found.rows:
            raise UnreadableFile(_l("The file has no rows."))
        if found.width > MAX_COLUMNS:
            raise UnreadableFile(
                _l(
                    "The file has %(count)s columns; Vafa reads at most %(max)s. "
                    "Is it the right file?",
                    count=show_digits(str(found.width)),
                    max=show_digits(str(MAX_COLUMNS)),
                )
            )
        guess = guess_mapping(found.rows, kind)
        if guess.header and len(found.rows) == 1:
            raise UnreadableFile(_l("The file has column names but no rows under them."))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    job = ImportJob(
        kind=kind,
        filename=Path(filename).name[:255],
        stored_as=stored_as,
        mapping={str(i): name for i, name in guess.mapping.items()},
        options={
            "header": guess.header,
            "toman": guess.toman,
            "encoding": found.encoding,
            "delimiter": found.delimiter,
        },
        status="mapping",
        created_by_id=user_id,
    )
    db.session.add(job)
    db.session.flush()
    return job


def start_import(
    job: ImportJob,
    mapping: dict[int, str],
    header: bool,
    *,
    on_duplicate: str = "skip",
    list_id: int | None = None,
    toman: bool = False,
    create_contacts: bool = False,
    locale: str = "fa",
    status: str = "pending",
) -> None:
    """Check the owner's mapping and queue the job; the caller commits.

    A column mapped to "custom" is saved under its header (or «column N» without one).
    """
    found = preview(job)
    headers = [normalize_text(cell_text(cell)) for cell in found.rows[0]] if header else []
    named: dict[int, str] = {}
    for index, name in mapping.items():
        if name == "ignore" or not 0 <= index < MAX_COLUMNS:
            continue
        if name == "custom":
            label = headers[index] if index < len(headers) and headers[index] else ""
            name = f"custom:{(label or _('Column %(number)s', number=index + 1))[:50]}"
        named[index] = name
    check_mapping(named, job.kind)
    if on_duplicate not in ON_DUPLICATE:
        raise MappingError(_("Choose whether to skip or update contacts already stored."))
    job.mapping = {str(i): name for i, name in sorted(named.items())}
    job.options = {
        **job.options,
        "header": header,
        "headers": headers,
        "width": found.width,
        "on_duplicate": on_duplicate,
        "list_id": list_id,
        "toman": toman,
        "create_contacts": create_contacts,
        "locale": locale,
    }
    job.status = status


def discard_import(job: ImportJob) -> None:
    """Forget a job that was never started, and its file; the caller commits."""
    upload_path(job).unlink(missing_ok=True)
    db.session.delete(job)


# Running ----------------------------------------------------------------------------


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    invalid: int = 0
    rejected: list[tuple[Row | ContactRow | PurchaseRow, str]] = field(default_factory=list)

    def reject(self, row, reason: str, duplicate: bool = False) -> None:
        if duplicate:
            self.duplicates += 1
        else:
            self.invalid += 1
        self.rejected.append((row, reason))


class ImportRun:
    """An import in progress in this process: the open file, where it is, what it wrote.

    Kept between a worker's slices so a large file is opened once; rebuilt from the
    job's saved position when another process (or a restart) takes the job over.
    """

    def __init__(self, job: ImportJob):
        self.job_id = job.id
        self.kind = job.kind
        self.filename = job.filename
        self.options = dict(job.options)
        self.mapping = {int(i): name for i, name in job.mapping.items()}
        self.headers: list[str] = self.options.get("headers") or []
        resume = self.options.get("resume") or {}
        self.records = resume.get("records", 0)
        self.sheet = open_sheet(upload_path(job), _stream_above())
        self.rows: Iterator[Row] = self.sheet.rows()
        for _row in itertools.islice(self.rows, self.records):
            pass
        self.header_done = self.records > 0 or not self.options.get("header")
        self.seen = SeenIndex(_seen_path(job))
        self.seen.forget_after(resume.get("line", 0))
        header = self._rejected_header()
        self.width = len(header) - 1
        self.rejected = RejectedFile(rejected_path(job), header, resume.get("rejected_bytes", 0))

    def matches(self, job: ImportJob) -> bool:
        return (
            self.job_id == job.id
            and (job.options.get("resume") or {}).get("records", 0) == self.records
        )

    def close(self) -> None:
        for thing in (self.rejected, self.seen, self.sheet):
            try:
                thing.close()
            except Exception:  # closing after a failure must not hide it
                log.exception("closing import %s", self.job_id)

    def _rejected_header(self) -> list[str]:
        width = max(self.options.get("width") or 0, max(self.mapping, default=-1) + 1)
        if self.headers:
            header = list(self.headers) + [""] * (width - len(self.headers))
        else:
            # Name each column by its field, so the fixed file maps itself the same way.
            header = [
                self.mapping.get(i, "").removeprefix("custom:") if i in self.mapping else ""
                for i in range(width)
            ]
        return [*header, _("Reason")]

    def _reason(self, line: int, reason: str, column: int | None = None) -> str:
        """The reason as the rejected-rows file gives it: line, column (by name), why."""
        line_shown = show_digits(str(line))
        if column is None:
            return _("Line %(line)s: %(reason)s", line=line_shown, reason=reason)
        if column < len(self.headers) and self.headers[column]:
            return _(
                "Line %(line)s, column “%(column)s”: %(reason)s",
                line=line_shown,
                column=self.headers[column],
                reason=reason,
            )
        return _(
            "Line %(line)s, column %(number)s: %(reason)s",
            line=line_shown,
            number=show_digits(str(column + 1)),
            reason=reason,
        )

    def _aligned(self, cells: list[Cell]) -> list[Cell]:
        """The cells padded (or their empty tail cut) to the header, so reasons line up."""
        cells = list(cells)
        while len(cells) > self.width and not cell_text(cells[-1]).strip():
            cells.pop()
        return cells + [""] * (self.width - len(cells))

    def _next_chunk(self, size: int) -> list[Row]:
        chunk: list[Row] = []
        for row in self.rows:
            self.records += 1
            if row.error is None and is_blank(row.cells):
                continue
            if not self.header_done:
                self.header_done = True
                continue
            chunk.append(row)
            if len(chunk) == size:
                break
        return chunk

    def work(
        self, job: ImportJob, deadline: float | None, max_chunks: int | None, size: int
    ) -> tuple[int, bool]:
        """Import chunks until the deadline; return (rows done, finished)."""
        done = chunks = 0
        while True:
            chunk = self._next_chunk(size)
            if not chunk:
                return done, True
            self._chunk(job, chunk)
            done += len(chunk)
            chunks += 1
            if len(chunk) < size:
                return done, True  # the file ended inside this chunk
            if (deadline is not None and time.monotonic() >= deadline) or (
                max_chunks is not None and chunks >= max_chunks
            ):
                return done, False

    def _chunk(self, job: ImportJob, chunk: list[Row]) -> None:
        counts = Counts()
        parsed = []
        for row in chunk:
            if row.error is not None:
                counts.reject(row, self._reason(row.line, _("This line cannot be read.")))
                continue
            if len(row.cells) > MAX_COLUMNS and any(
                cell_text(c).strip() for c in row.cells[MAX_COLUMNS:]
            ):
                counts.reject(
                    row,
                    self._reason(
                        row.line,
                        _(
                            "The row has more than %(max)s columns.",
                            max=show_digits(str(MAX_COLUMNS)),
                        ),
                    ),
                )
                continue
            try:
                if self.kind == "contacts":
                    parsed.append(_contact_row(row, self.mapping))
                else:
                    parsed.append(_purchase_row(row, self.mapping, bool(self.options.get("toman"))))
            except RowError as error:
                counts.reject(row, self._reason(row.line, error.reason, error.column))
        unique = self._first_of_each(parsed, counts)
        if self.kind == "contacts":
            self._store_contacts(unique, counts)
        else:
            self._store_purchases(unique, counts)
        for row, reason in sorted(counts.rejected, key=lambda item: item[0].line):
            self.rejected.write(self._aligned(row.cells), reason)
        rejected_bytes = self.rejected.size()
        last_line = chunk[-1].line
        self.seen.add([(key, row.line) for key, row in self._keys(unique)])
        job.rows += len(chunk)
        job.created += counts.created
        job.updated += counts.updated
        job.duplicates += counts.duplicates
        job.invalid += counts.invalid
        job.options = {
            **job.options,
            "resume": {
                "records": self.records,
                "line": last_line,
                "rejected_bytes": rejected_bytes,
                "at": utcnow().isoformat(),
            },
        }
        db.session.commit()

    def _keys(self, rows) -> Iterator[tuple[str, ContactRow | PurchaseRow]]:
        for row in rows:
            key = row.mobile if self.kind == "contacts" else row.reference
            if key:
                yield key, row

    def _first_of_each(self, rows, counts: Counts) -> list:
        """Rows whose number (or reference) has not come earlier in the file."""
        earlier = self.seen.lines([key for key, _row in self._keys(rows)])
        unique = []
        for row in rows:
            key = row.mobile if self.kind == "contacts" else row.reference
            if key and key in earlier:
                if self.kind == "contacts":
                    reason = _("Same number as line %(line)s.", line=show_digits(str(earlier[key])))
                else:
                    reason = _(
                        "Same reference as line %(line)s.", line=show_digits(str(earlier[key]))
                    )
                counts.reject(row, self._reason(row.line, reason), duplicate=True)
                continue
            if key:
                earlier[key] = row.line
            unique.append(row)
        return unique

    # Storing

    def _rejecter(self, counts: Counts):
        """The ``rejected`` callback of the store functions: a reason in the rejects file."""

        def rejected(row, reason: str, duplicate: bool = False) -> None:
            counts.reject(row, self._reason(row.line, reason), duplicate=duplicate)

        return rejected

    def _store_contacts(self, rows: list[ContactRow], counts: Counts) -> None:
        stored = store_contacts(
            rows,
            on_duplicate=self.options.get("on_duplicate") or "skip",
            list_id=self.options.get("list_id"),
            source="import",
            opt_out_text=self.filename,
            rejected=self._rejecter(counts),
        )
        counts.created += stored.created
        counts.updated += stored.updated

    def _store_purchases(self, rows: list[PurchaseRow], counts: Counts) -> None:
        stored = store_purchases(
            rows,
            create_contacts=bool(self.options.get("create_contacts")),
            rejected=self._rejecter(counts),
        )
        counts.created += stored.created
        # Recorded by someone else between our check and our insert: still a duplicate.
        counts.duplicates += stored.late_duplicates


_CONTACTS = Contact.__table__
_CONTACT_COLUMNS = (
    Contact.mobile,
    Contact.first_name,
    Contact.last_name,
    Contact.gender,
    Contact.birth_date,
    Contact.birth_jmonth,
    Contact.birth_jday,
    Contact.anniversary,
    Contact.anniversary_jmonth,
    Contact.anniversary_jday,
    Contact.city,
    Contact.fields,
)
# Every column of a new contact, so one bulk insert takes them all at once.
_NEW_CONTACT = {
    "first_name": "",
    "last_name": "",
    "gender": None,
    "birth_date": None,
    "birth_jmonth": None,
    "birth_jday": None,
    "anniversary": None,
    "anniversary_jmonth": None,
    "anniversary_jday": None,
    "city": "",
    "source": "import",
    "purchase_count": 0,
    "total_spent": 0,
}

# Storing: the one way rows become contacts and purchases (the API stores through here)


def _no_reject(row, reason: str, duplicate: bool = False) -> None:
    """The default ``rejected`` callback: the caller reads ``results`` instead."""


@dataclass
class Stored:
    """What a store function did: counts, and per row (in order) its result and contact."""

    created: int = 0
    updated: int = 0
    # Duplicates found only by record_purchases (recorded between our check and insert).
    late_duplicates: int = 0
    results: list[str] = field(default_factory=list)
    contact_ids: list[int | None] = field(default_factory=list)


def store_contacts(
    rows: list[ContactRow],
    *,
    on_duplicate: str,
    list_id: int | None = None,
    source: str = "import",
    opt_out_text: str = "",
    rejected=_no_reject,
) -> Stored:
    """Create or update contacts, each number once in ``rows``; the caller commits.

    A number already stored is updated (``on_duplicate="update"``: the row's non-empty
    values over the stored ones, its own fields merged in) or left as it was ("skip",
    reported to ``rejected`` as a duplicate). Everyone in ``rows`` goes into the list
    ``list_id``; tags are added; ``opt_out`` rows are opted out (never back in).
    Each row's result is "created", "updated" or "skipped".
    """
    stored = Stored()
    if not rows:
        return stored
    update_existing = on_duplicate == "update"
    columns = _CONTACT_COLUMNS
    existing = {
        found.mobile: found
        for found in db.session.execute(
            select(Contact.id, *columns).where(Contact.mobile.in_([r.mobile for r in rows]))
        )
    }
    now = utcnow()
    new, changed, applied = [], [], []
    for row in rows:
        found = existing.get(row.mobile)
        if found is None:
            new.append(
                {
                    **_NEW_CONTACT,
                    **row.values,
                    "mobile": row.mobile,
                    "fields": row.fields,
                    "source": source,
                    "created_at": now,
                }
            )
            applied.append(row)
            stored.created += 1
            stored.results.append("created")
        elif update_existing:
            values = {"contact_id": found.id}
            for name in columns[1:]:
                values[name.key] = row.values.get(name.key, getattr(found, name.key))
            values["fields"] = {**(found.fields or {}), **row.fields}
            changed.append(values)
            applied.append(row)
            stored.updated += 1
            stored.results.append("updated")
        else:
            rejected(row, _("Already in your contacts; left as it was."), duplicate=True)
            stored.results.append("skipped")
    if new:
        # Core statements: one executemany each (the ORM's bulk insert splits rows
        # whose None values differ into separate statements).
        db.session.execute(insert(_CONTACTS), new)
    if changed:
        db.session.execute(
            update(_CONTACTS)
            .where(_CONTACTS.c.id == bindparam("contact_id"))
            .values({name: bindparam(name) for name in changed[0] if name != "contact_id"}),
            changed,
        )
    ids = {mobile: found.id for mobile, found in existing.items()}
    if new:
        ids.update(
            db.session.execute(
                select(Contact.mobile, Contact.id).where(
                    Contact.mobile.in_([row["mobile"] for row in new])
                )
            ).all()
        )
    stored.contact_ids = [ids[row.mobile] for row in rows]
    if list_id:
        # Everyone in the rows is in the list, also those left as they were.
        service.add_to_list(list_id, stored.contact_ids)
    by_tag: dict[str, list[int]] = {}
    for row in applied:
        for tag in row.tags:
            by_tag.setdefault(tag, []).append(ids[row.mobile])
    if by_tag:
        tags = service.find_or_create_tags(list(by_tag))
        for tag, name in zip(tags, by_tag, strict=True):
            service.tag_contacts(by_tag[name], [tag.id])
    for row in applied:
        if row.opt_out:
            service.set_opt_out(row.mobile, True, source, text=opt_out_text, now=now)
    return stored


def store_purchases(
    rows: list[PurchaseRow],
    *,
    create_contacts: bool = False,
    source: str = "import",
    rejected=_no_reject,
) -> Stored:
    """Record purchases and bring their contacts' totals up to date; the caller commits.

    A number no contact has is rejected, or becomes a new contact with
    ``create_contacts``. A reference already recorded, or earlier in ``rows``, is a
    duplicate: reported to ``rejected`` and counted once. Each row's result is
    "created", "duplicate" or "rejected".
    """
    stored = Stored()
    if not rows:
        return stored
    mobiles = list(dict.fromkeys(row.mobile for row in rows))
    ids = dict(
        db.session.execute(
            select(Contact.mobile, Contact.id).where(Contact.mobile.in_(mobiles))
        ).all()
    )
    missing = [mobile for mobile in mobiles if mobile not in ids]
    if missing and create_contacts:
        now = utcnow()
        db.session.execute(
            insert(_CONTACTS),
            [
                {**_NEW_CONTACT, "mobile": m, "fields": {}, "source": source, "created_at": now}
                for m in missing
            ],
        )
        ids.update(
            db.session.execute(
                select(Contact.mobile, Contact.id).where(Contact.mobile.in_(missing))
            ).all()
        )
    references = [row.reference for row in rows if row.reference]
    recorded = (
        set(
            db.session.scalars(select(Purchase.reference).where(Purchase.reference.in_(references)))
        )
        if references
        else set()
    )
    purchases = []
    for row in rows:
        stored.contact_ids.append(ids.get(row.mobile))
        if row.mobile not in ids:
            reason = _(
                "No contact has this number. Choose “add them as new contacts” to import it."
            )
            rejected(row, reason)
            stored.results.append("rejected")
        elif row.reference and row.reference in recorded:
            reason = _("This purchase is already recorded (same reference).")
            rejected(row, reason, duplicate=True)
            stored.results.append("duplicate")
        else:
            if row.reference:
                recorded.add(row.reference)
            purchases.append(
                service.PurchaseInput(ids[row.mobile], row.purchased_at, row.amount, row.reference)
            )
            stored.results.append("created")
    stored.created, stored.late_duplicates = service.record_purchases(purchases)
    return stored


# The run this process has open, between a worker's slices.
_current: ImportRun | None = None
_current_lock = threading.Lock()


def _chunk_rows() -> int:
    return current_app.config.get("VAFA_IMPORT_CHUNK", CHUNK_ROWS)


def _release_stale() -> None:
    """Put back jobs whose worker died mid-slice (no chunk committed for a long while)."""
    timeout = timedelta(seconds=current_app.config.get("VAFA_CLAIM_TIMEOUT", 300))
    for job in db.session.scalars(select(ImportJob).where(ImportJob.status == "running")):
        at = (job.options.get("resume") or {}).get("at")
        if at and datetime.fromisoformat(at) < utcnow() - timeout:
            log.warning("import %s: no progress since %s; putting it back", job.id, at)
            db.session.execute(
                update(ImportJob)
                .where(ImportJob.id == job.id, ImportJob.status == "running")
                .values(status="pending")
            )
    db.session.commit()


def _claim() -> ImportJob | None:
    """Take the oldest waiting job for one slice; None when there is none (or another took it)."""
    job = db.session.scalar(
        select(ImportJob).where(ImportJob.status == "pending").order_by(ImportJob.id).limit(1)
    )
    if job is None:
        return None
    options = {
        **job.options,
        "resume": {**(job.options.get("resume") or {}), "at": utcnow().isoformat()},
    }
    claimed = db.session.execute(
        update(ImportJob)
        .where(ImportJob.id == job.id, ImportJob.status == "pending")
        .values(status="running", options=options)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if claimed != 1:
        return None
    db.session.refresh(job)
    return job


def run_imports(max_seconds: float | None = SLICE_SECONDS, max_chunks: int | None = None) -> int:
    """Worker job: give the oldest waiting import one slice; return the rows it imported.

    The worker runs again at once while this returns more than nothing, so an import
    goes on slice after slice, with the outbox dispatched between slices.
    """
    _release_stale()
    job = _claim()
    if job is None:
        return 0
    return _run_slice(job, max_seconds, max_chunks)


def _run_slice(job: ImportJob, max_seconds: float | None, max_chunks: int | None) -> int:
    global _current
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    with _current_lock, force_locale(job.options.get("locale") or "fa"):
        try:
            if _current is not None and not _current.matches(job):
                _current.close()
                _current = None
            if _current is None:
                _current = ImportRun(job)
            run = _current
            if job.total_rows is None:
                job.total_rows = max(
                    run.sheet.count_rows() - (1 if job.options.get("header") else 0), 0
                )
                db.session.commit()
            done, finished = run.work(job, deadline, max_chunks, _chunk_rows())
            if finished:
                _finish(job, run)
                _current = None
            elif job.status == "running" and max_seconds is not None:
                job.status = "pending"  # the next slice may be taken by any worker
                db.session.commit()
            return max(done, 1)
        except Exception as error:
            db.session.rollback()
            log.exception("import %s failed", job.id)
            if _current is not None:
                _current.close()
                _current = None
            job = db.session.get(ImportJob, job.id)
            job.status = "failed"
            job.error = (
                str(error.reason)
                if isinstance(error, UnreadableFile)
                else _("The import stopped: %(error)s", error=str(error)[:300])
            )
            job.finished_at = utcnow()
            db.session.commit()
            return 1


def close_open_import() -> None:
    """Close the file of an import this process had open (a worker that stops calls it).

    Its job resumes from its last committed chunk in whichever worker takes it next.
    """
    global _current
    with _current_lock:
        if _current is not None:
            _current.close()
            _current = None


def _finish(job: ImportJob, run: ImportRun) -> None:
    run.close()
    job.status = "done"
    job.total_rows = job.rows
    job.finished_at = utcnow()
    if job.duplicates + job.invalid == 0:
        rejected_path(job).unlink(missing_ok=True)
    db.session.commit()
    # The rows are in; the rejected ones are in their own file.
    for path in (upload_path(job), _seen_path(job)):
        path.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{_seen_path(job)}{suffix}").unlink(missing_ok=True)


def run_to_end(job: ImportJob) -> ImportJob:
    """Import a started job here and now, in this process (the command line, the bench)."""
    job.status = "running"
    job.options = {**job.options, "resume": {"at": utcnow().isoformat()}}
    db.session.commit()
    _run_slice(job, None, None)
    db.session.refresh(job)
    return job


def import_file(
    path: Path | str,
    kind: str = "contacts",
    *,
    mapping: list[str] | None = None,
    header: bool | None = None,
    on_duplicate: str = "skip",
    list_id: int | None = None,
    toman: bool | None = None,
    create_contacts: bool = False,
    locale: str = "fa",
    user_id: int | None = None,
) -> ImportJob:
    """Import a file synchronously with the same importer; the mapping is guessed unless given.

    ``mapping`` names each column's field in order ("full_name", "mobile", "ignore",
    "custom" or "custom:Name"). Raises UnreadableFile or MappingError.
    """
    path = Path(path)
    job = save_upload(path, path.name, kind, user_id)
    chosen = (
        {i: name for i, name in enumerate(mapping)}
        if mapping is not None
        else {int(i): name for i, name in job.mapping.items()}
    )
    try:
        start_import(
            job,
            chosen,
            job.options["header"] if header is None else header,
            on_duplicate=on_duplicate,
            list_id=list_id,
            toman=job.options.get("toman", False) if toman is None else toman,
            create_contacts=create_contacts,
            locale=locale,
            status="running",
        )
    except MappingError:
        discard_import(job)
        db.session.commit()
        raise
    return run_to_end(job)


def recent_imports(limit: int = 10) -> list[ImportJob]:
    return db.session.scalars(select(ImportJob).order_by(ImportJob.id.desc()).limit(limit)).all()


def rejected_preview(job: ImportJob, limit: int = 50) -> tuple[list[str], list[list[str]]]:
    """The header and first rows of the rejected-rows file, for the result page."""
    path = rejected_path(job)
    if not path.exists():
        return [], []
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        return header, list(itertools.islice(reader, limit))
