from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.contacts.models import ContactList
from app.extensions import db
from app.types import UTCDateTime, utcnow

# scheduled → preparing (writing its messages) → sending (dispatcher at work) → done
CAMPAIGN_STATUS_LABELS = {
    "scheduled": _l("Scheduled"),
    "preparing": _l("Preparing"),
    "sending": _l("Sending"),
    "done": _l("Sent"),
}


class Campaign(db.Model):
    """One message text sent to an audience, now or at a scheduled moment."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # None means every contact.
    list_id: Mapped[int | None] = mapped_column(ForeignKey("contact_lists.id", ondelete="SET NULL"))
    provider: Mapped[str] = mapped_column(String(32))
    sender: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    contact_list: Mapped[ContactList | None] = relationship()

    __table_args__ = (Index("ix_campaigns_status_scheduled_at", "status", "scheduled_at"),)
