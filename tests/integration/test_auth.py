"""Logging in, first-run setup, the session guard, the `vafa create-user` command, language."""

import re

import pytest
from flask_babel import gettext
from integration_support import in_locale, page_text
from sqlalchemy import select

from app import PUBLIC_ENDPOINTS, create_app
from app.auth.models import User
from app.auth.service import MIN_PASSWORD_LENGTH
from app.cli import main as vafa
from app.extensions import db
from app.persian import show_number


def users() -> list[User]:
    db.session.expire_all()
    return db.session.scalars(select(User).order_by(User.id)).all()


# First run ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/login", "/contacts/", "/campaigns/new"])
def test_first_visit_without_users_goes_to_setup(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.location == "/setup"


def test_setup_creates_the_owner_and_logs_in(client):
    response = client.post(
        "/setup",
        data={
            "email": " Owner@Example.com ",
            "password": "a good password",
            "confirm": "a good password",
        },
    )
    assert response.status_code == 302
    assert response.location == "/contacts/import"
    [user] = users()
    assert (user.email, user.role) == ("owner@example.com", "owner")
    # The new owner is logged in: the next page is served, not redirected.
    assert client.get("/contacts/").status_code == 200


def test_setup_with_passwords_that_differ_creates_nobody(client):
    response = client.post(
        "/setup",
        data={"email": "owner@example.com", "password": "a good password", "confirm": "another"},
    )
    assert response.status_code == 200
    assert in_locale("fa", lambda: gettext("The passwords differ.")) in page_text(response)
    assert users() == []


def test_setup_with_a_short_password_creates_nobody(client):
    response = client.post(
        "/setup", data={"email": "owner@example.com", "password": "short", "confirm": "short"}
    )
    assert response.status_code == 200
    assert 'class="error"' in response.text
    assert users() == []


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "The password must be at least %(count)s characters."),
        (" " * 8, "The password must be at least %(count)s characters."),
        (" " * 12, "The password cannot be only spaces."),
        ("owner@example.com", "The password cannot be the email address or the part before @."),
    ],
)
def test_setup_says_under_the_password_what_the_policy_wants(client, password, message):
    """The policy's own Persian sentence, by the field — not WTForms' generic
    «طول فیلد حداقل باید 10 حرف باشد.» with its Latin digits."""
    response = client.post(
        "/setup", data={"email": "owner@example.com", "password": password, "confirm": password}
    )
    expected = in_locale("fa", lambda: gettext(message, count=show_number(MIN_PASSWORD_LENGTH)))
    errors = re.findall(r'<p class="error"[^>]*>(.*?)</p>', response.text, flags=re.S)
    assert [error.strip() for error in errors] == [expected]
    assert "طول فیلد" not in response.text
    assert users() == []


@pytest.mark.parametrize("method", ["get", "post"])
def test_setup_is_gone_once_a_user_exists(client, owner, method):
    response = getattr(client, method)(
        "/setup", data={"email": "intruder@example.com", "password": "x" * 12, "confirm": "x" * 12}
    )
    assert response.status_code == 404
    assert [user.email for user in users()] == ["owner@example.com"]


# The session guard ------------------------------------------------------------------


def _guarded_routes() -> list[tuple[str, str]]:
    """(method, url) of every route a visitor without a session must not reach."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    routes = []
    for rule in app.url_map.iter_rules():
        # The JSON API asks for a token instead (tests/integration/api).
        if rule.endpoint in PUBLIC_ENDPOINTS or rule.endpoint.startswith("api."):
            continue
        url = re.sub(r"<(?:\w+:)?\w+>", "1", rule.rule)
        routes += [(method, url) for method in ("GET", "POST") if method in rule.methods]
    return sorted(routes)


GUARDED = _guarded_routes()


def test_the_guard_covers_the_pages_of_the_skeleton():
    urls = {url for _method, url in GUARDED}
    assert {"/", "/contacts/", "/contacts/import", "/campaigns/", "/reports/messages"} <= urls
    assert {"/reports/messages.csv", "/campaigns/1/progress", "/campaigns/preview"} <= urls
    assert not {"/login", "/setup", "/language"} & urls


@pytest.mark.parametrize(("method", "url"), GUARDED, ids=[f"{m} {u}" for m, u in GUARDED])
def test_every_page_but_login_needs_a_session(client, owner, method, url):
    response = client.open(url, method=method)
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")


def test_after_login_the_visitor_lands_where_they_were_going(client, owner):
    response = client.get("/reports/messages?status=delivered")
    assert response.location == "/login?next=/reports/messages?status%3Ddelivered"
    response = client.post(
        response.location, data={"email": "owner@example.com", "password": "a good password"}
    )
    assert response.status_code == 302
    assert response.location == "/reports/messages?status=delivered"


def test_login_is_served_without_a_session(client, owner):
    response = client.get("/login")
    assert response.status_code == 200
    assert 'name="password"' in response.text


@pytest.mark.parametrize(
    "password", ["a wrong password", "A GOOD PASSWORD", "a good password ", ""]
)
def test_a_wrong_password_shows_an_error_and_no_session(client, owner, password):
    response = client.post("/login", data={"email": "owner@example.com", "password": password})
    assert response.status_code == 200
    if password:
        expected = in_locale("fa", lambda: gettext("The email or password is wrong."))
        assert expected in page_text(response)
    assert client.get("/contacts/").status_code == 302


def test_an_unknown_email_shows_the_same_error(client, owner):
    response = client.post("/login", data={"email": "nobody@example.com", "password": "x" * 10})
    expected = in_locale("fa", lambda: gettext("The email or password is wrong."))
    assert expected in page_text(response)


def test_email_is_matched_without_case_or_spaces(client, owner):
    response = client.post(
        "/login", data={"email": "  OWNER@example.COM ", "password": "a good password"}
    )
    assert response.status_code == 302


@pytest.mark.default_password_hashing
def test_the_password_is_stored_hashed(owner):
    [user] = users()
    assert "a good password" not in user.password_hash
    assert user.password_hash.startswith("scrypt:")
    assert user.check_password("a good password")
    assert not user.check_password("a good passworD")


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/login",
        "///evil.example",
        "////evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "https://evil.example/",
        "http:evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_login_does_not_follow_next_off_the_site(client, owner, target):
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"email": "owner@example.com", "password": "a good password"},
    )
    assert response.status_code == 302
    assert response.location == "/"


def test_logout_ends_the_session(logged_in):
    assert logged_in.get("/contacts/").status_code == 200
    assert logged_in.post("/logout").location == "/login"
    assert logged_in.get("/contacts/").status_code == 302


def test_a_post_without_csrf_token_is_rejected(_schema, tmp_path, owner):
    """The test config turns CSRF off; the real config must refuse a forged POST."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": _schema,
            "WTF_CSRF_ENABLED": True,
        }
    )
    client = app.test_client()
    credentials = {"email": "owner@example.com", "password": "a good password"}
    try:
        assert client.post("/login", data=credentials).status_code == 400
        assert client.post("/language", data={"lang": "en"}).status_code == 400
        # With the token from the form, the same POST logs in.
        page = client.get("/login").text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        token = token or re.search(r'name="csrf-token" content="([^"]+)"', page)
        response = client.post("/login", data={**credentials, "csrf_token": token.group(1)})
        assert response.status_code == 302
        # A logged-in session does not lift the check.
        assert client.post("/campaigns/preview", data={"body": "x"}).status_code == 400
    finally:
        with app.app_context():
            db.engine.dispose()


