"""The delivery log page and its CSV export."""

import csv
import io
import re
from datetime import UTC, datetime, time

import pytest
from integration_support import in_locale, log_in, page_text, row_text
from sqlalchemy import select, update

from app.contacts.importing import import_file
from app.extensions import db
from app.jobs import run_all_once
from app.messaging import service as campaigns
from app.sending.models import ERROR_LABELS, STATUS_LABELS, Message
from app.sending.policy import SendingPolicy, save_policy
from app.sending.service import default_account

# 10:30 on Nowruz 1405 in Tehran.
NOWRUZ = datetime(2026, 3, 21, 7, 0, tzinfo=UTC)
BODY = "سلام {نام|دوست عزیز}، نوروز مبارک! می‌خواهیم"


@pytest.fixture
def sent_on_nowruz(client, owner, make_contact, time_machine):
    """A logged-in client, after a campaign to three contacts was sent and delivered at
    10:30 on Nowruz 1405 (the clock stays there)."""
    time_machine.move_to(NOWRUZ, tick=False)
    make_contact("09121234567", first_name="علی", last_name="رضایی")
    make_contact("09351112233", first_name="سارا")
    make_contact("09190001122")
    new_campaign(BODY)
    run_all_once(client.application)
    return log_in(client)


def new_campaign(body: str, list_id: int | None = None):
    """A campaign through the console provider, confirmed.

    Any hour may send, and texts go as written (no opt-out line): this file is about
    the log, and compares the texts in it with the campaign's.
    """
    save_policy(SendingPolicy(window_start=time(0), window_end=time(0), optout_line=False))
    campaign = campaigns.create_campaign(
        name="نوروز",
        body=body,
        list_id=list_id,
        provider_id=default_account().id,
        sender="10000000",
        scheduled_at=None,
        created_by_id=None,
    )
    campaigns.confirm_campaign(campaign)
    db.session.commit()
    return campaign


def message_rows(response) -> list[int]:
    return [int(v) for v in re.findall(r'data-message="(\d+)"', response.text)]


def all_message_ids() -> list[int]:
    return sorted(db.session.scalars(select(Message.id)), reverse=True)


def test_the_log_shows_each_message_as_sent(sent_on_nowruz):
    client = sent_on_nowruz
    response = client.get("/reports/messages")
    assert response.status_code == 200
    assert message_rows(response) == all_message_ids()  # newest first

    row = row_text(response, "سلام علی،")
    assert "۰۹۱۲ ۱۲۳ ۴۵۶۷" in row
    assert "سلام علی، نوروز مبارک! می\u200cخواهیم" in row
    assert " ۱ " in f" {row} "  # one part
    assert in_locale("fa", lambda: STATUS_LABELS["delivered"]) in row
    message_id = db.session.scalar(select(Message.id).where(Message.mobile == "+989121234567"))
    assert f"console-{message_id}" in row
    # Queued, sent and delivered: all at 10:30 on Nowruz, in Persian digits.
    assert row.count("۱۴۰۵/۰۱/۰۱ ۱۰:۳۰") == 3
    assert "2026" not in row and "1405" not in row

    assert '<bdi dir="ltr">۰۹۱۲ ۱۲۳ ۴۵۶۷</bdi>' in response.text
    assert "سلام دوست عزیز، نوروز مبارک!" in page_text(response)


def test_the_english_log_keeps_jalali_dates_with_latin_digits(sent_on_nowruz):
    client = sent_on_nowruz
    client.post("/language", data={"lang": "en"})
    row = row_text(client.get("/reports/messages"), "سلام سارا،")
    assert "0935 111 2233" in row
    assert "Delivered" in row
    assert row.count("1405/01/01 10:30") == 3


def set_status(mobile: str, status: str, error: str | None = None) -> None:
    db.session.execute(
        update(Message).where(Message.mobile == mobile).values(status=status, error=error)
    )
    db.session.commit()


