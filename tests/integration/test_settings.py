"""The settings pages: SMS provider accounts and the sending rules, as the owner uses them."""

import logging
import re
from datetime import UTC, date, datetime, time
from html import unescape

import pytest
from flask_babel import gettext
from integration_support import in_locale, page_text, row_text, text_of
from sqlalchemy import func, select

from app.auth.models import AuditEntry
from app.contacts.models import Contact
from app.contacts.phones import normalize_mobile
from app.extensions import db
from app.jobs import run_all_once
from app.messaging.models import Campaign
from app.sending.models import Message, ProviderAccount
from app.sending.policy import SendingPolicy, load_policy, save_policy
from app.sending.providers.base import ERROR_MESSAGES, ErrorCode
from tests.fakes import kavenegar
from tests.fakes.server import serving

KEY = "kave-0a1b2c3d4e5f6a7b8c9d-1234"
OTHER_KEY = "kave-ffeeddccbbaa99887766-5678"
PASSWORD = "melli-secret-pass-9876"
NO_LOGIN_IN_URL = "The API address must not hold a username or password."
HTTPS_ONLY = (
    "The API address must start with https:// (http:// only for this computer: "
    "127.0.0.1 or localhost)."
)


# Helpers -------------------------------------------------------------------------------


def account_form(**fields) -> dict:
    """The add/edit form as a browser submits it: a Kavenegar account unless told."""
    data = {
        "name": "کاوه‌نگار اصلی",
        "kind": "kavenegar",
        "api_key": KEY,
        "username": "",
        "password": "",
        "senders": "3000123456",
        "base_url": "",
        "requests_per_second": "",
        "price_per_part": "0",
    }
    data.update(fields)
    if data.pop("is_default", False):
        data["is_default"] = "y"
    return data


def add_account(client, **fields):
    return client.post("/settings/providers/new", data=account_form(**fields))


def edit_account(client, account_id: int, **fields):
    return client.post(f"/settings/providers/{account_id}", data=account_form(**fields))


def saved(response) -> None:
    assert response.status_code == 302, page_text(response)
    assert response.location.endswith("/settings/providers")


def accounts() -> list[ProviderAccount]:
    db.session.expire_all()
    return db.session.scalars(select(ProviderAccount).order_by(ProviderAccount.id)).all()


def account_named(name: str) -> ProviderAccount:
    db.session.expire_all()
    return db.session.scalars(select(ProviderAccount).where(ProviderAccount.name == name)).one()


def flashes(response) -> list[tuple[str, str]]:
    """(category, text) of every flash message on a page."""
    return [
        (category, text_of(body))
        for category, body in re.findall(
            r'<div class="flash flash-(\w+)"[^>]*>(.*?)</div>', response.text, flags=re.S
        )
    ]


def field_errors(response, name: str) -> list[str]:
    """The error messages shown under one form field."""
    match = re.search(
        rf'<div class="field has-error">\s*<label for="{name}".*?</div>', response.text, re.S
    )
    if match is None:
        return []
    return [text_of(e) for e in re.findall(r'<p class="error">(.*?)</p>', match.group(0), re.S)]


def shown_keys(response) -> list[str]:
    """The Key column of the providers page, row by row."""
    return [
        text_of(k)
        for k in re.findall(r'<td class="muted"><bdi class="as-typed">(.*?)</bdi>', response.text)
    ]


def is_checked(response, field_id: str) -> bool:
    """Is the checkbox with this id ticked on the page?"""
    tag = re.search(rf'<input[^>]*\bid="{field_id}"[^>]*>', response.text)
    assert tag, f"no input {field_id!r} on the page"
    return re.search(r"\bchecked\b", tag.group(0)) is not None


def routes_offered(response) -> list[tuple[str, str]]:
    """The (value, text) of every option of the compose form's "Send through" select."""
    select_html = re.search(r'<select[^>]*name="route"[^>]*>(.*?)</select>', response.text, re.S)
    assert select_html, "the compose form has no route select"
    return [
        (value, unescape(text).strip())
        for value, text in re.findall(
            r'<option[^>]*value="([^"]*)"[^>]*>(.*?)</option>', select_html.group(1), re.S
        )
    ]


