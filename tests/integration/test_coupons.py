"""Coupon codes: one per recipient in the text and the table, redeemed once, exported.

A campaign whose text has {کد تخفیف} (or {coupon}) gives each message a code of its own
when its messages are written; staff redeem a code at the counter (or a checkout through
the API), once; the owner exports a campaign's codes and sees how many were used.
"""

import csv
import io
import re
import threading
import time
from datetime import time as clock

import pytest
from integration_support import page_text
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from app.api import answers
from app.api.service import create_token
from app.contacts.models import Contact
from app.coupons import service as coupon_service
from app.coupons.models import Coupon
from app.coupons.service import ALPHABET, CouponSettings, random_codes, redeem_coupon
from app.extensions import db
from app.messaging import service as campaigns
from app.messaging.models import Campaign
from app.persian import persian_digits
from app.sending import service as sending
from app.sending.models import Message
from app.sending.policy import SendingPolicy, save_policy
from app.sending.service import driver_value

TEXT = "سلام {نام|مشتری عزیز}، کد تخفیف شما: {کد تخفیف}"
READABLE = re.compile(f"[{ALPHABET}]+")


@pytest.fixture(autouse=True)
def any_hour(app):
    """Marketing may leave at any hour: the sending window has its own tests."""
    save_policy(SendingPolicy(window_start=clock(0), window_end=clock(0)))
    db.session.commit()


@pytest.fixture
def audience(make_contact):
    return [
        make_contact("09121234567", first_name="علی", last_name="رضایی"),
        make_contact("09351112233", first_name="سارا"),
        make_contact("09190001122"),
    ]


def first_route(client) -> str:
    form = client.get("/campaigns/new").text
    select_html = re.search(r'<select[^>]*name="route"[^>]*>(.*?)</select>', form, re.S)
    return re.search(r'value="([^"]+)"', select_html.group(1)).group(1)


def compose(client, body=TEXT, **fields):
    data = {"name": "یلدا", "body": body, "audience": "all", "when": "now", **fields}
    data.setdefault("route", first_route(client))
    return client.post("/campaigns/new", data=data)


def draft(client, **fields) -> Campaign:
    response = compose(client, **fields)
    assert response.status_code == 302, page_text(response)
    return db.session.get(Campaign, int(response.location.rsplit("/", 1)[1]))


def send(client, **fields) -> Campaign:
    """Compose, confirm and write the campaign's messages."""
    campaign = draft(client, **fields)
    assert client.post(f"/campaigns/{campaign.id}/confirm").status_code == 302
    campaigns.start_due_campaigns()
    db.session.expire_all()
    return db.session.get(Campaign, campaign.id)


def dispatch() -> None:
    dispatcher = sending.Dispatcher(concurrency=2)
    try:
        dispatcher.dispatch(500)
    finally:
        dispatcher.close()


def coupons_of(campaign_id: int) -> list[Coupon]:
    db.session.expire_all()
    return db.session.scalars(
        select(Coupon).where(Coupon.campaign_id == campaign_id).order_by(Coupon.id)
    ).all()


def messages_of(campaign_id: int) -> dict[int, Message]:
    """The campaign's messages by id."""
    rows = db.session.scalars(select(Message).where(Message.campaign_id == campaign_id)).all()
    return {message.id: message for message in rows}


# Making codes --------------------------------------------------------------------------


def test_each_recipient_gets_a_code_of_their_own_in_the_text_and_the_table(logged_in, audience):
    campaign = send(logged_in, coupon_prefix="yalda", coupon_length="۶")
    assert (campaign.coupon_prefix, campaign.coupon_length) == ("YALDA", 6)

    coupons, messages = coupons_of(campaign.id), messages_of(campaign.id)
    assert len(coupons) == len(messages) == 3
    assert len({coupon.code for coupon in coupons}) == 3
    assert {coupon.contact_id for coupon in coupons} == {contact.id for contact in audience}
    for coupon in coupons:
        message = messages[coupon.message_id]
        assert message.contact_id == coupon.contact_id
        assert re.fullmatch(f"YALDA[{ALPHABET}]{{6}}", coupon.code)
        assert f"کد تخفیف شما: {coupon.code}\n" in message.body
        assert coupon.redeemed_at is None
    ali = next(m for m in messages.values() if m.contact_id == audience[0].id)
    assert ali.body.startswith("سلام علی، کد تخفیف شما: YALDA")


