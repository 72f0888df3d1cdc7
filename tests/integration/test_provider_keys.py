"""Provider keys stay with the owner: they go only to the host they were typed for, are
encrypted at rest, and a key that cannot be decrypted is explained, never a crash.

The attack these tests replay: someone who may edit a provider account points its API
address at a server of their own and presses «آزمایش اتصال»; before, the stored key
arrived there. An eavesdropping server on loopback records every request it receives.
"""

import logging
import re

import pytest
from flask_babel import gettext
from integration_support import KEY, in_locale, page_text, row_text, text_of
from sqlalchemy import select, text

from app.cli import main as vafa
from app.extensions import db
from app.messaging import service as campaigns
from app.sending.accounts import AccountError, save_account
from app.sending.models import Message, ProviderAccount
from app.sending.providers.base import ERROR_MESSAGES, ErrorCode
from app.sending.service import Dispatcher

OTHER_KEY = "kave-ffeeddccbbaa99887766-5678"
PASSWORD = "melli-secret-pass-9876"
KEY_AGAIN = "The provider or its API address has changed: type the API key again, so it is not sent to a new address unnoticed."  # noqa: E501
LOGIN_AGAIN = "The provider or its API address has changed: type the username and password again, so they are not sent to a new address unnoticed."  # noqa: E501


def account_form(**fields) -> dict:
    data = {
        "name": "کاوه",
        "kind": "kavenegar",
        "api_key": KEY,
        "username": "",
        "password": "",
        "senders": "3000123456",
        "base_url": "",
        "requests_per_second": "",
        "price_per_part": "0",
    }
    return data | fields


def save(client, account_id: int | None = None, **fields):
    path = f"/settings/providers/{account_id}" if account_id else "/settings/providers/new"
    response = client.post(path, data=account_form(**fields))
    if response.status_code == 302:
        client.get(response.location)  # read the "saved" notice, as the browser does
    return response


def saved(response) -> None:
    assert response.status_code == 302, page_text(response)


def the_account() -> ProviderAccount:
    db.session.expire_all()
    return db.session.scalars(select(ProviderAccount)).one()


def flashes(response) -> list[tuple[str, str]]:
    return [
        (category, text_of(body))
        for category, body in re.findall(
            r'<div class="flash flash-(\w+)"[^>]*>(.*?)</div>', response.text, flags=re.S
        )
    ]


def press_test_connection(client, account_id: int):
    client.get("/settings/providers")  # read any earlier notice first
    response = client.post(f"/settings/providers/{account_id}/test", follow_redirects=True)
    assert response.status_code == 200
    return response


def panel_log(caplog) -> str:
    """What the panel logged: the fake servers' own access logs (werkzeug) left out."""
    return "\n".join(
        caplog.handler.format(record)
        for record in caplog.records
        if not record.name.startswith("werkzeug")
    )


def raw_secrets() -> list[tuple[str, str]]:
    """The key and password columns as the database holds them."""
    db.session.commit()
    query = text("SELECT api_key, password FROM provider_accounts ORDER BY id")
    return [tuple(row) for row in db.session.execute(query)]


# The key goes only where it was typed for ---------------------------------------------


def test_a_new_api_address_without_the_key_is_refused_and_the_key_never_reaches_it(
    logged_in, fake_kavenegar, eavesdropper
):
    saved(save(logged_in, base_url=fake_kavenegar.base_url))
    account = the_account()

    response = save(logged_in, account.id, api_key="", base_url=eavesdropper.base_url)
    assert response.status_code == 200
    assert flashes(response) == [("error", in_locale("fa", lambda: gettext(KEY_AGAIN)))]
    assert the_account().base_url == fake_kavenegar.base_url

    # «آزمایش اتصال» still asks the real provider, and the eavesdropper heard nothing.
    assert [c for c, _t in flashes(press_test_connection(logged_in, account.id))] == ["success"]
    assert [r[1] for r in fake_kavenegar.state["requests"]] == ["account/info"]
    assert eavesdropper.heard == []