# vafa create-user -------------------------------------------------------------------


def test_create_user_reads_the_password_from_standard_input(app):
    result = app.test_cli_runner().invoke(
        vafa, ["create-user", "Staff@Example.com", "--role", "staff"], input="staff password\n"
    )
    assert result.exit_code == 0, result.output
    assert "staff@example.com" in result.output
    [user] = users()
    assert (user.email, user.role) == ("staff@example.com", "staff")
    assert user.check_password("staff password")


def test_create_user_reads_the_password_from_a_file(app, tmp_path):
    secret = tmp_path / "password"
    secret.write_text("from a file 123\nsecond line is ignored\n")
    result = app.test_cli_runner().invoke(
        vafa,
        ["create-user", "owner@example.com", "--role", "owner", "--password-file", str(secret)],
    )
    assert result.exit_code == 0, result.output
    [user] = users()
    assert user.role == "owner"
    assert user.check_password("from a file 123")


def test_create_user_refuses_a_short_password_with_a_clear_message(app):
    result = app.test_cli_runner().invoke(
        vafa, ["create-user", "owner@example.com"], input="short\n"
    )
    assert result.exit_code == 1
    expected = gettext(
        "The password must be at least %(count)s characters.",
        count=show_number(MIN_PASSWORD_LENGTH),
    )
    assert expected in result.output
    assert users() == []


def test_create_user_refuses_a_second_user_with_the_same_email(app, owner):
    result = app.test_cli_runner().invoke(
        vafa, ["create-user", "OWNER@example.com"], input="another password\n"
    )
    assert result.exit_code == 1
    assert gettext("A user with this email already exists.") in result.output
    assert len(users()) == 1


def test_create_user_refuses_an_unknown_role(app):
    result = app.test_cli_runner().invoke(
        vafa, ["create-user", "x@example.com", "--role", "admin"], input="a good password\n"
    )
    assert result.exit_code == 2
    assert users() == []


def test_a_user_made_on_the_command_line_can_log_in(app, client):
    app.test_cli_runner().invoke(vafa, ["create-user", "cli@example.com"], input="cli password\n")
    response = client.post("/login", data={"email": "cli@example.com", "password": "cli password"})
    assert response.status_code == 302


# Language -----------------------------------------------------------------------------


def html_tag(response) -> str:
    return re.search(r"<html[^>]*>", response.text).group(0)


def test_pages_are_persian_and_right_to_left_by_default(logged_in):
    assert html_tag(logged_in.get("/contacts/")) == '<html lang="fa" dir="rtl">'


def test_switching_to_english_makes_pages_left_to_right(logged_in):
    assert html_tag(logged_in.get("/contacts/")) == '<html lang="fa" dir="rtl">'
    response = logged_in.post("/language", data={"lang": "en"}, headers={"Referer": "/contacts/"})
    assert response.location == "/contacts/"
    assert html_tag(logged_in.get("/contacts/")) == '<html lang="en" dir="ltr">'
    logged_in.post("/language", data={"lang": "fa"})
    assert html_tag(logged_in.get("/contacts/")) == '<html lang="fa" dir="rtl">'


def test_the_language_choice_works_on_the_login_page(client, owner):
    client.post("/language", data={"lang": "en"})
    response = client.get("/login")
    assert html_tag(response) == '<html lang="en" dir="ltr">'
    response = client.post("/login", data={"email": "owner@example.com", "password": "nope-nope"})
    assert "The email or password is wrong." in page_text(response)


def test_an_unknown_language_is_ignored(logged_in):
    logged_in.post("/language", data={"lang": "de"})
    assert html_tag(logged_in.get("/contacts/")) == '<html lang="fa" dir="rtl">'
