"""Contacts to CSV and XLSX: everyone, a list, a tag or a search result."""

import csv
import io
import os
import re
import time
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask_babel import lazy_gettext as _l
from integration_support import in_locale
from python_calamine import CalamineWorkbook

from app.contacts import export as contact_export
from app.contacts import preferences
from app.contacts.models import ContactList, Tag
from app.contacts.service import PurchaseInput, record_purchases
from app.extensions import db

NOWRUZ = datetime(2026, 3, 21, 7, 0, tzinfo=UTC)  # 10:30 on 1405/01/01 in Tehran


@pytest.fixture
def customers(make_contact, time_machine):
    """Three contacts on Nowruz 1405. Ask for it before a logged-in client: moving the
    clock back after logging in would make the session cookie look forged."""
    time_machine.move_to(NOWRUZ, tick=False)
    ali = make_contact(
        "09121234567",
        first_name="علی",
        last_name="رضایی‌نژاد",
        gender="male",
        birth_date=date(1991, 8, 3),
        anniversary=date(2021, 4, 4),
        city="تهران",
        fields={"کد ملی": "0012345678", "شعبه": "ونک"},
    )
    sara = make_contact(
        "09351112233", first_name="سارا", gender="female", fields={"سایز": "M"}, source="import"
    )
    nameless = make_contact("09010000001", first_name='=HYPERLINK("x")', opted_out_at=NOWRUZ)
    record_purchases(
        [
            PurchaseInput(ali.id, datetime(2026, 1, 20, 8, 30, tzinfo=UTC), 2_500_000, "A"),
            PurchaseInput(ali.id, NOWRUZ, 1_000_000, "B"),
        ]
    )
    vip = ContactList(name="ویژه", contacts=[ali, nameless])
    gold = Tag(name="طلایی", contacts=[sara, ali])
    db.session.add_all([vip, gold, Tag(name="VIP", contacts=[ali])])
    db.session.commit()
    return {"ali": ali, "sara": sara, "nameless": nameless, "vip": vip, "gold": gold}


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")  # so Excel reads it as UTF-8
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))


def read_xlsx(response) -> list[list]:
    assert response.status_code == 200
    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(response.data))
    return workbook.get_sheet_by_index(0).to_python()


def sheet_xml(response) -> str:
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        return archive.read("xl/worksheets/sheet1.xml").decode()


def fa(message) -> str:
    return in_locale("fa", lambda: message)


def by_mobile(rows, header) -> dict:
    """Rows by their mobile cell, whichever language the header is in."""
    column = header.index(fa(_l("Mobile")) if fa(_l("Mobile")) in header else "Mobile")
    return {row[column]: dict(zip(header, row, strict=True)) for row in rows}


def test_xlsx_export_of_every_contact(customers, logged_in):
    response = logged_in.get("/contacts/export.xlsx")
    assert "vafa-contacts.xlsx" in response.headers["Content-Disposition"]
    header, *rows = read_xlsx(response)
    assert header[:3] == [fa(_l("First name")), fa(_l("Last name")), fa(_l("Mobile"))]
    assert fa(preferences.ANNIVERSARY_KINDS["membership"]) in header
    assert header[-3:] == ["سایز", "شعبه", "کد ملی"]  # the owner's own fields, by name
    assert len(rows) == 3
    contacts = by_mobile(rows, header)
    ali = contacts["0912 123 4567"]  # text: Excel keeps the leading 0
    assert ali[fa(_l("First name"))] == "علی"
    assert ali[fa(_l("Last name"))] == "رضایی\u200cنژاد"  # Persian with its ZWNJ
    assert ali[fa(_l("Birth date"))] == "1370/05/12"  # Jalali
    assert ali[fa(preferences.ANNIVERSARY_KINDS["membership"])] == "1400/01/15"
    assert ali[fa(_l("Gender"))] == fa(_l("Male"))
    assert ali[fa(_l("City"))] == "تهران"
    assert ali[fa(_l("Tags"))] == "VIP، طلایی"
    assert ali[fa(_l("Lists"))] == "ویژه"
    assert ali[fa(_l("Purchases"))] == 2
    assert ali[fa(_l("Total spent (Rials)"))] == 3_500_000
    assert ali[fa(_l("First purchase"))] == "1404/10/30"
    assert ali[fa(_l("Last purchase"))] == "1405/01/01"
    assert ali[fa(_l("Added"))] == "1405/01/01 10:30"
    assert ali["کد ملی"] == "0012345678"  # a text, not the number 12345678
    assert ali["سایز"] == ""
    sara = contacts["0935 111 2233"]
    assert (sara["سایز"], sara[fa(_l("Source"))]) == ("M", fa(_l("Imported from a file")))
    nameless = contacts["0901 000 0001"]
    assert nameless[fa(_l("First name"))] == '=HYPERLINK("x")'  # a string, not a formula
    assert nameless[fa(_l("Opted out at"))] == "1405/01/01 10:30"
    assert 'rightToLeft="1"' in sheet_xml(response)


