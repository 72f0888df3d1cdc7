"""The contacts page's queries are answered by indexes, on SQLite and on PostgreSQL.

At a million contacts a query that reads the whole table takes a second; these tests
ask each database for its plan of every filter and check it names the index meant for
it. An expression index is used only for the very same expression: a literal turned
into a bound parameter, or a collation lost, and the name search would scan the table.
PostgreSQL would rightly scan tables this small, so sequential scans are switched off
for the question.
"""

import pytest
from sqlalchemy import text

from app.contacts.search import ContactFilter, _ids
from app.extensions import db

SQLITE = {
    "mobile": "sqlite_autoindex_contacts_1",
    "list": "sqlite_autoindex_list_members_1",
    "tag": "sqlite_autoindex_contact_tags_1",
}
POSTGRESQL = {"mobile": "uq_contacts_mobile", "list": "pk_list_members", "tag": "pk_contact_tags"}


def plan(contact_filter: ContactFilter, bitmaps_only: bool = False) -> str:
    stmt, key = _ids(contact_filter)
    stmt = stmt.order_by(key.desc()).limit(51)
    connection = db.session.connection()
    compiled = stmt.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
        return "\n".join(row[-1] for row in rows)
    connection.execute(text("SET LOCAL enable_seqscan = off"))
    if bitmaps_only:
        # Nor may it walk the primary key newest first, filtering as it goes: with the
        # statistics earlier tests leave, it may find that cheapest for a table this
        # small, and the plan would not say whether the filter's own index is usable.
        connection.execute(text("SET LOCAL enable_indexscan = off"))
    return "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {compiled}"))


def index(name: str) -> str:
    names = SQLITE if db.session.get_bind().dialect.name == "sqlite" else POSTGRESQL
    return names.get(name, name)


@pytest.mark.parametrize(
    ("contact_filter", "indexes"),
    [
        (ContactFilter(query="علی"), ["ix_contacts_name_key", "ix_contacts_last_name_key"]),
        (ContactFilter(query="علی رض"), ["ix_contacts_name_key"]),
        (ContactFilter(query="John"), ["ix_contacts_name_key", "ix_contacts_last_name_key"]),
        (ContactFilter(query="0912 345"), ["mobile"]),
        (ContactFilter(query="+989121234567"), ["mobile"]),
        (ContactFilter(query="4567"), ["ix_contacts_mobile_tail"]),
        (ContactFilter(query="1234567"), ["ix_contacts_mobile_tail"]),
        (ContactFilter(query="567"), ["ix_contacts_mobile_tail"]),
        (ContactFilter(list_id=1), ["list"]),
        (ContactFilter(tag_id=1), ["tag"]),
        (ContactFilter(status="opted_out"), ["ix_contacts_opted_out"]),
        (ContactFilter(list_id=1, query="علی"), ["list", "ix_contacts_name_key"]),
        (ContactFilter(list_id=1, tag_id=2), ["list", "tag"]),
        (ContactFilter(tag_id=1, query="0912"), ["tag", "mobile"]),
    ],
    ids=lambda value: str(value) if isinstance(value, list) else None,
)
def test_each_filter_uses_its_index(app, contact_filter, indexes):
    shown = plan(contact_filter, bitmaps_only=True)
    for name in indexes:
        assert index(name) in shown, shown


def test_the_first_page_reads_contacts_newest_first_without_sorting(app):
    shown = plan(ContactFilter())
    if db.session.get_bind().dialect.name == "sqlite":
        assert "SCAN contacts" in shown and "TEMP B-TREE" not in shown, shown
    else:
        # On an empty table PostgreSQL may choose to sort; at a million rows it walks the
        # primary key backwards (see bench/contacts_pages.py).
        assert "pk_contacts" in shown, shown
