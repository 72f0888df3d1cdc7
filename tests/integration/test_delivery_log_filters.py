"""The delivery log with names, its filters (Jalali dates, status, campaign, provider
account, number), its keyset pages, its exports and who may take them."""

import csv
import io
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from integration_support import in_locale, page_text, row_text
from python_calamine import CalamineWorkbook
from sqlalchemy import delete, select

from app.contacts.models import Contact
from app.extensions import db
from app.messaging.models import Campaign
from app.occasions.models import Automation
from app.sending.models import STATUS_LABELS, Message, ProviderAccount
from app.sending.service import default_account

# Tehran is UTC+3:30 all year (no daylight saving since 2022).
NOWRUZ = datetime(2026, 3, 21, 7, 0, tzinfo=UTC)  # 1405/01/01 10:30 in Tehran
LATE_ON_THE_15TH = datetime(2026, 4, 4, 20, 20, tzinfo=UTC)  # 1405/01/15 23:50
# 1405/02/01 00:10 in Tehran: still 1405/01/31 in UTC, so a filter that cut days in UTC
# would put it in the wrong month.
FIRST_OF_ORDIBEHESHT = datetime(2026, 4, 20, 20, 40, tzinfo=UTC)

ALI, SARA, NAMELESS, REZA = "+989121234567", "+989351112233", "+989190001122", "+989014445566"


def add_message(contact, campaign, account, status, at, n, mobile=None) -> Message:
    message = Message(
        contact_id=contact.id if contact else None,
        campaign_id=campaign.id if campaign else None,
        provider_id=account.id,
        mobile=mobile or contact.mobile,
        body=f"پیام {n}",
        parts=1,
        sender="10000000",
        status=status,
        provider_ref=f"ref-{n}",
        idempotency_key=f"log-test:{n}",
        created_at=at,
        sent_at=at,
    )
    db.session.add(message)
    return message


def campaign_named(name: str, account, automation=None, occurrence="birthday:1405") -> Campaign:
    campaign = Campaign(
        name=name,
        body="سلام",
        provider_id=account.id,
        sender="10000000",
        status="done",
        automation_id=automation.id if automation else None,
        occurrence=occurrence if automation else None,
    )
    db.session.add(campaign)
    db.session.flush()
    return campaign


@pytest.fixture
def shop(make_contact):
    """Four messages: Ali's and Sara's for Nowruz (two provider accounts), a birthday
    automation's to a contact without a name, and one whose campaign and contact were
    deleted since."""
    console = default_account()
    second = ProviderAccount(name="کاوه‌نگار دوم", kind="console")
    db.session.add(second)
    ali = make_contact("09121234567", first_name="علی", last_name="رضایی")
    sara = make_contact("09351112233", first_name="سارا")
    nameless = make_contact("09190001122")
    reza = make_contact("09014445566", first_name="رضا")
    birthday = Automation(name="تبریک تولد", kind="birthday", body="تولدت مبارک")
    db.session.add(birthday)
    db.session.flush()
    nowruz = campaign_named("نوروز", console)
    birthdays = campaign_named("تبریک تولد ۱۴۰۵/۰۲/۰۱", console, birthday)
    gone = campaign_named("کمپین حذف‌شده", console)
    add_message(ali, nowruz, console, "delivered", NOWRUZ, 1)
    add_message(sara, nowruz, second, "failed", LATE_ON_THE_15TH, 2)
    add_message(nameless, birthdays, console, "delivered", FIRST_OF_ORDIBEHESHT, 3)
    add_message(reza, gone, console, "unknown", FIRST_OF_ORDIBEHESHT, 4)
    db.session.commit()
    db.session.execute(delete(Campaign).where(Campaign.id == gone.id))
    db.session.execute(delete(Contact).where(Contact.id == reza.id))
    db.session.commit()
    return {
        "nowruz": nowruz.id,
        "birthdays": birthdays.id,
        "second": second.id,
        "automation": birthday.id,
    }


def shown(client, **filters) -> set[str]:
    response = client.get("/reports/messages", query_string=filters)
    assert response.status_code == 200
    ids = [int(v) for v in re.findall(r'data-message="(\d+)"', response.text)]
    return set(db.session.scalars(select(Message.mobile).where(Message.id.in_(ids))))


