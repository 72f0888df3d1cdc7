"""The outbox, the accounts it sends through, and the processes that hold claims.

One row per message, moved through its states by the dispatcher::

    queued → sending (claimed by a worker) → sent (provider accepted, has provider_ref)
           → delivered | failed | undeliverable | blacklisted | expired
    queued → held (its campaign is paused) → queued (resumed) | cancelled
    queued → skipped (opted out, frequency cap) | rejected (the provider refused it)
    sending → queued (its worker stopped or its lease expired before handing it over)
    sending, handed over → unknown (the worker died or the answer was lost after the
                           request left: never re-sent blindly)
    unknown → sent (reconciled by local id) | queued (the provider never took it, or the
              owner chose to retry)

A message in ``sending`` carries its worker's id; ``handed_over_at`` is set, committed,
just before the request that carries it leaves, so after a crash only those messages
may have reached the provider.
"""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    func,
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.crypto import SecretUnreadable, seal, unseal
from app.extensions import db
from app.sending.providers.base import ERROR_MESSAGES, ErrorCode, NotSent, Settings
from app.types import UTCDateTime, utcnow

STATUS_LABELS = {
    "queued": _l("Queued"),
    "held": _l("Paused"),
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
    "cancelled": _l("Cancelled"),
}
STATUSES = tuple(STATUS_LABELS)
# Handed to a provider: the message may cost money and may reach the handset.
HANDED_OVER = ("sent", "delivered", "failed", "undeliverable", "blacklisted", "expired")
FINAL_STATUSES = (*HANDED_OVER[1:], "rejected", "skipped", "cancelled")

# The error code of an ``unknown`` message whose fate no provider lookup can learn: only
# the owner may decide to send it again (app/sending/reconcile.py).
LEFT_TO_OWNER = "unverifiable"

# Error codes a message can carry: the providers' (ErrorCode) and the engine's own.
# The error of a message kept unsent on purpose, so the campaign's effect can be measured
# against those who did not get it (app.reports.effect).
HOLDOUT = "holdout"

ERROR_LABELS = {
    **{str(code): text for code, text in ERROR_MESSAGES.items()},
    "maybe_sent": _l("The provider's answer was lost; the message may have been sent."),
    "no_answer": _l("The provider did not answer for this message."),
    "dispatcher_stopped": _l("Sending stopped midway; the message may have been sent."),
    LEFT_TO_OWNER: _l(
        "The provider cannot tell whether it received this message; only the owner can "
        "decide to send it again."
    ),
    "opted_out": _l("The contact has opted out of marketing messages."),
    "frequency_cap": _l("The contact already received a marketing message recently."),
    HOLDOUT: _l("Deliberately not sent, to measure the campaign's effect (the comparison group)."),
    # A campaign's, not a message's: app.messaging.service.AUDIENCE_UNUSABLE.
    "audience_unusable": _l(
        "A segment of the audience needs its rules fixed before the campaign can go out."
    ),
}


