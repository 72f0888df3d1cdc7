"""Importing the files shops have: each encoding, Excel, every date form, every duplicate
policy, every bad input; the counts always add up and the rejected rows go back in."""

import codecs
import csv
import io
import re
from datetime import date, datetime

import pytest
import xlsxwriter
from flask_babel import gettext
from import_support import (
    adds_up,
    confirm,
    flashed_error,
    import_file,
    job_id_of,
    last_job,
    rejected,
    rejected_csv,
    stats,
    stored,
    upload,
)
from integration_support import in_locale, page_text
from sqlalchemy import func, select

from app.contacts import importing
from app.contacts.models import Contact, ImportJob, OptOutEvent, Tag, contact_tags
from app.contacts.service import set_opt_out
from app.extensions import db

ALI = "+989121234567"
SARA = "+989351112233"
CSV_TEXT = "نام,موبایل,تاریخ تولد\r\nعلی کریمی,09121234567,1370/05/12\r\nسارا,0935 111 2233,\r\n"


def xlsx(rows: list[list], date_cells: dict[tuple[int, int], object] | None = None) -> bytes:
    """An Excel file (through xlsxwriter, as Excel itself writes them) with these rows."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet()
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if (r, c) in (date_cells or {}):
                sheet.write_datetime(r, c, date_cells[(r, c)], day)
            elif value is not None:
                sheet.write(r, c, value)
    book.close()
    return buffer.getvalue()


@pytest.fixture(params=["calamine", "streamed"])
def excel_reader(request, app):
    """Run an Excel test with each reader: calamine, and the streaming one for large sheets."""
    if request.param == "streamed":
        app.config["VAFA_IMPORT_STREAM_ABOVE"] = 0
    return request.param


# Encodings and delimiters ----------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        CSV_TEXT.encode("utf-8"),
        codecs.BOM_UTF8 + CSV_TEXT.encode("utf-8"),
        codecs.BOM_UTF16_LE + CSV_TEXT.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + CSV_TEXT.encode("utf-16-be"),
        CSV_TEXT.replace("ی", "ي").replace("ک", "ك").encode("cp1256"),
    ],
    ids=["utf-8", "utf-8 with bom", "utf-16 le", "utf-16 be", "windows-1256"],
)
def test_each_encoding(logged_in, data):
    job_id = job_id_of(upload(logged_in, data))
    page = logged_in.get(f"/contacts/import/{job_id}")
    assert "علی کریمی" in page_text(page) or "علي كريمي" in page_text(page)
    confirm(logged_in, job_id)
    from app.jobs import run_all_once

    run_all_once(logged_in.application)
    counts = stats(logged_in.get(f"/contacts/import/{job_id}"))
    assert counts == {"rows": 2, "created": 2, "updated": 0, "duplicates": 0, "invalid": 0}
    contacts = stored()
    assert (contacts[ALI].first_name, contacts[ALI].last_name) == ("علی", "کریمی")
    assert contacts[ALI].birth_date == date(1991, 8, 3)
    assert contacts[SARA].first_name == "سارا"


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_each_delimiter(logged_in, delimiter):
    content = CSV_TEXT.replace(",", delimiter)
    counts = stats(import_file(logged_in, content, filename="contacts.txt"))
    assert counts["created"] == 2
    assert stored()[ALI].birth_date == date(1991, 8, 3)


# Excel ------------------------------------------------------------------------------


def test_an_excel_file(logged_in, excel_reader):
    data = xlsx(
        [
            ["نام", "نام خانوادگی", "شماره موبایل", "تاریخ تولد", "جنسیت", "شهر", "کد مشتری"],
            ["علي", "كريمي", 9121234567, None, "آقا", "تهران", 1001],
            ["سارا", "", "0935 111 2233", "۱۳۶۵/۱۲/۲۹", 2, "", 1002],
            ["بد", "", 12345, "", "", "", 1003],
        ],
        date_cells={(1, 3): date(1991, 8, 3)},
    )
    response = import_file(logged_in, data, filename="مشتریان.xlsx")
    counts = stats(response)
    assert counts == {"rows": 3, "created": 2, "updated": 0, "duplicates": 0, "invalid": 1}
    ali = stored()[ALI]
    assert (ali.first_name, ali.last_name, ali.gender, ali.city) == (
        "علی",
        "کریمی",
        "male",
        "تهران",
    )
    assert (ali.birth_date, ali.birth_jmonth, ali.birth_jday) == (date(1991, 8, 3), 5, 12)
    assert ali.fields == {"کد مشتری": "1001"}  # 1001.0 in the cell, 1001 as written
    sara = stored()[SARA]
    assert (sara.gender, sara.birth_date) == ("female", date(1987, 3, 20))
    assert list(rejected(response)) == [4]


def test_the_mapping_page_of_an_excel_file_shows_numbers_and_dates_as_written(
    logged_in, excel_reader
):
    data = xlsx([["mobile", "birthday"], [9121234567, None]], {(1, 1): date(1991, 8, 3)})
    job_id = job_id_of(upload(logged_in, data, filename="a.xlsx"))
    shown = page_text(logged_in.get(f"/contacts/import/{job_id}"))
    assert "9121234567 1991-08-03" in shown
    assert "9121234567.0" not in shown


def test_an_excel_file_that_cannot_be_read(english):
    response = upload(english, b"PK\x03\x04" + b"\x00" * 200, filename="contacts.xlsx")
    assert "This Excel file cannot be read." in flashed_error(response)
    assert db.session.scalar(select(func.count(ImportJob.id))) == 0


def test_an_old_excel_file_is_refused_by_its_name(english):
    response = upload(english, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500, "old.xls")
    assert "Only CSV and Excel (.xlsx) files can be imported." in page_text(response)


# Dates -----------------------------------------------------------------------------

BIRTH_FORMS = [
    "1370/5/12",
    "1370/05/12",
    "۱۳۷۰/۰۵/۱۲",
    "۱۳۷۰-۰۵-۱۲",
    "1370.05.12",
    "13700512",
    "1991-08-03",
    "1991/08/03",
]


@pytest.mark.parametrize("written", BIRTH_FORMS)
def test_each_date_form_in_a_csv(logged_in, written):
    import_file(logged_in, f"موبایل,تاریخ تولد,سالگرد ازدواج\n09121234567,{written},{written}\n")
    contact = stored()[ALI]
    assert contact.birth_date == date(1991, 8, 3)
    assert (contact.birth_jmonth, contact.birth_jday) == (5, 12)
    assert contact.anniversary == date(1991, 8, 3)
    assert (contact.anniversary_jmonth, contact.anniversary_jday) == (5, 12)


def test_each_date_form_in_an_excel_file(logged_in, excel_reader):
    rows = [["موبایل", "تاریخ تولد"]]
    for index, written in enumerate(BIRTH_FORMS):
        rows.append([f"0912000{index:04d}", written])
    count = len(rows)
    rows.append(["09120009990", None])  # an Excel date cell
    rows.append(["09120009991", 33453])  # a plain number: Excel's serial for 1991-08-03
    rows.append(["09120009992", 13700512])  # the compact form, typed as a number
    data = xlsx(rows, {(count, 1): date(1991, 8, 3)})
    counts = stats(import_file(logged_in, data, filename="dates.xlsx"))
    assert counts["created"] == len(rows) - 1 and counts["invalid"] == 0
    births = {contact.birth_date for contact in stored().values()}
    assert births == {date(1991, 8, 3)}


def test_dates_that_do_not_exist_are_errors_on_their_row(english):
    response = import_file(
        english,
        "mobile,birthday\n"
        "09121234567,1403/07/31\n"
        "09121234568,31/05/1370\n"
        "09121234569,next year\n"
        "09121234570,1370/05/12\n",
    )
    assert stats(response) == {
        "rows": 4,
        "created": 1,
        "updated": 0,
        "duplicates": 0,
        "invalid": 3,
    }
    reasons = rejected(response)
    assert "“1403/07/31” is not a real date: there is no such day." in reasons[2]
    assert "Write the year first" in reasons[3]
    assert "“next year” is not a date." in reasons[4]
    assert all("column “birthday”" in reason for reason in reasons.values())


# The customer record -----------------------------------------------------------------


def test_genders_tags_cities_and_own_fields(logged_in):
    import_file(
        logged_in,
        "نام,موبایل,جنسیت,شهر,برچسب,کد ملی,ردیف\n"
        'علی,09121234567,مرد,شيراز,"vip، وفادار",0012345678,1\n'
        "سارا,09351112233,خانم,, وفادار ,,2\n"
        "نیما,09011112233,,,,,3\n",
    )
    contacts = stored()
    assert (contacts[ALI].gender, contacts[ALI].city) == ("male", "شیراز")
    assert contacts[ALI].fields == {"کد ملی": "0012345678"}
    assert contacts[SARA].gender == "female" and contacts[SARA].fields == {}
    assert contacts["+989011112233"].gender is None
    tags = {mobile: sorted(t.name for t in contact.tags) for mobile, contact in contacts.items()}
    assert tags == {ALI: ["vip", "وفادار"], SARA: ["وفادار"], "+989011112233": []}
    assert db.session.scalar(select(func.count(Tag.id))) == 2


def test_a_bad_gender_is_an_error_on_its_row(english):
    response = import_file(english, "mobile,gender\n09121234567,maybe\n09351112233,F\n")
    assert stats(response)["invalid"] == 1
    assert "“maybe” is not a gender" in rejected(response)[2]
    assert stored()[SARA].gender == "female"


def test_opt_outs_are_recorded_as_coming_from_the_import(logged_in, make_contact):
    make_contact("09191112233")
    set_opt_out("+989191112233", True, "reply", "11")
    db.session.commit()
    import_file(
        logged_in,
        "موبایل,لغو عضویت\n09121234567,بله\n09351112233,خیر\n09191112233,no\n",
        on_duplicate="update",
    )
    contacts = stored()
    assert contacts[ALI].opted_out_at is not None
    assert contacts[SARA].opted_out_at is None
    # «no» never signs anyone up again: only the contact can (reply «۱۲»).
    assert contacts["+989191112233"].opted_out_at is not None
    events = db.session.scalars(select(OptOutEvent).where(OptOutEvent.source == "import")).all()
    assert [(e.mobile, e.opted_out, e.text) for e in events] == [(ALI, True, "contacts.csv")]


def test_a_bad_yes_or_no_is_an_error_on_its_row(english):
    response = import_file(english, "mobile,opted out\n09121234567,perhaps\n")
    assert "is not yes or no" in rejected(response)[2]


# Duplicates --------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["skip", "update"])
def test_a_number_twice_in_the_file_is_imported_once_from_its_first_row(english, policy):
    response = import_file(
        english,
        "name,mobile,city\n"
        "Ali,09121234567,Tehran\n"
        "Sara,09351112233,\n"
        "Ali again,+98 912 123 4567,Qom\n",
        on_duplicate=policy,
    )
    counts = stats(response)
    assert counts == {"rows": 3, "created": 2, "updated": 0, "duplicates": 1, "invalid": 0}
    assert rejected(response) == {4: "Line 4: Same number as line 2."}
    assert (stored()[ALI].first_name, stored()[ALI].city) == ("Ali", "Tehran")


def test_repeats_far_apart_in_a_large_file_are_found_across_chunks(app, tmp_path):
    app.config["VAFA_IMPORT_CHUNK"] = 4
    lines = ["mobile,name"] + [f"0912000{i:04d},n{i}" for i in range(20)]
    lines += ["09120000003,again", "09120000019,again"]
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines))
    job = importing.import_file(path, locale="en")
    assert (job.rows, job.created, job.duplicates) == (22, 20, 2)
    with open(importing.rejected_path(job), encoding="utf-8-sig", newline="") as handle:
        reasons = [row[-1] for row in csv.reader(handle)][1:]
    assert reasons == ["Line 22: Same number as line 5.", "Line 23: Same number as line 21."]


def test_against_the_database_skip_leaves_contacts_as_they_were(english, make_contact):
    make_contact("09121234567", first_name="Old", city="Shiraz", fields={"code": "7"})
    response = import_file(
        english, "name,mobile,city,code,tags\nNew,09121234567,Tehran,8,vip\n", on_duplicate="skip"
    )
    assert stats(response) == {"rows": 1, "created": 0, "updated": 0, "duplicates": 1, "invalid": 0}
    assert rejected(response) == {2: "Line 2: Already in your contacts; left as it was."}
    contact = stored()[ALI]
    assert (contact.first_name, contact.city, contact.fields, contact.tags) == (
        "Old",
        "Shiraz",
        {"code": "7"},
        [],
    )


def test_against_the_database_update_fills_what_the_file_has(english, make_contact):
    make_contact(
        "09121234567",
        first_name="Old",
        last_name="Name",
        city="Shiraz",
        gender="male",
        fields={"code": "7", "branch": "Vanak"},
    )
    existing_tag = Tag(name="loyal")
    db.session.add(existing_tag)
    db.session.flush()
    db.session.execute(
        contact_tags.insert().values(contact_id=stored()[ALI].id, tag_id=existing_tag.id)
    )
    db.session.commit()
    response = import_file(
        english,
        "first name,last name,mobile,city,gender,birthday,code,tags\n"
        "New,,09121234567,Tehran,,1370/05/12,8,vip\n",
        on_duplicate="update",
    )
    counts = stats(response)
    assert counts == {"rows": 1, "created": 0, "updated": 1, "duplicates": 0, "invalid": 0}
    contact = stored()[ALI]
    assert (contact.first_name, contact.last_name) == ("New", "Name")  # empty cell: kept
    assert (contact.city, contact.gender, contact.birth_jmonth) == ("Tehran", "male", 5)
    assert contact.fields == {"code": "8", "branch": "Vanak"}
    assert sorted(t.name for t in contact.tags) == ["loyal", "vip"]  # tags are added
    assert contact.source == "manual"


# Bad inputs -------------------------------------------------------------------------


def test_bad_mobiles_each_with_its_reason(english):
    response = import_file(
        english,
        "name,mobile\nA,\nB,02188776655\nC,0912123\nD,+447911123456\nE,0912abc4567\nF,9.12123E+09\n",
        columns={0: "full_name", 1: "mobile"},
    )
    counts = stats(response)
    assert counts["invalid"] == 6 and adds_up(counts)
    reasons = rejected(response)
    assert "The mobile number is empty." in reasons[2]
    assert "start with 09" in reasons[3]
    assert "11 digits" in reasons[4]
    assert "Iranian" in reasons[5]
    assert "not digits" in reasons[6]
    assert "not digits" in reasons[7]  # what Excel does to a long number saved as CSV


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        (b"\r\n\r\n", "The file is empty."),
        ("نام,موبایل\n".encode(), "The file has column names but no rows under them."),
        ("نام,موبایل\n,\n".encode(), "The file has column names but no rows under them."),
    ],
)
def test_empty_files_and_header_only_files_are_refused(english, content, message):
    response = upload(english, content)
    assert response.status_code == 200
    assert flashed_error(response) == message
    assert db.session.scalar(select(func.count(ImportJob.id))) == 0
    assert list(importing.imports_folder().iterdir()) == []


def test_too_many_columns_is_not_a_contact_list(english):
    header = ",".join(f"c{i}" for i in range(importing.MAX_COLUMNS + 1))
    response = upload(english, f"{header}\n" + "09121234567," * importing.MAX_COLUMNS + "x\n")
    assert "columns; Vafa reads at most" in flashed_error(response)
    assert db.session.scalar(select(func.count(ImportJob.id))) == 0


def test_a_row_wider_than_any_contact_list_is_an_error_on_its_row(english):
    """Past the first rows (which would have refused the file), a wide row is one bad row."""
    good = "".join(f"0912000{i:04d},n{i}\n" for i in range(importing.PREVIEW_ROWS + 2))
    wide = "09351112233" + ",x" * (importing.MAX_COLUMNS + 5)
    response = import_file(english, f"mobile,name\n{good}{wide}\n")
    counts = stats(response)
    assert (counts["created"], counts["invalid"]) == (importing.PREVIEW_ROWS + 2, 1)
    line = importing.PREVIEW_ROWS + 4
    assert rejected(response)[line] == f"Line {line}: The row has more than 60 columns."


def test_the_mapping_must_name_a_mobile_column(english):
    job_id = job_id_of(upload(english, CSV_TEXT))
    response = confirm(english, job_id, columns={1: "city"})
    assert response.status_code == 200
    assert "Choose the column that holds the mobile numbers." in flashed_error(response)
    # The page keeps the owner's choices, and nothing was started.
    assert re.search(r'name="column-1"[^>]*>.*?<option value="city" selected>', response.text, re.S)
    assert last_job().status == "mapping"


def test_two_columns_cannot_be_the_same_field(english):
    job_id = job_id_of(upload(english, CSV_TEXT))
    response = confirm(english, job_id, columns={0: "mobile"})
    assert "Only one column can be “Mobile”." in flashed_error(response)


def test_a_column_can_be_kept_as_an_own_field_or_ignored(logged_in):
    import_file(logged_in, CSV_TEXT, columns={0: "custom", 2: "ignore"})
    contact = stored()[ALI]
    assert (contact.first_name, contact.birth_date) == ("", None)
    assert contact.fields == {"نام": "علی کریمی"}


def test_without_a_header_an_own_field_is_named_by_its_column(logged_in):
    import_file(logged_in, "09121234567,شعبه ونک\n", columns={1: "custom"})
    column = in_locale("fa", lambda: gettext("Column %(number)s", number=2))
    assert stored()[ALI].fields == {column: "شعبه ونک"}


def test_an_upload_can_be_discarded_before_it_starts(logged_in):
    job_id = job_id_of(upload(logged_in, CSV_TEXT))
    assert len(list(importing.imports_folder().iterdir())) == 1
    response = logged_in.post(f"/contacts/import/{job_id}/discard")
    assert response.status_code == 302
    assert db.session.get(ImportJob, job_id) is None
    assert list(importing.imports_folder().iterdir()) == []
    assert stored() == {}


# The rejected rows go back in ------------------------------------------------------


def test_the_rejected_rows_file_imports_cleanly_once_fixed(logged_in):
    first = import_file(
        logged_in,
        "نام,موبایل,تاریخ تولد,شهر\n"
        "علی,09121234567,1370/05/12,تهران\n"
        "سارا,0935111223,1365/12/29,\n"  # one digit short
        "نیما,09011112233,1403/07/31,کرج\n"  # no such day
        "علی دوباره,09121234567,,\n",  # a repeat
    )
    counts = stats(first)
    assert counts == {"rows": 4, "created": 1, "updated": 0, "duplicates": 1, "invalid": 2}
    job_id = last_job().id
    data, rows = rejected_csv(logged_in, job_id)
    assert data.startswith(codecs.BOM_UTF8)
    assert rows[0][:4] == ["نام", "موبایل", "تاریخ تولد", "شهر"]
    assert [row[:4] for row in rows[1:]] == [
        ["سارا", "0935111223", "1365/12/29", ""],
        ["نیما", "09011112233", "1403/07/31", "کرج"],
        ["علی دوباره", "09121234567", "", ""],
    ]
    assert [len(row) for row in rows] == [5, 5, 5, 5]
    # The owner fixes the two bad rows in Excel, drops the repeat and imports it as it is.
    rows[1][1] = "09351112233"
    rows[2][2] = "1403/07/30"
    fixed = io.StringIO()
    csv.writer(fixed).writerows(rows[:3])
    second = import_file(logged_in, codecs.BOM_UTF8 + fixed.getvalue().encode(), "fixed.csv")
    assert stats(second) == {"rows": 2, "created": 2, "updated": 0, "duplicates": 0, "invalid": 0}
    contacts = stored()
    assert contacts[SARA].birth_date == date(1987, 3, 20)
    assert (contacts["+989011112233"].city, contacts["+989011112233"].birth_jday) == ("کرج", 30)
    assert all(not contact.fields for contact in contacts.values())  # the reason was ignored


def test_the_rejected_rows_of_a_file_without_header_go_back_in_the_same_way(logged_in):
    import_file(logged_in, "علی,09121234567,1370/05/12\nسارا,0935,1365/12/29\n")
    _data, rows = rejected_csv(logged_in, last_job().id)
    assert rows[0][:3] == ["full_name", "mobile", "birth_date"]
    rows[1][1] = "09351112233"
    fixed = io.StringIO()
    csv.writer(fixed).writerows(rows)
    response = import_file(logged_in, fixed.getvalue(), "fixed.csv")
    assert stats(response)["created"] == 1
    assert stored()[SARA].birth_date == date(1987, 3, 20)


def test_no_rejected_rows_no_file(logged_in):
    response = import_file(logged_in, CSV_TEXT)
    assert 'id="rejected-rows"' not in response.text
    job = last_job()
    assert logged_in.get(f"/contacts/import/{job.id}/rejected.csv").status_code == 404
    # The upload itself is gone once imported; nothing is left behind.
    assert list(importing.imports_folder().iterdir()) == []


def test_the_rejected_rows_download_is_named_after_the_file(logged_in):
    import_file(logged_in, "نام,موبایل\nبد,0912\n", filename="مشتریان آذر.csv")
    response = logged_in.get(f"/contacts/import/{last_job().id}/rejected.csv")
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert "attachment" in disposition
    assert "%D9%85%D8%B4%D8%AA%D8%B1%DB%8C%D8%A7%D9%86" in disposition  # «مشتریان», encoded


def test_counts_add_up_on_a_messy_file(english, make_contact):
    make_contact("09190000000")
    lines = ["name,mobile,birthday,gender"]
    for i in range(60):
        mobile = f"0912{i:07d}" if i % 7 else "0912"
        birth = "1403/07/31" if i % 11 == 0 else "1370/05/12"
        lines.append(f"n{i},{mobile},{birth},{'x' if i % 13 == 0 else 'm'}")
    lines += ["again,09120000001,,", "stored,09190000000,,"]
    response = import_file(english, "\n".join(lines))
    counts = stats(response)
    assert counts["rows"] == 62
    assert adds_up(counts)
    assert counts["duplicates"] == 2
    assert db.session.scalar(select(func.count(Contact.id))) == counts["created"] + 1


def test_the_time_of_a_date_cell_in_an_excel_birth_date_is_ignored(logged_in, excel_reader):
    moment = datetime(1991, 8, 3, 23, 59)  # noqa: DTZ001 (Excel's wall-clock time)
    data = xlsx([["mobile", "birthday"], ["09121234567", moment]])
    import_file(logged_in, data, filename="a.xlsx")
    assert stored()[ALI].birth_date == date(1991, 8, 3)
