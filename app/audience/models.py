from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.contacts.models import Contact
from app.extensions import db
from app.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.messaging.models import AudienceEntry


class Segment(db.Model):
    """A saved set of rules («بخش هوشمند»): the contacts that match them, counted live.

    Built-in segments carry a ``key`` (``new``, ``lost``, …) that code and the API can name
    them by; the owner may change their rules (the thresholds) but not delete them.
    """

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str | None] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # {"match": "all" | "any", "rules": [{"field", "op", "value"} | a nested group]}
    rules: Mapped[dict] = mapped_column(JSON, default=dict)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    # The campaigns' audience entries that name the segment (sent to it or kept away
    # from it): a segment a campaign yet to go out names is not deleted.
    campaign_entries: Mapped[list["AudienceEntry"]] = relationship(
        back_populates="segment", passive_deletes=True
    )


class SegmentCount(db.Model):
    """How many contacts a segment had on one Tehran day (recorded once a day)."""

    __tablename__ = "segment_counts"

    segment_id: Mapped[int] = mapped_column(
        ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True
    )
    counted_on: Mapped[date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


# "First purchase in the last 30 days" (the built-in segment ``new``) reads a range of it.
Index("ix_contacts_first_purchase_at", Contact.first_purchase_at)
