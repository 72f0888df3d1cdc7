from datetime import date, datetime

from sqlalchemy import Boolean, Column, Date, ForeignKey, Index, SmallInteger, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.types import UTCDateTime, utcnow

list_members = Table(
    "list_members",
    db.metadata,
    Column("list_id", ForeignKey("contact_lists.id", ondelete="CASCADE"), primary_key=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_list_members_contact_id", "contact_id"),
)


class Contact(db.Model):
    """A customer of the shop, reachable by one canonical mobile number."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    mobile: Mapped[str] = mapped_column(String(16), unique=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    birth_date: Mapped[date | None] = mapped_column(Date)
    # Jalali month and day of birth, so "birthday in the next 7 days" is an index lookup.
    birth_jmonth: Mapped[int | None] = mapped_column(SmallInteger)
    birth_jday: Mapped[int | None] = mapped_column(SmallInteger)
    # Set when the contact leaves marketing messages (reply «۱۱», blacklist, by hand).
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lists: Mapped[list["ContactList"]] = relationship(
        secondary=list_members, back_populates="contacts"
    )

    __table_args__ = (
        Index("ix_contacts_birth_jmonth_birth_jday", "birth_jmonth", "birth_jday"),
        Index("ix_contacts_first_name", "first_name"),
        Index("ix_contacts_last_name", "last_name"),
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class ContactList(db.Model):
    """A static group of contacts («گروه مخاطبان») that a campaign can be sent to."""

    __tablename__ = "contact_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    contacts: Mapped[list[Contact]] = relationship(secondary=list_members, back_populates="lists")


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