def test_a_new_provider_kind_without_the_key_is_refused(english, fake_kavenegar):
    saved(save(english, base_url=fake_kavenegar.base_url))
    account = the_account()
    for kind in ("ippanel", "smsir", "ghasedak"):
        response = save(english, account.id, kind=kind, api_key="", base_url="")
        assert ("error", KEY_AGAIN) in flashes(response)
    assert (the_account().kind, the_account().api_key) == ("kavenegar", KEY)


def test_the_owner_who_types_the_key_again_may_move_it(english, eavesdropper):
    """The key arrives at the new address only when the owner has typed it for it."""
    saved(save(english))
    account = the_account()
    saved(save(english, account.id, api_key=OTHER_KEY, base_url=eavesdropper.base_url))
    press_test_connection(english, account.id)
    (heard,) = eavesdropper.heard
    assert OTHER_KEY in heard
    assert KEY not in heard


def test_melipayamak_asks_for_the_username_and_password_again(english, eavesdropper):
    login = {"kind": "melipayamak", "api_key": "", "username": "myshop", "password": PASSWORD}
    saved(save(english, **login))
    account = the_account()
    for retyped in ({"password": ""}, {"username": "", "password": "x"}):
        moved = eavesdropper.base_url.removesuffix("/v1") + "/api/SendSMS"  # Melipayamak's path
        response = save(english, account.id, **(login | retyped), base_url=moved)
        assert ("error", LOGIN_AGAIN) in flashes(response)
    assert the_account().base_url is None
    press_test_connection(english, account.id)  # to the real Melipayamak: refused on loopback
    assert eavesdropper.heard == []


def test_editing_other_fields_keeps_the_key_without_typing_it(english, fake_kavenegar):
    saved(save(english, base_url=fake_kavenegar.base_url))
    account = the_account()
    before = raw_secrets()
    saved(save(english, account.id, name="کاوه تازه", api_key="", base_url=fake_kavenegar.base_url))
    assert raw_secrets() == before  # not even encrypted again
    assert the_account().api_key == KEY


def test_the_service_refuses_it_too(app):
    """The panel and `vafa providers …` both go through save_account."""
    account = save_account(None, name="کاوه", kind="kavenegar", api_key=KEY, senders="3000123")
    db.session.commit()
    with pytest.raises(AccountError) as refused:
        save_account(
            account,
            name="کاوه",
            kind="kavenegar",
            senders="3000123",
            base_url="https://collector.example.net/v1",
        )
    assert str(refused.value) == in_locale("fa", lambda: gettext(KEY_AGAIN))
    db.session.rollback()
    assert the_account().base_url is None


# Encrypted at rest --------------------------------------------------------------------


def test_keys_and_passwords_are_encrypted_in_the_database(english, fake_kavenegar):
    saved(save(english, base_url=fake_kavenegar.base_url))
    saved(
        save(
            english,
            name="ملی",
            kind="melipayamak",
            api_key="",
            username="myshop",
            password=PASSWORD,
        )
    )
    stored = raw_secrets()
    for api_key, password in stored:
        for secret in (KEY, PASSWORD, KEY[-12:], PASSWORD[-12:]):
            assert secret not in api_key and secret not in password
    assert [bool(api_key) for api_key, _p in stored] == [True, False]
    assert all(value.startswith("fernet:") for row in stored for value in row if value)
    # The owner sees nothing of that: the panel still works with the key.
    kave = db.session.scalars(select(ProviderAccount).where(ProviderAccount.kind == "kavenegar"))
    response = press_test_connection(english, kave.one().id)
    assert [c for c, _t in flashes(response)] == ["success"]


def wrong_encryption_key(app) -> None:
    """The server restarted with another encryption key and without the old one."""
    app.config["VAFA_ENCRYPTION_KEY"] = "a key the secrets were not sealed with"


