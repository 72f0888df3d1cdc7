"""Coupon codes: made for each recipient of a text with {کد تخفیف}, redeemed once.

A code is an optional prefix the owner chooses and a random part drawn with ``secrets``
from an alphabet people read back without mistakes: no 0/O, 1/I/L
(``23456789ABCDEFGHJKMNPQRSTUVWXYZ``, 31 symbols: 8 of them are 31⁸ ≈ 850 billion
codes). Codes are unique across the shop: a unique index, and codes already taken are
drawn again before a campaign's chunk is written (a code another process takes in the
same instant makes the chunk be written again with fresh codes; never an error).

Redemption is one conditional UPDATE (``WHERE redeemed_at IS NULL``): of two people
redeeming one code at the same moment the database lets exactly one change the row;
the other learns when it was used. The caller commits.
"""

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update

from app.contacts.models import Contact
from app.coupons.models import CODE_MAX, Coupon
from app.exports import csv_chunks, xlsx_file
from app.extensions import db
from app.messaging.models import Campaign
from app.persian import ascii_digits, jalali_datetime, national_mobile, show_datetime
from app.sending.models import HANDED_OVER, Message
from app.sending.service import driver_lists, driver_mark
from app.types import utcnow

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH_DEFAULT, LENGTH_MIN, LENGTH_MAX = 8, 6, 12
PREFIX_MAX = 8
PREFIX_PATTERN = re.compile(r"[A-Z0-9]*")
# A byte below 248 (8 × 31) picks a symbol uniformly; larger bytes are drawn again.
_BYTE_TO_SYMBOL = ALPHABET * 8
_CODE = re.compile(r"[A-Z0-9]+")
_TYPED_SEPARATORS = re.compile(r"[\s\u200c\u200f\u200e_-]+")
EXPORT_CHUNK = 5000


def typed_prefix(typed: str | None) -> str:
    """A code prefix as the owner typed it (any case, Persian digits), made canonical."""
    return ascii_digits(typed or "").strip().upper()


def prefix_fits(prefix: str) -> bool:
    """Is a (canonical) prefix one a code may start with?"""
    return len(prefix) <= PREFIX_MAX and PREFIX_PATTERN.fullmatch(prefix) is not None


def typed_length(typed: str | None) -> int | None:
    """The random part's length as typed (Persian digits too), or None unless it is a
    whole number from LENGTH_MIN to LENGTH_MAX."""
    text = ascii_digits(typed or "").strip()
    if text.isascii() and text.isdigit() and LENGTH_MIN <= int(text) <= LENGTH_MAX:
        return int(text)
    return None


@dataclass(frozen=True)
class CouponSettings:
    """How a campaign's codes look: ``prefix`` then ``length`` random symbols."""

    prefix: str = ""
    length: int = LENGTH_DEFAULT

    @classmethod
    def of(cls, campaign: Campaign) -> "CouponSettings":
        """A campaign's settings; unset ones are the defaults."""
        return cls(campaign.coupon_prefix or "", campaign.coupon_length or LENGTH_DEFAULT)

    @property
    def width(self) -> int:
        return len(self.prefix) + self.length

    def sample(self) -> str:
        """A code as a recipient gets one (not stored): for previews and part counts."""
        return random_codes(self, 1)[0]


def random_codes(settings: CouponSettings, count: int) -> list[str]:
    """``count`` distinct codes, drawn with ``secrets`` (one call for all of them)."""
    codes: dict[str, None] = {}
    while len(codes) < count:
        needed = (count - len(codes)) * settings.length
        symbols: list[str] = []
        while len(symbols) < needed:
            # About 3% of bytes are refused; ask for a few more than needed.
            raw = secrets.token_bytes(needed - len(symbols) + 16)
            symbols += [_BYTE_TO_SYMBOL[byte] for byte in raw if byte < 248]
        for start in range(0, needed, settings.length):
            codes[settings.prefix + "".join(symbols[start : start + settings.length])] = None
    return list(codes)[:count]