def test_a_text_with_the_placeholder_but_no_settings_gets_the_default_codes(logged_in, audience):
    campaign = send(logged_in, body="Your code: {coupon}", coupon_prefix="", coupon_length="")
    codes = [coupon.code for coupon in coupons_of(campaign.id)]
    assert len(codes) == 3
    assert all(READABLE.fullmatch(code) and len(code) == 8 for code in codes)


def test_a_text_without_the_placeholder_makes_no_codes(logged_in, audience):
    campaign = send(logged_in, body="سلام {نام}", coupon_prefix="SHOULDNOTMATTER!")
    assert len(messages_of(campaign.id)) == 3
    assert db.session.scalar(select(func.count(Coupon.id))) == 0


def test_codes_are_readable_random_and_distinct():
    codes = random_codes(CouponSettings("", 12), 5000)
    assert len(set(codes)) == 5000
    joined = "".join(codes)
    assert READABLE.fullmatch(joined)
    assert not set("01OIL") & set(joined)
    # Every symbol of the alphabet comes up (a biased draw would miss some).
    assert set(joined) == set(ALPHABET)
    assert all(len(code) == 12 for code in codes)
    assert random_codes(CouponSettings("NOWRUZ", 6), 1)[0].startswith("NOWRUZ")


@pytest.mark.parametrize(
    ("prefix", "length", "error"),
    [
        ("نوروز", "8", "پیشوند کد فقط می‌تواند حروف لاتین (A تا Z) و رقم داشته باشد."),
        ("ABCDEFGHI", "8", "پیشوند کد حداکثر ۸ حرف و رقم است."),
        ("NOWRUZ", "5", "بخش تصادفی کد باید از ۶ تا ۱۲ نویسه باشد."),
        ("NOWRUZ", "۱۳", "بخش تصادفی کد باید از ۶ تا ۱۲ نویسه باشد."),
        ("NOWRUZ", "هشت", "بخش تصادفی کد باید از ۶ تا ۱۲ نویسه باشد."),
        # A digit Python's isdigit takes but int() does not: refused, not a crash.
        ("NOWRUZ", "²", "بخش تصادفی کد باید از ۶ تا ۱۲ نویسه باشد."),
    ],
)
def test_wrong_coupon_settings_are_refused_in_persian(logged_in, audience, prefix, length, error):
    response = compose(logged_in, coupon_prefix=prefix, coupon_length=length)
    assert response.status_code == 200
    assert error in page_text(response)
    assert TEXT in response.text  # the text survives the refusal
    assert db.session.scalar(select(func.count(Campaign.id))) == 0


def test_the_compose_form_shows_the_coupon_fields_for_a_text_with_the_placeholder(logged_in):
    page = logged_in.get("/campaigns/new").text
    assert re.search(r'id="coupon-settings" hidden', page)
    assert 'data-insert="{کد تخفیف}"' in page
    refused = compose(logged_in, coupon_length="3").text
    assert not re.search(r'id="coupon-settings" hidden', refused)


def test_the_preview_shows_a_code_of_the_chosen_shape(logged_in, audience):
    data = {"body": TEXT, "audience": "all", "coupon_prefix": "nowruz", "coupon_length": "۱۰"}
    preview = logged_in.post("/campaigns/preview", data=data).json
    assert preview["problems"] == []
    assert re.search(f"کد تخفیف شما: NOWRUZ[{ALPHABET}]{{10}}\n", preview["text"])


