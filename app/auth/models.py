from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, ForeignKey, String, true
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.types import UTCDateTime, utcnow

ROLES = ("owner", "staff")


class User(UserMixin, db.Model):
    """Someone who logs into the panel: the shop's owner or a member of staff."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="owner")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Flask-Login's is_active: a deactivated user can neither log in nor use a session
    # opened before (the user loader returns no one for them).
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


class AuditEntry(db.Model):
    """One owner-level change: who did it, what, to what, when.

    ``actor`` keeps the e-mail as it was, so the trail still reads right after a user's
    address changes; ``user_id`` is empty for changes made from the command line.
    ``detail`` holds names and counts, never a secret (key, token, password).
    """

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    actor: Mapped[str] = mapped_column(String(254), default="")
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
