"""A message text as its recipients get it: placeholders checked and filled, parts counted.

One implementation behind the API's ``POST /api/v1/templates/render``, the compose page's
preview and live counter, and the campaigns' estimate and outbox (which read the values
a text needs with ``columns``). The parsing and the filling are app.messaging.text's;
this module adds what the shop knows: its own fields, its business name, the opt-out
line, and its contacts.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import Boolean, Integer, and_, case, func, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.contacts.models import Contact
from app.contacts.preferences import business_name
from app.contacts.service import own_field_names, own_field_value
from app.coupons.service import CouponSettings
from app.extensions import db
from app.messaging.text import (
    ATTRIBUTES,
    CONSTANT_KINDS,
    COUPON,
    OWN,
    TITLES,
    PlaceholderProblem,
    Template,
    count_parts,
    placeholder_problems,
)
from app.sending.policy import load_policy

# The contact a text is shown for when no contact is named (``render_text``): a slot
# without a fallback shows these values. 1370/06/15 is 6 September 1991.
EXAMPLE_CONTACT = {
    "first_name": "سارا",
    "last_name": "محمدی",
    "city": "تهران",
    "gender": "female",
    "birth_date": date(1991, 9, 6),
    "birth_jmonth": 6,
    "birth_jday": 15,
    "anniversary": date(2015, 4, 21),
}
# {تاریخ تولد} is always ۱۳۷۰/۰۶/۱۵-long; {روز تا تولد} at most ۳۶۵; «آقای», «خانم».
DATE_LENGTH, DAYS_LENGTH, TITLE_LENGTH = 10, 3, 4


class PlaceholderError(ValueError):
    """The text has unknown or malformed placeholders; ``messages`` says each, in words."""

    def __init__(self, problems: list[PlaceholderProblem]):
        self.problems = problems
        self.messages = [describe(problem) for problem in problems]
        super().__init__(" ".join(self.messages))


def describe(problem: PlaceholderProblem) -> str:
    """What is wrong with a placeholder, in the reader's language."""
    if problem.kind == "unknown":
        return _("Unknown placeholder: %(names)s", names=f"{{{problem.text}}}")
    if problem.kind == "unclosed":
        return _(
            "The brace in “%(text)s” is never closed: a placeholder ends with }.",
            text=problem.text,
        )
    if problem.kind == "unopened":
        return _(
            "The closing brace in “%(text)s” has no opening one: a placeholder starts with {.",
            text=problem.text,
        )
    return _("An empty placeholder {}: write a name between the braces, like {نام}.")


def text_problems(body: str, own_fields: Collection[str] | None = None) -> list[str]:
    """Each unknown or malformed placeholder of ``body``, worded; empty when all is well."""
    own = own_field_names() if own_fields is None else own_fields
    return [describe(problem) for problem in placeholder_problems(body, own)]


def message_template(
    body: str, own_fields: Collection[str] | None = None, occasion: str = ""
) -> Template:
    """``body`` parsed with the shop's own fields, business name and ``occasion`` (what
    {مناسبت} shows: app.occasions.service.campaign_occasion)."""
    own = own_field_names() if own_fields is None else own_fields
    return Template(body, own, business=business_name(), occasion=occasion)


def column(value: str):
    """The SQL expression of a value a text reads (``Template.reads``)."""
    if value in ATTRIBUTES:
        return getattr(Contact, value)
    return own_field_value(value.removeprefix(OWN))


@dataclass(frozen=True)
class Rendered:
    """A text as sent, and what the operator counts of it."""

    text: str
    characters: int
    parts: int
    unicode: bool

    @property
    def encoding(self) -> str:
        return "ucs2" if self.unicode else "gsm7"


def counted(text: str) -> Rendered:
    count = count_parts(text)
    return Rendered(text, count.characters, count.parts, count.unicode)


def sent_text(text: str, marketing: bool) -> str:
    """The text as it leaves: marketing texts end with the opt-out line."""
    return load_policy().with_optout(text) if marketing and text.strip() else text