def test_a_key_that_cannot_be_decrypted_is_explained_on_the_provider_pages(
    logged_in, fake_kavenegar, caplog
):
    saved(save(logged_in, base_url=fake_kavenegar.base_url))
    account = the_account()
    wrong_encryption_key(logged_in.application)
    unreadable = in_locale("fa", lambda: ERROR_MESSAGES[ErrorCode.SECRET_UNREADABLE])

    listing = logged_in.get("/settings/providers")
    assert listing.status_code == 200
    assert in_locale("fa", lambda: gettext("cannot be decrypted")) in row_text(listing, "کاوه")
    edit = logged_in.get(f"/settings/providers/{account.id}")
    assert edit.status_code == 200
    hint = "The stored key cannot be decrypted: the server's encryption key has changed. Type the key (or password) again."  # noqa: E501
    assert in_locale("fa", lambda: gettext(hint)) in page_text(edit)

    response = press_test_connection(logged_in, account.id)
    ((category, said),) = flashes(response)
    assert category == "error" and unreadable in said
    assert unreadable in row_text(response, "کاوه")  # the State column
    assert fake_kavenegar.state["requests"] == []

    # Saving without the key is refused with the same reason; typing it mends the account.
    response = save(logged_in, account.id, api_key="", base_url=fake_kavenegar.base_url)
    assert ("error", in_locale("fa", lambda: gettext(hint))) in flashes(response)
    saved(save(logged_in, account.id, api_key=KEY, base_url=fake_kavenegar.base_url))
    response = press_test_connection(logged_in, account.id)
    assert [c for c, _t in flashes(response)] == ["success"]
    assert KEY not in panel_log(caplog)


def kavenegar_account(fake) -> ProviderAccount:
    """The shop's Kavenegar account at the fake, saved as the provider pages save it."""
    return save_account(
        None,
        name="کاوه",
        kind="kavenegar",
        api_key=KEY,
        senders="3000123456",
        base_url=fake.base_url,
    )


def test_the_engine_says_why_it_cannot_send_with_an_undecryptable_key(app, fake_kavenegar):
    account = kavenegar_account(fake_kavenegar)
    db.session.add(
        Message(
            provider_id=account.id,
            mobile="+989121234567",
            body="سلام",
            parts=1,
            sender="3000123456",
            marketing=False,
            idempotency_key="test:1",
        )
    )
    db.session.commit()
    wrong_encryption_key(app)
    dispatcher = Dispatcher(concurrency=1)
    try:
        assert dispatcher.dispatch(10) == 1
    finally:
        dispatcher.close()
    db.session.expire_all()
    message = db.session.scalars(select(Message)).one()
    assert (message.status, message.error) == ("queued", "secret_unreadable")
    assert message.next_attempt_at is not None  # retried later, with backoff
    assert the_account().last_error == "secret_unreadable"
    assert fake_kavenegar.state["requests"] == []


def test_a_campaign_is_not_started_through_an_account_whose_key_cannot_be_decrypted(
    app, fake_kavenegar, make_contact
):
    make_contact("09121234567", first_name="علی")
    account = kavenegar_account(fake_kavenegar)
    campaign = campaigns.create_campaign(
        name="یلدا",
        body="سلام {نام}",
        list_id=None,
        provider_id=account.id,
        sender="3000123456",
        scheduled_at=None,
        created_by_id=None,
    )
    db.session.commit()
    wrong_encryption_key(app)
    figures = campaigns.estimate(campaign)
    unreadable = ERROR_MESSAGES[ErrorCode.SECRET_UNREADABLE]
    assert (figures.recipients, figures.credit, figures.credit_error) == (1, None, unreadable)
    with pytest.raises(campaigns.CampaignError, match=re.escape(str(unreadable))):
        campaigns.confirm_campaign(campaign)
    assert campaign.status == "draft"
    assert fake_kavenegar.state["requests"] == []


def test_providers_list_says_which_key_cannot_be_decrypted(app):
    save_account(None, name="کاوه", kind="kavenegar", api_key=KEY, senders="3000123")
    db.session.commit()
    wrong_encryption_key(app)
    result = app.test_cli_runner().invoke(vafa, ["providers", "list"])
    assert result.exit_code == 0, result.output
    assert result.output.split("\t")[-1].strip() == in_locale(
        "fa", lambda: gettext("cannot be decrypted")
    )
    assert KEY[-4:] not in result.output


# Rotation -----------------------------------------------------------------------------


def rotate(app):
    result = app.test_cli_runner().invoke(vafa, ["providers", "rotate-keys"])
    db.session.rollback()
    return result


