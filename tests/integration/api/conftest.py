"""Fixtures for the JSON API: a token, and a client that sends it."""

from datetime import time

import pytest

from app.api.service import create_token
from app.extensions import db
from app.sending.policy import SendingPolicy, save_policy


@pytest.fixture(autouse=True)
def any_hour(app):
    """Marketing may leave at any hour: the sending window has its own tests."""
    save_policy(SendingPolicy(window_start=time(0), window_end=time(0)))
    db.session.commit()


@pytest.fixture
def token(app) -> str:
    """The secret of a fresh API token."""
    _token, secret = create_token("tests")
    db.session.commit()
    return secret


class Api:
    """The test client, speaking JSON with a bearer token: ``api.post("/campaigns", {...})``
    (and get, patch, delete)."""

    prefix = "/api/v1"

    def __init__(self, client, secret: str):
        self.client = client
        self.headers = {"Authorization": f"Bearer {secret}"}

    def get(self, path: str, headers: dict | None = None, **kwargs):
        headers = {**self.headers, **(headers or {})}
        return self.client.get(self.prefix + path, headers=headers, **kwargs)

    def post(self, path: str, payload=None, headers: dict | None = None, **kwargs):
        if payload is not None:
            kwargs["json"] = payload
        headers = {**self.headers, **(headers or {})}
        return self.client.post(self.prefix + path, headers=headers, **kwargs)

    def patch(self, path: str, payload=None, headers: dict | None = None, **kwargs):
        if payload is not None:
            kwargs["json"] = payload
        headers = {**self.headers, **(headers or {})}
        return self.client.patch(self.prefix + path, headers=headers, **kwargs)

    def delete(self, path: str, headers: dict | None = None, **kwargs):
        headers = {**self.headers, **(headers or {})}
        return self.client.delete(self.prefix + path, headers=headers, **kwargs)


@pytest.fixture
def api(client, token) -> Api:
    return Api(client, token)
