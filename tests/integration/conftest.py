"""Fixtures for tests that drive the panel through HTTP, as a browser would."""

from functools import partial

import pytest
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from app.auth import models as user_models


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
