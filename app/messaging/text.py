"""Message text: placeholders and SMS part counting.

Placeholders are names in braces — every stored field of a contact in Persian or English
(``{نام}`` / ``{first_name}``, ``{شهر}``, ``{تاریخ تولد}``, ``{عنوان}`` for «آقای» /
«خانم», ``{روز تا تولد}``…), the shop's own contact fields by their name
(``{کد اشتراک}``), the business name, today's Jalali date and the message's own coupon
code (``{کد تخفیف}``, app/coupons/) and the campaign's occasion (``{مناسبت}``: the
occurrence an occasion automation sends for, else the first occasion of the day the
campaign is scheduled for; app.occasions.service.campaign_occasion) — with an optional
fallback for empty values: ``{نام|مشتری عزیز}``. They are substituted by a lookup,
never evaluated, so a message text cannot run code (the sandbox is the grammar).

Part counting follows GSM 03.38: text entirely in the GSM 7-bit alphabet fits 160
characters in one part and 153 per part beyond (extension characters such as ``{`` and
``€`` take two); anything else — Persian — is UCS-2: 70 in one part, 67 per part beyond,
counted in UTF-16 code units (an emoji takes two). The panel's counter asks the server
(app/messaging/rendering.py): there is no second implementation to drift.
"""

import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

import jdatetime

from app.persian import gregorian_date, jalali_date, persian_digits, to_tehran
from app.types import utcnow

GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = set("^{}\\[~]|€\f")
# The same alphabets as patterns, so a text is checked by the regex engine, not a Python
# loop over its characters (a campaign counts the parts of every recipient's text).
_NOT_GSM = re.compile("[^" + "".join(map(re.escape, sorted(GSM_BASIC | GSM_EXTENSION))) + "]")
_EXTENSION = re.compile("[" + "".join(map(re.escape, sorted(GSM_EXTENSION))) + "]")

# The contact's columns a text may read (any other name it reads is an own field).
ATTRIBUTES = (
    "first_name",
    "last_name",
    "city",
    "gender",
    "birth_date",
    "anniversary",
    "birth_jmonth",
    "birth_jday",
)
# An own field's value is read as this prefix and its name: an own field may be called
# "city" or "gender" without being taken for the column.
OWN = "own:"


@dataclass(frozen=True)
class Placeholder:
    """What a placeholder shows (``kind``) and the contact values it reads.

    Kinds: "text" (the values joined by a space), "jalali" (a date as ۱۳۷۰/۰۶/۱۵),
    "title" («آقای» / «خانم» by gender), "days" (days until the next birthday), "coupon"
    (the message's own discount code), and the campaign-wide "business" (the business
    name), "today" (today's Jalali date) and "occasion" (the campaign's occasion).
    """

    kind: str
    reads: tuple[str, ...] = ()


_FIRST, _LAST = Placeholder("text", ("first_name",)), Placeholder("text", ("last_name",))
_FULL, _CITY = Placeholder("text", ("first_name", "last_name")), Placeholder("text", ("city",))
_BIRTH, _ANNIVERSARY = (
    Placeholder("jalali", ("birth_date",)),
    Placeholder("jalali", ("anniversary",)),
)
_TITLE, _DAYS = (
    Placeholder("title", ("gender",)),
    Placeholder("days", ("birth_jmonth", "birth_jday")),
)
_BUSINESS, _TODAY = Placeholder("business"), Placeholder("today")
_OCCASION = Placeholder("occasion")
# Slots that show the same text to every recipient of a campaign.
CONSTANT_KINDS = ("business", "today", "occasion")
# The coupon code is read like a value (COUPON), but from the message, not the contact.
COUPON = "coupon"
_COUPON = Placeholder("coupon", (COUPON,))

