"""The audience's queries read the chosen memberships by their keys, on both databases.

At a million contacts, a query that looks at every contact to find a list's thousand
costs a second, and one that reads a whole list again for every chunk of materialise
costs a minute (bench/audience.py prints the figures). These tests ask each database for
its plan of the count (estimate, campaigns page) and of one window of materialise, and
check that the memberships are read through their primary keys, the window's bounds
included, with no subquery run per contact. PostgreSQL would rightly scan tables this
small, so sequential scans are switched off for the question.
"""

import re

import pytest
from sqlalchemy import text

from app.contacts.models import Contact
from app.extensions import db
from app.messaging import service as campaigns
from app.messaging.audience import AudienceChoice

AUDIENCES = {
    "one list": AudienceChoice(lists=(1,)),
    "lists and a tag": AudienceChoice(lists=(1, 2), tags=(1,)),
    "lists and a tag minus a list": AudienceChoice(lists=(1, 2), tags=(1,), exclude_lists=(3,)),
}


def plan(stmt) -> str:
    connection = db.session.connection()
    compiled = stmt.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
        return "\n".join(row[-1] for row in rows)
    connection.execute(text("SET LOCAL enable_seqscan = off"))
    return "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {compiled}"))


def sqlite() -> bool:
    return db.session.get_bind().dialect.name == "sqlite"


@pytest.mark.parametrize("name", AUDIENCES)
def test_the_count_reads_the_chosen_memberships_and_looks_contacts_up(app, name):
    choice = AUDIENCES[name]
    shown = plan(campaigns.audience_query(choice).with_only_columns(Contact.id))
    if sqlite():
        assert "SEARCH contacts USING INTEGER PRIMARY KEY (rowid=?)" in shown, shown
        assert "SCAN contacts" not in shown, shown
        assert "sqlite_autoindex_list_members_1 (list_id=?)" in shown, shown
        if choice.tags:
            assert "sqlite_autoindex_contact_tags_1 (tag_id=?)" in shown, shown
    else:
        assert "SubPlan" not in shown, shown  # a semi-join (and anti-join), not per contact
        assert "pk_list_members" in shown, shown
        if choice.tags:
            assert "pk_contact_tags" in shown, shown


@pytest.mark.parametrize("name", AUDIENCES)
def test_a_window_of_materialise_reads_only_its_stretch_of_each_key(app, name):
    choice = AUDIENCES[name]
    window = (
        campaigns.audience_query(choice, (50_001, 60_000))
        .with_only_columns(Contact.id, Contact.mobile)
        .order_by(Contact.id)
    )
    shown = plan(window)
    if sqlite():
        assert "list_members_1 (list_id=? AND contact_id>? AND contact_id<?)" in shown, shown
        if choice.tags:
            assert "contact_tags_1 (tag_id=? AND contact_id>? AND contact_id<?)" in shown, shown
        assert "SCAN contacts" not in shown and "TEMP B-TREE" not in shown, shown
    else:
        assert "SubPlan" not in shown, shown
        # The chosen lists, the tag, the excluded list: each read through an index, the
        # window's bounds in its condition (which index depends on the statistics).
        lines = shown.splitlines()
        membership = re.compile(r"Scan .* on (list_members|contact_tags)")
        scans = [i for i, line in enumerate(lines) if membership.search(line)]
        assert len(scans) == 1 + bool(choice.tags) + bool(choice.exclude_lists), shown
        for at in scans:
            assert "(contact_id >= 50001) AND (contact_id <= 60000)" in lines[at + 1], shown


def test_a_window_of_everyone_walks_the_primary_key(app):
    choice = AudienceChoice(everyone=True, exclude_lists=(1,))
    shown = plan(
        campaigns.audience_query(choice, (50_001, 60_000))
        .with_only_columns(Contact.id)
        .order_by(Contact.id)
    )
    if sqlite():
        assert "SEARCH contacts USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)" in shown, shown
    else:
        assert "pk_contacts" in shown and "SubPlan" not in shown, shown


@pytest.fixture
def with_segment(app) -> AudienceChoice:
    """Lists 1 and 2 and a tag, and a segment of list 3's members with the tag: the
    segment's own condition joins the union as one more set of contact ids."""
    from app.audience.service import create_segment
    from app.contacts.models import ContactList, Tag

    lists = [ContactList(name=name) for name in ("الف", "ب", "ج")]
    tag = Tag(name="ویژه")
    db.session.add_all([*lists, tag])
    db.session.flush()
    rules = {
        "match": "all",
        "rules": [
            {"field": "list", "op": "member", "value": lists[2].id},
            {"field": "tag", "op": "has", "value": tag.id},
        ],
    }
    segment = create_segment("ج و ویژه", "", rules)
    db.session.commit()
    return AudienceChoice(lists=(lists[0].id, lists[1].id), segments=(segment.id,))


def test_a_segment_in_the_union_is_read_by_its_keys_too(with_segment):
    shown = plan(campaigns.audience_query(with_segment).with_only_columns(Contact.id))
    if sqlite():
        assert "SCAN contacts" not in shown, shown
        assert "sqlite_autoindex_list_members_1 (list_id=?)" in shown, shown
        assert "sqlite_autoindex_contact_tags_1 (tag_id=?)" in shown, shown
    else:
        assert "SubPlan" not in shown, shown
        assert "pk_list_members" in shown and "pk_contact_tags" in shown, shown
    window = (
        campaigns.audience_query(with_segment, (50_001, 60_000))
        .with_only_columns(Contact.id, Contact.mobile)
        .order_by(Contact.id)
    )
    shown = plan(window)
    if sqlite():
        assert "list_members_1 (list_id=? AND contact_id>? AND contact_id<?)" in shown, shown
        assert "SCAN contacts" not in shown, shown
    else:
        assert "SubPlan" not in shown, shown