def app_log(caplog, but: tuple[str, ...] = ("werkzeug",)) -> str:
    """Everything this process logged, except the fake provider's own access log.

    The fake Kavenegar runs in this process, and its web server (werkzeug) logs each
    request it receives, key and all, as Kavenegar's own servers would: that log is
    the provider's, not the panel's. ``but`` leaves out other loggers (and their
    children) too.
    """
    return "\n".join(
        caplog.handler.format(record)
        for record in caplog.records
        if not any(record.name == name or record.name.startswith(f"{name}.") for name in but)
    )


@pytest.fixture
def fake_kavenegar():
    """A fake Kavenegar account (key ``KEY``, credit 1,234,567 Rials) on a loopback port."""
    fake = kavenegar.create_app(KEY, credit=1_234_567, lines=("3000123456", "3000999"))
    with serving(fake) as url:
        fake.base_url = f"{url}/v1"
        yield fake


# Adding accounts -----------------------------------------------------------------------


CREDENTIALS = {
    "kavenegar": {"api_key": KEY},
    "ippanel": {"api_key": KEY},
    "smsir": {"api_key": KEY},
    "ghasedak": {"api_key": KEY},
    "melipayamak": {"api_key": "", "username": "myshop", "password": PASSWORD},
    "console": {"api_key": ""},
}


@pytest.mark.parametrize("kind", list(CREDENTIALS))
def test_each_provider_is_added_with_the_credentials_it_needs(english, kind):
    response = add_account(english, name=f"My {kind}", kind=kind, **CREDENTIALS[kind])
    saved(response)
    page = english.get(response.location)
    assert ("success", f"The account “My {kind}” is saved.") in flashes(page)
    row = row_text(page, f"My {kind}")
    assert "3000123456" in row
    (account,) = accounts()
    assert (account.name, account.kind, account.sender_lines) == (
        f"My {kind}",
        kind,
        ["3000123456"],
    )
    if kind == "melipayamak":
        assert (account.username, account.password) == ("myshop", PASSWORD)
    elif kind != "console":
        assert account.api_key == KEY


@pytest.mark.parametrize("kind", ["kavenegar", "ippanel", "smsir", "ghasedak"])
def test_a_key_provider_without_a_key_is_not_saved(english, kind):
    response = add_account(english, kind=kind, api_key="  ")
    assert response.status_code == 200
    assert ("error", "Enter the API key from your provider's panel.") in flashes(response)
    assert accounts() == []


@pytest.mark.parametrize(
    "credentials",
    [{"username": "myshop"}, {"password": PASSWORD}, {}],
    ids=["no password", "no username", "neither"],
)
def test_melipayamak_without_username_and_password_is_not_saved(english, credentials):
    response = add_account(english, kind="melipayamak", api_key="", **credentials)
    assert response.status_code == 200
    message = "This provider needs the panel's username and password."
    assert ("error", message) in flashes(response)
    assert accounts() == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"senders": ""}, "This field is required."),
        ({"senders": " \n \n"}, "This field is required."),
        ({"senders": "3000123456\nSHOP"}, "The sender line “SHOP” should be digits only."),
        ({"senders": "3000abc"}, "The sender line “3000abc” should be digits only."),
        ({"base_url": "ftp://example.com/v1"}, "The API address must look like https://api.example.com/v1."),
        ({"base_url": "api.example.com"}, "The API address must look like https://api.example.com/v1."),
        ({"base_url": "http://api.example.com/v1"}, HTTPS_ONLY),
        ({"base_url": "http://10.0.0.5/v1"}, HTTPS_ONLY),
        ({"base_url": "http://127.0.0.1.example.com/v1"}, HTTPS_ONLY),
        ({"base_url": "https://me:pw@api.example.com/v1"}, NO_LOGIN_IN_URL),
        ({"price_per_part": "-1"}, "Number must be at least 0."),
    ],
    ids=["no sender", "blank senders", "sender word", "sender letters", "ftp", "no scheme",
         "plain http", "plain http to the LAN", "loopback look-alike", "credentials in URL",
         "negative price"],
)  # fmt: skip
def test_an_invalid_field_is_explained_and_nothing_is_saved(english, fields, message):
    response = add_account(english, **fields)
    assert response.status_code == 200
    shown = page_text(response)
    assert message in shown
    assert accounts() == []
    # The form comes back with what was typed, except the secret, which is asked for again.
    assert 'value="کاوه‌نگار اصلی"' in response.text
    assert KEY not in response.text
    assert "The key you typed was not saved: type it again." in shown


