"""Guessing what each column of a file holds, and checking the owner's choice."""

import re
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.contacts.importing.reading import Cell, cell_text
from app.contacts.importing.rows import RowError, date_and_time, parse_amount
from app.contacts.phones import InvalidMobile, normalize_mobile
from app.persian import normalize_text

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
        date_and_time(cell)
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
