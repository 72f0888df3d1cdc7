"""Contacts and lists: membership, tags, opt-outs, purchases.

Files are imported by app.contacts.importing, which stores rows through these functions.
"""

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, func, insert, literal, select, text, update

from app.contacts.models import (
    Contact,
    ContactList,
    OptOutEvent,
    Purchase,
    Tag,
    contact_tags,
    list_members,
)
from app.extensions import db
from app.persian import normalize_text, show_number
from app.types import utcnow


def add_to_list(list_id: int, contact_ids: list[int]) -> int:
    """Put contacts in a list (those already in it stay once); return how many were added."""
    if not contact_ids:
        return 0
    members = set(
        db.session.scalars(
            select(list_members.c.contact_id).where(
                list_members.c.list_id == list_id, list_members.c.contact_id.in_(contact_ids)
            )
        )
    )
    new = sorted(set(contact_ids) - members)
    if new:
        # One statement, not one per row: PostgreSQL's member count trigger runs per
        # statement, and thousands of updates of one list's row in a transaction each
        # walk the row's versions before it (migration 0012).
        db.session.execute(
            insert(list_members).from_select(
                ["list_id", "contact_id"],
                select(literal(list_id), Contact.id).where(Contact.id.in_(new)),
            )
        )
    return len(new)


def remove_from_list(list_id: int, contact_ids: list[int]) -> None:
    db.session.execute(
        list_members.delete().where(
            list_members.c.list_id == list_id, list_members.c.contact_id.in_(contact_ids)
        )
    )


def find_or_create_list(name: str) -> ContactList:
    name = normalize_text(name)
    contact_list = db.session.scalar(select(ContactList).where(ContactList.name == name))
    if contact_list is None:
        contact_list = ContactList(name=name)
        db.session.add(contact_list)
        db.session.flush()
    return contact_list


def all_list_names() -> list[tuple[int, str]]:
    """(id, name) of every list, by name: for menus, without counting members."""
    rows = db.session.execute(select(ContactList.id, ContactList.name).order_by(ContactList.name))
    return [tuple(row) for row in rows]


def all_lists() -> list[tuple[ContactList, int]]:
    """Every list with its member count, by name.

    The count is the one the database keeps (ContactList.member_count): counting the
    memberships read a million rows at a million contacts (bench/lists.py).
    """
    return db.session.execute(
        select(ContactList, ContactList.member_count).order_by(ContactList.name)
    ).all()


class NameTaken(ValueError):
    """Another list (or tag) already has this name."""


def create_list(name: str) -> ContactList:
    """A new list under a (normalised) name; NameTaken when a list has it already."""
    name = normalize_text(name)[: ContactList.name.type.length]
    if db.session.scalar(select(ContactList.id).where(ContactList.name == name)) is not None:
        raise NameTaken(name)
    contact_list = ContactList(name=name)
    db.session.add(contact_list)
    db.session.flush()
    return contact_list


def rename(item: ContactList | Tag, name: str) -> None:
    """Give a list or a tag a new (normalised) name; NameTaken when another one has it."""
    model = type(item)
    name = normalize_text(name)[: model.name.type.length]
    other = db.session.scalar(select(model).where(model.name == name, model.id != item.id))
    if other is not None:
        raise NameTaken(name)
    item.name = name
    db.session.flush()


def campaigns_waiting_for(chosen: ContactList | Tag) -> list[str]:
    """Names of the campaigns yet to go out that name a list or tag: deleting it would
    send them to fewer contacts (or, a list they keep away from, to those they meant to
    spare)."""
    campaigns = {entry.campaign.id: entry.campaign for entry in chosen.campaign_entries}
    return [campaign.name for campaign in campaigns.values() if campaign.yet_to_go_out]


def delete_list(list_id: int) -> None:
    """Delete a list; its contacts stay (the database removes the memberships), and
    campaigns that named it keep its name (AudienceEntry.name)."""
    db.session.execute(delete(ContactList).where(ContactList.id == list_id))


