"""Fixtures for tests that drive the panel through HTTP, as a browser would."""

from functools import partial

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from integration_support import KEY, PASSWORD, STAFF_EMAIL, log_in
from werkzeug.security import generate_password_hash

from app.auth import models as user_models
from app.auth.service import create_user
from app.extensions import db
from tests.fakes import kavenegar
from tests.fakes.server import serving


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "default_password_hashing: hash passwords as production does (slow)"
    )


@pytest.fixture(autouse=True)
def _quick_password_hashing(request, monkeypatch):
    """Hash passwords with a cheap work factor, unless a test is about hashing itself.

    The default (scrypt) costs a tenth of a second per hash and per login, which would
    be most of this suite's time; the hashes stay real and are checked the same way.
    """
    if request.node.get_closest_marker("default_password_hashing") is None:
        quick = partial(generate_password_hash, method="pbkdf2:sha256:1000")
        monkeypatch.setattr(user_models, "generate_password_hash", quick)


class RequestClient(FlaskClient):
    """A test client whose every request runs in its own application context.

    The ``app`` fixture keeps one application context open for the whole test, and a
    request pushed inside it would share its ``g``: Flask-Babel caches the locale there
    and Flask-Login the user, so a language switch or a logout would not show on the
    next page. Production gives each request a fresh context; so does this client.
    """

    def open(self, *args, **kwargs):
        # Read streamed bodies (the CSV export) while the request's context is open.
        kwargs.setdefault("buffered", True)
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app):
    app.test_client_class = RequestClient
    return app.test_client()


@pytest.fixture
def english(logged_in):
    """A logged-in client that reads the panel in English."""
    logged_in.post("/language", data={"lang": "en"})
    return logged_in


@pytest.fixture
def staff_user(app) -> int:
    """A member of staff (their id)."""
    person = create_user(STAFF_EMAIL, PASSWORD, "staff")
    db.session.commit()
    return person.id


@pytest.fixture
def staff_client(app, client, staff_user):
    """A logged-in member of staff, on a client of their own."""
    return log_in(app.test_client(), STAFF_EMAIL, PASSWORD)


@pytest.fixture
def fake_kavenegar():
    """The owner's real provider (a fake Kavenegar that knows KEY) on loopback."""
    fake = kavenegar.create_app(KEY, credit=1_234_567, lines=("3000123456",))
    with serving(fake) as url:
        fake.base_url = f"{url}/v1"
        yield fake


@pytest.fixture
def eavesdropper():
    """Someone else's server: it records every request and answers like a provider."""
    spy = Flask("eavesdropper")
    spy.heard = []

    @spy.route("/", defaults={"path": ""}, methods=["GET", "POST"])
    @spy.route("/<path:path>", methods=["GET", "POST"])
    def listen(path):
        spy.heard.append(
            f"{request.full_path}\n{request.headers}\n{request.get_data(as_text=True)}"
        )
        return {"return": {"status": 200, "message": ""}, "entries": {"remaincredit": 1}}

    with serving(spy) as url:
        spy.base_url = f"{url}/v1"
        yield spy