def test_each_message_shows_its_campaign_and_contact_by_name(logged_in, shop):
    page = logged_in.get("/reports/messages")
    ali = row_text(page, "پیام 1")
    assert "علی رضایی" in ali and "نوروز" in ali
    assert f'href="/reports/messages?campaign={shop["nowruz"]}"' in page.text
    birthday = row_text(page, "پیام 3")
    assert "تبریک تولد ۱۴۰۵/۰۲/۰۱" in birthday and "ارسال خودکار" in birthday
    # Deleted since: the number it went to stays, the names are gone.
    gone = row_text(page, "پیام 4")
    assert "۰۹۰۱ ۴۴۴ ۵۵۶۶" in gone
    assert "رضا" not in gone and "کمپین حذف‌شده" not in gone


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        ({"from": "1405/01/01", "to": "1405/01/01"}, {ALI}),
        # The whole of the 15th in Tehran, until 23:59, in Persian digits.
        ({"from": "۱۴۰۵/۰۱/۰۲", "to": "۱۴۰۵/۰۱/۱۵"}, {SARA}),
        ({"from": "1405-1-16"}, {NAMELESS, REZA}),
        # Farvardin has 31 days; 00:10 on the first of Ordibehesht is not in it.
        ({"to": "1405/01/31"}, {ALI, SARA}),
        ({"from": "1405/02/01", "to": "1405/02/01"}, {NAMELESS, REZA}),
        ({"from": "1404/01/01", "to": "1404/12/29"}, set()),
    ],
)
def test_filter_by_jalali_days_in_tehran(logged_in, shop, dates, expected):
    assert shown(logged_in, **dates) == expected


@pytest.mark.parametrize(
    ("dates", "says"),
    [
        ({"from": "1403/07/31"}, "«۱۴۰۳/۰۷/۳۱» تاریخ نیست"),
        ({"to": "فردا"}, "«فردا» تاریخ نیست"),
        ({"from": "2026/04/04"}, "۲۰۲۶/۰۴/۰۴ تاریخ میلادی است؛ منظورتان ۱۴۰۵/۰۱/۱۵ است؟"),
        ({"from": "1405/02/01", "to": "1405/01/01"}, "تاریخ شروع ۱۴۰۵/۰۲/۰۱ بعد از تاریخ پایان"),
    ],
)
def test_a_date_that_cannot_be_read_is_named_and_left_out(logged_in, shop, dates, says):
    response = logged_in.get("/reports/messages", query_string=dates)
    assert response.status_code == 200
    assert says in page_text(response)
    assert shown(logged_in, **dates) == {ALI, SARA, NAMELESS, REZA}


def test_filter_by_status_campaign_provider_and_number(logged_in, shop):
    assert shown(logged_in, status="failed") == {SARA}
    assert shown(logged_in, campaign=shop["nowruz"]) == {ALI, SARA}
    assert shown(logged_in, campaign=shop["birthdays"]) == {NAMELESS}
    assert shown(logged_in, provider=shop["second"]) == {SARA}
    assert shown(logged_in, provider=default_account().id) == {ALI, NAMELESS, REZA}
    assert shown(logged_in, mobile="۰۹۳۵ ۱۱۱ ۲۲۳۳") == {SARA}
    assert shown(logged_in, mobile="+98 901 444 5566") == {REZA}
    assert shown(logged_in, mobile="٠٩١٢") == {ALI}  # Arabic-Indic digits, a start
    assert shown(logged_in, mobile="5566") == {REZA}  # the end of a number
    assert shown(logged_in, mobile="۴۴۵۵۶۶") == {REZA}
    assert shown(logged_in, mobile="34445566") == set()
    assert shown(logged_in, mobile="22") == {NAMELESS}
    # Junk is ignored, not an error.
    assert shown(logged_in, campaign="x", provider="-1", status="nope") == {
        ALI,
        SARA,
        NAMELESS,
        REZA,
    }


