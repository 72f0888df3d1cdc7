"""`vafa contacts import` and `vafa purchases import`: the panel's importer, for nightly syncs."""

import csv
import json
from datetime import UTC, date, datetime

import xlsxwriter
from flask_babel import gettext
from integration_support import in_locale
from sqlalchemy import func, select

from app.cli import main as vafa
from app.contacts.models import Contact, ContactList, ImportJob, Purchase, list_members
from app.extensions import db


def fa(msgid: str) -> str:
    """What the command line prints for ``msgid``: it speaks Persian."""
    return in_locale("fa", lambda: gettext(msgid))


def run(app, *args: str):
    """Run `vafa …` as its own process would: what it did not commit is gone."""
    result = app.test_cli_runner().invoke(vafa, list(args))
    db.session.rollback()
    return result


def write(tmp_path, content: str, name="customers.csv"):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def stored() -> dict[str, Contact]:
    db.session.expire_all()
    return {c.mobile: c for c in db.session.scalars(select(Contact))}


CUSTOMERS = (
    "نام,موبایل,تاریخ تولد,شهر\n"
    "علی رضایی,09121234567,1370/05/12,تهران\n"
    "سارا,0935 111 2233,۱۳۶۵/۱۲/۲۹,\n"
    "تکراری,+989121234567,,\n"
    "بد,0912,1403/07/31,\n"
)