def test_csv_export_of_every_contact(customers, logged_in):
    response = logged_in.get("/contacts/export.csv")
    assert "vafa-contacts.csv" in response.headers["Content-Disposition"]
    header, *rows = read_csv(response)
    contacts = by_mobile(rows, header)
    ali = contacts["0912 123 4567"]
    assert ali[fa(_l("Birth date"))] == "1370/05/12"
    assert ali[fa(_l("Total spent (Rials)"))] == "3500000"
    assert ali["کد ملی"] == "0012345678"
    # A cell that Excel would run as a formula is quoted.
    assert contacts["0901 000 0001"][fa(_l("First name"))] == '\'=HYPERLINK("x")'


def test_both_files_hold_the_same_rows(customers, logged_in):
    csv_rows = read_csv(logged_in.get("/contacts/export.csv"))
    xlsx_rows = read_xlsx(logged_in.get("/contacts/export.xlsx"))

    def plain(value):
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value).removeprefix("'")

    assert [[plain(v) for v in row] for row in xlsx_rows] == [
        [plain(v) for v in row] for row in csv_rows
    ]


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_export_a_list_a_tag_or_a_search(customers, logged_in, kind):
    read = read_csv if kind == "csv" else read_xlsx

    def mobiles(**filters):
        header, *rows = read(logged_in.get(f"/contacts/export.{kind}", query_string=filters))
        return sorted(by_mobile(rows, header))

    assert mobiles(list=customers["vip"].id) == ["0901 000 0001", "0912 123 4567"]
    assert mobiles(tag=customers["gold"].id) == ["0912 123 4567", "0935 111 2233"]
    assert mobiles(q="سار") == ["0935 111 2233"]
    assert mobiles(q="4567") == ["0912 123 4567"]
    assert mobiles(status="opted_out") == ["0901 000 0001"]
    assert mobiles(q="ناشناس") == []


def test_a_search_export_has_only_its_own_fields(customers, logged_in):
    header, *rows = read_xlsx(logged_in.get("/contacts/export.xlsx", query_string={"q": "سارا"}))
    assert header[-1] == "سایز" and "کد ملی" not in header


def test_the_export_is_read_in_chunks(customers, logged_in, make_contact, monkeypatch):
    monkeypatch.setattr(contact_export, "EXPORT_CHUNK", 2)
    for n in range(5):
        make_contact(f"0919000000{n}", first_name=f"مشتری {n}")
    header, *rows = read_csv(logged_in.get("/contacts/export.csv"))
    assert len(rows) == 8
    names = [row[0] for row in rows]
    assert names[3:] == [f"مشتری {n}" for n in range(5)]  # oldest first, each once


def test_the_english_export(customers, english):
    header, *rows = read_xlsx(english.get("/contacts/export.xlsx"))
    assert header[:3] == ["First name", "Last name", "Mobile"]
    assert "Membership anniversary" in header
    response = english.get("/contacts/export.xlsx")
    assert 'rightToLeft="1"' not in sheet_xml(response)
    ali = by_mobile(rows, header)["0912 123 4567"]
    assert (ali["Gender"], ali["Birth date"]) == ("Male", "1370/05/12")


def test_the_anniversary_column_follows_the_setting(customers, logged_in):
    preferences.save_anniversary_kind("wedding")
    db.session.commit()
    header, *_rows = read_csv(logged_in.get("/contacts/export.csv"))
    assert fa(preferences.ANNIVERSARY_KINDS["wedding"]) in header


