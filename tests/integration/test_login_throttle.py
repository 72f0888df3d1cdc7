"""Logging in under attack: failures throttled per account and per address (in the
database, so every web process counts alike), the client address taken from trusted
proxies only, and the same answer for known and unknown e-mails."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import gettext, ngettext
from integration_support import in_locale, page_text
from sqlalchemy import select

from app import create_app
from app.auth import models as user_models
from app.auth import service as user_service
from app.auth.models import LoginThrottle
from app.extensions import db
from app.persian import show_number

OWNER = {"email": "owner@example.com", "password": "a good password"}
WRONG = {"email": "owner@example.com", "password": "not the password"}
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def fa(make) -> str:
    return in_locale("fa", make)


def wrong_message() -> str:
    return fa(lambda: gettext("The email or password is wrong."))


def wait_message(minutes: int) -> str:
    return fa(
        lambda: ngettext(
            "Too many failed attempts to log in. Try again in %(count)s minute.",
            "Too many failed attempts to log in. Try again in %(count)s minutes.",
            minutes,
            count=show_number(minutes),
        )
    )


def logged_in_now(client) -> bool:
    return client.get("/contacts/").status_code == 200


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(START, tick=False)
    return time_machine


# Throttling -----------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_account_for_a_minute(client, owner, clock):
    for _attempt in range(4):
        response = client.post("/login", data=WRONG)
        assert response.status_code == 200
        assert wrong_message() in page_text(response)
    response = client.post("/login", data=WRONG)
    assert response.status_code == 429
    assert wait_message(1) in page_text(response)
    assert "۱ دقیقه" in page_text(response)

    # Even the right password waits: it is not even checked.
    response = client.post("/login", data=OWNER)
    assert response.status_code == 429
    assert not logged_in_now(client)

    clock.shift(timedelta(seconds=61))
    assert client.post("/login", data=OWNER).status_code == 302
    assert logged_in_now(client)


def test_the_wait_doubles_up_to_fifteen_minutes_and_never_locks_for_good(client, owner, clock):
    for _attempt in range(5):
        client.post("/login", data=WRONG)
    waits = []
    for _round in range(6):
        minutes = int(re.search(r"(\d+) minute", page_text(_english_wait(client))).group(1))
        waits.append(minutes)
        clock.shift(timedelta(minutes=minutes))
        assert client.post("/login", data=WRONG).status_code == 429
    assert waits == [1, 2, 4, 8, 15, 15]
    # At the end of the longest wait the owner gets in.
    clock.shift(timedelta(minutes=15))
    assert client.post("/login", data=OWNER).status_code == 302


def _english_wait(client):
    """The login page's answer while locked, read in English for its number."""
    client.post("/language", data={"lang": "en"})
    response = client.post("/login", data=WRONG)
    client.post("/language", data={"lang": "fa"})
    assert response.status_code == 429
    return response


def test_a_browser_that_logged_in_before_is_not_kept_out_by_the_accounts_lock(
    app, client, owner, clock
):
    """An attacker who keeps failing on the owner's e-mail locks the account for every
    other browser, but not for the one the owner logged in with before."""
    owner_browser = client
    assert owner_browser.post("/login", data=OWNER).status_code == 302
    owner_browser.post("/logout")
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for _attempt in range(5):
        attacker.post("/login", data=WRONG)
    assert attacker.post("/login", data=OWNER).status_code == 429
    newcomer = app.test_client()
    assert newcomer.post("/login", data=OWNER).status_code == 429

    # A typo from the owner's own browser is still just a wrong password.
    response = owner_browser.post("/login", data=WRONG)
    assert response.status_code == 200
    assert wrong_message() in page_text(response)
    assert owner_browser.post("/login", data=OWNER).status_code == 302
    assert logged_in_now(owner_browser)


