"""The customer record: one contact added, changed, opted out or deleted by hand.

The forms check what a person typed (a Jalali date, a mobile number); these functions
check what needs the database (a number another contact has), write, and leave the
commit to the caller, so a refused change leaves nothing behind.
"""

from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, or_, select

from app.contacts.models import Contact, ContactList, OptOutEvent, Purchase
from app.contacts.service import PurchaseInput, find_or_create_tags, record_purchases, set_opt_out
from app.extensions import db
from app.persian import jalali_month_day, normalize_text
from app.types import utcnow

# Where a contact came from.
SOURCE_LABELS = {
    "manual": _l("Added by hand"),
    "import": _l("Imported from a file"),
    "api": _l("Through the API"),
}
# What opted a contact out (or back in).
OPT_OUT_SOURCE_LABELS = {
    "reply": _l("Replied to an SMS"),
    "blacklist": _l("The operator's blacklist"),
    "manual": _l("By hand"),
    "import": _l("From an imported file"),
    "api": _l("Through the API"),
}


@dataclass
class ContactDetails:
    """Everything the contact form edits, already parsed and normalised."""

    mobile: str  # canonical +98…
    first_name: str = ""
    last_name: str = ""
    gender: str | None = None
    birth_date: date | None = None
    anniversary: date | None = None
    city: str = ""
    tags: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    list_ids: list[int] = field(default_factory=list)


class MobileTaken(ValueError):
    """Another contact already has this number."""

    def __init__(self, other: Contact):
        super().__init__(other.mobile)
        self.other = other


def contact_with_mobile(mobile: str) -> Contact | None:
    return db.session.scalar(select(Contact).where(Contact.mobile == mobile))


def _apply(contact: Contact, details: ContactDetails) -> None:
    other = contact_with_mobile(details.mobile)
    if other is not None and other is not contact:
        raise MobileTaken(other)
    contact.mobile = details.mobile
    contact.first_name = normalize_text(details.first_name)[:100]
    contact.last_name = normalize_text(details.last_name)[:100]
    contact.gender = details.gender or None
    contact.birth_date = details.birth_date
    contact.birth_jmonth, contact.birth_jday = (
        jalali_month_day(details.birth_date) if details.birth_date else (None, None)
    )
    contact.anniversary = details.anniversary
    contact.anniversary_jmonth, contact.anniversary_jday = (
        jalali_month_day(details.anniversary) if details.anniversary else (None, None)
    )
    contact.city = normalize_text(details.city)[:100]
    contact.fields = dict(details.fields)
    db.session.add(contact)  # before the tags: finding them flushes
    contact.tags = find_or_create_tags(details.tags)
    contact.lists = (
        list(db.session.scalars(select(ContactList).where(ContactList.id.in_(details.list_ids))))
        if details.list_ids
        else []
    )


def create_contact(details: ContactDetails, source: str = "manual") -> Contact:
    """A new contact; raises MobileTaken when the number is someone else's.

    A number that was opted out before its contact was deleted stays opted out: the
    person asked not to hear from the shop, and deleting their record did not change
    that.
    """
    contact = Contact(source=source, created_at=utcnow())
    _apply(contact, details)
    db.session.flush()
    last = last_opt_out_event(mobile=details.mobile)
    if last is not None and last.opted_out:
        contact.opted_out_at = last.created_at
        last.contact_id = contact.id
    return contact


def update_contact(contact: Contact, details: ContactDetails) -> None:
    """Change a contact's details; raises MobileTaken when the new number is someone else's."""
    _apply(contact, details)
    db.session.flush()


def delete_contacts(ids) -> int:
    """Delete contacts (a list of ids or a SELECT of them); return how many went.

    The database does the rest in the same statement: list and tag memberships and
    purchases go with the contact, while the delivery log keeps its messages (their
    contact_id becomes NULL; each keeps the number it was sent to) and opt-out events
    keep the number that asked to leave.
    """
    result = db.session.execute(
        delete(Contact).where(Contact.id.in_(ids)).execution_options(synchronize_session=False)
    )
    return result.rowcount


def last_opt_out_event(contact: Contact | None = None, mobile: str | None = None):
    """The latest opt-out (or opt back in) of a contact, or of a number whose contact went."""
    stmt = select(OptOutEvent).order_by(OptOutEvent.created_at.desc(), OptOutEvent.id.desc())
    if contact is not None:
        stmt = stmt.where(OptOutEvent.contact_id == contact.id)
    else:
        stmt = stmt.where(OptOutEvent.mobile == mobile, OptOutEvent.contact_id.is_(None))
    return db.session.scalar(stmt.limit(1))


def opt_out_by_hand(contact: Contact, opted_out: bool, note: str = "") -> bool:
    """The owner opts a contact out (or back in); False when nothing changed."""
    return set_opt_out(contact.mobile, opted_out, "manual", normalize_text(note)[:500])


class ReferenceTaken(ValueError):
    """A purchase with this reference is already recorded."""


def add_purchase(contact: Contact, purchased_at: datetime, amount: int, reference: str) -> None:
    """Record one purchase by hand; its contact's totals follow at once."""
    reference = normalize_text(reference) or None
    created, _duplicates = record_purchases(
        [PurchaseInput(contact.id, purchased_at, amount, reference)]
    )
    if not created:
        raise ReferenceTaken(reference)
    db.session.refresh(contact)


def purchases_of(contact: Contact, limit: int = 100) -> list[Purchase]:
    """The contact's latest purchases, newest first."""
    return db.session.scalars(
        select(Purchase)
        .where(Purchase.contact_id == contact.id)
        .order_by(Purchase.purchased_at.desc(), Purchase.id.desc())
        .limit(limit)
    ).all()


def messages_to(
    contact: Contact, before: int | None = None, per_page: int = 20
) -> tuple[list, int | None]:
    """A page of the messages sent to a contact, newest first, and the id to continue from.

    "Sent to them" is both the messages recorded for this contact and those sent to its
    number when it had no record (before it was added, or under a deleted record).
    """
    # Imported here, not at the top: app.sending imports app.contacts (phones), whose
    # package imports its views, which import this module.
    from app.sending.models import Message

    stmt = select(Message).where(
        or_(Message.contact_id == contact.id, Message.mobile == contact.mobile)
    )
    if before:
        stmt = stmt.where(Message.id < before)
    rows = db.session.scalars(stmt.order_by(Message.id.desc()).limit(per_page + 1)).all()
    more = len(rows) > per_page
    rows = rows[:per_page]
    return rows, (rows[-1].id if more else None)


def campaign_names(messages) -> dict[int, str]:
    """The names of the campaigns a page of messages came from, by campaign id."""
    from app.messaging.models import Campaign  # as above: app.messaging imports contacts

    ids = {message.campaign_id for message in messages if message.campaign_id}
    if not ids:
        return {}
    rows = db.session.execute(select(Campaign.id, Campaign.name).where(Campaign.id.in_(ids)))
    return dict(rows.all())


def message_count(contact: Contact) -> int:
    # Imported here, not at the top: app.sending imports app.contacts (phones), whose
    # package imports its views, which import this module.
    from app.sending.models import Message

    return db.session.scalar(
        select(func.count(Message.id)).where(
            or_(Message.contact_id == contact.id, Message.mobile == contact.mobile)
        )
    )
