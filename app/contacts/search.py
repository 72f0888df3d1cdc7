"""Finding contacts: the contacts page's filters as SQL that an index answers at 1,000,000.

One filter (a search text, a list, a tag, subscribed or opted out) serves every place
that works on "the contacts matching this search": the page, its count, the bulk
actions and the exports. The page is keyset-paged on the contact id, newest first;
bulk actions and exports walk the same set oldest first in chunks of ids, so nothing
ever holds the whole set in Python.

How each filter finds its rows (EXPLAIN-checked on SQLite and PostgreSQL, see
bench/contacts_pages.py):

- a name: the start of the full name or of the last name, Latin letters in any case;
  a range on the indexes of migration 0006 (``NAME_KEY``, ``LAST_NAME_KEY``);
- a number that starts like a mobile number (0912…, +98912…, 912…): a range of the
  unique index on ``mobile``;
- other digits: the end of a number («the one ending in 4567»), on the index of its
  last four digits;
- a list or a tag: its membership table's primary key (list, contact) drives the query,
  in contact-id order, so a small list is as quick as a large one;
- opted out: a partial index of the opted-out contacts' ids.
"""

from collections.abc import Iterator
from dataclasses import asdict, dataclass

from sqlalchemy import and_, exists, func, or_, select

from app.contacts.models import (
    LAST_NAME_KEY,
    MOBILE_TAIL,
    MOBILE_TAIL_DIGITS,
    NAME_KEY,
    Contact,
    contact_tags,
    fold,
    list_members,
)
from app.contacts.phones import search_digits
from app.extensions import db
from app.persian import normalize_text

STATUSES = ("subscribed", "opted_out")


@dataclass(frozen=True)
class ContactFilter:
    """Which contacts: a search text (name or number), a list, a tag, a status."""

    query: str = ""
    list_id: int | None = None
    tag_id: int | None = None
    status: str | None = None  # "subscribed" | "opted_out" | None (everyone)

    @classmethod
    def from_mapping(cls, values) -> "ContactFilter":
        """A filter from query-string or form values (q, list, tag, status); junk is ignored."""

        def number(name: str) -> int | None:
            value = str(values.get(name) or "").strip()
            return int(value) if value.isdigit() and int(value) > 0 else None

        status = values.get("status")
        return cls(
            query=str(values.get("q") or "").strip(),
            list_id=number("list"),
            tag_id=number("tag"),
            status=status if status in STATUSES else None,
        )

    def as_args(self) -> dict:
        """The filter as URL parameters (for links and hidden fields); empty ones left out."""
        args = {"q": self.query, "list": self.list_id, "tag": self.tag_id, "status": self.status}
        return {key: value for key, value in args.items() if value}

    @property
    def is_everyone(self) -> bool:
        return not any(asdict(self).values())


def _bump(text: str) -> str:
    """The smallest text greater than every text that starts with ``text``."""
    while text:
        last = ord(text[-1]) + 1
        if last == 0xD800:  # surrogates are not characters: skip over them
            last = 0xE000
        if last <= 0x10FFFF:
            return text[:-1] + chr(last)
        text = text[:-1]
    raise ValueError("no upper bound")


def _starts_with(column, prefix: str):
    """``column`` starts with ``prefix``, as a range an index answers."""
    return and_(column >= prefix, column < _bump(prefix))


def _number_condition(digits: str):
    if digits.startswith("9"):
        # The start of a number: 0912… was turned into 912… by search_digits().
        return _starts_with(Contact.mobile, "+98" + digits[:10])
    if len(digits) >= MOBILE_TAIL_DIGITS:
        tail = MOBILE_TAIL == digits[-MOBILE_TAIL_DIGITS:]  # noqa: SIM300 (an SQL expression)
        return and_(tail, Contact.mobile.endswith(digits)) if len(digits) > 4 else tail
    if len(digits) == MOBILE_TAIL_DIGITS - 1:
        return MOBILE_TAIL.in_([f"{first}{digits}" for first in "0123456789"])
    # One or two digits match a tenth or a hundredth of every number: no index helps,
    # and the first page fills after a few hundred rows.
    return Contact.mobile.endswith(digits)


def _query_condition(query: str):
    digits = search_digits(query)
    if digits:
        return _number_condition(digits)
    key = fold(normalize_text(query))
    return or_(_starts_with(NAME_KEY, key), _starts_with(LAST_NAME_KEY, key))


def _status_condition(status: str | None):
    if status == "opted_out":
        return Contact.opted_out_at.is_not(None)
    if status == "subscribed":
        return Contact.opted_out_at.is_(None)
    return None


