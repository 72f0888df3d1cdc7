"""Message text: placeholders and SMS part counting.

Placeholders are names in braces, ``{نام}`` or ``{first_name}``, or the name of one of
the shop's own contact fields (``{کد اشتراک}``), with an optional fallback for empty
values: ``{نام|مشتری عزیز}``. They are substituted by a
lookup, never evaluated, so a message text cannot run code (the sandbox is the grammar).

Part counting follows GSM 03.38: text entirely in the GSM 7-bit alphabet fits 160
characters in one part and 153 per part beyond (extension characters such as ``{`` and
``€`` take two); anything else — Persian — is UCS-2: 70 in one part, 67 per part beyond,
counted in UTF-16 code units (an emoji takes two). static/compose.js mirrors this.
"""

import math
import re
from collections.abc import Collection
from dataclasses import dataclass

GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = set("^{}\\[~]|€\f")
# The same alphabets as patterns, so a text is checked by the regex engine, not a Python
# loop over its characters (a campaign counts the parts of every recipient's text).
_NOT_GSM = re.compile("[^" + "".join(map(re.escape, sorted(GSM_BASIC | GSM_EXTENSION))) + "]")
_EXTENSION = re.compile("[" + "".join(map(re.escape, sorted(GSM_EXTENSION))) + "]")

# Placeholder name → the contact's attributes it shows (joined by a space). Persian
# names first: they are what the owner types; English ones are for the English UI and
# scripts.
PLACEHOLDERS = {
    "نام": ("first_name",),
    "نام خانوادگی": ("last_name",),
    "نام کامل": ("first_name", "last_name"),
    "first_name": ("first_name",),
    "last_name": ("last_name",),
    "full_name": ("first_name", "last_name"),
    # The recipient's own discount code: made for each message as it is written
    # (app/coupons/service.py), not read from the contact.
    "کد تخفیف": ("coupon",),
    "coupon": ("coupon",),
}
ATTRIBUTES = ("first_name", "last_name")
COUPON = "coupon"

_PLACEHOLDER = re.compile(r"\{([^{}|]+?)(?:\|([^{}]*))?\}")


@dataclass(frozen=True)
class PartCount:
    characters: int
    parts: int
    unicode: bool


def count_parts(text: str) -> PartCount:
    """How many SMS parts ``text`` takes, and how many characters it counts as."""
    if _NOT_GSM.search(text) is None:
        length = len(text) + len(_EXTENSION.findall(text))
        single, multi, is_unicode = 160, 153, False
    else:
        length = len(text.encode("utf-16-le")) // 2
        single, multi, is_unicode = 70, 67, True
    if length == 0:
        parts = 0
    elif length <= single:
        parts = 1
    else:
        parts = math.ceil(length / multi)
    return PartCount(length, parts, is_unicode)


def unknown_placeholders(body: str, own_fields: Collection[str] = ()) -> list[str]:
    """Placeholder names in ``body`` that are neither Vafa's nor one of the shop's own
    contact fields (``own_fields``), in order of appearance."""
    names = (match.group(1).strip() for match in _PLACEHOLDER.finditer(body))
    known = PLACEHOLDERS.keys() | set(own_fields)
    return list(dict.fromkeys(name for name in names if name not in known))


class Template:
    """A message text parsed once, to be filled in for many contacts.

    Each placeholder becomes a slot showing contact values; ``reads`` names each value
    the text needs once (one of ATTRIBUTES or the name of an own field). A campaign reads
    just those values for each recipient, in that order, and fills them in with ``fill``
    — the text is not searched for placeholders again; the rest stays as written.
    """

    def __init__(self, body: str, own_fields: Collection[str] = ()):
        self.reads: list[str] = []
        # The text as a format string with one field per slot; each slot is the indexes
        # of the values it shows (joined by a space) and its fallback.
        self._slots: list[tuple[tuple[int, ...], str]] = []
        pieces, end = [], 0
        for match in _PLACEHOLDER.finditer(body):
            name, fallback = match.group(1).strip(), (match.group(2) or "").strip()
            needs = PLACEHOLDERS.get(name) or ((name,) if name in own_fields else None)
            if needs is None:
                continue  # not a placeholder: stays in the text as written
            pieces += [_literal(body[end : match.start()]), "{}"]
            self._slots.append((tuple(map(self._index, needs)), fallback))
            end = match.end()
        self._format = "".join([*pieces, _literal(body[end:])])

    def _index(self, value: str) -> int:
        if value not in self.reads:
            self.reads.append(value)
        return self.reads.index(value)

    def fill(self, values) -> str:
        """The text with each slot replaced by its values (in the order of ``reads``), or
        its fallback when they are empty."""
        return self._format.format(
            *[
                " ".join([str(values[i] or "") for i in indexes]).strip() or fallback
                for indexes, fallback in self._slots
            ]
        )

    def render(self, contact, coupon: str | None = None) -> str:
        """The text ``contact`` receives (any object with the contact's attributes), with
        ``coupon`` as its discount code."""
        own = getattr(contact, "fields", None) or {}
        return self.fill(
            [
                coupon
                if value == COUPON
                else getattr(contact, value, None)
                if value in ATTRIBUTES
                else own.get(value)
                for value in self.reads
            ]
        )


def _literal(text: str) -> str:
    """``text`` as it stands in a format string."""
    return text.replace("{", "{{").replace("}", "}}")


def render(body: str, contact, own_fields: Collection[str] = (), coupon: str | None = None) -> str:
    """The text one contact receives: each placeholder replaced, or its fallback.

    A name that is neither Vafa's nor one of ``own_fields`` is left as written (the
    compose form refuses such texts; the preview shows them as they are).
    """
    return Template(body, own_fields).render(contact, coupon)