def test_json_output_is_one_object_whose_counts_add_up(app, tmp_path):
    result = run(app, "contacts", "import", str(write(tmp_path, CUSTOMERS)), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["rows"] == 4
    assert (report["created"], report["updated"]) == (2, 0)
    assert (report["duplicates"], report["invalid"]) == (1, 1)
    parts = ("created", "updated", "duplicates", "invalid")
    assert report["rows"] == sum(report[name] for name in parts)
    assert report["status"] == "done" and report["error"] is None
    assert report["list_id"] is None  # no --list
    with open(report["rejected_file"], encoding="utf-8-sig", newline="") as handle:
        rejected = list(csv.reader(handle))
    assert [row[0] for row in rejected] == ["نام", "تکراری", "بد"]
    assert "۴" in rejected[1][-1].split(":")[0]  # the command line writes Persian reasons
    assert set(stored()) == {"+989121234567", "+989351112233"}
    assert stored()["+989121234567"].city == "تهران"


def test_into_a_list_made_on_the_way(app, tmp_path):
    result = run(
        app, "contacts", "import", str(write(tmp_path, CUSTOMERS)), "--list", "مشتریان شب", "--json"
    )
    assert result.exit_code == 0, result.output
    members = db.session.scalars(
        select(Contact.mobile)
        .join(list_members, list_members.c.contact_id == Contact.id)
        .join(ContactList)
        .where(ContactList.name == "مشتریان شب")
    ).all()
    assert sorted(members) == ["+989121234567", "+989351112233"]
    # A script learns the list's id (to send a campaign to it through the API).
    made = db.session.scalar(select(ContactList.id).where(ContactList.name == "مشتریان شب"))
    assert json.loads(result.output)["list_id"] == made
    path = str(write(tmp_path, CUSTOMERS))
    again = run(app, "contacts", "import", path, "--list", "مشتریان شب", "--json")
    assert json.loads(again.output)["list_id"] == made


def test_on_duplicate_update_fills_the_new_values(app, tmp_path, make_contact):
    make_contact("09121234567", first_name="قدیمی", city="شیراز")
    path = write(tmp_path, CUSTOMERS)
    skipped = json.loads(run(app, "contacts", "import", str(path), "--json").output)
    assert (skipped["created"], skipped["updated"], skipped["duplicates"]) == (1, 0, 2)
    assert stored()["+989121234567"].first_name == "قدیمی"
    updated = json.loads(
        run(app, "contacts", "import", str(path), "--on-duplicate", "update", "--json").output
    )
    assert (updated["created"], updated["updated"], updated["duplicates"]) == (0, 2, 1)
    contact = stored()["+989121234567"]
    assert (contact.first_name, contact.last_name, contact.city) == ("علی", "رضایی", "تهران")


def test_a_mapping_given_on_the_command_line(app, tmp_path):
    path = write(tmp_path, "09121234567,شعبه ونک,علی\n09351112233,شعبه تجریش,سارا\n")
    result = run(
        app,
        "contacts",
        "import",
        str(path),
        "--mapping",
        "mobile, custom:شعبه ,first_name",
        "--no-header",
        "--json",
    )
    assert json.loads(result.output)["created"] == 2, result.output
    ali = stored()["+989121234567"]
    assert (ali.first_name, ali.fields) == ("علی", {"شعبه": "شعبه ونک"})


def test_a_mapping_without_a_mobile_is_refused_and_nothing_is_kept(app, tmp_path):
    result = run(app, "contacts", "import", str(write(tmp_path, CUSTOMERS)), "--mapping", "city")
    assert result.exit_code == 1
    assert fa("Choose the column that holds the mobile numbers.") in result.output
    assert db.session.scalar(select(func.count(ImportJob.id))) == 0
    assert stored() == {}


def test_an_unknown_field_in_the_mapping_is_named(app, tmp_path):
    path = write(tmp_path, CUSTOMERS)
    result = run(app, "contacts", "import", str(path), "--mapping", "name,mobile")
    assert result.exit_code == 1
    assert "name" in result.output


def test_an_unreadable_file_exits_with_the_reason(app, tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    result = run(app, "contacts", "import", str(path), "--json")
    assert result.exit_code == 1
    assert fa("This Excel file cannot be read. Open it in Excel and save it again as .xlsx.") in (
        result.output
    )
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert fa("The file is empty.") in run(app, "contacts", "import", str(empty)).output


def test_without_json_a_short_summary(app, tmp_path):
    result = run(app, "contacts", "import", str(write(tmp_path, CUSTOMERS)))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == ("customers.csv: 4 rows: 2 new contacts, 0 updated, 1 duplicates, 1 invalid")
    assert lines[1].startswith("Rejected rows, with the reason for each: ")
    assert lines[1].endswith("-rejected.csv")


def test_an_excel_file(app, tmp_path):
    path = tmp_path / "customers.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["Mobile", "Name", "Birthday"])
    sheet.write_row(1, 0, [9121234567, "Ali Rezaei"])
    sheet.write_datetime(1, 2, date(1991, 8, 3), book.add_format({"num_format": "yyyy-mm-dd"}))
    book.close()
    report = json.loads(run(app, "contacts", "import", str(path), "--json").output)
    assert (report["created"], report["rejected_file"]) == (1, None)
    ali = stored()["+989121234567"]
    assert (ali.first_name, ali.birth_jmonth, ali.birth_jday) == ("Ali", 5, 12)


# Purchases -----------------------------------------------------------------------


PURCHASES = (
    "موبایل,تاریخ خرید,مبلغ,شماره فاکتور\n"
    '09121234567,1403/01/15 14:30,"1,250,000",F-1\n'
    "0912 123 4567,1403/02/01,۲۵۰٬۰۰۰,F-2\n"
    "09121234567,1403/02/01,250000,F-2\n"
    "09350000000,1403/02/01,1000,F-3\n"
)


def test_purchases_update_the_contacts_totals(app, tmp_path, make_contact):
    make_contact("09121234567")
    result = run(app, "purchases", "import", str(write(tmp_path, PURCHASES)), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["rows"], report["created"], report["duplicates"], report["invalid"]) == (
        4,
        2,
        1,
        1,
    )
    contact = stored()["+989121234567"]
    assert (contact.purchase_count, contact.total_spent) == (2, 1_500_000)
    # 1403/01/15 14:30 in Tehran (UTC+3:30) is 11:00 UTC.
    assert contact.first_purchase_at == datetime(2024, 4, 3, 11, 0, tzinfo=UTC)
    assert contact.last_purchase_at == datetime(2024, 4, 19, 20, 30, tzinfo=UTC)
    with open(report["rejected_file"], encoding="utf-8-sig", newline="") as handle:
        reasons = [row[-1] for row in csv.reader(handle)][1:]
    assert "F-2" not in reasons[0] and "۳" in reasons[0]  # same reference as line 3
    assert (
        fa("No contact has this number. Choose “add them as new contacts” to import it.")
        in reasons[1]
    )


def test_purchases_in_tomans_and_for_new_numbers(app, tmp_path):
    result = run(
        app,
        "purchases",
        "import",
        str(write(tmp_path, PURCHASES)),
        "--toman",
        "--create-contacts",
        "--json",
    )
    report = json.loads(result.output)
    assert (report["created"], report["duplicates"], report["invalid"]) == (3, 1, 0)
    contacts = stored()
    assert contacts["+989121234567"].total_spent == 15_000_000
    assert contacts["+989350000000"].total_spent == 10_000
    assert contacts["+989350000000"].source == "import"
    assert db.session.scalar(select(func.count(Purchase.id))) == 3


def test_importing_purchases_twice_counts_them_once(app, tmp_path, make_contact):
    make_contact("09121234567")
    path = write(tmp_path, PURCHASES)
    run(app, "purchases", "import", str(path), "--json")
    again = json.loads(run(app, "purchases", "import", str(path), "--json").output)
    assert (again["created"], again["duplicates"], again["invalid"]) == (0, 3, 1)
    assert stored()["+989121234567"].total_spent == 1_500_000
