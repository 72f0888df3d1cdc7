"""The password policy, sessions that a password change or "log out everywhere else"
ends (a stolen cookie with them), and the flags of the login cookies."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import gettext
from integration_support import in_locale, page_text
from sqlalchemy import func, select

from app import create_app
from app.auth import service as user_service
from app.auth.models import User
from app.auth.service import MIN_PASSWORD_LENGTH, create_user
from app.cli import main as vafa
from app.extensions import db
from app.persian import show_number

OWNER = {"email": "owner@example.com", "password": "a good password"}
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def fa(make) -> str:
    return in_locale("fa", make)


def logged_in_now(client) -> bool:
    return client.get("/contacts/").status_code == 200


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(START, tick=False)
    return time_machine


# Password policy ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("owner@example.com", " " * 8, "The password must be at least %(count)s characters."),
        ("owner@example.com", "short", "The password must be at least %(count)s characters."),
        ("owner@example.com", " " * 12, "The password cannot be only spaces."),
        ("owner@example.com", "\t \u00a0" * 4, "The password cannot be only spaces."),
        (
            "owner@example.com",
            "Owner@Example.COM",
            "The password cannot be the email address or the part before @.",
        ),
        (
            "shopkeeper1@example.com",
            "SHOPKEEPER1",
            "The password cannot be the email address or the part before @.",
        ),
    ],
)
def test_the_password_policy(app, email, password, message):
    with pytest.raises(user_service.UserError) as refused:
        create_user(email, password)
    assert str(refused.value) == gettext(message, count=show_number(MIN_PASSWORD_LENGTH))
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_ten_characters_are_enough(app):
    assert create_user("owner@example.com", "0123456789").check_password("0123456789")


def test_setup_refuses_eight_spaces(client):
    spaces = " " * 8
    response = client.post(
        "/setup", data={"email": "owner@example.com", "password": spaces, "confirm": spaces}
    )
    assert response.status_code == 200
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_setup_refuses_ten_spaces_in_persian(client):
    spaces = " " * 12
    response = client.post(
        "/setup", data={"email": "owner@example.com", "password": spaces, "confirm": spaces}
    )
    assert fa(lambda: gettext("The password cannot be only spaces.")) in page_text(response)
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_create_user_on_the_command_line_refuses_the_email_as_password(app):
    result = app.test_cli_runner().invoke(
        vafa, ["create-user", "shopkeeper1@example.com"], input="shopkeeper1@example.com\n"
    )
    assert result.exit_code == 1
    assert (
        gettext("The password cannot be the email address or the part before @.") in result.output
    )


# Sessions that can be ended ----------------------------------------------------------


def steal_cookies(victim, thief) -> None:
    for name in ("session", "remember_token"):
        cookie = victim.get_cookie(name)
        assert cookie is not None, name
        thief.set_cookie(name, cookie.value)


def only_remember_cookie(app, victim):
    """A new browser holding nothing but the victim's remember cookie."""
    thief = app.test_client()
    thief.set_cookie("remember_token", victim.get_cookie("remember_token").value)
    return thief


def test_a_stolen_cookie_stops_working_after_a_password_change(app, logged_in):
    thief = app.test_client()
    steal_cookies(logged_in, thief)
    assert logged_in_now(thief)
    assert logged_in_now(only_remember_cookie(app, logged_in))
    remember_before = only_remember_cookie(app, logged_in)

    response = logged_in.post(
        "/account/password",
        data={
            "current": "a good password",
            "password": "a new password!",
            "confirm": "a new password!",
        },
    )
    assert response.status_code == 302
    changed = fa(lambda: gettext("Your password is changed. Every other device is logged out."))
    assert changed in page_text(logged_in.get("/account"))

    assert not logged_in_now(thief)
    assert not logged_in_now(remember_before)
    # The owner's own browser stays in, and its new remember cookie works.
    assert logged_in_now(logged_in)
    assert logged_in_now(only_remember_cookie(app, logged_in))
    # The new password logs in; the old one no longer does.
    other = app.test_client()
    assert other.post("/login", data=OWNER).status_code == 200
    assert other.post("/login", data={**OWNER, "password": "a new password!"}).status_code == 302


def test_log_out_everywhere_else(app, logged_in):
    thief = app.test_client()
    steal_cookies(logged_in, thief)
    remembered = only_remember_cookie(app, logged_in)
    assert logged_in.post("/account/sessions").location == "/account"
    assert not logged_in_now(thief)
    assert not logged_in_now(remembered)
    assert logged_in_now(logged_in)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"current": "wrong password", "password": "a new password!"},
            "The current password is wrong.",
        ),
        (
            {"current": "a good password", "password": "owner@example.com"},
            "The password cannot be the email address or the part before @.",
        ),
        (
            {"current": "a good password", "password": " " * 10},
            "The password cannot be only spaces.",
        ),
    ],
)
def test_a_refused_password_change_changes_nothing(app, logged_in, fields, message):
    thief = app.test_client()
    steal_cookies(logged_in, thief)
    response = logged_in.post("/account/password", data={**fields, "confirm": fields["password"]})
    assert response.status_code == 200
    assert fa(lambda: gettext(message)) in page_text(response)
    assert logged_in_now(thief)
    db.session.expire_all()
    assert db.session.scalar(select(User)).check_password("a good password")


