"""The delivery log to XLSX, built from the same rows as its CSV."""

import csv
import io
import re
import zipfile
from datetime import UTC, datetime

import pytest
from flask_babel import lazy_gettext as _l
from integration_support import in_locale
from python_calamine import CalamineWorkbook

from app.extensions import db
from app.sending.models import STATUS_LABELS, Message
from app.sending.service import default_account

NOWRUZ = datetime(2026, 3, 21, 7, 0, tzinfo=UTC)  # 10:30 on 1405/01/01 in Tehran


def fa(message) -> str:
    return in_locale("fa", lambda: message)


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))


def read_xlsx(response) -> list[list]:
    assert response.status_code == 200
    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return (
        CalamineWorkbook.from_filelike(io.BytesIO(response.data)).get_sheet_by_index(0).to_python()
    )


def sheet_xml(response) -> str:
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        return archive.read("xl/worksheets/sheet1.xml").decode()


# The delivery log ------------------------------------------------------------------


@pytest.fixture
def log(make_contact):
    ali = make_contact("09121234567", first_name="علی")
    account = default_account()
    for n, status in enumerate(("delivered", "failed", "unknown")):
        db.session.add(
            Message(
                contact_id=ali.id,
                provider_id=account.id,
                mobile=ali.mobile,
                body=f"سلام علی، پیام {n}\nخط دوم",
                parts=1,
                sender="10000000",
                status=status,
                error="dispatcher_stopped" if status == "unknown" else None,
                provider_ref=f"ref-{n}",
                idempotency_key=f"log:{n}",
                created_at=NOWRUZ,
                sent_at=NOWRUZ,
            )
        )
    db.session.commit()


def test_the_delivery_log_to_xlsx(logged_in, log):
    response = logged_in.get("/reports/messages.xlsx")
    assert "vafa-delivery-log.xlsx" in response.headers["Content-Disposition"]
    header, *rows = read_xlsx(response)
    assert header[:5] == [
        fa(_l("Message")),
        fa(_l("Campaign")),
        fa(_l("Contact")),
        fa(_l("Mobile")),
        fa(_l("Text")),
    ]
    assert [row[3] for row in rows] == ["0912 123 4567"] * 3
    assert [row[2] for row in rows] == ["علی"] * 3
    assert rows[0][4] == "سلام علی، پیام 0\nخط دوم"
    assert rows[0][6] == fa(STATUS_LABELS["delivered"])
    assert rows[0][9:11] == ["1405/01/01 10:30"] * 2
    assert rows[0][1] == ""  # no campaign
    assert 'rightToLeft="1"' in sheet_xml(response)
    failed = read_xlsx(logged_in.get("/reports/messages.xlsx", query_string={"status": "failed"}))
    assert [row[6] for row in failed[1:]] == [fa(STATUS_LABELS["failed"])]


def test_the_delivery_log_xlsx_and_csv_hold_the_same_rows(logged_in, log):
    xlsx_rows = read_xlsx(logged_in.get("/reports/messages.xlsx"))
    csv_rows = read_csv(logged_in.get("/reports/messages.csv"))

    def plain(value):
        return str(int(value)) if isinstance(value, float) else str(value)

    assert [[plain(v) for v in row] for row in xlsx_rows] == csv_rows


def test_the_log_page_links_both_exports(logged_in, log):
    page = logged_in.get("/reports/messages", query_string={"status": "failed"})
    assert re.search(r'href="/reports/messages\.xlsx\?status=failed"', page.text)
    assert re.search(r'href="/reports/messages\.csv\?status=failed"', page.text)