def test_rotate_keys_encrypts_every_key_again_under_the_new_key(app, fake_kavenegar):
    save_account(
        None,
        name="کاوه",
        kind="kavenegar",
        api_key=KEY,
        senders="3000123456",
        base_url=fake_kavenegar.base_url,
    )
    save_account(
        None, name="ملی", kind="melipayamak", username="myshop", password=PASSWORD, senders="5000"
    )
    save_account(None, name="آزمایشی", kind="console", senders="1000")
    db.session.commit()
    before = raw_secrets()
    # A new encryption key, with the old one (here the secret key) kept for reading.
    app.config["VAFA_ENCRYPTION_KEY"] = "the new encryption key"
    app.config["VAFA_ENCRYPTION_OLD_KEYS"] = app.config["SECRET_KEY"]

    result = rotate(app)
    assert result.exit_code == 0, result.output
    assert "2 account(s)" in result.output
    for secret in (KEY, PASSWORD, KEY[-8:], PASSWORD[-8:]):
        assert secret not in result.output
    after = raw_secrets()
    assert [a != b for a, b in zip(before, after, strict=True)] == [True, True, False]

    # The old key can go: every secret opens with the new one alone.
    app.config["VAFA_ENCRYPTION_OLD_KEYS"] = ""
    kave, meli, _console = db.session.scalars(select(ProviderAccount).order_by(ProviderAccount.id))
    assert (kave.api_key, meli.password) == (KEY, PASSWORD)


def test_rotate_keys_names_the_accounts_no_key_opens_and_rotates_the_rest(app):
    save_account(None, name="کهنه", kind="kavenegar", api_key=KEY, senders="3000123")
    db.session.commit()
    app.config["VAFA_ENCRYPTION_KEY"] = "second"
    save_account(None, name="تازه", kind="kavenegar", api_key=OTHER_KEY, senders="3000123")
    db.session.commit()
    app.config["VAFA_ENCRYPTION_KEY"] = "third"
    app.config["VAFA_ENCRYPTION_OLD_KEYS"] = "second"  # the first key is lost

    result = rotate(app)
    assert result.exit_code == 1
    assert "'کهنه'" in result.output and "VAFA_ENCRYPTION_OLD_KEYS" in result.output
    assert "1 account(s)" in result.output
    app.config["VAFA_ENCRYPTION_OLD_KEYS"] = ""
    fresh = db.session.scalars(select(ProviderAccount).where(ProviderAccount.name == "تازه"))
    assert fresh.one().api_key == OTHER_KEY


# Nothing of the key in logs, pages or error columns -------------------------------------


def test_an_address_the_transport_cannot_parse_leaves_no_key_behind(logged_in, caplog):
    """Kavenegar puts the key in the URL path, and the transport's error quotes the URL.

    An address stored before addresses were checked (a port out of range) used to make
    «آزمایش اتصال» fail with that error, key and all, in the server's log.
    """
    caplog.set_level(logging.DEBUG)
    saved(save(logged_in))
    db.session.execute(text("UPDATE provider_accounts SET base_url = 'https://127.0.0.1:99999/v1'"))
    db.session.commit()
    account = the_account()
    response = press_test_connection(logged_in, account.id)
    ((category, said),) = flashes(response)
    assert category == "error"
    assert in_locale("fa", lambda: ERROR_MESSAGES[ErrorCode.PROVIDER_ERROR]) in said
    assert KEY not in response.text
    assert KEY not in panel_log(caplog)

    # The engine's attempt leaves the same trace: no key in the message's error columns.
    db.session.add(
        Message(
            provider_id=account.id,
            mobile="+989121234567",
            body="سلام",
            parts=1,
            sender="3000123456",
            marketing=False,
            idempotency_key="test:1",
        )
    )
    db.session.commit()
    dispatcher = Dispatcher(concurrency=1)
    try:
        dispatcher.dispatch(10)
    finally:
        dispatcher.close()
    db.session.expire_all()
    message = db.session.scalars(select(Message)).one()
    assert (message.status, message.error) == ("queued", "provider_error")
    assert KEY not in (message.error_detail or "")
    assert KEY not in panel_log(caplog)
