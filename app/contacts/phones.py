"""Iranian mobile numbers in every form people type, stored in one canonical form.

``+989121234567`` is the stored form. Input may be 0912…, +98912…, 0098912…, 98912…
or 912…, with spaces, dashes, dots or parentheses, in Persian or Arabic-Indic digits.
"""

import re

from flask_babel import lazy_gettext as _l

from app.persian import ascii_digits

# Separators, zero-width characters and bidi controls (marks, embeddings, isolates) that
# text copied from phones, chat apps and RTL pages carries around numbers.
_SEPARATORS = re.compile(r"[\s\-.()\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


class InvalidMobile(ValueError):
    """The text is not an Iranian mobile number; ``reason`` says why, for the owner."""

    def __init__(self, reason):
        super().__init__(str(reason))
        self.reason = reason


def normalize_mobile(text: str | None) -> str:
    """Return the canonical ``+989XXXXXXXXX`` form of an Iranian mobile number."""
    raw = text or ""
    # isdigit() alone accepts any script's digits (९, ０); only ASCII ones are stored.
    if not (raw.isascii() and raw.isdigit()):  # else already bare: an import's usual case
        raw = _SEPARATORS.sub("", ascii_digits(raw))
        if not raw:
            raise InvalidMobile(_l("The mobile number is empty."))
        if raw.startswith("+"):
            raw = "00" + raw[1:]
        if not (raw.isascii() and raw.isdigit()):
            raise InvalidMobile(_l("The mobile number has characters that are not digits."))
    if raw.startswith("0098"):
        national = raw[4:]
    elif raw.startswith("98") and len(raw) == 12:
        national = raw[2:]
    elif raw.startswith("0") and not raw.startswith("00"):
        national = raw[1:]
    elif raw.startswith("00"):
        raise InvalidMobile(_l("Only Iranian mobile numbers (+98) are supported."))
    else:
        national = raw
    if len(national) != 10:
        raise InvalidMobile(_l("A mobile number has 11 digits, like 09121234567."))
    if national[0] != "9":  # ten ASCII digits by now
        raise InvalidMobile(_l("This is not a mobile number (mobile numbers start with 09)."))
    return "+98" + national


def search_digits(text: str) -> str | None:
    """The digits to look for in stored numbers when someone searches by phone.

    People search with any prefix and part of a number; the stored form begins with
    +98, so a leading 0098/98/0 is dropped. Returns None when the text has no digits.
    """
    raw = _SEPARATORS.sub("", ascii_digits(text)).lstrip("+")
    if not raw.isdigit():
        return None
    for prefix in ("0098", "98", "0"):
        if raw.startswith(prefix) and len(raw) > len(prefix) + 2:
            return raw[len(prefix) :]
    return raw
