"""Importing contacts from a CSV file, through the panel and through the importing.

The panel's flow: upload → the mapping page (Vafa's guesses kept) → the worker imports →
the result page. tests/integration/test_import_files.py covers encodings, Excel and
every bad input; this file keeps the first version's behaviour in the new flow.
"""

import csv
import re
from datetime import date

import pytest
from flask_babel import force_locale, gettext
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
from integration_support import in_locale, page_text, row_text
from sqlalchemy import func, select

from app.contacts import importing
from app.contacts.importing import UnreadableFile
from app.contacts.models import Contact, ContactList, ImportJob, list_members
from app.extensions import db

NO_CHANGES = {"updated": 0, "duplicates": 0, "invalid": 0}


def test_persian_header_row(logged_in):
    response = import_file(
        logged_in,
        "نام,موبایل,تاریخ تولد\n"
        "علی رضایی,09121234567,1370/05/12\n"
        "سارا,۰۹۳۵۱۱۱۲۲۳۳,۱۳۶۵/۱۲/۲۹\n"
        "بی‌تاریخ,+98 901 222 3344,\n",
    )
    assert response.status_code == 200
    assert stats(response) == {"rows": 3, "created": 3, **NO_CHANGES}
    contacts = stored()
    ali = contacts["+989121234567"]
    assert (ali.first_name, ali.last_name) == ("علی", "رضایی")
    assert ali.birth_date == date(1991, 8, 3)
    assert (ali.birth_jmonth, ali.birth_jday) == (5, 12)
    assert ali.source == "import"
    sara = contacts["+989351112233"]
    assert (sara.first_name, sara.last_name, sara.birth_date) == ("سارا", "", date(1987, 3, 20))
    assert (sara.birth_jmonth, sara.birth_jday) == (12, 29)
    nobody = contacts["+989012223344"]
    assert nobody.first_name == "بی\u200cتاریخ"  # the ZWNJ is kept
    assert (nobody.birth_date, nobody.birth_jmonth) == (None, None)


def test_the_mapping_page_shows_the_first_rows_and_the_guesses(logged_in):
    job_id = job_id_of(
        upload(logged_in, "نام,موبایل,تاریخ تولد\nعلی رضایی,09121234567,1370/05/12\n")
    )
    page = logged_in.get(f"/contacts/import/{job_id}")
    assert page.status_code == 200
    assert "علی رضایی" in page_text(page)
    # A lone «نام» holds the whole name; the other two by their names.
    assert re.findall(r'<option value="(\w+)" selected>', page.text) == [
        "full_name",
        "mobile",
        "birth_date",
    ]
    assert 'name="header"' in page.text and "checked" in page.text
    # Nothing is imported before the owner confirms.
    assert stored() == {}


def test_english_header_row_in_any_column_order(logged_in):
    response = import_file(
        logged_in,
        "Mobile,Birthday,First name,Last name\n"
        "0912 123 4567,1370/5/12,Ali,Rezaei\n"
        "(0935) 111-2233,,Sara,Ahmadi\n",
    )
    assert stats(response)["created"] == 2
    ali = stored()["+989121234567"]
    assert (ali.first_name, ali.last_name, ali.birth_date) == ("Ali", "Rezaei", date(1991, 8, 3))


def test_without_a_header_columns_are_guessed_from_their_values(logged_in):
    response = import_file(logged_in, "علی رضایی,09121234567,1370/05/12\nسارا,09351112233\n")
    assert stats(response) == {"rows": 2, "created": 2, **NO_CHANGES}
    ali = stored()["+989121234567"]
    assert (ali.first_name, ali.last_name, ali.birth_date) == ("علی", "رضایی", date(1991, 8, 3))


def test_utf8_with_bom_as_excel_saves_it(logged_in):
    data = "\ufeffنام,موبایل\r\nعلی,09121234567\r\n".encode()
    response = import_file(logged_in, data)
    assert stats(response)["created"] == 1
    assert stored()["+989121234567"].first_name == "علی"


def test_arabic_letters_and_stray_spaces_are_normalised(logged_in):
    import_file(logged_in, "نام,موبایل\n  علي   كاظمي ,09121234567\n")
    contact = stored()["+989121234567"]
    assert (contact.first_name, contact.last_name) == ("علی", "کاظمی")


