from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, true
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

    # Part of every session and remember cookie (see get_id): raising it ends them all.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    def get_id(self) -> str:
        """ "<id>:<session version>", what Flask-Login keeps in the session and in the
        remember cookie; app.auth.service.load_user refuses an outdated version."""
        return f"{self.id}:{self.session_version}"

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


class LoginThrottle(db.Model):
    """Failed logins counted for one account or one client address (app.auth.throttle).

    Kept in the database so that every web process (gunicorn workers, `vafa run`) sees
    the same counts, and a restart forgets nothing.
    """

    __tablename__ = "login_throttles"

    # "account:<sha256 of the e-mail>" or "address:<ip>".
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
