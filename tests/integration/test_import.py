"""Importing contacts from a CSV file, through the form and through the service."""

import io
import re
from datetime import date

import pytest
from flask_babel import force_locale
from integration_support import as_int, page_text, row_text, text_of
from sqlalchemy import func, select

from app.contacts.models import Contact, ContactList, list_members
from app.contacts.service import UnreadableFile, import_contacts
from app.extensions import db


def upload(client, content: str | bytes, filename="contacts.csv", **fields):
    data = content.encode("utf-8") if isinstance(content, str) else content
    form = {"list_id": "0", "new_list": "", **fields, "file": (io.BytesIO(data), filename)}
    return client.post("/contacts/import", data=form, content_type="multipart/form-data")


def stats(response) -> dict[str, int]:
    found = dict(re.findall(r'data-stat="(\w+)">([^<]*)<', response.text))
    assert found, page_text(response)
    return {name: as_int(value) for name, value in found.items()}


def stored() -> dict[str, Contact]:
    db.session.expire_all()
    return {c.mobile: c for c in db.session.scalars(select(Contact))}


def rejected(response) -> dict[int, str]:
    """Line → reason, from the result page's table of rows not imported."""
    table = re.search(r'<table[^>]*id="rejected".*?</table>', response.text, flags=re.S)
    if not table:
        return {}
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", table.group(0), flags=re.S)
    return {as_int(line): text_of(reason) for line, reason in rows}


def test_persian_header_row(logged_in):
    response = upload(
        logged_in,
        "نام,موبایل,تاریخ تولد\n"
        "علی رضایی,09121234567,1370/05/12\n"
        "سارا,۰۹۳۵۱۱۱۲۲۳۳,۱۳۶۵/۱۲/۲۹\n"
        "بی‌تاریخ,+98 901 222 3344,\n",
    )
    assert response.status_code == 200
    assert stats(response) == {
        "rows": 3,
        "created": 3,
        "existing": 0,
        "duplicates": 0,
        "invalid": 0,
    }
    contacts = stored()
    ali = contacts["+989121234567"]
    assert (ali.first_name, ali.last_name) == ("علی", "رضایی")
    assert ali.birth_date == date(1991, 8, 3)
    assert (ali.birth_jmonth, ali.birth_jday) == (5, 12)
    sara = contacts["+989351112233"]
    assert (sara.first_name, sara.last_name, sara.birth_date) == ("سارا", "", date(1987, 3, 20))
    assert (sara.birth_jmonth, sara.birth_jday) == (12, 29)
    nobody = contacts["+989012223344"]
    assert nobody.first_name == "بی\u200cتاریخ"  # the ZWNJ is kept
    assert (nobody.birth_date, nobody.birth_jmonth) == (None, None)


def test_english_header_row_in_any_column_order(logged_in):
    response = upload(
        logged_in,
        "Mobile,Birthday,First name,Last name\n"
        "0912 123 4567,1370/5/12,Ali,Rezaei\n"
        "(0935) 111-2233,,Sara,Ahmadi\n",
    )
    assert stats(response)["created"] == 2
    ali = stored()["+989121234567"]
    assert (ali.first_name, ali.last_name, ali.birth_date) == ("Ali", "Rezaei", date(1991, 8, 3))


def test_without_a_header_columns_are_name_mobile_birth_date(logged_in):
    response = upload(logged_in, "علی رضایی,09121234567,1370/05/12\nسارا,09351112233\n")
    assert stats(response) == {
        "rows": 2,
        "created": 2,
        "existing": 0,
        "duplicates": 0,
        "invalid": 0,
    }
    ali = stored()["+989121234567"]
    assert (ali.first_name, ali.last_name, ali.birth_date) == ("علی", "رضایی", date(1991, 8, 3))


def test_utf8_with_bom_as_excel_saves_it(logged_in):
    data = "\ufeffنام,موبایل\r\nعلی,09121234567\r\n".encode()
    response = upload(logged_in, data)
    assert stats(response)["created"] == 1
    assert stored()["+989121234567"].first_name == "علی"


def test_arabic_letters_and_stray_spaces_are_normalised(logged_in):
    upload(logged_in, "نام,موبایل\n  علي   كاظمي ,09121234567\n")
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
    upload(logged_in, f'نام,موبایل\nعلی,"{mobile}"\n')
    assert list(stored()) == ["+989121234567"]