def set_opt_out(
    mobile: str, opted_out: bool, source: str, text: str, now: datetime | None = None
) -> bool:
    """Opt a contact out of (or back into) marketing SMS, recording why.

    Returns False when no contact has that number or nothing changed.
    """
    now = now or utcnow()
    contact = db.session.scalar(select(Contact).where(Contact.mobile == mobile))
    if contact is None or (contact.opted_out_at is not None) == opted_out:
        return False
    contact.opted_out_at = now if opted_out else None
    db.session.add(
        OptOutEvent(
            contact_id=contact.id,
            mobile=mobile,
            opted_out=opted_out,
            source=source,
            text=text,
            created_at=now,
        )
    )
    return True


# Tags -------------------------------------------------------------------------------


def find_or_create_tags(names: list[str]) -> list[Tag]:
    """The tags with these names (normalised, without repeats), created where missing."""
    wanted = list(dict.fromkeys(name for name in map(normalize_text, names) if name))
    if not wanted:
        return []
    existing = {t.name: t for t in db.session.scalars(select(Tag).where(Tag.name.in_(wanted)))}
    for name in wanted:
        if name not in existing:
            existing[name] = Tag(name=name[:50])
            db.session.add(existing[name])
    db.session.flush()
    return [existing[name] for name in wanted]


def tag_contacts(contact_ids: list[int], tag_ids: list[int]) -> int:
    """Put tags on contacts (those already tagged stay once); return how many were added."""
    if not contact_ids or not tag_ids:
        return 0
    present = set(
        db.session.execute(
            select(contact_tags.c.contact_id, contact_tags.c.tag_id).where(
                contact_tags.c.contact_id.in_(contact_ids), contact_tags.c.tag_id.in_(tag_ids)
            )
        ).all()
    )
    new = [
        {"contact_id": contact_id, "tag_id": tag_id}
        for contact_id in set(contact_ids)
        for tag_id in set(tag_ids)
        if (contact_id, tag_id) not in present
    ]
    if new:
        db.session.execute(insert(contact_tags), new)
    return len(new)


def all_tag_names() -> list[tuple[int, str]]:
    """(id, name) of every tag, by name: for menus, without counting contacts."""
    return [tuple(row) for row in db.session.execute(select(Tag.id, Tag.name).order_by(Tag.name))]


def all_tags() -> list[tuple[Tag, int]]:
    """Every tag with its number of contacts, by name."""
    return db.session.execute(
        select(Tag, func.count(contact_tags.c.contact_id))
        .outerjoin(contact_tags, contact_tags.c.tag_id == Tag.id)
        .group_by(Tag.id)
        .order_by(Tag.name)
    ).all()


def delete_tag(tag_id: int) -> None:
    """Delete a tag; its contacts stay, untagged (the database removes the memberships)."""
    db.session.execute(delete(Tag).where(Tag.id == tag_id))


# Purchases --------------------------------------------------------------------------


@dataclass(frozen=True)
class PurchaseInput:
    contact_id: int
    purchased_at: datetime
    amount: int  # Rials
    reference: str | None = None


def record_purchases(purchases: list[PurchaseInput]) -> tuple[int, int]:
    """Store purchases and bring their contacts' totals up to date; the caller commits.

    A reference already stored (or repeated in the batch) is a duplicate and counts
    once, so a checkout that posts the same invoice twice does not double the totals.
    Returns (created, duplicates).
    """
    references = [p.reference for p in purchases if p.reference]
    known = (
        set(
            db.session.scalars(select(Purchase.reference).where(Purchase.reference.in_(references)))
        )
        if references
        else set()
    )
    rows, duplicates = [], 0
    for purchase in purchases:
        if purchase.reference and purchase.reference in known:
            duplicates += 1
            continue
        if purchase.reference:
            known.add(purchase.reference)
        rows.append(
            {
                "contact_id": purchase.contact_id,
                "purchased_at": purchase.purchased_at,
                "amount": purchase.amount,
                "reference": purchase.reference,
                "created_at": utcnow(),
            }
        )
    if rows:
        db.session.execute(insert(Purchase), rows)
        refresh_purchase_totals({row["contact_id"] for row in rows})
    return len(rows), duplicates