def test_guessing_the_current_password_on_the_account_page_is_throttled(app, logged_in, clock):
    """Someone at a logged-in browser cannot guess the password there instead of at login."""
    guess = {"current": "a guess at it", "password": "a new password!"}
    guess["confirm"] = guess["password"]
    answers = [logged_in.post("/account/password", data=guess).status_code for _ in range(6)]
    assert answers == [200, 200, 200, 200, 200, 429]
    right = {**guess, "current": "a good password"}
    assert logged_in.post("/account/password", data=right).status_code == 429
    # The account's login is held up as well, for browsers new to it.
    assert app.test_client().post("/login", data=OWNER).status_code == 429
    clock.shift(timedelta(minutes=1, seconds=1))
    assert logged_in.post("/account/password", data=right).status_code == 302


def test_a_stranger_failing_at_login_does_not_keep_the_owner_from_changing_the_password(
    app, logged_in, clock
):
    """Found walking the panel: after a stranger's failed logins with the owner's e-mail,
    the owner — logged in — was told «۱۵ دقیقهٔ دیگر دوباره امتحان کنید» on the account page."""
    stranger = app.test_client()
    for _ in range(8):
        stranger.post("/login", data={"email": "owner@example.com", "password": "a guess"})
    assert stranger.post("/login", data=OWNER).status_code == 429  # the account is locked
    change = {"current": "a good password", "password": "a new password!"}
    change["confirm"] = change["password"]
    response = logged_in.post("/account/password", data=change)
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(User)).check_password("a new password!")


def test_the_account_page_links_from_every_page(logged_in):
    page = logged_in.get("/contacts/").text
    assert 'href="/account"' in page
    account = logged_in.get("/account")
    assert account.status_code == 200
    assert 'action="/account/password"' in account.text
    assert 'action="/account/sessions"' in account.text


def test_a_session_from_before_versions_is_logged_out(app, owner):
    """Sessions made before migration 0008 hold a bare id; they must log in again."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(owner.id)
        session["_fresh"] = True
    assert not logged_in_now(client)


# Cookies -------------------------------------------------------------------


def cookie_header(response, name: str) -> str:
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]
    return header


def test_login_cookies_are_httponly_samesite_and_last_thirty_days(client, owner, clock):
    response = client.post("/login", data=OWNER)
    session = cookie_header(response, "session")
    remember = cookie_header(response, "remember_token")
    device = cookie_header(response, "vafa_device")  # lifts the account's lock (login only)
    assert "Path=/login" in device
    for header in (session, remember, device):
        assert "HttpOnly" in header
        assert "SameSite=Lax" in header
        assert "Secure" not in header  # served over plain HTTP unless told otherwise
    expires = re.search(r"Expires=([^;]+)", remember).group(1)
    assert datetime.strptime(expires, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC) == (
        START + timedelta(days=30)
    )


def test_secure_cookies_when_configured(_schema, tmp_path, owner, clock):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": _schema,
            "WTF_CSRF_ENABLED": False,
            "VAFA_SECURE_COOKIES": True,
            "VAFA_REMEMBER_DAYS": 7,
        }
    )
    try:
        response = app.test_client().post("/login", data=OWNER, base_url="https://localhost")
        for name in ("session", "remember_token", "vafa_device"):
            assert "; Secure" in cookie_header(response, name)
        # Browsers are told to come back over HTTPS only.
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
        expires = re.search(r"Expires=([^;]+)", cookie_header(response, "remember_token"))
        assert expires.group(1).startswith("Tue, 08 Dec 2026")
    finally:
        with app.app_context():
            db.engine.dispose()


# vafa set-password ----------------------------------------------------------------------


def test_set_password_on_the_command_line_ends_every_session_and_the_lock(app, logged_in, clock):
    """The owner who forgot the password (and locked the account trying) sets a new one."""
    stranger = app.test_client()
    for _attempt in range(5):
        stranger.post("/login", data={**OWNER, "password": "a wrong guess"})
    assert stranger.post("/login", data=OWNER).status_code == 429

    cli = app.test_cli_runner()
    refused = cli.invoke(vafa, ["set-password", "owner@example.com"], input="owner\n")
    assert refused.exit_code == 1
    too_short = gettext(
        "The password must be at least %(count)s characters.",
        count=show_number(MIN_PASSWORD_LENGTH),
    )
    assert too_short in refused.output
    result = cli.invoke(vafa, ["set-password", "OWNER@example.com"], input="a fresh password\n")
    assert result.exit_code == 0, result.output

    assert not logged_in_now(logged_in)
    assert stranger.post("/login", data=OWNER).status_code == 200
    response = stranger.post("/login", data={**OWNER, "password": "a fresh password"})
    assert response.status_code == 302


def test_set_password_for_nobody_says_so(app, owner):
    result = app.test_cli_runner().invoke(
        vafa, ["set-password", "nobody@example.com"], input="a fresh password\n"
    )
    assert result.exit_code == 1
    assert "nobody@example.com" in result.output
