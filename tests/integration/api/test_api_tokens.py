"""API tokens: made from the command line or the panel, shown once, stored as a hash,
and the only way into /api/v1 (a session is not)."""

import hashlib
import re
from html import unescape

import pytest
from api_support import error_of
from integration_support import page_text, row_text
from sqlalchemy import select

from app import create_app
from app.api.models import ApiToken
from app.api.service import PREFIX_LENGTH, authenticate, create_token, revoke_token
from app.api.views import PUBLIC
from app.cli import main
from app.extensions import db


def stored_tokens() -> list[ApiToken]:
    db.session.expire_all()
    return db.session.scalars(select(ApiToken).order_by(ApiToken.id)).all()


def call(client, secret: str | None = None, header: str | None = None):
    if header is None and secret is not None:
        header = f"Bearer {secret}"
    headers = {"Authorization": header} if header is not None else {}
    return client.get("/api/v1/campaigns", headers=headers)


# Command line -------------------------------------------------------------------------


def test_cli_creates_a_token_shown_once_and_stored_as_a_hash(app, client):
    result = app.test_cli_runner().invoke(main, ["api-token", "create", "فروشگاه اینترنتی"])
    assert result.exit_code == 0, result.output
    secrets = re.findall(r"^vafa_[A-Za-z0-9_-]{43}$", result.output, flags=re.M)
    assert len(secrets) == 1
    secret = secrets[0]

    [token] = stored_tokens()
    assert token.name == "فروشگاه اینترنتی"
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert token.prefix == secret[:PREFIX_LENGTH] == secret[:13]
    assert secret not in (token.name, token.prefix, token.token_hash)
    assert call(client, secret).status_code == 200

    listing = app.test_cli_runner().invoke(main, ["api-token", "list"])
    assert listing.exit_code == 0
    assert "فروشگاه اینترنتی" in listing.output and token.prefix in listing.output
    assert secret not in listing.output
    assert "active" in listing.output and "last used" in listing.output


def test_cli_revokes_a_token(app, client, token):
    runner = app.test_cli_runner()
    [stored] = stored_tokens()
    result = runner.invoke(main, ["api-token", "revoke", str(stored.id)])
    assert result.exit_code == 0, result.output
    assert stored_tokens()[0].revoked_at is not None
    error_of(call(client, token), 401, "invalid_token")
    assert "revoked" in runner.invoke(main, ["api-token", "list"]).output

    unknown = runner.invoke(main, ["api-token", "revoke", "999"])
    assert unknown.exit_code != 0 and "999" in unknown.output


def test_cli_refuses_a_blank_name(app):
    result = app.test_cli_runner().invoke(main, ["api-token", "create", "   "])
    assert result.exit_code != 0
    assert stored_tokens() == []


def test_every_token_is_different(app):
    secrets = {create_token("same name")[1] for _ in range(20)}
    assert len(secrets) == 20
    assert all(len(secret) == len("vafa_") + 43 for secret in secrets)


# Panel --------------------------------------------------------------------------------


def test_panel_makes_a_token_and_shows_it_once(english):
    page = english.get("/settings/api-tokens")
    assert page.status_code == 200
    assert 'href="/settings/api-tokens"' in page.text  # the nav link
    assert "No token yet." in page_text(page)

    made = english.post("/settings/api-tokens", data={"name": "Website"})
    assert made.status_code == 200
    assert made.headers["Cache-Control"] == "no-store"
    secret = unescape(re.search(r'value="(vafa_[^"]+)"', made.text).group(1))
    [token] = stored_tokens()
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert "Copy it now" in page_text(made)
    assert call(english, secret).status_code == 200

    again = english.get("/settings/api-tokens")
    assert secret not in again.text
    row = row_text(again, "Website")
    assert token.prefix in row and "Active" in row


def test_panel_refuses_a_token_without_a_name(english):
    response = english.post("/settings/api-tokens", data={"name": ""})
    assert response.status_code == 200
    assert 'value="vafa_' not in response.text
    assert stored_tokens() == []


def test_panel_revokes_a_token(english, token):
    [stored] = stored_tokens()
    response = english.post("/settings/api-tokens", data={"revoke": stored.id})
    assert response.status_code == 302
    page = english.get(response.location)
    assert "is revoked" in page_text(page)
    assert "Revoked" in row_text(page, "tests")
    assert stored_tokens()[0].revoked_at is not None
    error_of(call(english, token), 401, "invalid_token")

    assert english.post("/settings/api-tokens", data={"revoke": 999}).status_code == 404


def test_panel_page_needs_a_session(client, owner):
    response = client.get("/settings/api-tokens")
    assert response.status_code == 302 and "/login" in response.location


# Authentication -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token vafa_x"],
    ids=["missing", "empty", "no-secret", "blank-secret", "basic", "other-scheme"],
)
def test_requests_without_a_bearer_token_are_refused(client, token, header):
    response = call(client, header=header)
    error = error_of(response, 401, "unauthorized")
    assert "Authorization: Bearer" in error["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_unknown_and_revoked_tokens_are_refused(app, client, token):
    guesses = [
        "vafa_" + "A" * 43,  # unknown
        token[:PREFIX_LENGTH] + "B" * (len(token) - PREFIX_LENGTH),  # right start, wrong rest
        token[:-1],  # one character short
        token.removeprefix("vafa_"),  # without its prefix
    ]
    for guess in guesses:
        response = call(client, guess)
        error_of(response, 401, "invalid_token")
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert call(client, token).status_code == 200
    assert call(client, header=f"bearer  {token} ").status_code == 200  # any case, spaces


def test_the_time_of_last_use_is_recorded(client, token):
    assert stored_tokens()[0].last_used_at is None
    assert call(client, token).status_code == 200
    used = stored_tokens()[0].last_used_at
    assert used is not None
    # Within a minute it is not written again (no write per request).
    assert call(client, token).status_code == 200
    assert stored_tokens()[0].last_used_at == used


def test_authenticate_ignores_revoked_tokens(app):
    made, secret = create_token("x")
    db.session.commit()
    assert authenticate(secret) is made
    revoke_token(made.id)
    assert authenticate(secret) is None


def test_a_panel_session_is_not_an_api_token(logged_in):
    response = call(logged_in)
    error_of(response, 401, "unauthorized")


def test_the_api_needs_no_csrf_token_but_the_panel_does(app, client, token, logged_in):
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post(
        "/api/v1/campaigns",
        json={"name": "بی CSRF", "text": "سلام", "audience": {"all": True}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    # The panel's own forms are still protected.
    assert logged_in.post("/settings/api-tokens", data={"name": "x"}).status_code == 400


def _api_routes() -> list[tuple[str, str]]:
    """(method, url) of every API route but the public OpenAPI document."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint not in PUBLIC:
            url = re.sub(r"<(?:\w+:)?\w+>", "1", rule.rule)
            routes += [(method, url) for method in ("GET", "POST") if method in rule.methods]
    return sorted(routes)


API_ROUTES = _api_routes()


@pytest.mark.parametrize(("method", "url"), API_ROUTES, ids=[f"{m} {u}" for m, u in API_ROUTES])
def test_every_api_route_needs_a_token(client, owner, method, url):
    """What the session guard is to the panel: no token, no answer but a JSON 401."""
    response = client.open(url, method=method, json={})
    error_of(response, 401, "unauthorized")


def test_the_openapi_document_needs_no_token(client, owner):
    assert client.get("/api/v1/openapi.json").status_code == 200