# Placeholder name → what it shows. Persian names first: they are what the owner types;
# English ones are for the English UI and scripts.
PLACEHOLDERS = {
    "نام": _FIRST,
    "نام خانوادگی": _LAST,
    "نام کامل": _FULL,
    "عنوان": _TITLE,
    "شهر": _CITY,
    "تاریخ تولد": _BIRTH,
    "روز تا تولد": _DAYS,
    "تاریخ سالگرد": _ANNIVERSARY,
    "نام کسب‌وکار": _BUSINESS,
    "تاریخ امروز": _TODAY,
    "مناسبت": _OCCASION,
    "first_name": _FIRST,
    "last_name": _LAST,
    "full_name": _FULL,
    "title": _TITLE,
    "city": _CITY,
    "birth_date": _BIRTH,
    "days_to_birthday": _DAYS,
    "anniversary": _ANNIVERSARY,
    "business_name": _BUSINESS,
    "today": _TODAY,
    "occasion": _OCCASION,
    # The recipient's own discount code: made for each message as it is written
    # (app/coupons/service.py), not read from the contact.
    "کد تخفیف": _COUPON,
    "coupon": _COUPON,
}
# The salutation by the stored gender (app.contacts.models.GENDERS); unknown: nothing.
TITLES = {"male": "آقای", "female": "خانم"}

_PLACEHOLDER = re.compile(r"\{([^{}|]+?)(?:\|([^{}]*))?\}")
# Anything in braces (or a brace alone), for finding what is malformed.
_BRACES = re.compile(r"\{[^{}]*\}|[{}]")


@dataclass(frozen=True)
class PartCount:
    characters: int
    parts: int
    unicode: bool


def count_parts(text: str) -> PartCount:
    """How many SMS parts ``text`` takes, and how many characters it counts as."""
    return PartCount(*_measure(text))


def parts_of(text: str) -> int:
    """``count_parts(text).parts``, for a text of every recipient: without the figure
    object, which costs more to make than the counting (a frozen dataclass)."""
    return _measure(text)[1]


def _measure(text: str) -> tuple[int, int, bool]:
    if _NOT_GSM.search(text) is None:
        return _counted(len(text) + len(_EXTENSION.findall(text)), is_unicode=False)
    return _counted(ucs2_length(text), is_unicode=True)


def ucs2_length(text: str) -> int:
    """``text``'s length as a UCS-2 SMS counts it: in UTF-16 code units (an emoji: two)."""
    return len(text.encode("utf-16-le")) // 2


def ucs2_parts(length: int) -> int:
    """The parts of a UCS-2 text of ``length`` (``ucs2_length``)."""
    return _counted(length, is_unicode=True)[1]


def _counted(length: int, is_unicode: bool) -> tuple[int, int, bool]:
    single, multi = (70, 67) if is_unicode else (160, 153)
    if length == 0:
        parts = 0
    elif length <= single:
        parts = 1
    else:
        parts = math.ceil(length / multi)
    return length, parts, is_unicode


def _known(name: str, own_fields: Collection[str]) -> Placeholder | None:
    """What the placeholder ``name`` shows: Vafa's own names first, then the shop's fields."""
    found = PLACEHOLDERS.get(name)
    if found is None and name in own_fields:
        found = Placeholder("text", (OWN + name,))
    return found


def unknown_placeholders(body: str, own_fields: Collection[str] = ()) -> list[str]:
    """Placeholder names in ``body`` that are neither Vafa's nor one of the shop's own
    contact fields (``own_fields``), in order of appearance."""
    names = (match.group(1).strip() for match in _PLACEHOLDER.finditer(body))
    return list(dict.fromkeys(name for name in names if _known(name, own_fields) is None))


@dataclass(frozen=True)
class PlaceholderProblem:
    """Something in braces that is not a placeholder the text can fill in.

    ``kind``: "unknown" (a name the shop does not have), "unclosed" (``{`` with no
    ``}``), "unopened" (``}`` with no ``{``) or "empty" (``{}``); ``text`` is the
    piece of the message it is about.
    """

    kind: str
    text: str