def test_filter_by_automation_takes_every_campaign_it_made(logged_in, shop):
    birthday = db.session.get(Automation, shop["automation"])
    later = campaign_named("تبریک تولد ۱۴۰۵/۰۲/۰۲", default_account(), birthday, "1405-02-02")
    add_message(db.session.get(Contact, 1), later, default_account(), "failed", NOWRUZ, 5)
    db.session.commit()
    assert shown(logged_in, automation=shop["automation"]) == {NAMELESS, ALI}
    assert shown(logged_in, automation=shop["automation"], status="failed") == {ALI}
    assert shown(logged_in, automation=shop["automation"] + 1) == set()
    page = logged_in.get("/reports/messages")
    assert 'name="automation"' in page.text and "تبریک تولد" in page.text


def test_filters_combine(logged_in, shop):
    assert shown(logged_in, campaign=shop["nowruz"], status="failed") == {SARA}
    assert shown(logged_in, campaign=shop["nowruz"], mobile="0912") == {ALI}
    assert shown(logged_in, campaign=shop["nowruz"], provider=shop["second"], to="1405/01/14") == (
        set()
    )
    assert shown(
        logged_in, status="delivered", provider=default_account().id, **{"from": "1405/01/02"}
    ) == {NAMELESS}
    page = logged_in.get(
        "/reports/messages", query_string={"status": "expired", "to": "1405/01/01"}
    )
    assert "هیچ پیامکی با این فیلترها پیدا نشد" in page_text(page)


# Pages --------------------------------------------------------------------------------


def page_ids(response) -> list[int]:
    return [int(v) for v in re.findall(r'data-message="(\d+)"', response.text)]


def next_link(response) -> str | None:
    link = re.search(r'href="([^"]*before=\d+[^"]*)"', response.text)
    return link.group(1).replace("&amp;", "&") if link else None


def test_pages_are_newest_first_and_stable_while_messages_arrive(logged_in, make_contact):
    """Keyset pages: 120 messages, three of them queued late with older times; new
    messages arriving between two pages neither repeat a row nor skip one."""
    ali = make_contact("09121234567", first_name="علی")
    account = default_account()
    for n in range(120):
        # Ten messages share each minute; ids do not follow time for the last three.
        at = NOWRUZ + timedelta(minutes=n // 10) - (timedelta(days=1) if n >= 117 else timedelta())
        add_message(ali, None, account, "delivered", at, n)
    db.session.commit()
    expected = [
        message.id
        for message in sorted(
            db.session.scalars(select(Message)), key=lambda m: (m.created_at, m.id), reverse=True
        )
    ]
    assert expected[-3:] == sorted(expected[-3:], reverse=True)  # the late ones, oldest

    seen, url, pages = [], "/reports/messages?status=delivered", 0
    while url:
        response = logged_in.get(url)
        seen += page_ids(response)
        url = next_link(response)
        if url:
            assert "status=delivered" in url  # the filter goes on
        pages += 1
        if pages == 1:  # new messages arrive while the first page is read
            for n in range(120, 130):
                add_message(ali, None, account, "delivered", NOWRUZ + timedelta(hours=1), n)
            db.session.commit()
    assert pages == 3
    assert seen == expected


def test_a_page_after_an_unknown_message_starts_from_the_newest(logged_in, shop):
    assert len(page_ids(logged_in.get("/reports/messages?before=999999"))) == 4


# Exports ------------------------------------------------------------------------------


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))


def read_xlsx(response) -> list[list]:
    assert response.status_code == 200
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(response.data))
    return workbook.get_sheet_by_index(0).to_python()


def test_a_filtered_export_has_names_jalali_days_and_persian_headers(logged_in, shop):
    dates = {"from": "1405/01/15", "to": "1405/02/01"}
    for rows in (
        read_csv(logged_in.get("/reports/messages.csv", query_string=dates)),
        read_xlsx(logged_in.get("/reports/messages.xlsx", query_string=dates)),
    ):
        header, *rows = rows
        assert header[1:4] == ["کمپین", "مخاطب", "موبایل"]
        assert [row[1:4] for row in rows] == [
            ["نوروز", "سارا", "0935 111 2233"],
            ["تبریک تولد ۱۴۰۵/۰۲/۰۱", "", "0919 000 1122"],
            ["", "", "0901 444 5566"],  # campaign and contact deleted since
        ]
        assert [row[9] for row in rows] == [
            "1405/01/15 23:50",
            "1405/02/01 00:10",
            "1405/02/01 00:10",
        ]
        assert [row[6] for row in rows] == [
            in_locale("fa", lambda s=status: STATUS_LABELS[s])
            for status in ("failed", "delivered", "unknown")
        ]