@pytest.mark.parametrize(
    "mobile",
    [
        "09121234567",
        "+989121234567",
        "00989121234567",
        "989121234567",
        "9121234567",
        "0912-123-4567",
        "۰۹۱۲ ۱۲۳ ۴۵۶۷",
        "٠٩١٢١٢٣٤٥٦٧",
    ],
)
def test_every_mobile_form_is_stored_canonically(logged_in, mobile):
    import_file(logged_in, f'نام,موبایل\nعلی,"{mobile}"\n')
    assert list(stored()) == ["+989121234567"]


def test_bad_rows_are_reported_with_line_and_reason(english):
    response = import_file(
        english,
        "name,mobile,birth date\n"  # line 1
        "Ali,09121234567,1370/05/12\n"  # 2
        "Landline,02188776655,\n"  # 3
        "Bad date,09351112233,1403/07/31\n"  # 4
        "\n"  # 5: blank lines are skipped, not counted
        "Short,0912123,\n"  # 6
        "Again,0912 123 4567,\n"  # 7: same number as line 2
        "Foreign,+447911123456,\n",  # 8
    )
    assert response.status_code == 200
    counts = stats(response)
    assert counts == {"rows": 6, "created": 1, "updated": 0, "duplicates": 1, "invalid": 4}
    assert adds_up(counts)
    reasons = rejected(response)
    assert sorted(reasons) == [3, 4, 6, 7, 8]
    assert "start with 09" in reasons[3] and "“mobile”" in reasons[3]
    assert "1403/07/31" in reasons[4] and "not a real date" in reasons[4]
    assert "“birth date”" in reasons[4]
    assert "11 digits" in reasons[6]
    assert reasons[7] == "Line 7: Same number as line 2."
    assert "Iranian" in reasons[8]
    # Nothing of a rejected row was stored; the good row was.
    assert list(stored()) == ["+989121234567"]


def test_reasons_are_worded_in_the_language_of_whoever_reads_them(logged_in):
    # Started in Persian (the default), read in English: the reasons are English, on the
    # page and in the download, though the import ran in Persian.
    started = import_file(logged_in, "علی,09121234567\nرضا,021\n")
    job_id = last_job().id
    assert "۲" in rejected(started)[2]
    logged_in.post("/language", data={"lang": "en"})
    page = logged_in.get(f"/contacts/import/{job_id}")
    reason = rejected(page)[2]
    assert reason.startswith("Line 2, column 2: “021”: A mobile number has 11 digits")
    _data, rows = rejected_csv(logged_in, job_id)
    assert rows[0][-1] == "Reason"
    assert rows[1] == ["رضا", "021", reason]
    # And back: Persian again, with Persian digits.
    logged_in.post("/language", data={"lang": "fa"})
    _data, rows = rejected_csv(logged_in, job_id)
    assert rows[1][-1] == rejected(started)[2]
    assert rows[1][-1].startswith("سطر ۲")


def test_line_numbers_are_persian_on_the_persian_page(logged_in):
    response = import_file(logged_in, "علی,09121234567\nعلی,09121234567\nرضا,021\n")
    reasons = rejected(response)
    assert sorted(reasons) == [2, 3]
    # "Line 2: same number as line 1", whatever its Persian wording: Persian digits only.
    assert "۲" in reasons[2] and "۱" in reasons[2]
    assert not any(char in "0123456789" for char in reasons[2])
    assert "۳" in reasons[3].split(":")[0]
    assert stats(response) == {"rows": 3, "created": 1, "updated": 0, "duplicates": 1, "invalid": 1}
    assert 'data-stat="rows">۳<' in response.text


def test_numbers_already_stored_are_skipped_and_left_alone(logged_in, make_contact):
    make_contact("09121234567", first_name="قدیمی")
    response = import_file(logged_in, "نام,موبایل\nجدید,0912 123 4567\nسارا,09351112233\n")
    counts = stats(response)
    assert counts == {"rows": 2, "created": 1, "updated": 0, "duplicates": 1, "invalid": 0}
    assert stored()["+989121234567"].first_name == "قدیمی"
    assert stored()["+989121234567"].source == "manual"