def placeholder_problems(body: str, own_fields: Collection[str] = ()) -> list[PlaceholderProblem]:
    """Every unknown or malformed placeholder of ``body``, in order, each once."""
    problems = []
    for match in _BRACES.finditer(body):
        piece = match.group(0)
        if piece == "{":
            after = re.split(r"[{}\n]", body[match.start() + 1 :], maxsplit=1)[0]
            problems.append(PlaceholderProblem("unclosed", "{" + after[:15]))
        elif piece == "}":
            before = re.split(r"[{}\n]", body[: match.start()])[-1]
            problems.append(PlaceholderProblem("unopened", before[-15:] + "}"))
        else:
            name = piece[1:-1].split("|", 1)[0].strip()
            if not name:
                problems.append(PlaceholderProblem("empty", piece))
            elif _known(name, own_fields) is None:
                problems.append(PlaceholderProblem("unknown", name))
    return list(dict.fromkeys(problems))


def jalali_text(day) -> str:
    """۱۳۷۰/۰۶/۱۵: a date as a message shows it (Persian digits); empty for none."""
    if not day:
        return ""
    if isinstance(day, str):  # a value read without its column's type
        day = date.fromisoformat(day)
    return persian_digits(jalali_date(day))


class Birthdays:
    """Days from ``today`` until each (Jalali month, day) of birth, today being 0.

    A birthday on 30 Esfand falls on 29 Esfand in a common year. Each month and day is
    worked out once (there are 366 of them); a campaign asks for every recipient.
    """

    def __init__(self, today: date):
        self.today = today
        self.year = jdatetime.date.fromgregorian(date=today).year
        self._days: dict[tuple[int, int], int] = {}

    def days_until(self, month: int, day: int) -> int:
        key = (month, day)
        if key not in self._days:
            self._days[key] = self._count(month, day)
        return self._days[key]

    def _count(self, month: int, day: int) -> int:
        for year in (self.year, self.year + 1):
            try:
                birthday = gregorian_date(year, month, day)
            except ValueError:
                if (month, day) != (12, 30):
                    raise  # not a day of the Jalali calendar
                birthday = gregorian_date(year, 12, 29)  # 30 Esfand in a common year
            if birthday >= self.today:
                return (birthday - self.today).days
        raise ValueError((month, day))  # not reached: next year's is never before today


@dataclass(frozen=True)
class Slot:
    """One placeholder of a parsed text: what it shows, the indexes (in ``reads``) of the
    values it shows, its fallback, and ``tail``: a space after it that goes with it (a
    slot without a fallback that shows nothing takes the following space along, so
    ``{عنوان} {نام}`` reads «علی», not « علی», when the gender is unknown)."""

    kind: str
    indexes: tuple[int, ...]
    fallback: str
    tail: str
    name: str = ""  # as written: {شهر} → «شهر»


