"""RFM scores: one row per contact who ever bought, brought up to date by each scoring.

The scores are a snapshot (app/audience/rfm.py: ``score_contacts``), not kept up to date
purchase by purchase: a quintile moves when anyone's purchases change, so a single new
purchase could re-score everyone. ``RfmRun`` remembers each scoring, even one that found
no buyer, so the nightly job knows it has already run tonight.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.types import UTCDateTime


class ContactScore(db.Model):
    """A contact's recency, frequency and monetary quintiles (1–5) and their named group."""

    __tablename__ = "contact_scores"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    recency: Mapped[int] = mapped_column(SmallInteger)
    frequency: Mapped[int] = mapped_column(SmallInteger)
    monetary: Mapped[int] = mapped_column(SmallInteger)
    # A key of app.audience.rfm.RFM_GROUPS: champions, loyal, …, hibernating.
    rfm_group: Mapped[str] = mapped_column(String(32))
    # The scoring that gave these scores: since when the contact has held them (a scoring
    # that leaves them as they were leaves the row alone).
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # "Contacts in these groups" (segments, campaign audiences) reads this index.
    __table_args__ = (Index("ix_contact_scores_rfm_group", "rfm_group"),)


class RfmRun(db.Model):
    """One scoring of every contact: when, and how many contacts it scored."""

    __tablename__ = "rfm_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    scored: Mapped[int] = mapped_column(Integer)