def fresh_codes(connection, settings: CouponSettings, count: int) -> list[str]:
    """``count`` distinct codes no coupon of the shop has yet (taken ones drawn again)."""
    mark = driver_mark(connection)
    chosen: list[str] = []
    while len(chosen) < count:
        kept = set(chosen)
        drawn = [c for c in random_codes(settings, count - len(chosen)) if c not in kept]
        taken: set[str] = set()
        for part in driver_lists(drawn):
            marks = ", ".join([mark] * len(part))
            query = f"SELECT code FROM coupons WHERE code IN ({marks})"
            taken.update(code for (code,) in connection.exec_driver_sql(query, tuple(part)))
        chosen += [code for code in drawn if code not in taken]
    return chosen


def coupon_writer(connection) -> str:
    """The statement that records the codes of a chunk of messages just written, as the
    database driver takes it: (code, campaign, contact, created at, idempotency key,
    body) per message.

    Each code joins the message that carries it, found by its idempotency key and its
    text: a message that was already there (the insert left it as it was: another run
    of the same campaign wrote it) has another code in its text, so it gets no second.
    """
    mark = driver_mark(connection)
    return (
        "INSERT INTO coupons (code, campaign_id, contact_id, created_at, message_id)"
        f" SELECT {mark}, {mark}, {mark}, {mark}, id FROM messages"
        f" WHERE idempotency_key = {mark} AND body = {mark}"
    )


# Redeeming ---------------------------------------------------------------------------


def normalize_code(typed: str | None) -> str | None:
    """A code as stored, from what someone typed or read out: any case, Persian or
    Arabic digits, spaces and dashes anywhere. None when it cannot be a code."""
    code = _TYPED_SEPARATORS.sub("", ascii_digits(typed or "")).upper()
    if not code or len(code) > CODE_MAX or not _CODE.fullmatch(code):
        return None
    return code


@dataclass(frozen=True)
class CouponDetails:
    """A code and the message it went out in, as staff and the API see it."""

    coupon: Coupon
    campaign_name: str | None
    contact_name: str | None
    mobile: str | None
    sent_at: datetime | None

    @property
    def redeemed(self) -> bool:
        return self.coupon.redeemed_at is not None