@pytest.mark.parametrize(
    ("kind", "typed", "path", "example"),
    [
        ("kavenegar", "https://api.kavenegar.com", "/v1", "https://api.kavenegar.com/v1"),
        ("smsir", "https://api.sms.ir/", "/v1", "https://api.sms.ir/v1"),
        ("ippanel", "https://edge.ippanel.com/v2", "/v1", "https://edge.ippanel.com/v1"),
        ("ghasedak", "https://gateway.ghasedak.me/rest/api/v1", "/rest/api/v1/WebService",
         "https://gateway.ghasedak.me/rest/api/v1/WebService"),
        ("melipayamak", "https://rest.payamak-panel.com/api", "/api/SendSMS",
         "https://rest.payamak-panel.com/api/SendSMS"),
    ],
)  # fmt: skip
def test_an_address_without_the_providers_base_path_says_which_path(
    logged_in, kind, typed, path, example
):
    login = {"username": "shop", "password": "meli-pass"} if kind == "melipayamak" else {}
    response = add_account(logged_in, kind=kind, base_url=typed, **login)

    # Under the address field, which is marked as the one at fault; the path and the
    # example are isolated left-to-right so «/v1» does not read «v1/» in Persian.
    assert field_errors(response, "base_url") == [
        in_locale(
            "fa",
            lambda: gettext(
                "The API address must end with %(path)s, for example %(example)s.",
                path=f"\u2066{path}\u2069",
                example=f"\u2066{example}\u2069",
            ),
        )
    ]
    assert flashes(response) == []
    assert accounts() == []
    saved(add_account(logged_in, kind=kind, base_url=example + "/", **login))


def test_the_base_path_message_reads_in_persian(logged_in):
    response = add_account(logged_in, base_url="https://api.kavenegar.com")
    assert (
        page_text(response).count(
            "نشانی API باید با \u2066/v1\u2069 تمام شود؛ مثلاً \u2066https://api.kavenegar.com/v1\u2069"
        )
        == 1
    )


def test_a_missing_name_is_explained_next_to_the_field(english):
    for name in ("", "   "):
        response = add_account(english, name=name)
        assert response.status_code == 200
        assert field_errors(response, "name") == ["This field is required."]
        assert accounts() == []


def test_a_negative_price_is_explained_next_to_its_field(english):
    response = add_account(english, price_per_part="-500")
    assert field_errors(response, "price_per_part") == ["Number must be at least 0."]
    assert accounts() == []


def test_a_second_account_with_the_same_name_is_refused(english):
    saved(add_account(english, name="پنل اصلی"))
    response = add_account(english, name="پنل اصلی", api_key=OTHER_KEY, senders="3000777")
    assert response.status_code == 200
    assert ("error", "Another account already has this name.") in flashes(response)
    (account,) = accounts()
    assert (account.api_key, account.sender_lines) == (KEY, ["3000123456"])


def test_a_new_account_is_refused_in_persian_too(logged_in):
    """The default language: the reason is shown in Persian digits and wording."""
    response = add_account(logged_in, senders="۳۰۰۰۱۲۳\nخط")
    assert response.status_code == 200
    assert flashes(response) == [
        (
            "error",
            in_locale(
                "fa",
                lambda: gettext("The sender line “%(line)s” should be digits only.", line="خط"),
            ),
        )
    ]
    assert accounts() == []


def test_sender_lines_in_persian_digits_and_with_spaces_are_stored_as_digits(english):
    saved(add_account(english, senders="۳۰۰۰ ۱۲۳ ۴۵۶\n\n +98 21 1234 \n"))
    (account,) = accounts()
    assert account.sender_lines == ["3000123456", "+98211234"]


# Secrets ------------------------------------------------------------------------------