def test_an_export_follows_each_filter(logged_in, shop):
    def mobiles(**filters):
        _header, *rows = read_csv(logged_in.get("/reports/messages.csv", query_string=filters))
        return [row[3] for row in rows]

    assert mobiles(provider=shop["second"]) == ["0935 111 2233"]
    assert mobiles(mobile="۰۹۱۹۰۰۰۱۱۲۲") == ["0919 000 1122"]
    assert mobiles(status="failed", campaign=shop["nowruz"]) == ["0935 111 2233"]
    assert mobiles(to="1405/01/01") == ["0912 123 4567"]


def test_names_that_look_like_formulas_are_written_as_text(logged_in, make_contact):
    contact = make_contact("09121234567", first_name="=HYPERLINK(1)")
    account = default_account()
    campaign = campaign_named("+کمپین", account)
    add_message(contact, campaign, account, "delivered", NOWRUZ, 1)
    db.session.commit()
    _header, row = read_csv(logged_in.get("/reports/messages.csv"))
    assert row[1:3] == ["'+کمپین", "'=HYPERLINK(1)"]


@pytest.fixture
def background(app):
    """Excel exports of more than two messages go to the background, in the test's folder."""
    app.config["VAFA_EXPORT_BACKGROUND_OVER"] = 2
    return Path(app.config["VAFA_EXPORTS_FOLDER"])


def test_a_large_excel_export_is_written_in_the_background(logged_in, shop, background):
    assert logged_in.get("/reports/messages.xlsx?to=1405/01/31").status_code == 200  # two
    response = logged_in.get("/reports/messages.xlsx", query_string={"from": "1405/01/15"})
    assert response.status_code == 302
    assert re.fullmatch(r"/reports/exports/[A-Za-z0-9_-]+", response.location)
    for _attempt in range(300):  # up to half a minute on a busy machine
        page = logged_in.get(response.location)
        if 'data-status="running"' not in page.text:
            break
        time.sleep(0.1)
    assert 'data-status="ready"' in page.text
    link = re.search(r'id="download" href="([^"]+)"', page.text).group(1)
    download = logged_in.get(link)
    assert "vafa-delivery-log.xlsx" in download.headers["Content-Disposition"]
    header, *rows = read_xlsx(download)
    assert header[2] == "مخاطب"
    assert [row[3] for row in rows] == ["0935 111 2233", "0919 000 1122", "0901 444 5566"]
    assert [path.suffix for path in background.iterdir()] == [".xlsx"]


def test_a_running_export_shows_how_far_it_is(logged_in, background):
    background.mkdir(parents=True)
    token = "b" * 24
    (background / f"{token}.part").touch()
    (background / f"{token}.count").write_text("120000 300000")
    page = logged_in.get(f"/reports/exports/{token}")
    assert 'data-status="running"' in page.text
    assert 'data-percent="40"' in page.text
    assert "پیامک‌های نوشته‌شده: ۱۲۰٬۰۰۰ از ۳۰۰٬۰۰۰" in page_text(page)
    assert logged_in.get(f"/reports/exports/{token}/file").status_code == 404
    assert logged_in.get(f"/reports/exports/{'c' * 24}").status_code == 404


# Who may export -----------------------------------------------------------------------


def test_staff_export_one_campaigns_log_but_not_the_whole_log(staff_client, logged_in, shop):
    campaign = {"campaign": shop["nowruz"]}
    for url in ("/reports/messages.csv", "/reports/messages.xlsx"):
        assert staff_client.get(url, query_string=campaign).status_code == 200
        for filters in ({}, {"from": "1405/01/01"}, {"status": "failed"}, {"campaign": "x"}):
            refused = staff_client.get(url, query_string=filters)
            assert refused.status_code == 403
            assert "سارا" not in refused.text
            assert logged_in.get(url, query_string=filters).status_code == 200
    # The page offers what each may take.
    assert 'id="export"' not in staff_client.get("/reports/messages").text
    assert 'id="export"' in staff_client.get("/reports/messages", query_string=campaign).text
    assert 'id="export"' in logged_in.get("/reports/messages").text