def _ids(contact_filter: ContactFilter):
    """SELECT the matching contacts' ids, and that id column (to order and page by).

    With a list (or a tag) its membership rows drive the query: their primary key is
    (list, contact), so the members come in contact-id order straight from the index.
    A search text then becomes ``contact_id IN (ids the search finds on its index)``,
    five times quicker than joining each member to its contact at a million; the
    status, which nearly every contact (or very few) has, is checked on the joined row.
    """
    query = _query_condition(contact_filter.query) if contact_filter.query else None
    status = _status_condition(contact_filter.status)
    members = []
    if contact_filter.list_id:
        members.append((list_members, list_members.c.list_id == contact_filter.list_id))
    if contact_filter.tag_id:
        members.append((contact_tags, contact_tags.c.tag_id == contact_filter.tag_id))
    if not members:
        conditions = [c for c in (query, status) if c is not None]
        return select(Contact.id).where(*conditions), Contact.id

    (driver, of_driver), *others = members
    key = driver.c.contact_id
    stmt = select(key).where(of_driver)
    for table, of_table in others:
        stmt = stmt.where(exists().where(table.c.contact_id == key, of_table))
    if query is not None:
        stmt = stmt.where(key.in_(select(Contact.id).where(query)))
    if status is not None:
        stmt = stmt.join(Contact, Contact.id == key).where(status)
    return stmt, key


def search_page(
    contact_filter: ContactFilter, before: int | None = None, per_page: int = 50
) -> tuple[list[Contact], int | None]:
    """A page of matching contacts, newest first, and the id to continue from (keyset).

    The ids come first, from the indexes alone, then the page's rows by id: sorting
    thousands of whole rows to keep fifty was most of the time of a broad name search.
    """
    stmt, key = _ids(contact_filter)
    if before:
        stmt = stmt.where(key < before)
    ids = db.session.scalars(stmt.order_by(key.desc()).limit(per_page + 1)).all()
    more = len(ids) > per_page
    ids = ids[:per_page]
    by_id = {c.id: c for c in db.session.scalars(select(Contact).where(Contact.id.in_(ids)))}
    contacts = [by_id[i] for i in ids if i in by_id]
    return contacts, (ids[-1] if more else None)


@dataclass(frozen=True)
class Count:
    """How many contacts match; ``more`` when there are more than ``value`` (a capped count)."""

    value: int
    more: bool = False


def count_matching(contact_filter: ContactFilter, cap: int | None = None) -> Count:
    """How many contacts match: exactly, or up to ``cap`` (reading at most cap+1 index rows).

    An exact count reads every matching index entry — a list of 200,000 members takes
    tens of milliseconds, and grows with the list — so the contacts page counts up to a
    cap, and the exact number is counted where it matters (a bulk action's confirmation)
    or when the owner asks for it.
    """
    stmt, _key = _ids(contact_filter)
    if cap is not None:
        stmt = stmt.limit(cap + 1)
    found = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    if cap is not None and found > cap:
        return Count(cap, more=True)
    return Count(found)


def newest_id(contact_filter: ContactFilter) -> int | None:
    """The newest matching contact's id: a bulk action confirmed now stops there."""
    stmt, key = _ids(contact_filter)
    return db.session.scalar(stmt.order_by(key.desc()).limit(1))


def id_chunks(
    contact_filter: ContactFilter, upto: int | None, size: int
) -> Iterator[tuple[int, int]]:
    """Ranges ``(after, last]`` of contact ids, oldest first, each holding ``size`` matches.

    Each boundary is read when the previous chunk is done (one id, found with an OFFSET
    on the index), so a chunk's bulk action — deleting, opting out — cannot shift the
    next one. Contacts newer than ``upto`` are left out.
    """
    after = 0
    while True:
        stmt, key = _ids(contact_filter)
        stmt = stmt.where(key > after)
        if upto is not None:
            stmt = stmt.where(key <= upto)
        last = db.session.scalar(stmt.order_by(key).offset(size - 1).limit(1))
        if last is None:
            end = db.session.scalar(select(func.max(stmt.subquery().c[0])))
            if end is not None:
                yield after, end
            return
        yield after, last
        after = last


def matching_ids(contact_filter: ContactFilter):
    """A SELECT of every matching contact's id (uncorrelated, for ``IN (…)``)."""
    return _ids(contact_filter)[0].correlate(None)


def ids_in_chunk(contact_filter: ContactFilter, after: int, last: int):
    """A SELECT of the matching contacts' ids in ``(after, last]``, for bulk statements.

    Never correlated: inside ``UPDATE contacts … WHERE id IN (…)`` it must read its own
    ``contacts`` through the index, not test each row of the outer one.
    """
    stmt, key = _ids(contact_filter)
    return stmt.where(key > after, key <= last).correlate(None)
