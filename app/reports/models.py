from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.types import UTCDateTime


class DailyMessages(db.Model):
    """The messages handed to a provider on one Tehran day, counted by account, status and
    error: what the dashboard reads, so its charts cost the same with ten million messages
    as with a hundred (app/reports/dashboard.py keeps it up to date)."""

    __tablename__ = "daily_messages"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("provider_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    # The message's error code ('' for none).
    error: Mapped[str] = mapped_column(String(32), primary_key=True)
    messages: Mapped[int] = mapped_column(Integer)
    parts: Mapped[int] = mapped_column(Integer)


class CountedDay(db.Model):
    """A Tehran day whose messages ``daily_messages`` holds, and when they were counted."""

    __tablename__ = "counted_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime)
