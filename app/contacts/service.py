"""Contacts and lists: import, search, membership."""

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import delete, func, insert, select, update

from app.contacts.models import (
    Contact,
    ContactList,
    OptOutEvent,
    Purchase,
    Tag,
    contact_tags,
    list_members,
)
from app.contacts.phones import InvalidMobile, normalize_mobile
from app.extensions import db
from app.persian import jalali_month_day, normalize_text, parse_jalali_date, show_number
from app.types import utcnow

IMPORT_CHUNK = 1000

# Header cells (normalised, lower case) → field. Files without a recognised header are
# read as: name, mobile, birth date.
HEADERS = {
    "name": "name",
    "full name": "name",
    "نام": "first_name",
    "نام و نام خانوادگی": "name",
    "نام کامل": "name",
    "first name": "first_name",
    "first_name": "first_name",
    "last name": "last_name",
    "last_name": "last_name",
    "نام خانوادگی": "last_name",
    "mobile": "mobile",
    "phone": "mobile",
    "موبایل": "mobile",
    "شماره موبایل": "mobile",
    "شماره همراه": "mobile",
    "تلفن همراه": "mobile",
    "شماره": "mobile",
    "birth date": "birth_date",
    "birthday": "birth_date",
    "birth_date": "birth_date",
    "تاریخ تولد": "birth_date",
    "تولد": "birth_date",
}
POSITIONAL = ("name", "mobile", "birth_date")


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    existing: int = 0
    duplicates: list[tuple[int, str]] = field(default_factory=list)
    invalid: list[tuple[int, str]] = field(default_factory=list)


class UnreadableFile(ValueError):
    """The file as a whole cannot be read; nothing was imported."""


def _columns(header: list[str]) -> dict[str, int] | None:
    """Field → column index, when the first row is a recognised header."""
    found = {}
    for index, cell in enumerate(header):
        key = HEADERS.get(normalize_text(cell).lower())
        if key and key not in found:
            found[key] = index
    if "mobile" not in found:
        return None
    if "first_name" in found and not {"last_name", "name"} & found.keys():
        # A lone «نام» column holds the whole name in most shops' files.
        found["name"] = found.pop("first_name")
    return found


def _parse_row(cells: list[str], columns: dict[str, int]) -> dict:
    """One file row as contact fields; raises ValueError with the reason shown to the owner."""

    def cell(name: str) -> str:
        index = columns.get(name)
        return normalize_text(cells[index]) if index is not None and index < len(cells) else ""

    try:
        mobile = normalize_mobile(cell("mobile"))
    except InvalidMobile as error:
        raise ValueError(str(error.reason)) from None
    first, last = cell("first_name"), cell("last_name")
    if not (first or last):
        first, _sep, last = cell("name").partition(" ")
    birth_text = cell("birth_date")
    birth_date = None
    if birth_text:
        try:
            birth_date = parse_jalali_date(birth_text)
        except ValueError:
            raise ValueError(
                _(
                    "The birth date “%(value)s” is not a valid Jalali date (like 1370/05/12).",
                    value=birth_text,
                )
            ) from None
    row = {
        "mobile": mobile,
        "first_name": first[:100],
        "last_name": last[:100],
        "birth_date": birth_date,
        "birth_jmonth": None,
        "birth_jday": None,
    }
    if birth_date:
        row["birth_jmonth"], row["birth_jday"] = jalali_month_day(birth_date)
    return row


def _csv_reader(data: bytes):
    """A CSV reader over UTF-8 bytes (with or without a BOM)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableFile(
            _("The file is not UTF-8 text. Save it as “CSV UTF-8” and try again.")
        ) from None
    return csv.reader(io.StringIO(text, newline=""))


def import_contacts(data: bytes, list_id: int | None = None) -> ImportResult:
    """Import contacts from CSV bytes; every row is accounted for in the result.

    New numbers are created, numbers already stored are left as they are (and added to
    the list, if one is given), repeated numbers in the file count once. It all happens
    in the caller's transaction, so a failure leaves nothing half-written.
    """
    reader = _csv_reader(data)
    result = ImportResult()
    columns = dict(zip(POSITIONAL, range(len(POSITIONAL)), strict=True))
    seen: dict[str, int] = {}
    pending: list[dict] = []
    first_row = True
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if first_row:
            first_row = False
            header = _columns(cells)
            if header is not None:
                columns = header
                continue
        result.rows += 1
        try:
            row = _parse_row(cells, columns)
        except ValueError as error:
            result.invalid.append((line, str(error)))
            continue
        if row["mobile"] in seen:
            result.duplicates.append(
                (line, _("Same number as line %(line)s.", line=show_number(seen[row["mobile"]])))
            )
            continue
        seen[row["mobile"]] = line
        pending.append(row)
        if len(pending) == IMPORT_CHUNK:
            _store(pending, list_id, result)
            pending = []
    if pending:
        _store(pending, list_id, result)
    return result


def _store(rows: list[dict], list_id: int | None, result: ImportResult) -> None:
    mobiles = [row["mobile"] for row in rows]
    existing = dict(
        db.session.execute(
            select(Contact.mobile, Contact.id).where(Contact.mobile.in_(mobiles))
        ).all()
    )
    new = [row for row in rows if row["mobile"] not in existing]
    if new:
        db.session.execute(insert(Contact), new)
    result.created += len(new)
    result.existing += len(existing)
    if list_id is not None:
        ids = db.session.scalars(select(Contact.id).where(Contact.mobile.in_(mobiles))).all()
        add_to_list(list_id, ids)


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
    new = [{"list_id": list_id, "contact_id": cid} for cid in set(contact_ids) - members]
    if new:
        db.session.execute(insert(list_members), new)
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
    """Every list with its member count, by name."""
    return db.session.execute(
        select(ContactList, func.count(list_members.c.contact_id))
        .outerjoin(list_members, list_members.c.list_id == ContactList.id)
        .group_by(ContactList.id)
        .order_by(ContactList.name)
    ).all()


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


class TagNameTaken(ValueError):
    """Another tag has this name."""


def rename_tag(tag: Tag, name: str) -> None:
    """Give a tag a new (normalised) name; raises TagNameTaken when another tag has it."""
    name = normalize_text(name)[:50]
    other = db.session.scalar(select(Tag).where(Tag.name == name, Tag.id != tag.id))
    if other is not None:
        raise TagNameTaken(name)
    tag.name = name
    db.session.flush()


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