def test_the_api_key_is_never_shown_again_in_full(english):
    saved(add_account(english, name="کاوه", api_key=KEY))
    account = account_named("کاوه")
    listing = english.get("/settings/providers")
    assert "••••••1234" in row_text(listing, "کاوه")
    edit = english.get(f"/settings/providers/{account.id}")
    assert edit.status_code == 200
    # Isolated left to right, so a Persian sentence draws the dots before the digits.
    assert '<bdi class="as-typed">••••••1234</bdi>' in edit.text
    assert "type it again" not in page_text(edit)
    for page in (listing, edit):
        assert KEY not in page.text
        assert KEY[:-4] not in page.text
    # The key field of the edit form is empty (the browser must not hold the key).
    assert re.search(r'<input[^>]*id="api_key"[^>]*value="[^"]', edit.text) is None


def test_the_melipayamak_password_is_never_shown_again(english):
    saved(
        add_account(
            english,
            name="ملی",
            kind="melipayamak",
            api_key="",
            username="myshop",
            password=PASSWORD,
        )
    )
    account = account_named("ملی")
    listing = english.get("/settings/providers")
    assert "••••••9876" in row_text(listing, "ملی")
    edit = english.get(f"/settings/providers/{account.id}")
    for page in (listing, edit):
        assert PASSWORD not in page.text
        assert PASSWORD[:-4] not in page.text
    assert 'value="myshop"' in edit.text  # the username is no secret
    assert re.search(r'<input[^>]*id="password"[^>]*value="[^"]', edit.text) is None


def test_a_short_key_is_not_even_partly_shown(english):
    saved(add_account(english, name="کوتاه", api_key="abc12345"))
    listing = english.get("/settings/providers")
    assert "abc12345" not in listing.text
    assert shown_keys(listing) == ["••••••"]


def test_editing_with_an_empty_key_keeps_the_stored_key(english):
    saved(add_account(english, name="کاوه", api_key=KEY))
    account = account_named("کاوه")
    saved(
        edit_account(english, account.id, name="کاوه تازه", api_key="", senders="3000123\n3000456")
    )
    account = account_named("کاوه تازه")
    assert account.api_key == KEY
    assert account.sender_lines == ["3000123", "3000456"]
    assert "••••••1234" in row_text(english.get("/settings/providers"), "کاوه تازه")


def test_editing_with_a_new_key_replaces_it(english):
    saved(add_account(english, name="کاوه", api_key=KEY))
    account = account_named("کاوه")
    saved(edit_account(english, account.id, name="کاوه", api_key=OTHER_KEY))
    assert account_named("کاوه").api_key == OTHER_KEY
    listing = english.get("/settings/providers")
    assert "••••••5678" in row_text(listing, "کاوه")
    assert "••••••1234" not in listing.text
    assert OTHER_KEY not in listing.text


def test_editing_melipayamak_with_an_empty_password_keeps_it(english):
    saved(
        add_account(
            english,
            name="ملی",
            kind="melipayamak",
            api_key="",
            username="myshop",
            password=PASSWORD,
        )
    )
    account = account_named("ملی")
    saved(
        edit_account(
            english, account.id, name="ملی", kind="melipayamak", api_key="", username="myshop"
        )
    )
    account = account_named("ملی")
    assert (account.username, account.password) == ("myshop", PASSWORD)


def test_a_failed_edit_keeps_everything_and_does_not_echo_the_new_key(english):
    saved(add_account(english, name="کاوه", api_key=KEY))
    account = account_named("کاوه")
    response = edit_account(english, account.id, name="کاوه", api_key=OTHER_KEY, senders="abc")
    assert response.status_code == 200
    assert "The sender line “abc” should be digits only." in page_text(response)
    assert OTHER_KEY not in response.text
    # The owner is told the new key was not kept, rather than losing it unnoticed.
    assert "The key you typed was not saved: type it again." in page_text(response)
    account = account_named("کاوه")
    assert (account.api_key, account.sender_lines) == (KEY, ["3000123456"])


# Testing the connection ----------------------------------------------------------------


def test_testing_the_connection_shows_the_credit_in_persian_digits(logged_in, fake_kavenegar):
    saved(add_account(logged_in, name="کاوه", api_key=KEY, base_url=fake_kavenegar.base_url))
    logged_in.get("/settings/providers")  # read the "saved" notice
    account = account_named("کاوه")
    response = logged_in.post(f"/settings/providers/{account.id}/test", follow_redirects=True)
    assert response.status_code == 200
    ((category, text),) = flashes(response)
    assert category == "success"
    assert "کاوه" in text
    assert "۱٬۲۳۴٬۵۶۷" in text
    assert not re.search(r"[0-9]", text), text
    # It really asked the provider, with the stored key.
    assert [r[1] for r in fake_kavenegar.state["requests"]] == ["account/info"]