def test_an_empty_export_has_the_header_only(logged_in):
    assert len(read_csv(logged_in.get("/contacts/export.csv"))) == 1
    assert len(read_xlsx(logged_in.get("/contacts/export.xlsx"))) == 1


def test_the_contacts_page_links_exports_of_its_search(customers, logged_in):
    page = logged_in.get("/contacts/", query_string={"q": "علی", "tag": customers["gold"].id})
    link = re.search(r'href="(/contacts/export\.xlsx[^"]*)"', page.text).group(1)
    assert "q=" in link and f"tag={customers['gold'].id}" in link


# Large Excel files, written in the background --------------------------------------


@pytest.fixture
def background(app):
    """Excel exports of more than two contacts go to the background, in the test's folder."""
    app.config["VAFA_EXPORT_BACKGROUND_OVER"] = 2
    return Path(app.config["VAFA_EXPORTS_FOLDER"])


def wait_for_export(client, location: str) -> str:
    """Look at the export's page until it is no longer running; return the page."""
    for _attempt in range(100):
        page = client.get(location)
        assert page.status_code == 200
        status = re.search(r'data-status="(\w+)"', page.text).group(1)
        if status != "running":
            return page.text
        time.sleep(0.05)
    raise AssertionError("the export did not finish")


def test_a_large_excel_export_is_made_in_the_background(customers, logged_in, background):
    response = logged_in.get("/contacts/export.xlsx")
    assert response.status_code == 302
    location = response.location
    assert re.fullmatch(r"/contacts/exports/[A-Za-z0-9_-]+", location)
    page = wait_for_export(logged_in, location)
    assert 'data-status="ready"' in page
    link = re.search(r'id="download" href="([^"]+)"', page).group(1)
    download = logged_in.get(link)
    assert "vafa-contacts.xlsx" in download.headers["Content-Disposition"]
    header, *rows = read_xlsx(download)
    assert header[:3] == [fa(_l("First name")), fa(_l("Last name")), fa(_l("Mobile"))]
    assert sorted(row[2] for row in rows) == ["0901 000 0001", "0912 123 4567", "0935 111 2233"]
    assert 'rightToLeft="1"' in sheet_xml(download)
    assert [path.suffix for path in background.iterdir()] == [".xlsx"]


def test_a_background_export_keeps_the_language_and_the_search(customers, english, background):
    response = english.get("/contacts/export.xlsx", query_string={"tag": customers["gold"].id})
    assert response.status_code == 200  # two contacts: at once
    response = english.get("/contacts/export.xlsx")
    wait_for_export(english, response.location)
    token = response.location.rsplit("/", 1)[1]
    download = english.get(f"/contacts/exports/{token}/file")
    header, *rows = read_xlsx(download)
    assert header[0] == "First name" and len(rows) == 3
    assert 'rightToLeft="1"' not in sheet_xml(download)


def test_a_failed_export_says_so(customers, logged_in, background, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(contact_export, "write_contacts_xlsx", broken)
    response = logged_in.get("/contacts/export.xlsx")
    page = wait_for_export(logged_in, response.location)
    assert 'data-status="failed"' in page
    token = response.location.rsplit("/", 1)[1]
    assert logged_in.get(f"/contacts/exports/{token}/file").status_code == 404


def test_an_export_whose_process_died_is_reported_failed(logged_in, background):
    background.mkdir(parents=True)
    part = background / ("a" * 24 + ".part")
    part.touch()
    page = logged_in.get(f"/contacts/exports/{'a' * 24}")
    assert 'data-status="running"' in page.text
    old = time.time() - 3600
    os.utime(part, (old, old))
    assert 'data-status="failed"' in logged_in.get(f"/contacts/exports/{'a' * 24}").text


@pytest.mark.parametrize("token", ["nothing-here-at-all-00", "../../etc/passwd", "short"])
def test_unknown_exports_are_not_found(logged_in, background, token):
    assert logged_in.get(f"/contacts/exports/{token}").status_code == 404
    assert logged_in.get(f"/contacts/exports/{token}/file").status_code == 404