def test_numbers_already_stored_are_updated_when_the_owner_says_so(logged_in, make_contact):
    make_contact("09121234567", first_name="قدیمی", last_name="نام‌خانوادگی", city="شیراز")
    response = import_file(
        logged_in,
        "نام,نام خانوادگی,موبایل,شهر\nجدید,,0912 123 4567,\nسارا,,09351112233,تبریز\n",
        on_duplicate="update",
    )
    counts = stats(response)
    assert counts == {"rows": 2, "created": 1, "updated": 1, "duplicates": 0, "invalid": 0}
    updated = stored()["+989121234567"]
    # Filled from the file where it has a value; empty cells change nothing.
    assert (updated.first_name, updated.last_name, updated.city) == (
        "جدید",
        "نام‌خانوادگی",
        "شیراز",
    )


def test_importing_the_same_file_twice_creates_nothing_the_second_time(logged_in):
    content = "نام,موبایل\nعلی,09121234567\nسارا,09351112233\n"
    import_file(logged_in, content)
    counts = stats(import_file(logged_in, content))
    assert counts == {"rows": 2, "created": 0, "updated": 0, "duplicates": 2, "invalid": 0}
    assert len(stored()) == 2


def list_members_of(name: str) -> set[str]:
    return set(
        db.session.scalars(
            select(Contact.mobile)
            .join(list_members, list_members.c.contact_id == Contact.id)
            .join(ContactList, ContactList.id == list_members.c.list_id)
            .where(ContactList.name == name)
        )
    )


def test_importing_into_a_new_list_creates_it_with_the_members(logged_in, make_contact):
    make_contact("09121234567")
    make_contact("09190000000")  # stored, but not in the file: stays out of the list
    response = import_file(
        logged_in,
        "نام,موبایل\nعلی,09121234567\nسارا,09351112233\nبد,12\n",
        new_list="  مشتریان   ویژه ",
    )
    assert response.status_code == 200
    assert "مشتریان ویژه" in page_text(response)
    # Those left as they were (already stored) are in the list too: it is the file's list.
    assert list_members_of("مشتریان ویژه") == {"+989121234567", "+989351112233"}
    lists_page = logged_in.get("/contacts/lists")
    assert "۲" in row_text(lists_page, "مشتریان ویژه")


def test_importing_into_an_existing_list_adds_each_member_once(logged_in):
    import_file(logged_in, "علی,09121234567\n", new_list="وفادار")
    list_id = db.session.scalar(select(ContactList.id).where(ContactList.name == "وفادار"))
    import_file(logged_in, "علی,09121234567\nسارا,09351112233\n", list_id=str(list_id))
    assert list_members_of("وفادار") == {"+989121234567", "+989351112233"}
    assert db.session.scalar(select(func.count()).select_from(list_members)) == 2


def test_a_windows_1256_file_is_read_without_asking(logged_in):
    # What Windows-era Persian software saves: Windows-1256, with Arabic ي and ك.
    data = "نام,موبايل\nعلي كريمي,09121234567\n".encode("cp1256")
    response = import_file(logged_in, data, new_list="از ویندوز")
    assert stats(response) == {"rows": 1, "created": 1, **NO_CHANGES}
    contact = stored()["+989121234567"]
    assert (contact.first_name, contact.last_name) == ("علی", "کریمی")


def test_a_binary_file_is_refused_and_nothing_is_imported(english):
    response = upload(english, b"\x00\x01\x02garbage\x00" * 50, filename="contacts.csv")
    assert response.status_code == 200
    assert "This is not a CSV or Excel file." in flashed_error(response)
    assert stored() == {}
    assert db.session.scalar(select(func.count(ImportJob.id))) == 0
    assert db.session.scalar(select(func.count(ContactList.id))) == 0


def test_only_csv_and_excel_files_are_taken(english):
    response = upload(english, "علی,09121234567\n", filename="contacts.pdf")
    assert "Only CSV and Excel (.xlsx) files can be imported." in page_text(response)
    assert stored() == {}
    assert db.session.scalar(select(func.count(ImportJob.id))) == 0


def test_a_file_is_required(english):
    response = english.post(
        "/contacts/import", data={"kind": "contacts"}, content_type="multipart/form-data"
    )
    assert "Choose a file to import." in page_text(response)