def render_text(
    body: str,
    contact: Contact | None = None,
    marketing: bool = True,
    own_fields: Collection[str] | None = None,
    coupon: str | None = None,
    occasion: str = "",
) -> Rendered:
    """``body`` as ``contact`` would receive it, or as a sample when no contact is named.

    The sample shows each placeholder's fallback where it has one and otherwise an
    example value (EXAMPLE_CONTACT; an own field shows its own name). A marketing text
    ends with the opt-out line, as a campaign sends it. Raises PlaceholderError for
    unknown or malformed placeholders. ``own_fields``: own_field_names(), when the caller
    has it (reading it scans the contacts). ``coupon``: the code {کد تخفیف} shows (by
    default, one made with the default coupon settings); ``occasion``: what {مناسبت}
    shows (empty: its fallback).
    """
    coupon = coupon or CouponSettings().sample()
    own = own_field_names() if own_fields is None else own_fields
    problems = placeholder_problems(body, own)
    if problems:
        raise PlaceholderError(problems)
    template = message_template(body, own, occasion)
    if contact is not None:
        text = template.render(contact, coupon)
    else:
        values = [
            value.removeprefix(OWN)
            if value.startswith(OWN)
            else coupon
            if value == COUPON
            else EXAMPLE_CONTACT[value]
            for value in template.reads
        ]
        text = template.fill_preferring_fallbacks(values)
    return counted(sent_text(text, marketing))


@dataclass(frozen=True)
class Longest:
    """The longest text an audience would receive, and how many are in the audience."""

    rendered: Rendered
    recipients: int
    # Placeholders (as written) without a fallback that show nothing to some recipients.
    empty: tuple[str, ...] = ()


def longest_variant(
    body: str,
    audience,
    marketing: bool = True,
    own_fields: Collection[str] | None = None,
    coupon: str | None = None,
    occasion: str = "",
) -> Longest:
    """The longest text any contact of ``audience`` (a select of contacts) would receive.

    One query reads, for each placeholder, the longest and shortest value across the
    audience and whether any is outside ASCII; the text is then filled with a stand-in
    as long as the longest value (or the fallback, where some values are empty and the
    fallback is longer) and counted — no contact's text is rendered. Lengths are UTF-16
    units, as the operator counts them: the database counts characters, so the few
    values with a character beyond the Basic Multilingual Plane (an emoji, two units)
    are read once more and measured here. A value outside ASCII counts as Persian. Every
    coupon code of a campaign is as long as ``coupon`` (by default, one made with the
    default coupon settings). {مناسبت} shows ``occasion`` (or its fallback) to everyone.
    """
    coupon = coupon or CouponSettings().sample()
    template = message_template(body, own_fields, occasion)
    # What each slot shows, as (kind, values read); constants are the same for everyone.
    measured = list(
        dict.fromkeys(
            (slot.kind, _reads(template, slot))
            for slot in template.slots
            if slot.kind not in (*CONSTANT_KINDS, "coupon")
        )
    )
    # Whether a value outside ASCII matters: not when the text around it (or the opt-out
    # line) is Persian already — then every character is one UTF-16 unit either way.
    around = sent_text(template.fill_slots(["a"] * len(template.slots)), marketing)
    recipients, figures = _measure(audience, measured, width=not count_parts(around).unicode)
    texts, empty = [], []
    for slot, show in zip(template.slots, template.shows, strict=True):
        if slot.kind == "coupon":
            texts.append(coupon + slot.tail)
            continue
        if slot.kind in CONSTANT_KINDS:
            shown = show(())
            texts.append(shown + slot.tail if shown else slot.fallback)
            if not shown and not slot.fallback:
                empty.append(slot.name)
            continue
        reads = _reads(template, slot)
        longest, shortest, wide, astral = figures[measured.index((slot.kind, reads))]
        if astral:
            longest = max(longest, _longest_astral(audience, reads))
        options = [slot.fallback] if shortest == 0 and slot.fallback else []
        if shortest == 0 and not slot.fallback:
            empty.append(slot.name)
        if longest:
            options.append(("ب" if wide else "a") * longest + slot.tail)
        texts.append(max(options, key=lambda text: count_parts(text).characters, default=""))
    text = template.fill_slots(texts)
    return Longest(counted(sent_text(text, marketing)), recipients, tuple(dict.fromkeys(empty)))