class Template:
    """A message text parsed once, to be filled in for many contacts.

    Each placeholder becomes a slot showing contact values; ``reads`` names each value
    the text needs once (one of ATTRIBUTES, or OWN and an own field's name). A campaign
    reads just those values for each recipient, in that order, and fills them in with
    ``fill`` — the text is not searched for placeholders again; the rest stays as written.

    Filling is a lookup: a slot shows the values it names, turned into text by its kind;
    nothing in the message is evaluated or used to reach an attribute, so ``{{ config }}``
    or ``{0.__class__}`` stay in the text as written (and the forms refuse them).
    ``today``, ``business`` and ``occasion`` are the values of {تاریخ امروز},
    {نام کسب‌وکار} and {مناسبت}.
    """

    def __init__(
        self,
        body: str,
        own_fields: Collection[str] = (),
        *,
        today: date | None = None,
        business: str = "",
        occasion: str = "",
    ):
        self.reads: list[str] = []
        self.slots: list[Slot] = []
        self.today = today or to_tehran(utcnow()).date()
        self.business = business
        self.occasion = occasion
        self._birthdays = Birthdays(self.today)
        # The text as a format string with one field per slot.
        pieces, end = [], 0
        for match in _PLACEHOLDER.finditer(body):
            name, fallback = match.group(1).strip(), (match.group(2) or "").strip()
            found = _known(name, own_fields)
            if found is None:
                continue  # not a placeholder: stays in the text as written
            stop = match.end()
            tail = ""
            if not fallback and body[stop : stop + 1] == " ":
                tail, stop = " ", stop + 1
            pieces += [_literal(body[end : match.start()]), "{}"]
            indexes = tuple(map(self._index, found.reads))
            self.slots.append(Slot(found.kind, indexes, fallback, tail, name))
            end = stop
        self._format = "".join([*pieces, _literal(body[end:])])
        # The text after the last slot (all of it when there is none).
        self.ending = body[end:]
        self.shows = [self._shower(slot) for slot in self.slots]
        # What ``fill`` walks for every recipient, without attribute lookups.
        self._fills = [
            (show, slot.tail, slot.fallback)
            for show, slot in zip(self.shows, self.slots, strict=True)
        ]

    def _index(self, value: str) -> int:
        if value not in self.reads:
            self.reads.append(value)
        return self.reads.index(value)

    def _shower(self, slot: Slot):
        """The function that makes a slot's text from the values (in ``reads`` order)."""
        kind, indexes = slot.kind, slot.indexes
        if kind == "text" and len(indexes) == 1:
            (i,) = indexes
            return lambda values: str(values[i] or "").strip()
        if kind == "text":
            return lambda values: " ".join([str(values[i] or "") for i in indexes]).strip()
        if kind == "jalali":
            return lambda values: jalali_text(values[indexes[0]])
        if kind == "title":
            return lambda values: TITLES.get(values[indexes[0]], "")
        if kind == "coupon":
            return lambda values: values[indexes[0]] or ""
        if kind == "days":
            month, day = indexes
            birthdays = self._birthdays

            def days(values) -> str:
                if not values[month] or not values[day]:
                    return ""
                try:
                    return persian_digits(str(birthdays.days_until(values[month], values[day])))
                except ValueError:  # a month and day no calendar has: shown as unknown
                    return ""

            return days
        if kind == "business":
            shown = self.business.strip()
        elif kind == "occasion":
            shown = self.occasion.strip()
        else:
            shown = jalali_text(self.today)
        return lambda values: shown

    def fill(self, values) -> str:
        """The text with each slot replaced by its values (in the order of ``reads``), or
        its fallback when they show nothing."""
        return self._format.format(*self.slot_texts(values))

    def slot_texts(self, values) -> list[str]:
        """What each slot shows for these values, in ``fill``: the rest of the text is
        ``fill_slots`` with nothing in them."""
        return [
            (shown + tail) if (shown := show(values)) else fallback
            for show, tail, fallback in self._fills
        ]

    def fill_preferring_fallbacks(self, values) -> str:
        """``fill``, but a slot with a fallback shows it whatever the values (a sample)."""
        return self._format.format(
            *[
                slot.fallback or ((shown + slot.tail) if (shown := show(values)) else "")
                for show, slot in zip(self.shows, self.slots, strict=True)
            ]
        )

    def fill_slots(self, texts: Sequence[str]) -> str:
        """The text with each slot showing the given text as it is (a stand-in)."""
        return self._format.format(*texts)

    def render(self, contact, coupon: str | None = None) -> str:
        """The text ``contact`` receives (any object with the contact's attributes), with
        ``coupon`` as its discount code."""
        values = contact_values(contact, self.reads)
        if COUPON in self.reads:
            values[self.reads.index(COUPON)] = coupon
        return self.fill(values)


def contact_values(contact, reads: Sequence[str]) -> list:
    """A contact's values of ``reads``: only those columns and own fields are read."""
    own = (getattr(contact, "fields", None) or {}) if any(r.startswith(OWN) for r in reads) else {}
    return [
        own.get(value.removeprefix(OWN)) if value.startswith(OWN) else getattr(contact, value, None)
        for value in reads
    ]


def _literal(text: str) -> str:
    """``text`` as it stands in a format string."""
    return text.replace("{", "{{").replace("}", "}}")


def render(
    body: str, contact, own_fields: Collection[str] = (), coupon: str | None = None, **context
) -> str:
    """The text one contact receives: each placeholder replaced, or its fallback.

    A name that is neither Vafa's nor one of ``own_fields`` is left as written (the
    compose form refuses such texts; the preview shows them as they are). ``context``:
    ``today``, ``business`` and ``occasion`` (see Template).
    """
    return Template(body, own_fields, **context).render(contact, coupon)
