"""Storing: the one way rows become contacts and purchases (the API stores through here).

A chunk of an import is thousands of rows, so the statements that carry one row each
(the new contacts, their tags, list memberships) go to the database driver as they are,
as one executemany of tuples: SQLAlchemy's per-row parameter processing, worth more than
the database's own work here, is done once per column instead (``_Driver``).
"""

import json
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _
from sqlalchemy import bindparam, insert, select, update

from app.contacts import service
from app.contacts.importing.rows import ContactRow, PurchaseRow
from app.contacts.models import Contact, OptOutEvent, Purchase, contact_tags, list_members
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
# A new contact's columns in the order of the driver-level insert.
_INSERTED = (
    "mobile",
    "first_name",
    "last_name",
    "gender",
    "birth_date",
    "birth_jmonth",
    "birth_jday",
    "anniversary",
    "anniversary_jmonth",
    "anniversary_jday",
    "city",
    "fields",
    "source",
    "purchase_count",
    "total_spent",
    "opted_out_at",
    "created_at",
)


class _Driver:
    """Statements in the database's own SQL and parameter style, on the session's connection.

    Values are brought to what the driver takes with each column type's own bind
    processor (SQLite keeps dates as text), called once per value that needs it.
    """

    def __init__(self):
        self.connection = db.session.connection()
        self.dialect = self.connection.dialect
        self.sqlite = self.dialect.name == "sqlite"
        self.mark = "?" if self.dialect.paramstyle == "qmark" else "%s"

    def processor(self, column):
        return column.type._cached_bind_processor(self.dialect)

    def insert(self, table, names, rows: list[tuple]) -> None:
        if rows:
            marks = ", ".join([self.mark] * len(names))
            self.connection.exec_driver_sql(
                f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})", rows
            )

    def where_in(self, column: str, values: list) -> tuple[str, tuple]:
        """``column IN values`` as one parameter, whatever the number of values."""
        if self.sqlite:
            return f"{column} IN (SELECT value FROM json_each(?))", (json.dumps(values),)
        return f"{column} = ANY(%s)", (values,)

    def rows(self, sql: str, parameters: tuple) -> list[tuple]:
        """The rows as the driver returns them (tuples): a chunk's thousands of ids are
        not worth SQLAlchemy's result rows."""
        cursor = self.connection.connection.cursor()
        try:
            cursor.execute(sql, parameters)
            return cursor.fetchall()
        finally:
            cursor.close()

    def new_ids(self, mobiles: list[str]) -> dict[str, int]:
        """The ids of the contacts just inserted with these numbers (by ``insert``).

        SQLite gives each row of an insert the table's largest id plus one, unless the
        largest is already 2**63-1 (then a random free id): so when the last row
        inserted holds the largest id, no row took a random one, and the rows of the
        insert hold the consecutive ids ending at last_insert_rowid(), in their order
        (this transaction holds the write lock). Two lookups, rather than thousands.
        """
        if self.sqlite and mobiles:
            last = self.rows("SELECT last_insert_rowid()", ())[0][0]
            largest = self.rows("SELECT max(id) FROM contacts", ())[0][0]
            if last == largest:
                return dict(zip(mobiles, range(last - len(mobiles) + 1, last + 1), strict=True))
        where, parameters = self.where_in("mobile", mobiles)
        return dict(self.rows(f"SELECT mobile, id FROM contacts WHERE {where}", parameters))


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
    driver = _Driver()
    update_existing = on_duplicate == "update"
    columns = _CONTACT_COLUMNS
    mobiles = [row.mobile for row in rows]
    if update_existing:
        existing = {
            found.mobile: found
            for found in db.session.execute(
                select(Contact.id, *columns, Contact.opted_out_at).where(
                    Contact.mobile.in_(mobiles)
                )
            )
        }
        ids = {mobile: found.id for mobile, found in existing.items()}
    else:
        where, parameters = driver.where_in("mobile", mobiles)
        ids = dict(driver.rows(f"SELECT mobile, id FROM contacts WHERE {where}", parameters))
        existing = ids
    now = utcnow()
    stamp = driver.processor(_CONTACTS.c.created_at)(now)
    day = driver.processor(_CONTACTS.c.birth_date) or (lambda value: value)
    as_json = driver.processor(_CONTACTS.c.fields) or (lambda value: value)
    no_fields = as_json({})
    new, changed, applied, created = [], [], [], []
    opted_out: list[ContactRow] = []  # rows of contacts already stored, to opt out
    already = None
    for row in rows:
        if row.mobile not in existing:
            get = row.values.get
            birth, anniversary = get("birth_date"), get("anniversary")
            new.append(
                (
                    row.mobile,
                    get("first_name", ""),
                    get("last_name", ""),
                    get("gender"),
                    None if birth is None else day(birth),
                    get("birth_jmonth"),
                    get("birth_jday"),
                    None if anniversary is None else day(anniversary),
                    get("anniversary_jmonth"),
                    get("anniversary_jday"),
                    get("city", ""),
                    as_json(row.fields) if row.fields else no_fields,
                    source,
                    0,
                    0,
                    stamp if row.opt_out else None,
                    stamp,
                )
            )
            applied.append(row)
            created.append(row)
            stored.created += 1
            stored.results.append("created")
        elif update_existing:
            found = existing[row.mobile]
            values = {"contact_id": found.id}
            for name in columns[1:]:
                values[name.key] = row.values.get(name.key, getattr(found, name.key))
            values["fields"] = {**(found.fields or {}), **row.fields}
            changed.append(values)
            applied.append(row)
            if row.opt_out and found.opted_out_at is None:
                opted_out.append(row)
            stored.updated += 1
            stored.results.append("updated")
        else:
            if already is None:  # made once, not for each of a re-import's rows
                already = _("Already in your contacts; left as it was.")
            rejected(row, already, duplicate=True)
            stored.results.append("skipped")
    driver.insert(_CONTACTS, _INSERTED, new)
    if changed:
        db.session.execute(
            update(_CONTACTS)
            .where(_CONTACTS.c.id == bindparam("contact_id"))
            .values({name: bindparam(name) for name in changed[0] if name != "contact_id"}),
            changed,
        )
    if created:  # the API answers each contact's id; lists, tags and opt-outs need them
        ids.update(driver.new_ids([row.mobile for row in created]))
    stored.contact_ids = [ids.get(row.mobile) for row in rows]
    fresh = {ids.get(row.mobile) for row in created}  # contacts in no list and with no tag yet
    if list_id:
        # Everyone in the rows is in the list, also those left as they were.
        _add_to_list(driver, list_id, stored.contact_ids, fresh)
    _tag(driver, applied, ids, fresh)
    _opt_out(
        driver, [row for row in created if row.opt_out] + opted_out, ids, source, opt_out_text, now
    )
    return stored