def test_names_are_shown_escaped(logged_in):
    import_file(logged_in, 'name,mobile\n"<script>alert(1)</script> <b>bold</b>",09121234567\n')
    page = logged_in.get("/contacts/")
    assert "<script>alert(1)</script>" not in page.text
    assert "<b>bold</b>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert(1)</script> <b>bold</b>" in page_text(page)


def test_a_bad_value_is_shown_escaped_in_the_reason_and_the_preview(english):
    content = 'name,mobile,birth date\nAli,09121234567,"<img src=x onerror=alert(1)>"\n'
    job_id = job_id_of(upload(english, content))
    mapping_page = english.get(f"/contacts/import/{job_id}")
    assert "<img src=x" not in mapping_page.text
    confirm(english, job_id)
    from app.jobs import run_all_once

    run_all_once(english.application)
    response = english.get(f"/contacts/import/{job_id}")
    assert "<img src=x" not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in response.text


# The importer, without the panel ----------------------------------------------------


def write(tmp_path, content: str | bytes, name="contacts.csv"):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def test_import_file_accounts_for_every_row(app, tmp_path):
    data = (
        "نام,موبایل,تاریخ تولد\n"
        "علی,09121234567,1370/05/12\n"
        "رضا,09121234567,\n"
        "سارا,0935,\n"
        "مریم,09191112233,31/12/1370\n"
        "نیما,09011112233,\n"
    )
    with force_locale("en"):
        job = importing.import_file(write(tmp_path, data), locale="en")
    assert (job.status, job.rows, job.created, job.updated) == ("done", 5, 2, 0)
    assert (job.duplicates, job.invalid) == (1, 2)
    assert job.rows == job.created + job.updated + job.duplicates + job.invalid
    with open(importing.rejected_path(job), encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["نام", "موبایل", "تاریخ تولد", "Reason"]
    assert rows[1] == ["رضا", "09121234567", "", "Line 3: Same number as line 2."]
    assert rows[2][:3] == ["سارا", "0935", ""]
    assert rows[2][3].startswith("Line 4, column “موبایل”: “0935”: A mobile number has 11")
    assert rows[3][:3] == ["مریم", "09191112233", "31/12/1370"]
    assert rows[3][3].startswith("Line 5, column “تاریخ تولد”: Write the year first")
    assert set(stored()) == {"+989121234567", "+989011112233"}


def test_import_file_into_a_list(app, make_contact, tmp_path):
    make_contact("09121234567")
    contact_list = ContactList(name="تست")
    db.session.add(contact_list)
    db.session.commit()
    job = importing.import_file(
        write(tmp_path, "a,09121234567\nb,09351112233\n"), list_id=contact_list.id
    )
    assert (job.created, job.duplicates) == (1, 1)
    assert list_members_of("تست") == {"+989121234567", "+989351112233"}


def test_import_file_in_chunks_counts_every_row(app, tmp_path):
    """Files larger than one chunk are stored chunk by chunk; repeats span chunks."""
    app.config["VAFA_IMPORT_CHUNK"] = 3
    lines = [f"n{i},0912000{i:04d}" for i in range(10)] + ["again,09120000001"]
    job = importing.import_file(write(tmp_path, "\n".join(lines)))
    assert (job.rows, job.created, job.duplicates) == (11, 10, 1)
    assert len(stored()) == 10


def test_import_file_reads_windows_1256(app, tmp_path):
    job = importing.import_file(write(tmp_path, "علي,09121234567".encode("cp1256")))
    assert job.created == 1
    assert stored()["+989121234567"].first_name == "علی"


def test_an_empty_file_or_one_with_only_column_names_imports_nothing(app, tmp_path):
    empty = re.escape(in_locale("fa", lambda: gettext("The file is empty.")))
    with pytest.raises(UnreadableFile, match=empty):
        importing.import_file(write(tmp_path, b""))
    with pytest.raises(UnreadableFile, match=empty):
        importing.import_file(write(tmp_path, b"\n\r\n  \n"))
    no_rows = in_locale("fa", lambda: gettext("The file has column names but no rows under them."))
    with pytest.raises(UnreadableFile, match=re.escape(no_rows)):
        importing.import_file(write(tmp_path, "نام,موبایل\n\n"))
    assert db.session.scalar(select(func.count(ImportJob.id))) == 0
    # The refused files were not kept.
    assert list(importing.imports_folder().iterdir()) == []
