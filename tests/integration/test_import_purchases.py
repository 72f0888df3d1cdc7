"""Importing purchases through the panel: matched by mobile, counted once per invoice,
and each contact's totals brought up to date."""

import io
import re
from datetime import UTC, datetime

import xlsxwriter
from import_support import (
    adds_up,
    import_file,
    job_id_of,
    rejected,
    stats,
    stored,
    upload,
)
from integration_support import page_text
from sqlalchemy import func, select

from app.contacts.models import Purchase
from app.extensions import db

ALI = "+989121234567"
PURCHASES = (
    "موبایل,تاریخ,مبلغ (ریال),شماره فاکتور\n"
    '09121234567,1403/01/15 14:30,"1,250,000",F-1\n'
    "۰۹۱۲۱۲۳۴۵۶۷,۱۴۰۳/۰۲/۰۱,۲۵۰٬۰۰۰,F-2\n"
    "09121234567,2024-05-01,250000,F-2\n"
    "09350000000,1403/02/01,1000,F-3\n"
    "09121234567,1403/02/10,-5000,F-4\n"
    "09121234567,1403/02/31,1000,F-5\n"
)


def test_the_mapping_page_offers_purchase_fields(logged_in):
    job_id = job_id_of(upload(logged_in, PURCHASES, kind="purchases"))
    page = logged_in.get(f"/contacts/import/{job_id}")
    assert re.findall(r'<option value="(\w+)" selected>', page.text) == [
        "mobile",
        "purchased_at",
        "amount",
        "reference",
    ]
    assert 'name="toman"' in page.text and 'name="create_contacts"' in page.text
    assert 'name="on_duplicate"' not in page.text


def test_purchases_are_matched_by_mobile_and_update_the_totals(english, make_contact):
    make_contact("09121234567")
    response = import_file(english, PURCHASES, filename="sales.csv", kind="purchases")
    counts = stats(response)
    assert counts == {"rows": 6, "created": 3, "duplicates": 1, "invalid": 2}
    assert adds_up(counts)
    assert "Purchases recorded" in page_text(response)
    reasons = rejected(response)
    assert reasons[4] == "Line 4: Same reference as line 3."
    assert "No contact has this number" in reasons[5]
    assert "The amount cannot be negative." in reasons[6]
    assert sorted(reasons) == [4, 5, 6]  # 1403/02/31 exists: Ordibehesht has 31 days
    contact = stored()[ALI]
    assert (contact.purchase_count, contact.total_spent) == (3, 1_501_000)
    assert contact.first_purchase_at == datetime(2024, 4, 3, 11, 0, tzinfo=UTC)
    # A date without a time is midnight in Tehran: 1403/02/31 00:00 is 2024-05-19 20:30 UTC.
    assert contact.last_purchase_at == datetime(2024, 5, 19, 20, 30, tzinfo=UTC)


def test_tomans_and_new_contacts(logged_in):
    response = import_file(
        logged_in,
        PURCHASES,
        kind="purchases",
        toman=True,
        create_contacts=True,
    )
    counts = stats(response)
    assert (counts["created"], counts["duplicates"], counts["invalid"]) == (4, 1, 1)
    contacts = stored()
    assert contacts[ALI].total_spent == 15_010_000
    assert contacts["+989350000000"].total_spent == 10_000
    assert contacts["+989350000000"].source == "import"


def test_the_same_purchases_file_twice_counts_each_invoice_once(logged_in, make_contact):
    make_contact("09121234567")
    import_file(logged_in, PURCHASES, kind="purchases")
    again = stats(import_file(logged_in, PURCHASES, kind="purchases"))
    assert (again["created"], again["duplicates"]) == (0, 4)
    assert db.session.scalar(select(func.count(Purchase.id))) == 3
    assert stored()[ALI].purchase_count == 3


def test_purchases_from_excel_with_date_and_time_cells(logged_in, make_contact):
    make_contact("09121234567")
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet()
    when = book.add_format({"num_format": "yyyy/mm/dd hh:mm"})
    sheet.write_row(0, 0, ["Mobile", "Date", "Amount", "Invoice"])
    sheet.write_row(1, 0, [9121234567])
    sheet.write_datetime(1, 1, datetime(2024, 4, 3, 14, 30), when)  # noqa: DTZ001
    sheet.write_row(1, 2, [1250000, 1001])
    book.close()
    response = import_file(logged_in, buffer.getvalue(), filename="sales.xlsx", kind="purchases")
    assert stats(response)["created"] == 1
    purchase = db.session.scalars(select(Purchase)).one()
    assert purchase.purchased_at == datetime(2024, 4, 3, 11, 0, tzinfo=UTC)
    assert (purchase.amount, purchase.reference) == (1_250_000, "1001")


def test_purchases_need_a_date_and_an_amount_column(english):
    job_id = job_id_of(upload(english, PURCHASES, kind="purchases"))
    page = english.get(f"/contacts/import/{job_id}")
    assert page.status_code == 200
    response = english.post(
        f"/contacts/import/{job_id}",
        data={
            "header": "y",
            "column-0": "mobile",
            "column-1": "purchased_at",
            "column-2": "ignore",
        },
    )
    assert "Choose the column that holds “Amount”." in page_text(response)
