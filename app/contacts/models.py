from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql import literal_column
from sqlalchemy.sql.functions import FunctionElement

from app.extensions import db
from app.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.messaging.models import AudienceEntry

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class folded(FunctionElement):
    """``lower(x)`` that means the same on both databases, for prefix searches on an index.

    SQLite's lower() folds ASCII letters only and compares code point by code point;
    PostgreSQL does the same for text in the "C" collation, whatever the database's
    locale. A prefix is then a range of the index in either database:
    ``prefix <= key < prefix-with-its-last-character-bumped``. Persian has no case; the
    Arabic/Persian letter variants are already unified when names are stored.
    """

    type = String()
    inherit_cache = True


@compiles(folded)
def _folded_sqlite(element, compiler, **kw):
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(folded, "postgresql")
def _folded_postgresql(element, compiler, **kw):
    return f'lower(({compiler.process(element.clauses, **kw)}) COLLATE "C")'


def fold(text: str) -> str:
    """What ``folded()`` makes of a text: ASCII letters in lower case, the rest as it is."""
    return text.translate(_ASCII_LOWER)


list_members = Table(
    "list_members",
    db.metadata,
    Column("list_id", ForeignKey("contact_lists.id", ondelete="CASCADE"), primary_key=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_list_members_contact_id", "contact_id"),
)

contact_tags = Table(
    "contact_tags",
    db.metadata,
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_contact_tags_contact_id", "contact_id"),
)

GENDERS = ("male", "female")


class Contact(db.Model):
    """A customer of the shop, reachable by one canonical mobile number."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    mobile: Mapped[str] = mapped_column(String(16), unique=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    # "male" or "female": for «آقای» / «خانم» in messages; None when unknown.
    gender: Mapped[str | None] = mapped_column(String(8))
    birth_date: Mapped[date | None] = mapped_column(Date)
    # Jalali month and day of birth, so "birthday in the next 7 days" is an index lookup.
    birth_jmonth: Mapped[int | None] = mapped_column(SmallInteger)
    birth_jday: Mapped[int | None] = mapped_column(SmallInteger)
    # Membership or wedding anniversary (the owner names it in the settings).
    anniversary: Mapped[date | None] = mapped_column(Date)
    anniversary_jmonth: Mapped[int | None] = mapped_column(SmallInteger)
    anniversary_jday: Mapped[int | None] = mapped_column(SmallInteger)
    city: Mapped[str] = mapped_column(String(100), default="")
    # The owner's own columns (national id, branch, …), usable in message templates.
    fields: Mapped[dict] = mapped_column(JSON, default=dict)
    # Where the contact came from: import, manual, api.
    source: Mapped[str] = mapped_column(String(16), default="manual")
    # Purchases, kept up to date as they are recorded, for fast segments.
    first_purchase_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_purchase_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    purchase_count: Mapped[int] = mapped_column(Integer, default=0)
    total_spent: Mapped[int] = mapped_column(BigInteger, default=0)  # Rials
    # Set when the contact leaves marketing messages (reply «۱۱», blacklist, by hand).
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lists: Mapped[list["ContactList"]] = relationship(
        secondary=list_members, back_populates="contacts"
    )
    tags: Mapped[list["Tag"]] = relationship(secondary=contact_tags, back_populates="contacts")

    __table_args__ = (
        Index("ix_contacts_birth_jmonth_birth_jday", "birth_jmonth", "birth_jday"),
        Index(
            "ix_contacts_anniversary_jmonth_anniversary_jday",
            "anniversary_jmonth",
            "anniversary_jday",
        ),
        Index("ix_contacts_city", "city"),
        Index("ix_contacts_last_purchase_at", "last_purchase_at"),
        Index("ix_contacts_purchase_count", "purchase_count"),
        Index("ix_contacts_total_spent", "total_spent"),
        Index("ix_contacts_created_at", "created_at"),
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


# The search keys, as expressions the indexes of migration 0006 are built on. Literals,
# not bound parameters: a database uses an expression index only for the same expression.
NAME_KEY = folded(Contact.first_name + literal_column("' '") + Contact.last_name)
LAST_NAME_KEY = folded(Contact.last_name)
# The last four digits of the stored +98 number, for "the one ending in 4567".
MOBILE_TAIL = func.substr(Contact.mobile, literal_column("10"))
MOBILE_TAIL_DIGITS = 4

Index("ix_contacts_name_key", NAME_KEY)
Index("ix_contacts_last_name_key", LAST_NAME_KEY)
Index("ix_contacts_mobile_tail", MOBILE_TAIL)
# Opted-out contacts are few: this index lists them newest first without a sort.
Index(
    "ix_contacts_opted_out",
    Contact.id,
    sqlite_where=Contact.opted_out_at.is_not(None),
    postgresql_where=Contact.opted_out_at.is_not(None),
)


class ContactList(db.Model):
    """A static group of contacts («گروه مخاطبان») that a campaign can be sent to."""

    __tablename__ = "contact_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Kept by the database: triggers on list_members (migration 0012) count every
    # membership that comes or goes, cascades included. The app only reads it.
    member_count: Mapped[int] = mapped_column(Integer, server_default="0")

    contacts: Mapped[list[Contact]] = relationship(secondary=list_members, back_populates="lists")
    # The campaigns' audience entries that name the list (sent to it, or kept away from
    # it); declared here by name, since campaigns (app.messaging) build on contacts and
    # not the other way round.
    campaign_entries: Mapped[list["AudienceEntry"]] = relationship(
        back_populates="contact_list", passive_deletes=True
    )


class Tag(db.Model):
    """A label on contacts («برچسب»): VIP, عمده‌فروش, شعبهٔ ونک, …"""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)

    contacts: Mapped[list[Contact]] = relationship(secondary=contact_tags, back_populates="tags")
    # The campaigns' audience entries that name the tag (as ContactList.campaign_entries).
    campaign_entries: Mapped[list["AudienceEntry"]] = relationship(
        back_populates="tag", passive_deletes=True
    )


class Purchase(db.Model):
    """One purchase of a contact: when, how much (Rials), and the shop's reference."""

    __tablename__ = "purchases"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    purchased_at: Mapped[datetime] = mapped_column(UTCDateTime)
    amount: Mapped[int] = mapped_column(BigInteger)
    # The shop's invoice or order number; unique, so a checkout that posts twice counts once.
    reference: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_purchases_contact_id_purchased_at", "contact_id", "purchased_at"),
        # A day's purchases, for the follow-ups of that day (app.occasions.triggers).
        Index("ix_purchases_purchased_at", "purchased_at"),
    )


class ImportJob(db.Model):
    """A file being imported in the background, its progress and its result.

    The file waits in instance/imports/ until the job is done; the rejected rows are
    written beside it, for the owner to fix and import again.
    """

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # contacts | purchases
    filename: Mapped[str] = mapped_column(String(255))
    stored_as: Mapped[str] = mapped_column(String(255))
    # column index → field name ("custom:<name>" for own fields), as the owner mapped it
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)
    # list_id, on_duplicate ("skip" | "update"), header (the first row holds names)
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(
        String(16), default="pending"
    )  # mapping, running, done, failed
    total_rows: Mapped[int | None] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    invalid: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OptOutEvent(db.Model):
    """A contact leaving (or re-joining) marketing messages, and what caused it."""

    __tablename__ = "opt_out_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    mobile: Mapped[str] = mapped_column(String(16))
    opted_out: Mapped[bool] = mapped_column(Boolean)
    # reply (an SMS «۱۱»/«لغو» or «۱۲»), blacklist (operator report), manual, import, api
    source: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_opt_out_events_contact_id", "contact_id"),)