def shown(client, **filters) -> set[str]:
    """Mobiles (stored form) of the messages the log shows with these filters."""
    response = client.get("/reports/messages", query_string=filters)
    assert response.status_code == 200
    ids = message_rows(response)
    return set(db.session.scalars(select(Message.mobile).where(Message.id.in_(ids))))


ALI, SARA, NAMELESS = "+989121234567", "+989351112233", "+989190001122"


def test_filter_by_status(sent_on_nowruz):
    client = sent_on_nowruz
    set_status(SARA, "failed")
    set_status(NAMELESS, "unknown", "maybe_sent")
    assert shown(client, status="failed") == {SARA}
    assert shown(client, status="delivered") == {ALI}
    assert shown(client, status="unknown") == {NAMELESS}
    assert shown(client, status="expired") == set()
    assert shown(client, status="") == {ALI, SARA, NAMELESS}
    assert shown(client, status="no-such-status") == {ALI, SARA, NAMELESS}
    # The error is explained where the status is shown.
    page = client.get("/reports/messages", query_string={"status": "unknown"})
    assert in_locale("fa", lambda: ERROR_LABELS["maybe_sent"]) in page_text(page)


@pytest.mark.parametrize(
    ("mobile", "expected"),
    [
        ("09121234567", {ALI}),
        ("۰۹۱۲ ۱۲۳ ۴۵۶۷", {ALI}),
        ("+98 912 123 4567", {ALI}),
        ("0935-111-2233", {SARA}),
        ("2233", {SARA}),
        ("09999999999", set()),
    ],
)
def test_filter_by_mobile(sent_on_nowruz, mobile, expected):
    assert shown(sent_on_nowruz, mobile=mobile) == expected


def test_filter_by_the_start_of_a_number_matches_like_the_contacts_search(
    sent_on_nowruz, make_contact
):
    make_contact("09351912000")  # has «912» inside, but is not a 0912 number
    new_campaign("سلام")
    run_all_once(sent_on_nowruz.application)
    assert shown(sent_on_nowruz, mobile="0912") == {ALI}
    assert shown(sent_on_nowruz, mobile="۰۹۳۵") == {SARA, "+989351912000"}


def test_filters_combine(sent_on_nowruz):
    set_status(SARA, "failed")
    assert shown(sent_on_nowruz, status="failed", mobile="0935") == {SARA}
    assert shown(sent_on_nowruz, status="failed", mobile="0912") == set()


def test_filter_by_campaign(sent_on_nowruz):
    second = new_campaign("پیام دوم")
    run_all_once(sent_on_nowruz.application)
    response = sent_on_nowruz.get("/reports/messages", query_string={"campaign": second.id})
    assert len(message_rows(response)) == 3
    assert "پیام دوم" in page_text(response)
    assert "نوروز مبارک" not in page_text(response)


def test_the_log_pages_through_every_message_once(client, owner, app, tmp_path):
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("\n".join(f"n{i},0912000{i:04d}" for i in range(57)))
    assert import_file(numbers).created == 57
    new_campaign("سلام")
    run_all_once(app)
    log_in(client)
    seen, url = [], "/reports/messages"
    while url:
        response = client.get(url)
        seen += message_rows(response)
        link = re.search(r'href="([^"]*before=\d+[^"]*)"', response.text)
        url = link.group(1).replace("&amp;", "&") if link else None
    assert seen == all_message_ids()
    assert len(seen) == 57


def test_an_empty_log(logged_in):
    response = logged_in.get("/reports/messages")
    assert response.status_code == 200
    assert message_rows(response) == []


# CSV export ----------------------------------------------------------------------------


def export(client, **filters) -> list[list[str]]:
    response = client.get("/reports/messages.csv", query_string=filters)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")  # so Excel reads it as UTF-8
    text = response.data.decode("utf-8-sig")
    assert "\ufeff" not in text
    return list(csv.reader(io.StringIO(text, newline="")))