def test_the_estimate_counts_the_parts_with_codes_of_the_configured_length(logged_in, audience):
    # 50 letters, the code and the opt-out line (6): 64 characters with a default code
    # (one part), 76 with an 8-letter prefix and 12 random characters (two parts).
    body = "ب" * 50 + "{کد تخفیف}"
    short = draft(logged_in, body=body)
    assert campaigns.estimate(short).parts == 3
    long = draft(logged_in, body=body, coupon_prefix="ABCDEFGH", coupon_length="12")
    assert campaigns.estimate(long).parts == 6
    assert logged_in.post(f"/campaigns/{long.id}/confirm").status_code == 302
    campaigns.start_due_campaigns()
    assert [m.parts for m in messages_of(long.id).values()] == [2, 2, 2]


def test_the_counter_counts_a_code_of_the_chosen_shape(logged_in, audience):
    # 50 letters, the code and the opt-out line (6): the counter's longest text.
    body = "ب" * 50 + "{کد تخفیف}"
    preview = logged_in.post("/campaigns/preview", data={"body": body, "audience": "all"}).json
    assert (preview["longest"]["characters"], preview["longest"]["parts"]) == (64, 1)
    data = {"body": body, "audience": "all", "coupon_prefix": "ABCDEFGH", "coupon_length": "12"}
    preview = logged_in.post("/campaigns/preview", data=data).json
    assert (preview["longest"]["characters"], preview["longest"]["parts"]) == (76, 2)


# Writing them safely -------------------------------------------------------------------


def test_a_start_resumed_after_a_crash_gives_no_recipient_a_second_code(
    logged_in, make_contact, monkeypatch
):
    monkeypatch.setattr(campaigns, "MATERIALISE_CHUNK", 2)
    contacts = [make_contact(f"0912000000{i}", first_name=f"م{i}") for i in range(5)]
    campaign = draft(logged_in)
    assert logged_in.post(f"/campaigns/{campaign.id}/confirm").status_code == 302

    # The process dies while writing the second chunk: its messages and codes go together.
    real_writer, calls = campaigns.coupon_writer, []

    def dies_on_the_second_chunk(connection):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed")
        return real_writer(connection)

    monkeypatch.setattr(campaigns, "coupon_writer", dies_on_the_second_chunk)
    with pytest.raises(RuntimeError):
        campaigns.start_due_campaigns()
    db.session.rollback()
    before = {coupon.contact_id: coupon.code for coupon in coupons_of(campaign.id)}
    assert sorted(before) == [contacts[0].id, contacts[1].id]
    assert len(messages_of(campaign.id)) == 2

    monkeypatch.setattr(campaigns, "coupon_writer", real_writer)
    assert campaigns.start_due_campaigns() == 1
    coupons, messages = coupons_of(campaign.id), messages_of(campaign.id)
    assert sorted(coupon.contact_id for coupon in coupons) == [c.id for c in contacts]
    assert len(messages) == 5
    assert {c.contact_id: c.code for c in coupons if c.contact_id in before} == before
    for coupon in coupons:
        assert coupon.code in messages[coupon.message_id].body


def test_a_message_written_by_another_run_gets_no_second_code(logged_in, audience):
    """Two runs over the same recipients (the insert keeps the first run's messages):
    the second run's codes join no message, since none carries them."""
    campaign = send(logged_in)
    first = coupons_of(campaign.id)[0]
    message = messages_of(campaign.id)[first.message_id]
    connection = db.session.connection()
    body = message.body.replace(first.code, "SECOND234")
    now = driver_value(connection, "created_at", message.created_at)
    row = ("SECOND234", campaign.id, message.contact_id, now, message.idempotency_key, body)
    connection.exec_driver_sql(campaigns.coupon_writer(connection), [row])
    db.session.commit()
    assert [c.code for c in coupons_of(campaign.id) if c.contact_id == message.contact_id] == [
        first.code
    ]


def test_a_code_already_taken_is_drawn_again(logged_in, audience, monkeypatch):
    taken = Coupon(code="TAKEN234")
    db.session.add(taken)
    db.session.commit()
    real_draw, draws = coupon_service.random_codes, []

    def taken_first(settings, count):
        # The campaign's three codes (other draws are sample codes for part counts).
        draws.append(count)
        codes = real_draw(settings, count)
        return ["TAKEN234", *codes[1:]] if draws.count(3) == 1 and count == 3 else codes

    monkeypatch.setattr(coupon_service, "random_codes", taken_first)
    campaign = send(logged_in)
    codes = [coupon.code for coupon in coupons_of(campaign.id)]
    assert len(set(codes)) == 3 and "TAKEN234" not in codes
    assert draws[draws.index(3) + 1] == 1  # the taken one was drawn again, alone