def press_test_connection(client, name: str):
    """Press "Test connection and credit" on the account's row; the page it leads to."""
    client.get("/settings/providers")  # read any earlier notice first
    account = account_named(name)
    response = client.post(f"/settings/providers/{account.id}/test", follow_redirects=True)
    assert response.status_code == 200
    return response


def test_testing_with_a_wrong_key_says_why_in_persian(logged_in, fake_kavenegar):
    saved(add_account(logged_in, name="کاوه", api_key=OTHER_KEY, base_url=fake_kavenegar.base_url))
    response = press_test_connection(logged_in, "کاوه")
    ((category, text),) = flashes(response)
    assert category == "error"
    assert "کاوه" in text
    assert in_locale("fa", lambda: ERROR_MESSAGES[ErrorCode.BAD_KEY]) in text
    assert "۱٬۲۳۴٬۵۶۷" not in text
    assert OTHER_KEY not in response.text


def test_a_new_account_is_not_tested_yet_until_a_test_or_a_message_says_otherwise(
    english, fake_kavenegar
):
    saved(add_account(english, name="کاوه", api_key=KEY, base_url=fake_kavenegar.base_url))
    saved(add_account(english, name="ملی", api_key=OTHER_KEY, senders="3000999"))
    row = row_text(english.get("/settings/providers"), "کاوه")
    assert "Not tested yet" in row and "OK" not in row.split()

    listing = press_test_connection(english, "کاوه")
    row = row_text(listing, "کاوه")
    assert "OK" in row.split() and "Not tested yet" not in row
    assert re.search(r"tested \d{4}/\d\d/\d\d \d\d:\d\d", row), row

    # A message the provider accepted tells as much as a test.
    other = account_named("ملی")
    db.session.add(
        Message(
            provider_id=other.id,
            mobile="+989121234567",
            body="سلام",
            parts=1,
            sender="3000999",
            status="delivered",
            provider_ref="8792343",
            idempotency_key="test:1",
        )
    )
    db.session.commit()
    row = row_text(english.get("/settings/providers"), "ملی")
    assert "OK" in row.split() and "Not tested yet" not in row


def test_the_state_column_shows_what_the_last_connection_test_found(english, fake_kavenegar):
    saved(add_account(english, name="کاوه", api_key=OTHER_KEY, base_url=fake_kavenegar.base_url))
    listing = press_test_connection(english, "کاوه")
    assert [category for category, _text in flashes(listing)] == ["error"]
    row = row_text(listing, "کاوه")
    assert in_locale("en", lambda: ERROR_MESSAGES[ErrorCode.BAD_KEY]) in row
    assert "OK" not in row.split()
    # With the right key, the test clears it.
    account = account_named("کاوه")
    saved(
        edit_account(
            english, account.id, name="کاوه", api_key=KEY, base_url=fake_kavenegar.base_url
        )
    )
    row = row_text(press_test_connection(english, "کاوه"), "کاوه")
    assert "OK" in row.split()


def send_campaign_through(client, fake) -> None:
    """Two contacts, a Kavenegar account on the fake, and a campaign composed, confirmed
    and sent through it (the window open all day)."""
    save_policy(SendingPolicy(window_start=time(0), window_end=time(0)))
    db.session.commit()
    for mobile, name in (("09121234567", "علی"), ("09351112233", "سارا")):
        db.session.add(Contact(mobile=normalize_mobile(mobile), first_name=name))
    db.session.commit()
    saved(
        add_account(
            client,
            name="کاوه",
            api_key=KEY,
            base_url=fake.base_url,
            senders="3000999",
            price_per_part="1500",
        )
    )
    account = account_named("کاوه")
    response = client.post(
        "/campaigns/new",
        data={
            "name": "یلدا",
            "body": "سلام {نام}",
            "list_id": 0,
            "route": f"{account.id}:3000999",
            "when": "now",
        },
    )
    assert response.status_code == 302, page_text(response)
    review = client.get(response.location)
    assert "۱٬۲۳۴٬۵۶۷" in page_text(review)  # the credit, read with the key
    confirm = client.post(f"{response.location}/confirm", follow_redirects=True)
    assert [category for category, _text in flashes(confirm)] == ["success"]
    run_all_once(client.application)
    sent = fake.state["sent"]
    assert sorted(r["receptor"] for r in sent) == ["09121234567", "09351112233"]
    assert {r["sender"] for r in sent} == {"3000999"}