def find_coupon(code: str) -> CouponDetails | None:
    """The coupon with this (normalised) code, or None."""
    row = db.session.execute(
        select(
            Coupon,
            Campaign.name,
            Contact.first_name,
            Contact.last_name,
            Message.mobile,
            Message.sent_at,
        )
        .outerjoin(Campaign, Campaign.id == Coupon.campaign_id)
        .outerjoin(Contact, Contact.id == Coupon.contact_id)
        .outerjoin(Message, Message.id == Coupon.message_id)
        .where(Coupon.code == code)
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        return None
    coupon, campaign_name, first_name, last_name, mobile, sent_at = row
    name = f"{first_name or ''} {last_name or ''}".strip() if first_name is not None else None
    return CouponDetails(coupon, campaign_name, name, mobile, sent_at)


class CouponRefused(ValueError):
    """Why a code cannot be redeemed; its text is shown as it is."""


class UnknownCoupon(CouponRefused):
    def __init__(self, code: str):
        super().__init__(_("There is no coupon with the code %(code)s.", code=code))


class AlreadyRedeemed(CouponRefused):
    def __init__(self, details: CouponDetails):
        self.details = details
        super().__init__(
            _(
                "This code was already used on %(when)s.",
                when=show_datetime(details.coupon.redeemed_at),
            )
        )


def redeem_coupon(code: str, by: str, note: str | None = None) -> CouponDetails:
    """Mark a code used, once. Raises UnknownCoupon or AlreadyRedeemed.

    The UPDATE changes the row only while ``redeemed_at`` is empty: PostgreSQL makes a
    second simultaneous UPDATE wait for the first and re-check the condition; SQLite lets
    one writer at a time. Either way one redemption wins and the other changes nothing.
    """
    won = db.session.execute(
        update(Coupon)
        .where(Coupon.code == code, Coupon.redeemed_at.is_(None))
        .values(redeemed_at=utcnow(), redeemed_by=by[:200], note=note or None)
        .execution_options(synchronize_session=False)
    ).rowcount
    details = find_coupon(code)
    if details is None:
        raise UnknownCoupon(code)
    if not won:
        raise AlreadyRedeemed(details)
    return details


def redemption_count(campaign_id: int) -> tuple[int, int]:
    """(codes used, codes sent) of a campaign.

    Sent: its message was handed to the provider; a code used is counted as sent
    whatever its message's state says (one whose fate is still being checked, say).
    """
    used, sent = db.session.execute(
        select(
            func.count(Coupon.redeemed_at),
            func.count().filter(
                or_(Message.status.in_(HANDED_OVER), Coupon.redeemed_at.is_not(None))
            ),
        )
        .outerjoin(Message, Message.id == Coupon.message_id)
        .where(Coupon.campaign_id == campaign_id)
    ).one()
    return used, sent


def issued_count(campaign_id: int) -> int:
    """Codes written into a campaign's messages (sent or not)."""
    return db.session.scalar(select(func.count(Coupon.id)).where(Coupon.campaign_id == campaign_id))


def first_code(campaign_id: int) -> str | None:
    """One real code of a campaign (its first), to show what its codes look like."""
    return db.session.scalar(
        select(Coupon.code).where(Coupon.campaign_id == campaign_id).order_by(Coupon.id).limit(1)
    )


# Export ------------------------------------------------------------------------------


def export_header() -> list[str]:
    return [
        _("Code"),
        _("Contact"),
        _("Mobile"),
        _("Sent at"),
        _("Redeemed at"),
        _("Redeemed by"),
        _("Note"),
    ]


def export_rows(campaign_id: int) -> Iterator[list]:
    """A campaign's codes for an export, in the order they were made, read in chunks.

    Dates are Jalali in Tehran time; the mobile is in its national form (0912 …).
    """
    after = 0
    while True:
        rows = db.session.execute(
            select(
                Coupon.id,
                Coupon.code,
                Contact.first_name,
                Contact.last_name,
                Message.mobile,
                Message.sent_at,
                Coupon.redeemed_at,
                Coupon.redeemed_by,
                Coupon.note,
            )
            .outerjoin(Contact, Contact.id == Coupon.contact_id)
            .outerjoin(Message, Message.id == Coupon.message_id)
            .where(Coupon.campaign_id == campaign_id, Coupon.id > after)
            .order_by(Coupon.id)
            .limit(EXPORT_CHUNK)
        ).all()
        for _id, code, first, last, mobile, sent_at, redeemed_at, redeemed_by, note in rows:
            yield [
                code,
                f"{first or ''} {last or ''}".strip(),
                national_mobile(mobile) if mobile else "",
                jalali_datetime(sent_at) if sent_at else "",
                jalali_datetime(redeemed_at) if redeemed_at else "",
                redeemed_by or "",
                note or "",
            ]
        if len(rows) < EXPORT_CHUNK:
            return
        after = rows[-1][0]


def export_csv(campaign_id: int) -> Iterator[str]:
    """A campaign's codes as CSV text chunks (UTF-8 with a BOM, for Excel)."""
    return csv_chunks(export_header(), export_rows(campaign_id))


def export_xlsx(campaign_id: int, rtl: bool = True) -> IO[bytes]:
    """A campaign's codes as an Excel workbook in a temporary file (see app.exports)."""
    return xlsx_file(
        export_header(),
        export_rows(campaign_id),
        sheet=_("Coupon codes"),
        rtl=rtl,
        widths={0: 22, 1: 25, 2: 15, 3: 17, 4: 17, 5: 25, 6: 30},
    )
