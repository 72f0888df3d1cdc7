"""Validating rows: each cell read as the field it is mapped to, or the reason it cannot be."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock

# Reasons are lazy: the rejected-rows file keeps them untranslated (importing/reasons.py).
from flask_babel import lazy_gettext as _

from app.contacts.importing.reading import Cell, Row, cell_text
from app.contacts.phones import InvalidMobile, normalize_mobile
from app.contacts.service import OWN_FIELD_VALUE_MAX
from app.persian import (
    GREGORIAN_YEARS_FROM,
    TEHRAN,
    ascii_digits,
    gregorian_date,
    jalali_month_day,
    normalize_text,
)


class RowError(ValueError):
    """One cell of one row is wrong; ``column`` is its index, or None for the whole row."""

    def __init__(self, reason: str, column: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.column = column


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


def date_and_time(cell: Cell) -> tuple[date, clock | None]:
    """The day and, when written, the time of a cell: Jalali or Gregorian, text or Excel.

    1370/5/12, ۱۳۷۰-۰۵-۱۲, 1370.05.12, 13700512, 1991-08-03, 2024-04-03 14:30, an
    Excel date cell or an Excel serial number. A year below 1700 is Jalali. Raises
    RowError with the reason shown to the owner.
    """
    if isinstance(cell, datetime):
        return cell.date(), cell.time()
    if isinstance(cell, date):
        return cell, None
    text = cell_text(cell)
    # ASCII needs no folding: the patterns allow any spaces, and only the ends matter.
    text = text.strip() if text.isascii() else ascii_digits(normalize_text(text))
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
        # Both calendars are read here, explicitly: 1370 is Jalali, 1991 Gregorian.
        jalali = year < GREGORIAN_YEARS_FROM
        day_value = gregorian_date(year, month, day) if jalali else date(year, month, day)
    except ValueError:
        raise RowError(
            _("“%(value)s” is not a real date: there is no such day.", value=_shown(cell))
        ) from None
    return day_value, moment


def parse_date(cell: Cell, past: bool = False) -> date:
    """A day from any form people write (see date_and_time); ``past``: not after today."""
    day, _time = date_and_time(cell)
    if past and day > datetime.now(TEHRAN).date():
        raise RowError(_("“%(value)s” is in the future.", value=_shown(cell)))
    return day


def parse_moment(cell: Cell) -> datetime:
    """A purchase's moment: a day, with its time if written, in Tehran; returned in UTC."""
    day, moment = date_and_time(cell)
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
            raise RowError(error.reason) from None
        raise RowError(
            _("“%(value)s”: %(reason)s", value=_shown(cell), reason=error.reason)
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


# A file repeats its names, cities, genders, tags and birthdays: each column remembers
# what its texts (up to this many) were read as, right or wrong.
_REMEMBERED = 1 << 16


def _remembered(parse: Callable[[Cell], object]) -> Callable[[Cell], object]:
    """``parse`` remembering its answer, or its RowError's reason, for each text cell."""
    read = _reader(parse)

    def parsed(cell: Cell):
        value, reason = read(cell)
        if reason is not None:
            raise RowError(reason)
        return value

    return parsed


def _reader(parse: Callable[[Cell], object]) -> Callable[[Cell], tuple[object, str | None]]:
    """``parse`` as (value, None) or (None, the reason it is wrong), remembered per text.

    The steps below look a text up themselves (``known.get``) and call this only for a
    text not seen yet: a call less per cell, for the hundreds of thousands of cells.
    """
    known: dict[str, tuple[object, str | None]] = {}

    def read(cell: Cell) -> tuple[object, str | None]:
        if type(cell) is not str:  # 1, 1.0 and True are equal keys with different meanings
            try:
                return parse(cell), None
            except RowError as error:
                return None, error.reason
        found = known.get(cell)
        if found is None:
            if len(known) >= _REMEMBERED:
                known.clear()
            try:
                found = known[cell] = (parse(cell), None)
            except RowError as error:
                found = known[cell] = (None, error.reason)
        return found

    read.known = known
    return read


def _mobile_step():
    # Numbers are mostly unique: only the reasons of wrong ones are remembered (a file
    # holds thousands of the same landline, and a reason costs two translations).
    wrong: dict[str, str] = {}

    def step(cell: Cell, row: ContactRow) -> None:
        text = type(cell) is str
        if text:
            if cell in wrong:
                raise RowError(wrong[cell])
            try:
                row.mobile = normalize_mobile(cell)
                return
            except InvalidMobile:
                pass  # parse_mobile words the reason
        try:
            row.mobile = parse_mobile(cell)
        except RowError as error:
            if text and len(wrong) < _REMEMBERED:
                wrong[cell] = error.reason
            raise

    return step


def _date_step(name: str, today: date):
    prefix = "birth" if name == "birth_date" else "anniversary"
    month_key, day_key = f"{prefix}_jmonth", f"{prefix}_jday"

    def read(cell: Cell):
        if not cell_text(cell).strip():
            return None
        day = date_and_time(cell)[0]
        if name == "birth_date" and day > today:
            raise RowError(_("“%(value)s” is in the future.", value=_shown(cell)))
        return day, *jalali_month_day(day)

    read = _reader(read)
    known = read.known

    def step(cell: Cell, row: ContactRow) -> None:
        found = known.get(cell) if type(cell) is str else None
        if found is None:
            found = read(cell)
        if found[1] is not None:
            raise RowError(found[1])
        if found[0] is not None:
            row.values[name], row.values[month_key], row.values[day_key] = found[0]

    return step


def _value_step(name: str, parse: Callable[[Cell], object]):
    read = _reader(parse)
    known = read.known

    def step(cell: Cell, row: ContactRow) -> None:
        found = known.get(cell) if type(cell) is str else None
        if found is None:
            found = read(cell)
        if found[1] is not None:
            raise RowError(found[1])
        if found[0]:
            row.values[name] = found[0]

    return step


def _text(limit: int) -> Callable[[Cell], str]:
    return lambda cell: normalize_text(cell_text(cell))[:limit]


def _own_field_value(name: str, cell: Cell) -> str:
    """An own field's value; one too long rejects the row, rather than being cut short."""
    text = normalize_text(cell_text(cell))
    if len(text) > OWN_FIELD_VALUE_MAX:
        raise RowError(
            _(
                "The field “%(name)s” has more than %(max)s characters.",
                name=name,
                max=OWN_FIELD_VALUE_MAX,
            )
        )
    return text


def _split_name(cell: Cell) -> tuple[str, str]:
    first, _sep, last = normalize_text(cell_text(cell)).partition(" ")
    return first[:100], last[:100]


def contact_parser(mapping: dict[int, str]) -> Callable[[Row], ContactRow]:
    """``contact_row`` for many rows: the mapping is read once, and each column's texts once.

    The columns that can be wrong are read first, in the file's order, so a row's reason
    names the first wrong column, as it would reading left to right; the others (names,
    cities, tags) cannot fail and are read only for rows that are right.
    """
    today = datetime.now(TEHRAN).date()
    checked, plain = [], []
    full_name = None
    for index, name in sorted(mapping.items()):
        if name == "mobile":
            checked.append((index, _mobile_step()))
        elif name == "gender":
            checked.append((index, _value_step("gender", parse_gender)))
        elif name in ("birth_date", "anniversary"):
            checked.append((index, _date_step(name, today)))
        elif name == "opted_out":
            yes_no = _reader(parse_yes_no)

            def step(cell: Cell, row: ContactRow, read=yes_no, known=yes_no.known) -> None:
                found = known.get(cell) if type(cell) is str else None
                if found is None:
                    found = read(cell)
                if found[1] is not None:
                    raise RowError(found[1])
                row.opt_out = found[0]

            checked.append((index, step))
        elif name in ("first_name", "last_name", "city"):
            plain.append((index, _value_step(name, _text(100))))
        elif name.startswith("custom:"):
            key = name[7:]
            text = _remembered(lambda cell, key=key: _own_field_value(key, cell))

            def step(cell: Cell, row: ContactRow, key=key, text=text) -> None:
                value = text(cell)
                if value:
                    row.fields[key] = value

            checked.append((index, step))
        elif name == "full_name":
            full_name = (index, _remembered(_split_name))
        elif name == "tags":
            tags = _reader(split_tags)

            def step(cell: Cell, row: ContactRow, read=tags, known=tags.known) -> None:
                found = known.get(cell) if type(cell) is str else None
                # Shared between rows with the same text: not changed.
                row.tags = (found or read(cell))[0]

            plain.append((index, step))

    def parse(row: Row) -> ContactRow:
        cells = row.cells
        width = len(cells)
        parsed = ContactRow(row.line, cells, "", {}, {}, [], False)
        for index, step in checked:
            try:
                step(cells[index] if index < width else "", parsed)
            except RowError as error:
                error.column = index
                raise
        for index, step in plain:
            step(cells[index] if index < width else "", parsed)
        if full_name is not None:
            index, split = full_name
            first, last = split(cells[index] if index < width else "")
            if first:
                parsed.values.setdefault("first_name", first)
            if last:
                parsed.values.setdefault("last_name", last)
        return parsed

    return parse


def contact_row(row: Row, mapping: dict[int, str]) -> ContactRow:
    """One row as a contact; raises RowError naming the first wrong column."""
    return contact_parser(mapping)(row)


def purchase_row(row: Row, mapping: dict[int, str], toman: bool) -> PurchaseRow:
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