def test_the_panel_does_not_log_the_key(logged_in, fake_kavenegar, caplog):
    caplog.set_level(logging.DEBUG)
    saved(add_account(logged_in, name="رد", api_key=OTHER_KEY, base_url=fake_kavenegar.base_url))
    assert [c for c, _text in flashes(press_test_connection(logged_in, "رد"))] == ["error"]
    send_campaign_through(logged_in, fake_kavenegar)
    assert [c for c, _text in flashes(press_test_connection(logged_in, "کاوه"))] == ["success"]
    panel_log = app_log(caplog, but=("werkzeug", "urllib3"))
    assert "vafa." in panel_log, "the engine should have logged at DEBUG level"
    for key in (KEY, OTHER_KEY):
        assert key not in panel_log


def test_the_key_is_not_in_the_log_even_at_debug_level(logged_in, fake_kavenegar, caplog):
    # urllib3 writes each request line at DEBUG, and Kavenegar's key is in its URLs.
    caplog.set_level(logging.DEBUG)
    saved(add_account(logged_in, name="رد", api_key=OTHER_KEY, base_url=fake_kavenegar.base_url))
    press_test_connection(logged_in, "رد")
    send_campaign_through(logged_in, fake_kavenegar)
    log = app_log(caplog)
    assert fake_kavenegar.state["sent"], "the requests were made"
    assert OTHER_KEY not in log
    assert KEY not in log


# The default account --------------------------------------------------------------------


def test_the_first_account_becomes_the_default(english):
    saved(add_account(english, name="اول", is_default=False))
    saved(add_account(english, name="دوم", api_key=OTHER_KEY, senders="3000777"))
    assert [(a.name, a.is_default) for a in accounts()] == [("اول", True), ("دوم", False)]
    listing = english.get("/settings/providers")
    assert "default" in row_text(listing, "اول").split()
    assert "default" not in row_text(listing, "دوم").split()


def test_use_for_new_campaigns_moves_the_default(english):
    saved(add_account(english, name="اول"))
    saved(add_account(english, name="دوم", api_key=OTHER_KEY, senders="3000777"))
    second = account_named("دوم")
    edit = english.get(f"/settings/providers/{second.id}")
    assert not is_checked(edit, "is_default")
    saved(
        edit_account(english, second.id, name="دوم", api_key="", senders="3000777", is_default=True)
    )
    assert [(a.name, a.is_default) for a in accounts()] == [("اول", False), ("دوم", True)]
    listing = english.get("/settings/providers")
    assert "default" in row_text(listing, "دوم").split()
    assert "default" not in row_text(listing, "اول").split()
    # The default is listed first.
    names = re.findall(r'<tr data-account="\d+">\s*<td><a[^>]*>(.*?)</a>', listing.text)
    assert [re.sub(r"<[^>]+>", "", name) for name in names] == ["دوم", "اول"]
    edit = english.get(f"/settings/providers/{second.id}")
    assert is_checked(edit, "is_default")
    # A third account added as the default takes it over.
    saved(add_account(english, name="سوم", senders="3000888", is_default=True))
    assert [a.name for a in accounts() if a.is_default] == ["سوم"]


def test_compose_offers_every_line_of_every_account_with_the_default_first(english):
    saved(add_account(english, name="الف", senders="3000111\n3000222"))
    saved(add_account(english, name="ب", api_key=OTHER_KEY, senders="5000333", is_default=True))
    first, second = accounts()
    routes = routes_offered(english.get("/campaigns/new"))
    assert routes == [
        (f"{second.id}:5000333", "ب — 5000333"),
        (f"{first.id}:3000111", "الف — 3000111"),
        (f"{first.id}:3000222", "الف — 3000222"),
    ]
    # No test account is slipped in beside the owner's own.
    assert [a.name for a in accounts()] == ["الف", "ب"]