def _reads(template: Template, slot) -> tuple[str, ...]:
    """The values a slot shows, by name."""
    return tuple(template.reads[i] for i in slot.indexes)


def _measure(
    audience, measured: list[tuple[str, tuple[str, ...]]], width: bool
) -> tuple[int, list]:
    """How many the audience holds and, for each (kind, reads), the longest and shortest
    value and whether any is outside ASCII (if ``width``: asking costs a reading of
    each value's bytes): one query over the audience."""
    columns = []
    for kind, reads in measured:
        read = [column(value) for value in reads]
        if kind == "text":
            shown = _shown(reads)
            length = func.length(shown)
            wide = case((length < utf8_length(shown), 1), else_=0) if width else literal(1)
            astral = case((has_astral(shown), 1), else_=0)
        else:
            if kind == "jalali":
                present, fixed = read[0].is_not(None), DATE_LENGTH
            elif kind == "title":
                present, fixed = read[0].in_(list(TITLES)), TITLE_LENGTH
            else:  # days
                present, fixed = and_(read[0].is_not(None), read[1].is_not(None)), DAYS_LENGTH
            length, wide, astral = case((present, fixed), else_=0), literal(1), literal(0)
        columns += [func.max(length), func.min(length), func.max(wide), func.max(astral)]
    row = db.session.execute(audience.with_only_columns(func.count(), *columns)).one()
    figures = [
        (row[at] or 0, row[at + 1] or 0, row[at + 2], row[at + 3])
        for at in range(1, len(columns) + 1, 4)
    ]
    return row[0], figures


def _shown(reads: tuple[str, ...]):
    """What a text slot shows of a contact, as SQL: its values joined by a space."""
    read = [column(value) for value in reads]
    shown = func.coalesce(read[0], "")
    for more in read[1:]:
        shown = func.trim(shown + literal(" ") + func.coalesce(more, ""))
    return shown


# How many of the values with a character beyond the BMP the counter measures itself.
ASTRAL_READ_MAX = 10_000


def _longest_astral(audience, reads: tuple[str, ...]) -> int:
    """The longest value (UTF-16 units) of a text slot among those holding a character
    beyond the BMP: few contacts have one (an emoji in a name), so they are read."""
    shown = _shown(reads)
    values = db.session.scalars(
        audience.with_only_columns(shown).where(has_astral(shown)).limit(ASTRAL_READ_MAX)
    )
    return max((len(value.encode("utf-16-le")) // 2 for value in values), default=0)


class has_astral(FunctionElement):
    """Whether a text holds a character beyond the Basic Multilingual Plane (an emoji):
    two UTF-16 units, where the database counts one character."""

    type = Boolean()
    inherit_cache = True


# Every character from U+10000 on, as a bracket range both databases read by code point.
_ASTRAL = f"[{chr(0x10000)}-{chr(0x10FFFF)}]"


@compiles(has_astral)
def _has_astral_sqlite(element, compiler, **kw):
    return f"(({compiler.process(element.clauses, **kw)}) GLOB '*{_ASTRAL}*')"


@compiles(has_astral, "postgresql")
def _has_astral_postgresql(element, compiler, **kw):
    return f"(({compiler.process(element.clauses, **kw)}) ~ '{_ASTRAL}')"


class utf8_length(FunctionElement):
    """A text's length in UTF-8 bytes: more than its characters when it is not ASCII."""

    type = Integer()
    inherit_cache = True


@compiles(utf8_length)
def _utf8_length_sqlite(element, compiler, **kw):
    return f"length(CAST(({compiler.process(element.clauses, **kw)}) AS BLOB))"


@compiles(utf8_length, "postgresql")
def _utf8_length_postgresql(element, compiler, **kw):
    return f"octet_length({compiler.process(element.clauses, **kw)})"
