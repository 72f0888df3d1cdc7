"""Storing: the one way rows become contacts and purchases (the API stores through here)."""

from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import bindparam, insert, select, update

from app.contacts import service
from app.contacts.importing.rows import ContactRow, PurchaseRow
from app.contacts.models import Contact, Purchase
from app.extensions import db
from app.types import utcnow

_CONTACTS = Contact.__table__
_CONTACT_COLUMNS = (
    Contact.mobile,
    Contact.first_name,
    Contact.last_name,
    Contact.gender,
    Contact.birth_date,
    Contact.birth_jmonth,
    Contact.birth_jday,
    Contact.anniversary,
    Contact.anniversary_jmonth,
    Contact.anniversary_jday,
    Contact.city,
    Contact.fields,
)
# Every column of a new contact, so one bulk insert takes them all at once.
_NEW_CONTACT = {
    "first_name": "",
    "last_name": "",
    "gender": None,
    "birth_date": None,
    "birth_jmonth": None,
    "birth_jday": None,
    "anniversary": None,
    "anniversary_jmonth": None,
    "anniversary_jday": None,
    "city": "",
    "source": "import",
    "purchase_count": 0,
    "total_spent": 0,
}


def _no_reject(row, reason: str, duplicate: bool = False) -> None:
    """The default ``rejected`` callback: the caller reads ``results`` instead."""


@dataclass
class Stored:
    """What a store function did: counts, and per row (in order) its result and contact."""

    created: int = 0
    updated: int = 0
    # Duplicates found only by record_purchases (recorded between our check and insert).
    late_duplicates: int = 0
    results: list[str] = field(default_factory=list)
    contact_ids: list[int | None] = field(default_factory=list)


def store_contacts(
    rows: list[ContactRow],
    *,
    on_duplicate: str,
    list_id: int | None = None,
    source: str = "import",
    opt_out_text: str = "",
    rejected=_no_reject,
) -> Stored:
    """Create or update contacts, each number once in ``rows``; the caller commits.

    A number already stored is updated (``on_duplicate="update"``: the row's non-empty
    values over the stored ones, its own fields merged in) or left as it was ("skip",
    reported to ``rejected`` as a duplicate). Everyone in ``rows`` goes into the list
    ``list_id``; tags are added; ``opt_out`` rows are opted out (never back in).
    Each row's result is "created", "updated" or "skipped".
    """
    stored = Stored()
    if not rows:
        return stored
    update_existing = on_duplicate == "update"
    columns = _CONTACT_COLUMNS
    existing = {
        found.mobile: found
        for found in db.session.execute(
            select(Contact.id, *columns).where(Contact.mobile.in_([r.mobile for r in rows]))
        )
    }
    now = utcnow()
    new, changed, applied = [], [], []
    for row in rows:
        found = existing.get(row.mobile)
        if found is None:
            new.append(
                {
                    **_NEW_CONTACT,
                    **row.values,
                    "mobile": row.mobile,
                    "fields": row.fields,
                    "source": source,
                    "created_at": now,
                }
            )
            applied.append(row)
            stored.created += 1
            stored.results.append("created")
        elif update_existing:
            values = {"contact_id": found.id}
            for name in columns[1:]:
                values[name.key] = row.values.get(name.key, getattr(found, name.key))
            values["fields"] = {**(found.fields or {}), **row.fields}
            changed.append(values)
            applied.append(row)
            stored.updated += 1
            stored.results.append("updated")
        else:
            rejected(row, _("Already in your contacts; left as it was."), duplicate=True)
            stored.results.append("skipped")
    if new:
        # Core statements: one executemany each (the ORM's bulk insert splits rows
        # whose None values differ into separate statements).
        db.session.execute(insert(_CONTACTS), new)
    if changed:
        db.session.execute(
            update(_CONTACTS)
            .where(_CONTACTS.c.id == bindparam("contact_id"))
            .values({name: bindparam(name) for name in changed[0] if name != "contact_id"}),
            changed,
        )
    ids = {mobile: found.id for mobile, found in existing.items()}
    if new:
        ids.update(
            db.session.execute(
                select(Contact.mobile, Contact.id).where(
                    Contact.mobile.in_([row["mobile"] for row in new])
                )
            ).all()
        )
    stored.contact_ids = [ids[row.mobile] for row in rows]
    if list_id:
        # Everyone in the rows is in the list, also those left as they were.
        service.add_to_list(list_id, stored.contact_ids)
    by_tag: dict[str, list[int]] = {}
    for row in applied:
        for tag in row.tags:
            by_tag.setdefault(tag, []).append(ids[row.mobile])
    if by_tag:
        tags = service.find_or_create_tags(list(by_tag))
        for tag, name in zip(tags, by_tag, strict=True):
            service.tag_contacts(by_tag[name], [tag.id])
    for row in applied:
        if row.opt_out:
            service.set_opt_out(row.mobile, True, source, text=opt_out_text, now=now)
    return stored


def store_purchases(
    rows: list[PurchaseRow],
    *,
    create_contacts: bool = False,
    source: str = "import",
    rejected=_no_reject,
) -> Stored:
    """Record purchases and bring their contacts' totals up to date; the caller commits.

    A number no contact has is rejected, or becomes a new contact with
    ``create_contacts``. A reference already recorded, or earlier in ``rows``, is a
    duplicate: reported to ``rejected`` and counted once. Each row's result is
    "created", "duplicate" or "rejected".
    """
    stored = Stored()
    if not rows:
        return stored
    mobiles = list(dict.fromkeys(row.mobile for row in rows))
    ids = dict(
        db.session.execute(
            select(Contact.mobile, Contact.id).where(Contact.mobile.in_(mobiles))
        ).all()
    )
    missing = [mobile for mobile in mobiles if mobile not in ids]
    if missing and create_contacts:
        now = utcnow()
        db.session.execute(
            insert(_CONTACTS),
            [
                {**_NEW_CONTACT, "mobile": m, "fields": {}, "source": source, "created_at": now}
                for m in missing
            ],
        )
        ids.update(
            db.session.execute(
                select(Contact.mobile, Contact.id).where(Contact.mobile.in_(missing))
            ).all()
        )
    references = [row.reference for row in rows if row.reference]
    recorded = (
        set(
            db.session.scalars(select(Purchase.reference).where(Purchase.reference.in_(references)))
        )
        if references
        else set()
    )
    purchases = []
    for row in rows:
        stored.contact_ids.append(ids.get(row.mobile))
        if row.mobile not in ids:
            reason = _(
                "No contact has this number. Choose “add them as new contacts” to import it."
            )
            rejected(row, reason)
            stored.results.append("rejected")
        elif row.reference and row.reference in recorded:
            reason = _("This purchase is already recorded (same reference).")
            rejected(row, reason, duplicate=True)
            stored.results.append("duplicate")
        else:
            if row.reference:
                recorded.add(row.reference)
            purchases.append(
                service.PurchaseInput(ids[row.mobile], row.purchased_at, row.amount, row.reference)
            )
            stored.results.append("created")
    stored.created, stored.late_duplicates = service.record_purchases(purchases)
    return stored
