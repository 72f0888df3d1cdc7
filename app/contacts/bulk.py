"""Bulk actions on a search result: tag, add to a list, opt out, delete.

"All 120,000 contacts matching this search" is never loaded into Python: each action
is a few INSERT … SELECT / UPDATE / DELETE statements per chunk of contact ids (see
search.id_chunks), and the caller commits after each chunk, so other writers (the
dispatcher, an import) get their turn and a stopped action can simply be run again —
every action is idempotent.

Contacts added after the owner confirmed (ids above ``upto``) are left alone: the
confirmation said how many contacts, and it meant those.
"""

from collections.abc import Iterator
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, insert, literal, select, true, update

from app.contacts.models import Contact, OptOutEvent, contact_tags, list_members
from app.contacts.record import delete_contacts
from app.contacts.search import ContactFilter, id_chunks, ids_in_chunk
from app.extensions import db
from app.types import utcnow

BULK_CHUNK = 2000

# rowcount of INSERT … SELECT: SQLAlchemy keeps it only when asked (psycopg reports -1 else).
_COUNTED = {"preserve_rowcount": True}

BULK_ACTIONS = {
    "tag": _l("Add a tag"),
    "list": _l("Add to a list"),
    "opt_out": _l("Opt out of marketing messages"),
    "delete": _l("Delete"),
}


def _link_matching(
    table, column: str, value: int, contact_filter: ContactFilter, upto: int | None, chunk: int
) -> Iterator[int]:
    """Link every matching contact to a tag or list (``table``: contact_id + ``column``),
    skipping links that exist; yields how many were newly made, chunk by chunk."""
    for after, last in id_chunks(contact_filter, upto, chunk):
        ids = ids_in_chunk(contact_filter, after, last).subquery()
        absent = ~exists().where(table.c[column] == value, table.c.contact_id == ids.c[0])
        result = db.session.execute(
            insert(table).from_select(
                [column, "contact_id"], select(literal(value), ids.c[0]).where(absent)
            ),
            execution_options=_COUNTED,
        )
        yield result.rowcount


def tag_matching(
    contact_filter: ContactFilter, tag_id: int, upto: int | None, chunk: int | None = None
) -> Iterator[int]:
    """Tag every matching contact; yields how many were newly tagged, chunk by chunk."""
    yield from _link_matching(
        contact_tags, "tag_id", tag_id, contact_filter, upto, chunk or BULK_CHUNK
    )


def add_matching_to_list(
    contact_filter: ContactFilter, list_id: int, upto: int | None, chunk: int | None = None
) -> Iterator[int]:
    """Put every matching contact in a list; yields how many were newly added, per chunk."""
    yield from _link_matching(
        list_members, "list_id", list_id, contact_filter, upto, chunk or BULK_CHUNK
    )


def opt_out_matching(
    contact_filter: ContactFilter,
    upto: int | None,
    note: str = "",
    now: datetime | None = None,
    chunk: int | None = None,
) -> Iterator[int]:
    """Opt every matching contact out, each with its event (source «manual»); yields counts.

    The events are written first, from the same rows the update then changes, both
    limited to contacts not yet opted out, so each contact gets one event.
    """
    now = now or utcnow()
    for after, last in id_chunks(contact_filter, upto, chunk or BULK_CHUNK):
        ids = ids_in_chunk(contact_filter, after, last)
        still_in = (
            select(Contact.id, Contact.mobile)
            .where(Contact.id.in_(ids), Contact.opted_out_at.is_(None))
            .subquery()
        )
        db.session.execute(
            insert(OptOutEvent).from_select(
                ["contact_id", "mobile", "opted_out", "source", "text", "created_at"],
                select(
                    still_in.c.id,
                    still_in.c.mobile,
                    true(),
                    literal("manual"),
                    literal(note),
                    literal(now, OptOutEvent.created_at.type),
                ),
            )
        )
        result = db.session.execute(
            update(Contact)
            .where(Contact.id.in_(ids), Contact.opted_out_at.is_(None))
            .values(opted_out_at=now)
            .execution_options(synchronize_session=False)
        )
        yield result.rowcount


def delete_matching(
    contact_filter: ContactFilter, upto: int | None, chunk: int | None = None
) -> Iterator[int]:
    """Delete every matching contact; the delivery log keeps their messages. Yields counts."""
    for after, last in id_chunks(contact_filter, upto, chunk or BULK_CHUNK):
        yield delete_contacts(ids_in_chunk(contact_filter, after, last))
