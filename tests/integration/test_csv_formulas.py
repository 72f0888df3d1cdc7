"""No CSV the panel writes starts a cell like a formula, header included.

Names, field names, message texts and provider answers come from customers, imported
files and other people's servers; a spreadsheet runs a cell that starts with = + - @
(and, in some, a tab or a carriage return) as a formula, so `csv_cell` prefixes such
cells with '. These tests fill every place such text reaches a CSV and read each cell
back. (The importer's rejected-rows file goes through the same `csv_cell`; its tests
live with the importer.)
"""

import csv
import io
from datetime import time

import pytest

from app.extensions import db
from app.jobs import run_all_once
from app.messaging import service as campaigns
from app.sending.models import ProviderAccount
from app.sending.policy import SendingPolicy, save_policy
from app.sending.service import default_account

FORMULA_FIELD = '=HYPERLINK("http://x","y")'
STARTS = ("=", "+", "-", "@", "\t", "\r")
VALUES = {start: f'{start}HYPERLINK("http://x","y")' for start in STARTS}


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))


def assert_no_formula(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.startswith(STARTS), f"a live formula: {cell!r}"


@pytest.fixture
def formula_contacts(make_contact):
    """A contact per dangerous first character: in its own field's name and value, and
    in its first name."""
    for number, (start, value) in enumerate(VALUES.items(), start=1):
        make_contact(
            f"0912000000{number}",
            first_name=value,
            last_name=f"{start}1+1",
            fields={FORMULA_FIELD: value},
        )


def test_the_contacts_csv_neutralises_formulas_in_header_and_cells(formula_contacts, logged_in):
    header, *rows = read_csv(logged_in.get("/contacts/export.csv"))
    assert_no_formula([header, *rows])
    # The field's column is there, its name quoted, not dropped or mangled.
    assert f"'{FORMULA_FIELD}" in header
    column = header.index(f"'{FORMULA_FIELD}")
    assert sorted(row[column] for row in rows) == sorted(f"'{value}" for value in VALUES.values())
    assert len(rows) == len(STARTS)


def test_a_search_export_goes_through_the_same_guard(formula_contacts, logged_in):
    header, *rows = read_csv(logged_in.get("/contacts/export.csv", query_string={"q": "0912"}))
    assert len(rows) == len(STARTS)
    assert f"'{FORMULA_FIELD}" in header
    assert_no_formula([header, *rows])


def test_the_delivery_log_csv_neutralises_a_formula_in_a_contact_name(app, make_contact, logged_in):
    for number, value in enumerate(VALUES.values(), start=1):
        make_contact(f"0912000000{number}", first_name=value)
    # A provider account named like a formula, and a provider's answer that reads like one.
    account = default_account()
    account.name = "@SUM(1+1)"
    save_policy(SendingPolicy(window_start=time(0), window_end=time(0), optout_line=False))
    campaign = campaigns.create_campaign(
        name="=cmd",
        body="{نام}",
        list_id=None,
        provider_id=account.id,
        sender="10000000",
        scheduled_at=None,
        created_by_id=None,
    )
    campaigns.confirm_campaign(campaign)
    db.session.commit()
    run_all_once(app)

    header, *rows = read_csv(logged_in.get("/reports/messages.csv"))
    assert_no_formula([header, *rows])
    texts = {row[header.index("متن")] for row in rows}
    assert len(rows) == len(STARTS)
    # Rendering trims a leading tab or CR from the name; the others arrive quoted.
    assert {f"'{VALUES[start]}" for start in "=+-@"} <= texts
    assert {row[header.index("سرویس‌دهنده")] for row in rows} == {"'@SUM(1+1)"}
    assert db.session.get(ProviderAccount, account.id).name == "@SUM(1+1)"  # stored as typed
