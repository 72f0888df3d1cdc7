"""The outbox: one row per message, moved through its states by the dispatcher.

queued → sending (claimed) → sent (provider accepted, has provider_ref)
       → delivered | failed | undeliverable | blacklisted | expired
queued → skipped
queued → rejected (the provider refused this message: bad number, …)
sending → unknown (crash or timeout after the request left: never re-sent blindly)
"""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.sending.providers.base import ERROR_MESSAGES
from app.types import UTCDateTime, utcnow

FINAL_STATUSES = (
    "delivered",
    "failed",
    "undeliverable",
    "blacklisted",
    "expired",
    "rejected",
    "skipped",
)
STATUS_LABELS = {
    "queued": _l("Queued"),
    "sending": _l("Sending"),
    "sent": _l("At the operator"),
    "unknown": _l("Unknown"),
    "delivered": _l("Delivered"),
    "failed": _l("Not delivered"),
    "undeliverable": _l("Undeliverable"),
    "blacklisted": _l("Blacklisted"),
    "expired": _l("Expired"),
    "rejected": _l("Rejected by provider"),
    "skipped": _l("Skipped"),
}
# Error codes a message can carry: the providers' (ErrorCode) and the engine's own.
ERROR_LABELS = {
    **{str(code): text for code, text in ERROR_MESSAGES.items()},
    "maybe_sent": _l("The provider's answer was lost; the message may have been sent."),
    "no_answer": _l("The provider did not answer for this message."),
    "dispatcher_stopped": _l("Sending stopped midway; the message may have been sent."),
}
STATUSES = ("queued", "sending", "sent", "unknown", *FINAL_STATUSES)


class Message(db.Model):
    """One SMS to one person: the delivery log is this table."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    # Deleting a contact keeps its messages: the log holds the number it was sent to.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    mobile: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    parts: Mapped[int] = mapped_column(SmallInteger)
    provider: Mapped[str] = mapped_column(String(32))
    sender: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    # Unique per send: a materialisation that runs twice inserts each message once.
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the status last changed to a final state (delivered, failed, …).
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_messages_status_id", "status", "id"),
        Index("ix_messages_campaign_id_status", "campaign_id", "status"),
        Index("ix_messages_contact_id", "contact_id"),
        Index("ix_messages_mobile", "mobile"),
    )