class ProviderAccount(db.Model):
    """The owner's account at an SMS provider, with its sender lines.

    Keys are stored so the worker can use them, and never shown again in full. The key
    and the password are sealed (``app.crypto``): their columns hold ciphertext, and
    ``api_key``/``password`` open it, raising SecretUnreadable when no configured
    encryption key can.
    """

    __tablename__ = "provider_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    sealed_api_key: Mapped[str] = mapped_column("api_key", Text, default="")
    username: Mapped[str] = mapped_column(String(200), default="")
    sealed_password: Mapped[str] = mapped_column("password", Text, default="")
    base_url: Mapped[str | None] = mapped_column(String(500))
    # Sender lines, one per line of text: 3000xxxx, 1000xxxx, …; the first is the default.
    senders: Mapped[str] = mapped_column(Text, default="")
    # Requests per second across every worker (the provider's documented limit).
    requests_per_second: Mapped[float] = mapped_column(Float, default=5.0)
    # Price of one SMS part in Rials, for the cost estimate before a campaign starts.
    price_per_part: Mapped[int] = mapped_column(Integer, default=0)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    # The rate limiter's next free moment for a request (shared by every worker).
    next_request_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Consecutive refused requests, and the last refusal (an ErrorCode and the detail).
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_detail: Mapped[str | None] = mapped_column(Text)
    # Set by the engine when the account refuses for a reason of its own (a bad key, no
    # credit) or keeps refusing; the campaign side pauses the campaigns sending through it.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the owner last tested the connection (None: never).
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The credit in Rials as last read from the provider, and when (the dashboard shows it).
    credit: Mapped[int | None] = mapped_column(BigInteger)
    credit_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def sender_lines(self) -> list[str]:
        return [line.strip() for line in self.senders.splitlines() if line.strip()]

    @property
    def is_test(self) -> bool:
        """The console provider sends nothing and charges nothing."""
        return self.kind == "console"

    @property
    def shown_name(self) -> str:
        """The name the panel shows. The test account a fresh install makes is named
        "console" in the database; the owner reads what it is, in their language."""
        if self.is_test and self.name == "console":
            return str(_l("Test service (sends no messages)"))
        return self.name

    @property
    def api_key(self) -> str:
        return unseal(self.sealed_api_key)

    @api_key.setter
    def api_key(self, value: str) -> None:
        self.sealed_api_key = seal(value)

    @property
    def password(self) -> str:
        return unseal(self.sealed_password)

    @password.setter
    def password(self, value: str) -> None:
        self.sealed_password = seal(value)

    @property
    def has_secret(self) -> bool:
        """Is a key or password stored (readable or not)?"""
        return bool(self.sealed_api_key or self.sealed_password)

    @property
    def secret_unreadable(self) -> bool:
        """A key is stored that no configured encryption key opens."""
        try:
            self.api_key, self.password  # noqa: B018 (opening them is the test)
        except SecretUnreadable:
            return True
        return False

    def settings(self) -> Settings:
        """What an adapter needs; NotSent(SECRET_UNREADABLE) when the key cannot be opened."""
        try:
            api_key, password = self.api_key, self.password
        except SecretUnreadable:
            raise NotSent(ErrorCode.SECRET_UNREADABLE, "stored key cannot be decrypted") from None
        return Settings(
            api_key=api_key,
            sender=(self.sender_lines or [""])[0],
            base_url=self.base_url or None,
            username=self.username,
            password=password,
        )

    def masked_key(self) -> str:
        """The key as the panel shows it: enough to recognise, never enough to use."""
        try:
            secret = self.api_key or self.password
        except SecretUnreadable:
            return str(_l("cannot be decrypted"))
        if not secret:
            return ""
        return ("•" * 6) + secret[-4:] if len(secret) > 8 else "•" * 6


# The way to delivery: the sending engine's hot path, which every message walks.
DELIVERY_WAY = ("queued", "sending", "sent", "delivered")
# The statuses off it: the delivery log finds them through partial indexes of their own
# (ix_messages_status_created_at_id and the campaign's), the few messages that are not on
# the way.
LOG_SPARSE_STATUSES = tuple(status for status in STATUSES if status not in DELIVERY_WAY)


def off_the_way(column: str = "status") -> str:
    """The condition of those partial indexes: ``column`` is not a status on the way.

    Written out, so the log's query can repeat it (SQLite uses a partial index only for a
    query that names its condition), and as inequalities: SQLite checks the condition for
    every row a statement writes, and a list (``IN``, ``NOT IN``) costs it about 4 µs a
    row, on each of the engine's status changes; inequalities cost next to nothing.
    """
    return " AND ".join(f"{column} != '{status}'" for status in DELIVERY_WAY)


