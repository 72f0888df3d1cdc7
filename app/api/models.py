from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.types import UTCDateTime, utcnow


class ApiToken(db.Model):
    """A key a shop's script uses to call the API.

    Only a hash of the secret is kept: it is shown once, when it is made. The prefix
    (``vafa_`` and the secret's first characters) lets the owner tell tokens apart and
    finds the row to compare the hash with.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # sha256 of the whole secret, hex.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_api_tokens_prefix", "prefix"),)

    @property
    def active(self) -> bool:
        return self.revoked_at is None
