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

# Placeholder name → attribute of the contact. Persian names first: they are what
# the owner types; English ones are for the English UI and scripts.
PLACEHOLDERS = {
    "نام": "first_name",
    "نام خانوادگی": "last_name",
    "نام کامل": "full_name",
    "first_name": "first_name",
    "last_name": "last_name",
    "full_name": "full_name",
}

_PLACEHOLDER = re.compile(r"\{([^{}|]+?)(?:\|([^{}]*))?\}")


@dataclass(frozen=True)
class PartCount:
    characters: int
    parts: int
    unicode: bool


def count_parts(text: str) -> PartCount:
    """How many SMS parts ``text`` takes, and how many characters it counts as."""
    if all(char in GSM_BASIC or char in GSM_EXTENSION for char in text):
        length = sum(2 if char in GSM_EXTENSION else 1 for char in text)
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


def render(body: str, contact, own_fields: Collection[str] = ()) -> str:
    """The text one contact receives: each placeholder replaced, or its fallback.

    A name that is neither Vafa's nor one of ``own_fields`` is left as written (the
    compose form refuses such texts; the preview shows them as they are).
    """

    def substitute(match: re.Match) -> str:
        name, fallback = match.group(1).strip(), match.group(2)
        attribute = PLACEHOLDERS.get(name)
        if attribute is not None:
            value = getattr(contact, attribute, "") or ""
        elif name in own_fields:
            value = (getattr(contact, "fields", None) or {}).get(name, "")
        else:
            return match.group(0)
        return str(value).strip() or (fallback or "").strip()

    return _PLACEHOLDER.sub(substitute, body)