def test_bad_rows_are_reported_with_line_and_reason(english):
    response = upload(
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
    assert counts == {"rows": 6, "created": 1, "existing": 0, "duplicates": 1, "invalid": 4}
    assert counts["rows"] == sum(
        counts[k] for k in ("created", "existing", "duplicates", "invalid")
    )
    reasons = rejected(response)
    assert sorted(reasons) == [3, 4, 6, 7, 8]
    assert "start with 09" in reasons[3]
    assert "1403/07/31" in reasons[4] and "Jalali" in reasons[4]
    assert "11 digits" in reasons[6]
    assert reasons[7] == "Same number as line 2."
    assert "Iranian" in reasons[8]
    # Nothing of a rejected row was stored; the good row was.
    assert list(stored()) == ["+989121234567"]


def test_line_numbers_are_persian_on_the_persian_page(logged_in):
    response = upload(logged_in, "علی,09121234567\nعلی,09121234567\nرضا,021\n")
    assert "<td>۲</td>" in response.text
    assert "<td>۳</td>" in response.text
    assert stats(response) == {
        "rows": 3,
        "created": 1,
        "existing": 0,
        "duplicates": 1,
        "invalid": 1,
    }


def test_numbers_already_stored_count_as_existing_and_are_left_alone(logged_in, make_contact):
    make_contact("09121234567", first_name="قدیمی")
    response = upload(logged_in, "نام,موبایل\nجدید,0912 123 4567\nسارا,09351112233\n")
    counts = stats(response)
    assert counts == {"rows": 2, "created": 1, "existing": 1, "duplicates": 0, "invalid": 0}
    assert stored()["+989121234567"].first_name == "قدیمی"


def test_importing_the_same_file_twice_creates_nothing_the_second_time(logged_in):
    content = "نام,موبایل\nعلی,09121234567\nسارا,09351112233\n"
    upload(logged_in, content)
    counts = stats(upload(logged_in, content))
    assert counts == {"rows": 2, "created": 0, "existing": 2, "duplicates": 0, "invalid": 0}
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
    response = upload(
        logged_in,
        "نام,موبایل\nعلی,09121234567\nسارا,09351112233\nبد,12\n",
        new_list="  مشتریان   ویژه ",
    )
    assert response.status_code == 200
    assert "مشتریان ویژه" in page_text(response)
    assert list_members_of("مشتریان ویژه") == {"+989121234567", "+989351112233"}
    lists_page = logged_in.get("/contacts/lists")
    assert "۲" in row_text(lists_page, "مشتریان ویژه")


def test_importing_into_an_existing_list_adds_each_member_once(logged_in):
    upload(logged_in, "علی,09121234567\n", new_list="وفادار")
    list_id = db.session.scalar(select(ContactList.id).where(ContactList.name == "وفادار"))
    upload(logged_in, "علی,09121234567\nسارا,09351112233\n", list_id=str(list_id))
    assert list_members_of("وفادار") == {"+989121234567", "+989351112233"}
    assert db.session.scalar(select(func.count()).select_from(list_members)) == 2


def test_a_file_that_is_not_utf8_is_refused_and_nothing_is_imported(english):
    # What Windows-era Persian software saves: Windows-1256, with Arabic ي.
    data = "نام,موبايل\nعلي,09121234567\n".encode("cp1256")
    response = upload(english, data, new_list="از ویندوز")
    assert response.status_code == 200
    assert "The file is not UTF-8 text." in page_text(response)
    assert 'data-stat="rows"' not in response.text
    assert stored() == {}
    assert db.session.scalar(select(func.count(ContactList.id))) == 0


def test_only_csv_files_are_taken(english):
    response = upload(english, "علی,09121234567\n", filename="contacts.xlsx")
    assert "Only CSV files can be imported for now." in page_text(response)
    assert stored() == {}


def test_a_file_is_required(english):
    response = english.post(
        "/contacts/import", data={"list_id": "0"}, content_type="multipart/form-data"
    )
    assert "Choose a file to import." in page_text(response)


def test_names_are_shown_escaped(logged_in):
    upload(logged_in, 'name,mobile\n"<script>alert(1)</script> <b>bold</b>",09121234567\n')
    page = logged_in.get("/contacts/")
    assert "<script>alert(1)</script>" not in page.text
    assert "<b>bold</b>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert(1)</script> <b>bold</b>" in page_text(page)


def test_a_bad_value_is_shown_escaped_in_the_reason(english):
    response = upload(
        english, 'name,mobile,birth date\nAli,09121234567,"<img src=x onerror=alert(1)>"\n'
    )
    assert "<img src=x" not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in response.text


# The service, without the web form --------------------------------------------------


def test_import_contacts_accounts_for_every_row(app):
    data = (
        "نام,موبایل,تاریخ تولد\n"
        "علی,09121234567,1370/05/12\n"
        "رضا,09121234567,\n"
        "سارا,0935,\n"
        "مریم,09191112233,31/12/1370\n"
        "نیما,09011112233,\n"
    ).encode()
    with force_locale("en"):
        result = import_contacts(data)
    db.session.commit()
    assert (result.rows, result.created, result.existing) == (5, 2, 0)
    assert result.duplicates == [(3, "Same number as line 2.")]
    assert [line for line, _reason in result.invalid] == [4, 5]
    assert result.rows == result.created + result.existing + len(result.duplicates) + len(
        result.invalid
    )
    assert set(stored()) == {"+989121234567", "+989011112233"}


def test_import_contacts_into_a_list(app, make_contact):
    make_contact("09121234567")
    contact_list = ContactList(name="تست")
    db.session.add(contact_list)
    db.session.flush()
    result = import_contacts(b"a,09121234567\nb,09351112233\n", contact_list.id)
    db.session.commit()
    assert (result.created, result.existing) == (1, 1)
    assert list_members_of("تست") == {"+989121234567", "+989351112233"}


def test_import_contacts_in_chunks_counts_every_row(app, monkeypatch):
    """Files larger than one chunk are stored chunk by chunk; repeats span chunks."""
    monkeypatch.setattr("app.contacts.service.IMPORT_CHUNK", 3)
    lines = [f"n{i},0912000{i:04d}" for i in range(10)] + ["again,09120000001"]
    result = import_contacts("\n".join(lines).encode())
    db.session.commit()
    assert (result.rows, result.created, len(result.duplicates)) == (11, 10, 1)
    assert len(stored()) == 10


def test_import_contacts_refuses_non_utf8_bytes(app):
    with pytest.raises(UnreadableFile):
        import_contacts("علي,09121234567".encode("cp1256"))


def test_an_empty_file_imports_nothing(app):
    result = import_contacts(b"")
    assert (result.rows, result.created, result.invalid) == (0, 0, [])
    result = import_contacts("نام,موبایل\n\n".encode())
    assert result.rows == 0