class Message(db.Model):
    """One SMS to one person: the delivery log is this table."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    # Deleting a contact keeps its messages: the log holds the number it was sent to.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider_accounts.id"))
    mobile: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    parts: Mapped[int] = mapped_column(SmallInteger)
    sender: Mapped[str] = mapped_column(String(32))
    marketing: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(String(32))
    error_detail: Mapped[str | None] = mapped_column(Text)
    # Unique per send: a materialisation that runs twice inserts each message once.
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    # After a request the provider certainly refused: not before this moment.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The worker (a Process row) that claimed it, while it is ``sending`` or after it
    # became ``unknown``: no foreign key, the lease row goes when the worker does.
    worker_id: Mapped[int | None] = mapped_column(Integer)
    # Committed just before the request carrying it left: it may have reached the provider.
    handed_over_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the status last changed to a final state (delivered, failed, …).
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_messages_status_id", "status", "id"),
        Index("ix_messages_campaign_id_status", "campaign_id", "status"),
        Index("ix_messages_contact_id_created_at", "contact_id", "created_at"),
        Index("ix_messages_provider_id_provider_ref", "provider_id", "provider_ref"),
        # The delivery log (app/reports/service.py) is read newest first, keyset-paged on
        # (created_at, id): each filter has an index that ends in those two columns, so
        # a page is a range read of 51 entries however many messages there are. The
        # number's also serves what (mobile) served before it.
        Index("ix_messages_created_at_id", "created_at", "id"),
        # A status, on its own or in a campaign: only the statuses off the way to
        # delivery, which are few (app/reports/service.py reads the others another way).
        # The way to delivery itself (queued → sending → sent → delivered) is the sending
        # engine's hot path, and never touches these two indexes.
        Index(
            "ix_messages_status_created_at_id",
            "status",
            "created_at",
            "id",
            sqlite_where=text(off_the_way()),
            postgresql_where=text(off_the_way()),
        ),
        Index("ix_messages_campaign_id_created_at_id", "campaign_id", "created_at", "id"),
        Index(
            "ix_messages_campaign_id_status_created_at_id",
            "campaign_id",
            "status",
            "created_at",
            "id",
            sqlite_where=text(off_the_way()),
            postgresql_where=text(off_the_way()),
        ),
        Index("ix_messages_provider_id_created_at_id", "provider_id", "created_at", "id"),
        Index("ix_messages_mobile_created_at_id", "mobile", "created_at", "id"),
        # The daily cap counts today's handed-over marketing SMS (policy.marketing_allowance).
        # Partial: the queued rows (not handed over) stay out of it.
        Index(
            "ix_messages_marketing_handed_over_at",
            "marketing",
            "handed_over_at",
            sqlite_where=text("handed_over_at IS NOT NULL"),
            postgresql_where=text("handed_over_at IS NOT NULL"),
        ),
    )


# The last four digits of the number, for the log's "the one ending in 4567" (as the
# contacts' MOBILE_TAIL); a literal 10, as a database uses an expression index only for
# the same expression.
MESSAGE_MOBILE_TAIL = func.substr(Message.mobile, literal_column("10"))
Index(
    "ix_messages_mobile_tail_created_at_id",
    MESSAGE_MOBILE_TAIL,
    Message.created_at,
    Message.id,
)


class SendingSetting(db.Model):
    """One owner-editable sending rule (window, frequency cap, opt-out line)."""

    __tablename__ = "sending_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Process(db.Model):
    """A running worker or scheduler, alive while it renews its lease.

    Claims belong to a worker's lease: when it expires (the process was killed, its
    machine lost power), the claim's messages that never left go back to the queue.
    """

    __tablename__ = "processes"

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # worker | scheduler
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # Ids are never reused (SQLite would reuse a deleted highest one): a message still
    # marked with a retired lease's id must never match a new lease.
    __table_args__ = {"sqlite_autoincrement": True}


# The scheduler's jobs, as APScheduler's SQLAlchemyJobStore keeps them (app.jobs): each
# job's id, its next run as a POSIX timestamp, and its pickled state (a textual
# reference to the function, its arguments and trigger). Declared here so that the
# migrations make it and the store finds it made; APScheduler owns its rows.
scheduler_jobs = db.Table(
    "scheduler_jobs",
    db.Column("id", db.Unicode(191), primary_key=True),
    db.Column("next_run_time", db.Float(25), index=True),
    db.Column("job_state", db.LargeBinary, nullable=False),
)
