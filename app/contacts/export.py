"""Contacts to CSV and Excel: everyone, a list, a tag or a search result.

The rows are built once (``contact_rows``) for both files, from the same filter as the
contacts page, oldest contact first, a chunk of ids at a time: a million contacts take
as much memory as a few thousand. Dates are Jalali (Tehran time), amounts in Rials;
each of the owner's own fields gets a column of its own.
"""

import json
from collections import defaultdict
from collections.abc import Iterator
from typing import IO

from flask_babel import gettext as _
from sqlalchemy import String, cast, func, literal, select, true

from app.contacts.models import Contact, ContactList, Tag, contact_tags, list_members
from app.contacts.preferences import anniversary_label
from app.contacts.record import SOURCE_LABELS
from app.contacts.record_forms import GENDER_LABELS
from app.contacts.search import ContactFilter, id_chunks, ids_in_chunk, matching_ids
from app.exports import csv_chunks, write_xlsx, xlsx_file
from app.extensions import db
from app.persian import jalali_date, jalali_datetime, national_mobile, to_tehran

EXPORT_CHUNK = 5000
COLUMNS = (
    Contact.id,
    Contact.first_name,
    Contact.last_name,
    Contact.mobile,
    Contact.gender,
    Contact.birth_date,
    Contact.anniversary,
    Contact.city,
    Contact.purchase_count,
    Contact.total_spent,
    Contact.first_purchase_at,
    Contact.last_purchase_at,
    Contact.opted_out_at,
    Contact.source,
    Contact.created_at,
)


def custom_field_names(contact_filter: ContactFilter) -> list[str]:
    """The names of the owner's own fields that the matching contacts have, sorted.

    Read by the database from the JSON column (json_each on SQLite, json_object_keys on
    PostgreSQL), skipping the many contacts with none, so the columns are known before
    the first row is written.
    """
    ids = matching_ids(contact_filter)
    has_fields = cast(Contact.fields, String) != "{}"
    if db.session.get_bind().dialect.name == "postgresql":
        key = func.json_object_keys(Contact.fields)
        stmt = select(key).where(Contact.id.in_(ids), has_fields).distinct()
    else:
        # SQLite's table-valued json_each reads the row it is joined to.
        each = func.json_each(Contact.fields).table_valued("key")
        stmt = (
            select(each.c.key)
            .select_from(Contact)
            .join(each, true())
            .where(Contact.id.in_(ids), has_fields)
            .distinct()
        )
    return sorted(str(name) for name in db.session.scalars(stmt))


def contact_header(field_names: list[str]) -> list[str]:
    return [
        _("First name"),
        _("Last name"),
        _("Mobile"),
        _("Gender"),
        _("Birth date"),
        str(anniversary_label()),
        _("City"),
        _("Tags"),
        _("Lists"),
        _("Purchases"),
        _("Total spent (Rials)"),
        _("First purchase"),
        _("Last purchase"),
        _("Opted out at"),
        _("Source"),
        _("Added"),
        *field_names,
    ]


def _names(link, link_owner, owner, ids) -> dict[int, list[str]]:
    """contact id → the names of its tags (or lists), for one chunk of contacts."""
    names = defaultdict(list)
    rows = db.session.execute(
        select(link.c.contact_id, owner.name)
        .join(owner, owner.id == link_owner)
        .where(link.c.contact_id.in_(ids))
        .order_by(owner.name)
    )
    for contact_id, name in rows:
        names[contact_id].append(name)
    return names


def _tehran_date(moment) -> str:
    return jalali_date(to_tehran(moment).date()) if moment else ""


def contact_rows(contact_filter: ContactFilter, field_names: list[str]) -> Iterator[list]:
    """One row per matching contact, oldest first, in the order of ``contact_header``."""
    genders = {key: str(label) for key, label in GENDER_LABELS.items()}
    sources = {key: str(label) for key, label in SOURCE_LABELS.items()}
    # The fields as stored JSON text, parsed only where there is something to read.
    columns = (*COLUMNS, cast(Contact.fields, String) if field_names else literal("{}"))
    for after, last in id_chunks(contact_filter, None, EXPORT_CHUNK):
        ids = ids_in_chunk(contact_filter, after, last)
        tags = _names(contact_tags, contact_tags.c.tag_id, Tag, ids)
        lists = _names(list_members, list_members.c.list_id, ContactList, ids)
        # Through the connection: plain rows, without the ORM's per-row bookkeeping.
        rows = db.session.connection().execute(
            select(*columns).where(Contact.id.in_(ids)).order_by(Contact.id)
        )
        for (
            contact_id,
            first_name,
            last_name,
            mobile,
            gender,
            birth_date,
            anniversary,
            city,
            purchase_count,
            total_spent,
            first_purchase_at,
            last_purchase_at,
            opted_out_at,
            source,
            created_at,
            fields_json,
        ) in rows:
            fields = json.loads(fields_json) if fields_json != "{}" else {}
            yield [
                first_name,
                last_name,
                national_mobile(mobile),
                genders.get(gender or "", ""),
                jalali_date(birth_date) if birth_date else "",
                jalali_date(anniversary) if anniversary else "",
                city,
                "، ".join(tags.get(contact_id, ())),
                "، ".join(lists.get(contact_id, ())),
                purchase_count,
                total_spent,
                _tehran_date(first_purchase_at),
                _tehran_date(last_purchase_at),
                jalali_datetime(opted_out_at) if opted_out_at else "",
                sources.get(source, source),
                jalali_datetime(created_at),
                *(_text(fields.get(name)) for name in field_names),
            ]


def _text(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def export_csv(contact_filter: ContactFilter) -> Iterator[str]:
    names = custom_field_names(contact_filter)
    return csv_chunks(contact_header(names), contact_rows(contact_filter, names))


XLSX_WIDTHS = {0: 14, 1: 16, 2: 15, 4: 12, 5: 12, 7: 20, 8: 20, 10: 16, 13: 17, 15: 17}


def export_xlsx(contact_filter: ContactFilter, rtl: bool) -> IO[bytes]:
    """The matching contacts as an Excel workbook in a temporary file."""
    names = custom_field_names(contact_filter)
    return xlsx_file(
        contact_header(names),
        contact_rows(contact_filter, names),
        sheet=_("Contacts"),
        rtl=rtl,
        widths=XLSX_WIDTHS,
    )


def write_contacts_xlsx(target, contact_filter: ContactFilter, rtl: bool, progress=None) -> None:
    """The matching contacts as an Excel workbook at ``target`` (a background export).

    ``progress()`` is called every chunk of contacts, so a watcher can tell a long
    export from a dead one.
    """
    names = custom_field_names(contact_filter)
    rows = contact_rows(contact_filter, names)
    if progress is not None:
        rows = _reporting(rows, progress)
    write_xlsx(
        target,
        contact_header(names),
        rows,
        sheet=_("Contacts"),
        rtl=rtl,
        widths=XLSX_WIDTHS,
    )


def _reporting(rows, progress):
    for count, row in enumerate(rows):
        if count % EXPORT_CHUNK == 0:
            progress()
        yield row