def test_export_is_excel_ready_utf8_with_jalali_dates(sent_on_nowruz):
    header, *rows = export(sent_on_nowruz)
    assert header == [
        "پیامک", "کمپین", "مخاطب", "موبایل", "متن", "بخش", "وضعیت", "سرویس‌دهنده",
        "شناسهٔ سرویس‌دهنده", "زمان ورود به صف", "زمان ارسال", "زمان وضعیت نهایی", "خطا",
    ]  # fmt: skip
    assert len(rows) == 3
    assert all(len(row) == 13 for row in rows)
    by_mobile = {row[3]: row for row in rows}
    ali = by_mobile["0912 123 4567"]  # the national form, so Excel keeps the 0
    message_id = db.session.scalar(select(Message.id).where(Message.mobile == ALI))
    assert ali[0] == str(message_id)
    assert ali[1:3] == ["نوروز", "علی رضایی"]  # names, not ids
    assert ali[4] == "سلام علی، نوروز مبارک! می\u200cخواهیم"  # Persian and ZWNJ intact
    assert ali[5] == "1"
    assert ali[6] == in_locale("fa", lambda: STATUS_LABELS["delivered"])
    assert (ali[7], ali[8]) == ("console", f"console-{message_id}")
    assert ali[9:12] == ["1405/01/01 10:30"] * 3
    assert ali[12] == ""
    assert by_mobile["0919 000 1122"][2] == ""  # a contact without a name
    assert by_mobile["0919 000 1122"][4].startswith("سلام دوست عزیز،")


def test_export_headers_in_english(sent_on_nowruz):
    sent_on_nowruz.post("/language", data={"lang": "en"})
    header, *rows = export(sent_on_nowruz)
    assert header[:5] == ["Message", "Campaign", "Contact", "Mobile", "Text"]
    assert {row[6] for row in rows} == {"Delivered"}


def test_export_quotes_commas_quotes_and_line_breaks(client, owner, make_contact, app):
    make_contact("09121234567", first_name="علی")
    new_campaign('سلام {نام}, "ویژه"\nخط دوم، ۱۲٪')
    run_all_once(app)
    log_in(client)
    _header, row = export(client)
    assert row[4] == 'سلام علی, "ویژه"\nخط دوم، ۱۲٪'


def test_export_filtered_by_campaign_and_status(sent_on_nowruz):
    second = new_campaign("پیام دوم")
    run_all_once(sent_on_nowruz.application)
    _header, *rows = export(sent_on_nowruz, campaign=second.id)
    assert [row[4] for row in rows] == ["پیام دوم"] * 3
    set_status(SARA, "failed")
    _header, *rows = export(sent_on_nowruz, status="failed")
    assert [row[3] for row in rows] == ["0935 111 2233"] * 2
    _header, *rows = export(sent_on_nowruz, campaign=second.id, mobile="0912 123 4567")
    assert [(row[1], row[3], row[4]) for row in rows] == [("نوروز", "0912 123 4567", "پیام دوم")]


def test_export_of_many_messages_is_read_in_chunks(sent_on_nowruz, monkeypatch):
    monkeypatch.setattr("app.reports.service.EXPORT_CHUNK", 2)
    new_campaign("پیام دوم")
    run_all_once(sent_on_nowruz.application)
    header, *rows = export(sent_on_nowruz)
    assert [int(row[0]) for row in rows] == sorted(all_message_ids())
    assert header not in rows


def test_export_of_an_unknown_message_explains_the_error(sent_on_nowruz):
    set_status(NAMELESS, "unknown", "dispatcher_stopped")
    _header, *rows = export(sent_on_nowruz, status="unknown")
    [row] = rows
    assert row[6] == in_locale("fa", lambda: STATUS_LABELS["unknown"])
    assert row[12] == in_locale("fa", lambda: ERROR_LABELS["dispatcher_stopped"])


def test_export_of_an_empty_log_has_the_header_only(logged_in):
    assert len(export(logged_in)) == 1