def refresh_purchase_totals(contact_ids: set[int]) -> None:
    """Recompute first/last purchase, count and total spent from the purchases table.

    Recomputing (rather than adding) keeps the totals right whatever order purchases
    arrive in, and after a purchase is deleted.
    """
    ids = sorted(contact_ids)
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        of_contact = Purchase.contact_id == Contact.id
        db.session.execute(
            update(Contact)
            .where(Contact.id.in_(chunk))
            .values(
                first_purchase_at=select(func.min(Purchase.purchased_at))
                .where(of_contact)
                .scalar_subquery(),
                last_purchase_at=select(func.max(Purchase.purchased_at))
                .where(of_contact)
                .scalar_subquery(),
                purchase_count=select(func.count(Purchase.id)).where(of_contact).scalar_subquery(),
                total_spent=select(func.coalesce(func.sum(Purchase.amount), 0))
                .where(of_contact)
                .scalar_subquery(),
            )
            .execution_options(synchronize_session=False)
        )


def own_field_names() -> list[str]:
    """The names of the shop's own contact fields (imported columns, fields added by hand).

    They live as keys of each contact's JSON ``fields``; reading them scans the contacts,
    so callers ask once per page or form, not per message.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        query = text(
            "SELECT DISTINCT json_object_keys(fields) AS name FROM contacts"
            " WHERE fields::text <> '{}' ORDER BY name"
        )
    else:
        query = text(
            "SELECT DISTINCT field.key AS name FROM contacts, json_each(contacts.fields) AS field"
            " WHERE contacts.fields <> '{}' ORDER BY name"
        )
    return list(db.session.scalars(query))


def own_field_value(name: str):
    """The SQL expression for a contact's value of its own field ``name`` (NULL if none).

    SQLite's json_extract() does not find a key stored \\u-escaped, as Persian names are
    (JSON is written ASCII-only), while json_each() reads keys decoded.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        return Contact.fields[name].as_string()
    field = func.json_each(Contact.fields).table_valued("key", "value")
    return select(field.c.value).where(field.c.key == name).scalar_subquery()


# The shop's own fields: a name is at most this long, a value at most that long. How many
# distinct names the shop may have is the setting VAFA_MAX_OWN_FIELDS: every page that
# offers the fields (compose, a contact's form) lists them all.
OWN_FIELD_NAME_MAX = 50
OWN_FIELD_VALUE_MAX = 500


class OwnFieldError(ValueError):
    """Why a contact's own fields cannot be stored; the message names the limit."""


def check_own_fields(fields: dict[str, str], known: set[str] | None = None) -> None:
    """Refuse fields whose names or values break the limits, or that would take the shop
    past VAFA_MAX_OWN_FIELDS distinct names. ``known`` is own_field_names() when the
    caller already has it (an import checks many rows against one reading)."""
    for name, value in fields.items():
        if not name or len(name) > OWN_FIELD_NAME_MAX:
            raise OwnFieldError(
                _(
                    "A field name has 1 to %(max)s characters: “%(name)s”.",
                    max=show_number(OWN_FIELD_NAME_MAX),
                    name=name[:OWN_FIELD_NAME_MAX] + "…",
                )
            )
        if len(value) > OWN_FIELD_VALUE_MAX:
            raise OwnFieldError(
                _(
                    "The field “%(name)s” has more than %(max)s characters.",
                    name=name,
                    max=show_number(OWN_FIELD_VALUE_MAX),
                )
            )
    if not fields:
        return  # nothing new: no need to read every contact's fields
    limit = current_app.config["VAFA_MAX_OWN_FIELDS"]
    if known is None:
        known = set(own_field_names())
    new = set(fields) - known
    if new and len(known) + len(new) > limit:
        raise OwnFieldError(
            _(
                "A shop can have at most %(max)s fields of its own; there are already"
                " %(count)s, and “%(name)s” would be a new one.",
                max=show_number(limit),
                count=show_number(len(known)),
                name=sorted(new)[0],
            )
        )