def test_a_campaign_goes_through_the_line_chosen_on_the_compose_form(english, make_contact):
    make_contact("09121234567", first_name="علی")
    saved(add_account(english, name="تست", kind="console", api_key="", senders="3000111\n3000222"))
    account = account_named("تست")
    response = english.post(
        "/campaigns/new",
        data={
            "name": "آزمایش",
            "body": "سلام",
            "list_id": 0,
            "route": f"{account.id}:3000222",
            "when": "now",
        },
    )
    assert response.status_code == 302, page_text(response)
    campaign = db.session.scalars(select(Campaign)).one()
    assert (campaign.provider_id, campaign.sender) == (account.id, "3000222")


# Sending rules ------------------------------------------------------------------------


def rules_form(**fields) -> dict:
    data = {
        "window_start": "08:00",
        "window_end": "22:00",
        "quiet_dates": "",
        "daily_cap": "0",
        "frequency_cap_days": "0",
        "optout_line": "y",
        "optout_text": "لغو۱۱",
    }
    data.update(fields)
    if data["optout_line"] is None:
        del data["optout_line"]
    return data


def save_rules(client, **fields):
    return client.post("/settings/sending", data=rules_form(**fields))


def test_the_sending_rules_are_saved_and_loaded_by_the_engine(english):
    response = save_rules(
        english,
        window_start="09:30",
        window_end="21:15",
        frequency_cap_days="3",
        optout_line=None,
        optout_text="لغو۱۱",
    )
    assert response.status_code == 302, page_text(response)
    page = english.get(response.location)
    assert ("success", "The sending rules are saved.") in flashes(page)
    assert load_policy() == SendingPolicy(
        window_start=time(9, 30),
        window_end=time(21, 15),
        frequency_cap_days=3,
        optout_line=False,
        optout_text="لغو۱۱",
    )
    # The form shows what was saved.
    assert 'value="09:30"' in page.text
    assert 'value="21:15"' in page.text
    assert 'value="3"' in page.text
    assert not is_checked(page, "optout_line")


def test_the_opt_out_line_can_be_reworded(english):
    save_rules(english, optout_text="لغو ۱۱ ")
    policy = load_policy()
    assert policy.optout_line is True
    assert policy.optout_text == "لغو ۱۱"
    assert policy.with_optout("سلام") == "سلام\nلغو ۱۱"
    # Left empty, the usual line is used.
    save_rules(english, optout_text="")
    assert load_policy().optout_text == "لغو۱۱"


def test_times_in_persian_digits_are_accepted(logged_in):
    response = save_rules(logged_in, window_start="۰۸:۰۰", window_end="۲۲:۳۰")
    assert response.status_code == 302, page_text(response)
    policy = load_policy()
    assert (policy.window_start, policy.window_end) == (time(8, 0), time(22, 30))
    response = save_rules(logged_in, window_start="۹:۰۰", window_end=" 21:00 ")
    assert response.status_code == 302, page_text(response)
    policy = load_policy()
    assert (policy.window_start, policy.window_end) == (time(9, 0), time(21, 0))


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        ("8", "22:00", "window_start", "Write the time like 08:00."),
        ("08:00", "ساعت ده", "window_end", "Write the time like 08:00."),
        ("", "22:00", "window_start", "This field is required."),
    ],
)
def test_a_time_in_the_wrong_shape_is_explained_next_to_the_field(
    english, start, end, field, message
):
    before = load_policy()
    response = save_rules(english, window_start=start, window_end=end)
    assert response.status_code == 200
    assert field_errors(response, field) == [message]
    assert load_policy() == before


@pytest.mark.parametrize(
    ("start", "end"), [("25:00", "22:00"), ("08:00", "24:00"), ("08:75", "22:00")]
)
def test_an_impossible_time_is_refused(english, start, end):
    save_rules(english, window_start="09:00", window_end="20:00")
    before = load_policy()
    response = save_rules(english, window_start=start, window_end=end)
    assert response.status_code == 200
    assert ("error", "Write the times like 08:00 and 22:00.") in flashes(response)
    assert load_policy() == before


