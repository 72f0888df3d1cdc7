"""Fixtures: an app per test on a real database (SQLite by default, PostgreSQL when
VAFA_TEST_DATABASE_URL is set), with its schema built by the Alembic migrations.

Tests run in parallel processes (pytest-xdist, ``-n``): each has a database of its own, a
file in its own temporary folder on SQLite, a database named after the process on the
PostgreSQL server."""

import os
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from tests.database import create_database, empty_database


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("VAFA_TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'vafa-test.db'}"
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1…; unset when not in parallel
    if not worker:
        return url
    return create_database(url, f"{make_url(url).database}_{worker}")


@pytest.fixture(scope="session")
def _schema(database_url, tmp_path_factory):
    """Build the schema once per run from the migrations, as `vafa db upgrade` does."""
    app = create_app(_test_config(database_url, tmp_path_factory.mktemp("instance")))
    with app.app_context():
        with db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        db.engine.dispose()
    return database_url


def _test_config(database_url: str, instance: Path) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "VAFA_TICK_SECONDS": 1,
        # Delivery reports may be asked for at once (tests freeze the clock).
        "VAFA_POLL_AFTER": 0,
        # Uploaded files, rejected rows and scratch files of imports stay in the test's folder,
        # as do exports written in the background.
        "VAFA_IMPORT_FOLDER": str(instance / "imports"),
        "VAFA_EXPORTS_FOLDER": str(instance / "exports"),
    }


@pytest.fixture
def app(_schema, tmp_path):
    app = create_app(_test_config(_schema, tmp_path))
    with app.app_context():
        yield app
        empty_database()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def owner(app):
    from app.auth.service import create_user

    user = create_user("owner@example.com", "a good password", "owner")
    db.session.commit()
    return user


@pytest.fixture
def logged_in(client, owner):
    response = client.post(
        "/login", data={"email": "owner@example.com", "password": "a good password"}
    )
    assert response.status_code == 302
    return client


@pytest.fixture
def make_contact(app):
    """Factory: make_contact("0912…", first_name="…") stores and returns a contact."""
    from app.contacts.models import Contact
    from app.contacts.phones import normalize_mobile

    def make(mobile: str, **fields):
        contact = Contact(mobile=normalize_mobile(mobile), **fields)
        db.session.add(contact)
        db.session.commit()
        return contact

    return make