def test_a_code_taken_by_another_process_meanwhile_rewrites_the_chunk(
    logged_in, audience, monkeypatch
):
    """The check and the insert are two statements: a code another campaign took in
    between fails the insert, and the chunk is written again with fresh codes."""
    db.session.add(Coupon(code="RACE2345"))
    db.session.commit()
    real_fresh, calls = campaigns.fresh_codes, []

    def stale_check(connection, settings, count):
        calls.append(count)
        codes = real_fresh(connection, settings, count)
        return ["RACE2345", *codes[1:]] if len(calls) == 1 else codes

    monkeypatch.setattr(campaigns, "fresh_codes", stale_check)
    campaign = send(logged_in)
    assert campaign.status == "sending"
    assert len(calls) == 2
    coupons = coupons_of(campaign.id)
    assert len(coupons) == 3 and "RACE2345" not in {c.code for c in coupons}
    assert len(messages_of(campaign.id)) == 3


# Redeeming -----------------------------------------------------------------------------


def test_staff_look_a_code_up_and_redeem_it_once(logged_in, staff_client, audience):
    campaign = send(logged_in)
    dispatch()
    code = next(c.code for c in coupons_of(campaign.id) if c.contact_id == audience[0].id)
    # Read out over the counter: lower case, Persian digits, spaces around and inside.
    typed = f"  {persian_digits(code[:4].lower())} {persian_digits(code[4:].lower())} "

    page = staff_client.get("/coupons/", query_string={"code": typed})
    text = page_text(page)
    assert page.status_code == 200
    assert "علی رضایی" in text and "یلدا" in text and "هنوز استفاده نشده" in text
    assert 'id="redeem"' in page.text

    redeemed = staff_client.post(
        "/coupons/redeem", data={"code": code, "note": "فاکتور ۱۲۳"}, follow_redirects=True
    )
    assert f"استفاده از کد {code} ثبت شد." in page_text(redeemed)
    assert 'id="redeem"' not in redeemed.text
    coupon = db.session.scalar(select(Coupon).where(Coupon.code == code))
    db.session.refresh(coupon)
    assert coupon.redeemed_at is not None
    assert (coupon.redeemed_by, coupon.note) == ("staff@example.com", "فاکتور ۱۲۳")

    again = staff_client.post("/coupons/redeem", data={"code": code}, follow_redirects=True)
    assert re.search(r"این کد قبلاً در [۰-۹/: ]+ استفاده شده است\.", page_text(again))
    # Looked up again later, the code says at once that it was used.
    looked_up = staff_client.get("/coupons/", query_string={"code": code})
    assert 'id="used"' in looked_up.text and "این کد قبلاً استفاده شده است." in page_text(looked_up)
    db.session.refresh(coupon)
    assert coupon.redeemed_by == "staff@example.com"


def test_an_unknown_or_unreadable_code_is_said_so(staff_client):
    page = page_text(staff_client.get("/coupons/", query_string={"code": "abc-۲۳۴"}))
    assert "کد تخفیف ABC234 پیدا نشد؛ املای آن را بررسی کنید." in page
    page = page_text(staff_client.get("/coupons/", query_string={"code": "کد من"}))
    assert "کد فقط حروف لاتین و رقم دارد" in page


