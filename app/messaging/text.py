"""Message text: placeholders and SMS part counting.

Placeholders are a fixed set of names in braces, ``{نام}`` or ``{first_name}``, with an
optional fallback for empty values: ``{نام|مشتری عزیز}``. They are substituted by a
lookup, never evaluated, so a message text cannot run code (the sandbox is the grammar).

Part counting follows GSM 03.38: text entirely in the GSM 7-bit alphabet fits 160
characters in one part and 153 per part beyond (extension characters such as ``{`` and
``€`` take two); anything else — Persian — is UCS-2: 70 in one part, 67 per part beyond,
counted in UTF-16 code units (an emoji takes two). static/compose.js mirrors this.
"""

import math
import re
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


def unknown_placeholders(body: str) -> list[str]:
    """Placeholder names in ``body`` that Vafa does not know, in order of appearance."""
    names = (match.group(1).strip() for match in _PLACEHOLDER.finditer(body))
    return list(dict.fromkeys(name for name in names if name not in PLACEHOLDERS))


def render(body: str, contact) -> str:
    """The text one contact receives: each placeholder replaced, or its fallback."""

    def substitute(match: re.Match) -> str:
        name, fallback = match.group(1).strip(), match.group(2)
        attribute = PLACEHOLDERS.get(name)
        if attribute is None:
            return match.group(0)
        value = (getattr(contact, attribute, "") or "").strip()
        return value or (fallback or "").strip()

    return _PLACEHOLDER.sub(substitute, body)