def test_a_negative_frequency_cap_is_refused(english):
    before = load_policy()
    response = save_rules(english, frequency_cap_days="-1")
    assert response.status_code == 200
    assert field_errors(response, "frequency_cap_days") == ["Number must be between 0 and 365."]
    assert load_policy() == before


@pytest.mark.parametrize("moment", ["00:00", "12:00"])
def test_the_same_start_and_end_means_any_hour(english, moment):
    response = save_rules(english, window_start=moment, window_end=moment)
    assert response.status_code == 302, page_text(response)
    policy = load_policy()
    assert policy.window_start == policy.window_end
    # 03:30 and 23:59 in Tehran (UTC+3:30) are inside such a window.
    assert policy.in_window(datetime(2026, 1, 10, 0, 0, tzinfo=UTC))
    assert policy.in_window(datetime(2026, 1, 10, 20, 29, tzinfo=UTC))


def test_the_rules_page_shows_the_defaults_on_a_new_install(english):
    page = english.get("/settings/sending")
    assert page.status_code == 200
    assert 'value="08:00"' in page.text
    assert 'value="22:00"' in page.text
    assert is_checked(page, "optout_line")
    assert db.session.scalar(select(func.count()).select_from(ProviderAccount)) == 0


# Quiet days and the daily cap --------------------------------------------------------

FRIDAY = "4"  # the checkbox values are weekday numbers (Monday 0)


def test_quiet_days_and_a_daily_cap_are_saved_shown_and_audited(logged_in):
    response = logged_in.post(
        "/settings/sending",
        data=rules_form(
            quiet_weekdays=[FRIDAY], quiet_dates="۱۴۰۵/۰۱/۰۱، 1405/1/2", daily_cap="۲۰۰۰"
        ),
    )
    assert response.status_code == 302, page_text(response)
    policy = load_policy()
    assert policy.quiet_weekdays == (4,)
    assert policy.quiet_dates == (date(2026, 3, 21), date(2026, 3, 22))
    assert policy.daily_cap == 2000
    entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry.detail["quiet_days"] == "جمعه,1405/01/01,1405/01/02"
    assert entry.detail["daily_cap"] == 2000

    page = logged_in.get("/settings/sending")
    assert is_checked(page, "quiet_weekdays-6")  # Friday, last of the Jalali week
    assert not is_checked(page, "quiet_weekdays-0")  # Saturday
    assert "جمعه" in page_text(page) and "شنبه" in page_text(page)
    assert 'value="۱۴۰۵/۰۱/۰۱، ۱۴۰۵/۰۱/۰۲"' in page.text
    assert 'value="۲۰۰۰"' in page.text


def test_a_weekday_typed_among_the_dates_counts_as_ticked(logged_in):
    response = logged_in.post("/settings/sending", data=rules_form(quiet_dates="جمعه"))
    assert response.status_code == 302, page_text(response)
    assert load_policy().quiet_weekdays == (4,)


@pytest.mark.parametrize(
    ("fields", "name", "message"),
    [
        (
            {"quiet_dates": "1405/01/01, نوروز"},
            "quiet_dates",
            "“نوروز” is not a Jalali date; write the dates like 1405/01/01, split by commas.",
        ),
        (
            {"quiet_dates": "1405/07/31"},  # Mehr has 30 days
            "quiet_dates",
            "“1405/07/31” is not a Jalali date; write the dates like 1405/01/01, split by commas.",
        ),
        (
            {"quiet_weekdays": ["0", "1", "2", "3", "4", "5"], "quiet_dates": "یکشنبه"},
            "quiet_dates",
            "Leave at least one weekday open, or no marketing SMS would ever be sent.",
        ),
        ({"daily_cap": "-5"}, "daily_cap", "Number must be between 0 and 10000000."),
        ({"daily_cap": "۲۰۰۰۰۰۰۰"}, "daily_cap", "Number must be between 0 and 10000000."),
    ],
)
def test_bad_quiet_days_or_daily_cap_are_explained_next_to_the_field(
    english, fields, name, message
):
    before = load_policy()
    response = english.post("/settings/sending", data=rules_form(**fields))
    assert response.status_code == 200
    assert field_errors(response, name) == [message]
    assert load_policy() == before
