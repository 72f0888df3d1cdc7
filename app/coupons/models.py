from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.types import UTCDateTime, utcnow

CODE_MAX = 20  # an 8-character prefix and a 12-character random part


class Coupon(db.Model):
    """A discount code written into one message, to be redeemed once at the shop.

    The code is unique across the shop (a unique index: a collision while writing a
    campaign is retried with a fresh code). It belongs to the message that carries it;
    deleting the contact or the campaign keeps the code and whether it was used.
    """

    __tablename__ = "coupons"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(CODE_MAX), unique=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    # One code per message: the one written in its text.
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), unique=True
    )
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set once, by the one redemption that wins (app/coupons/service.py: redeem_coupon).
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who redeemed it: a user's email or "API: <token name>".
    redeemed_by: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        # A campaign's codes, in order (its export), and how many were used (its page).
        Index("ix_coupons_campaign_id_id", "campaign_id", "id"),
        Index("ix_coupons_contact_id", "contact_id"),
    )