def test_two_simultaneous_redemptions_of_one_code_one_wins(app, logged_in, audience):
    """Two connections redeem the same code at the same moment: exactly one succeeds.

    Each holds its transaction open a while after its UPDATE, so the other's UPDATE meets
    it: PostgreSQL makes it wait for the row, SQLite for the write lock.
    """
    campaign = send(logged_in)
    code = coupons_of(campaign.id)[0].code
    start, results = threading.Barrier(2), []

    def counter(name: str):
        with app.app_context():
            start.wait()
            began = time.monotonic()
            try:
                redeem_coupon(code, name)
                time.sleep(0.5)  # the winner's transaction stays open
                db.session.commit()
                results.append(("won", name, 0.0))
            except coupon_service.AlreadyRedeemed as refused:
                db.session.rollback()
                waited = time.monotonic() - began
                results.append(("refused", refused.details.coupon.redeemed_by, waited))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=counter, args=(name,)) for name in ("till 1", "till 2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcome for outcome, _who, _waited in results) == ["refused", "won"]
    winner = next(who for outcome, who, _waited in results if outcome == "won")
    refused_by, waited = next((who, w) for outcome, who, w in results if outcome == "refused")
    # The loser met the winner's open transaction, and learnt who won once it ended.
    assert refused_by == winner and waited >= 0.2
    db.session.expire_all()
    assert db.session.scalar(select(Coupon.redeemed_by).where(Coupon.code == code)) == winner


def test_the_campaign_page_counts_the_codes_used(logged_in, audience):
    shown = draft(logged_in, coupon_prefix="YALDA", coupon_length="6")
    html = logged_in.get(f"/campaigns/{shown.id}").text
    assert '<bdi dir="ltr">YALDA</bdi> و ۶' in html
    page = page_text(logged_in.get(f"/campaigns/{shown.id}"))
    assert re.search(f"YALDA و ۶ نویسهٔ تصادفی، مثل YALDA[{ALPHABET}]{{6}}", page)

    campaign = send(logged_in)
    page = page_text(logged_in.get(f"/campaigns/{campaign.id}"))
    # Once written, the example is one of the campaign's own codes: it can be looked up.
    example = re.search(f"۸ نویسهٔ تصادفی، مثل ([{ALPHABET}]{{8}})", page).group(1)
    assert example in {c.code for c in coupons_of(campaign.id)}
    dispatch()
    page = page_text(logged_in.get(f"/campaigns/{campaign.id}"))
    assert "۰ از ۳ کد استفاده شده" in page
    redeem_coupon(coupons_of(campaign.id)[1].code, "owner@example.com")
    db.session.commit()
    page = page_text(logged_in.get(f"/campaigns/{campaign.id}"))
    assert "۱ از ۳ کد استفاده شده" in page


# API ------------------------------------------------------------------------------------


@pytest.fixture
def api_headers(app) -> dict:
    _token, secret = create_token("صندوق فروشگاه")
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_the_api_looks_a_code_up_and_redeems_it_once(logged_in, client, audience, api_headers):
    campaign = send(logged_in)
    coupon = next(c for c in coupons_of(campaign.id) if c.contact_id == audience[1].id)

    typed = persian_digits(coupon.code.lower())
    found = client.get(f"/api/v1/coupons/{typed}", headers=api_headers)
    assert found.status_code == 200
    answers.Coupon.model_validate(found.json)
    assert found.json["code"] == coupon.code
    assert found.json["campaign_id"] == campaign.id and found.json["campaign_name"] == "یلدا"
    assert found.json["contact_name"] == "سارا" and found.json["mobile"] == "+989351112233"
    assert found.json["redeemed"] is False and found.json["redeemed_at"] is None

    used = client.post(f"/api/v1/coupons/{coupon.code}/redeem", headers=api_headers)
    assert used.status_code == 200
    answers.Coupon.model_validate(used.json)
    assert used.json["redeemed"] is True
    assert used.json["redeemed_by"] == "API: صندوق فروشگاه"
    assert used.json["redeemed_at_jalali"]

    again = client.post(f"/api/v1/coupons/{coupon.code}/redeem", headers=api_headers)
    assert again.status_code == 409
    error = again.json["error"]
    assert error["code"] == "already_redeemed"
    assert error["message"].startswith("این کد قبلاً در ")


def test_the_api_answers_404_for_an_unknown_code_and_422_for_a_malformed_one(client, api_headers):
    for method in (client.get, client.post):
        suffix = "/redeem" if method == client.post else ""
        unknown = method(f"/api/v1/coupons/NOSUCH234{suffix}", headers=api_headers)
        assert unknown.status_code == 404
        assert unknown.json["error"]["code"] == "not_found"
        malformed = method(f"/api/v1/coupons/{'A' * 21}{suffix}", headers=api_headers)
        assert malformed.status_code == 422
        assert malformed.json["error"]["details"][0]["field"] == "code"
    assert client.get("/api/v1/coupons/NOSUCH234").status_code == 401


def test_a_campaign_made_through_the_api_carries_its_coupon_settings(client, audience, api_headers):
    payload = {"name": "یلدا", "text": TEXT, "audience": {"all": True}}
    made = client.post(
        "/api/v1/campaigns",
        json={**payload, "coupon": {"prefix": "yalda", "length": 10}},
        headers=api_headers,
    )
    assert made.status_code == 201, made.text
    assert made.json["coupon"] == {"prefix": "YALDA", "length": 10}
    plain = client.post("/api/v1/campaigns", json=payload, headers=api_headers)
    assert plain.json["coupon"] == {"prefix": None, "length": 8}

    refused = client.post(
        "/api/v1/campaigns",
        json={**payload, "coupon": {"prefix": "یلدا", "length": 13}},
        headers=api_headers,
    )
    assert refused.status_code == 422
    problems = {d["field"]: d["message"] for d in refused.json["error"]["details"]}
    assert problems == {
        "coupon.prefix": "پیشوند کد فقط می‌تواند حروف لاتین (A تا Z) و رقم داشته باشد.",
        "coupon.length": "عددی صحیح از ۶ تا ۱۲.",
    }


def test_the_api_document_describes_the_coupon_endpoints(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    lookup, redeem = paths["/coupons/{code}"]["get"], paths["/coupons/{code}/redeem"]["post"]
    assert lookup["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Coupon"
    }
    assert set(redeem["responses"]) == {"200", "401", "404", "409", "422"}


# Export ---------------------------------------------------------------------------------


def test_a_campaigns_codes_export_as_csv_and_excel_with_persian_intact(logged_in, audience):
    campaign = send(logged_in)
    dispatch()
    coupons = coupons_of(campaign.id)
    redeem_coupon(coupons[0].code, "owner@example.com")
    db.session.commit()

    response = logged_in.get(f"/coupons/campaign/{campaign.id}.csv")
    assert response.status_code == 200
    assert response.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:5] == ["کد", "مخاطب", "موبایل", "زمان ارسال", "زمان استفاده"]
    assert [row[0] for row in rows[1:]] == [coupon.code for coupon in coupons]
    assert rows[1][1:3] == ["علی رضایی", "0912 123 4567"]
    assert re.fullmatch(r"14\d\d/\d\d/\d\d \d\d:\d\d", rows[1][3])
    assert re.fullmatch(r"14\d\d/\d\d/\d\d \d\d:\d\d", rows[1][4])
    assert rows[2][4] == ""

    workbook = logged_in.get(f"/coupons/campaign/{campaign.id}.xlsx")
    assert workbook.status_code == 200
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(workbook.data))
    cells = sheet.get_sheet_by_index(0).to_python()
    assert [list(map(str, row)) for row in cells] == rows


def test_the_campaign_page_links_its_codes_exports(logged_in, audience):
    campaign = send(logged_in)
    dispatch()
    page = logged_in.get(f"/campaigns/{campaign.id}").text
    assert f"/coupons/campaign/{campaign.id}.xlsx" in page
    assert logged_in.get("/coupons/campaign/999.csv").status_code == 404


def test_contact_names_come_from_the_contact(logged_in, audience):
    """A renamed contact is exported under the name it has now."""
    campaign = send(logged_in)
    contact = db.session.get(Contact, audience[2].id)
    contact.first_name = "نگار"
    db.session.commit()
    rows = list(
        csv.reader(
            io.StringIO(
                logged_in.get(f"/coupons/campaign/{campaign.id}.csv").data.decode("utf-8-sig")
            )
        )
    )
    assert rows[3][1] == "نگار"