def _add_to_list(driver: _Driver, list_id: int, contact_ids: list, fresh: set) -> None:
    known = [cid for cid in contact_ids if cid not in fresh]
    members = set()
    if known:
        where, parameters = driver.where_in("contact_id", known)
        members = {
            cid
            for (cid,) in driver.rows(
                f"SELECT contact_id FROM list_members WHERE list_id = {driver.mark} AND {where}",
                (list_id, *parameters),
            )
        }
    new = [cid for cid in dict.fromkeys(contact_ids) if cid not in members]
    if new:
        # One statement for the chunk: the member count trigger (migration 0012) then
        # updates the list's row once, not once per contact.
        where, parameters = driver.where_in("id", new)
        driver.connection.exec_driver_sql(
            f"INSERT INTO {list_members.name} (list_id, contact_id)"
            f" SELECT {driver.mark}, id FROM contacts WHERE {where}",
            (list_id, *parameters),
        )


def _tag(driver: _Driver, rows: list[ContactRow], ids: dict, fresh: set) -> None:
    """Put each row's tags on its contact (created where missing), each pair once."""
    by_tag: dict[str, list[int]] = {}
    for row in rows:
        for tag in row.tags:
            by_tag.setdefault(tag, []).append(ids[row.mobile])
    if not by_tag:
        return
    tags = service.find_or_create_tags(list(by_tag))
    pairs = dict.fromkeys(
        (contact_id, tag.id)
        for tag, name in zip(tags, by_tag, strict=True)
        for contact_id in by_tag[name]
    )
    known = list({contact_id for contact_id, _tag_id in pairs if contact_id not in fresh})
    if known:
        where, parameters = driver.where_in("contact_id", known)
        for pair in driver.rows(
            f"SELECT contact_id, tag_id FROM contact_tags WHERE {where}", parameters
        ):
            pairs.pop(pair, None)
    driver.insert(contact_tags, ("contact_id", "tag_id"), list(pairs))


def _opt_out(
    driver: _Driver, rows: list[ContactRow], ids: dict, source: str, text: str, now
) -> None:
    """Record the opt-out of each row's contact: new ones were stored opted out already."""
    if not rows:
        return
    contact_ids = [ids[row.mobile] for row in rows]
    db.session.execute(
        update(_CONTACTS)
        .where(_CONTACTS.c.id.in_(contact_ids), _CONTACTS.c.opted_out_at.is_(None))
        .values(opted_out_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        insert(OptOutEvent),
        [
            {
                "contact_id": contact_id,
                "mobile": row.mobile,
                "opted_out": True,
                "source": source,
                "text": text,
                "created_at": now,
            }
            for contact_id, row in zip(contact_ids, rows, strict=True)
        ],
    )


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