def test_a_forged_or_outdated_device_cookie_does_not_lift_the_lock(app, client, owner, clock):
    assert client.post("/login", data=OWNER).status_code == 302
    genuine = client.get_cookie("vafa_device", path="/login").value
    client.post("/account/sessions")  # the session version moves on: a new cookie
    client.post("/logout")
    for _attempt in range(5):
        client.post("/login", data=WRONG, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    for cookie in (genuine, genuine[:-2] + "xx", "1:1"):
        other = app.test_client()
        other.set_cookie("vafa_device", cookie, path="/login")
        assert other.post("/login", data=OWNER).status_code == 429
    assert client.post("/login", data=OWNER).status_code == 302


def test_a_successful_login_forgets_the_accounts_failures(client, owner, clock):
    for _attempt in range(4):
        client.post("/login", data=WRONG)
    assert client.post("/login", data=OWNER).status_code == 302
    client.post("/logout")
    for _attempt in range(4):
        assert client.post("/login", data=WRONG).status_code == 200
    assert client.post("/login", data=OWNER).status_code == 302


def test_failures_are_forgotten_an_hour_after_the_last(client, owner, clock):
    for _attempt in range(4):
        client.post("/login", data=WRONG)
    clock.shift(timedelta(hours=1, seconds=1))
    for _attempt in range(4):
        assert client.post("/login", data=WRONG).status_code == 200


def test_one_address_trying_many_accounts_is_slowed_down(app, client, owner, clock):
    attacker = {"REMOTE_ADDR": "203.0.113.9"}
    for number in range(20):
        response = client.post(
            "/login",
            data={"email": f"guess{number}@example.com", "password": "password123"},
            environ_base=attacker,
        )
    assert response.status_code == 429
    # The owner, at another address, is not held up by the attacker's address.
    response = client.post("/login", data=OWNER, environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert response.status_code == 302


def test_the_counts_are_shared_by_every_web_process(_schema, tmp_path, owner, clock):
    """Two app instances on one database, as two gunicorn workers (or a restart) are."""
    config = {"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": _schema}
    config["WTF_CSRF_ENABLED"] = False
    first, second = create_app(config), create_app(config)
    try:
        for _attempt in range(3):
            first.test_client().post("/login", data=WRONG)
        for _attempt in range(2):
            second.test_client().post("/login", data=WRONG)
        assert first.test_client().post("/login", data=OWNER).status_code == 429
    finally:
        for instance in (first, second):
            with instance.app_context():
                db.engine.dispose()


def test_an_unknown_email_is_throttled_like_a_known_one(client, owner, clock):
    unknown = {"email": "nobody@example.com", "password": "not the password"}
    answers = [client.post("/login", data=unknown).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 200, 429]


# The same answer for every e-mail ---------------------------------------------------


def cookie_names(response) -> list[str]:
    return [header.split("=", 1)[0] for header in response.headers.getlist("Set-Cookie")]


def test_known_and_unknown_emails_get_the_same_answer(client, owner, clock):
    known = client.post("/login", data=WRONG)
    unknown = client.post("/login", data={**WRONG, "email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert cookie_names(known) == cookie_names(unknown) == ["session"]
    assert known.text.replace("owner@example.com", "EMAIL") == unknown.text.replace(
        "nobody@example.com", "EMAIL"
    )


@pytest.mark.default_password_hashing
def test_an_unknown_email_costs_the_same_password_hash_as_a_known_one(client, owner, monkeypatch):
    checked = []

    def recording(real):
        def check(pwhash, password):
            checked.append(pwhash.rsplit("$", 2)[0])  # the method and its work factors
            return real(pwhash, password)

        return check

    monkeypatch.setattr(
        user_models, "check_password_hash", recording(user_models.check_password_hash)
    )
    monkeypatch.setattr(
        user_service, "check_password_hash", recording(user_service.check_password_hash)
    )
    client.post("/login", data=WRONG)
    client.post("/login", data={**WRONG, "email": "nobody@example.com"})
    known, unknown = checked
    assert known.startswith("scrypt:")
    assert unknown == known


# The client's address ---------------------------------------------------------------


def throttled_addresses() -> list[str]:
    db.session.expire_all()
    keys = db.session.scalars(select(LoginThrottle.key)).all()
    return sorted(key.removeprefix("address:") for key in keys if key.startswith("address:"))


def test_forwarded_for_is_ignored_without_trusted_proxies(client, owner):
    client.post(
        "/login",
        data=WRONG,
        headers={"X-Forwarded-For": "203.0.113.9"},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )
    assert throttled_addresses() == ["10.0.0.2"]


def test_the_client_address_comes_from_a_trusted_proxy(_schema, tmp_path, owner):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": _schema,
            "WTF_CSRF_ENABLED": False,
            "VAFA_TRUSTED_PROXIES": 1,
        }
    )
    try:
        app.test_client().post(
            "/login",
            data=WRONG,
            # The client forged the first address; the proxy appended the real one.
            headers={"X-Forwarded-For": "192.0.2.1, 203.0.113.9", "X-Forwarded-Proto": "https"},
            environ_base={"REMOTE_ADDR": "10.0.0.2"},
        )
        assert throttled_addresses() == ["203.0.113.9"]
    finally:
        with app.app_context():
            db.engine.dispose()
