"""Upgrading a database that holds data, from the first schema to the current one.

Every test database is built by the migrations from empty; this one starts from the
walking skeleton's schema with a campaign already sent, as a real install would.
"""

from contextlib import contextmanager

import pytest
from flask_migrate import upgrade
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from tests.database import create_database, drop_database


@contextmanager
def fresh_database(database_url: str, tmp_path):
    """An empty database of the same kind as the test database."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'old-install.db'}"
        return
    # Named after the test database: tests running in parallel each have their own.
    name = f"{url.database}_old_install"
    try:
        yield create_database(database_url, name)
    finally:
        drop_database(database_url, name)


@pytest.fixture
def old_install(database_url, tmp_path):
    with fresh_database(database_url, tmp_path) as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x", "TESTING": True})
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()


def test_a_skeleton_database_upgrades_with_its_data(old_install):
    upgrade(revision="0001")
    now = "2026-03-21 07:00:00"
    for statement in (
        "INSERT INTO users (email, password_hash, role, created_at)"
        f" VALUES ('owner@shop.ir', 'x', 'owner', '{now}')",
        "INSERT INTO contacts (mobile, first_name, last_name, created_at)"
        f" VALUES ('+989121234567', 'علی', 'رضایی', '{now}')",
        "INSERT INTO campaigns (name, body, provider, sender, status, scheduled_at, created_at)"
        f" VALUES ('نوروز', 'سلام {{نام}}', 'console', '10000000', 'done', '{now}', '{now}')",
        "INSERT INTO messages (campaign_id, contact_id, mobile, body, parts, provider, sender,"
        " status, provider_ref, idempotency_key, created_at) VALUES (1, 1, '+989121234567',"
        " 'سلام علی', 1, 'console', '10000000', 'delivered', 'console-1', 'campaign:1:1',"
        f" '{now}')",
    ):
        db.session.execute(text(statement))
    db.session.commit()

    upgrade()

    account = db.session.execute(text("SELECT id, kind, is_default FROM provider_accounts")).one()
    assert account.kind == "console" and account.is_default
    assert db.session.execute(
        text("SELECT provider_id, marketing, to_everyone FROM campaigns")
    ).one() == (account.id, True, True)
    message = db.session.execute(
        text("SELECT provider_id, status, attempts, body FROM messages")
    ).one()
    assert message == (account.id, "delivered", 0, "سلام علی")
    contact = db.session.execute(
        text("SELECT first_name, city, source, purchase_count, total_spent FROM contacts")
    ).one()
    assert contact == ("علی", "", "import", 0, 0)


def test_plaintext_provider_keys_are_encrypted_by_the_upgrade_and_back_by_the_downgrade(
    old_install,
):
    from flask_migrate import downgrade

    from app.sending.models import ProviderAccount

    upgrade(revision="0006")
    key, password = "kave-0a1b2c3d4e5f6a7b8c9d-1234", "melli-secret-pass-9876"
    for name, kind, api_key, secret in (
        ("کاوه", "kavenegar", key, ""),
        ("ملی", "melipayamak", "", password),
    ):
        db.session.execute(
            text(
                "INSERT INTO provider_accounts (name, kind, api_key, username, password,"
                " senders, requests_per_second, price_per_part, is_default, failures,"
                " created_at) VALUES (:name, :kind, :api_key, 'myshop', :password, '3000123',"
                " 5, 0, false, 0, '2026-03-21 07:00:00')"
            ),
            {"name": name, "kind": kind, "api_key": api_key, "password": secret},
        )
    db.session.commit()

    upgrade(revision="0009")

    stored = db.session.execute(
        text("SELECT api_key, password FROM provider_accounts ORDER BY id")
    ).all()
    for value in (key, password, key[-8:], password[-8:]):
        assert all(value not in column for row in stored for column in row)
    assert [(bool(a), bool(p)) for a, p in stored] == [(True, False), (False, True)]
    db.session.rollback()  # PostgreSQL: the upgrade alters the table this read
    upgrade()  # the model reads the current schema
    kave, meli = db.session.scalars(select(ProviderAccount).order_by(ProviderAccount.id))
    assert (kave.api_key, meli.password) == (key, password)
    db.session.rollback()

    downgrade(revision="0008")
    assert db.session.execute(
        text("SELECT api_key, password FROM provider_accounts ORDER BY id")
    ).all() == [(key, ""), ("", password)]


def test_users_of_an_existing_install_stay_active_after_0007(old_install):
    upgrade(revision="0006")
    db.session.execute(
        text(
            "INSERT INTO users (email, password_hash, role, created_at)"
            " VALUES ('owner@shop.ir', 'x', 'owner', '2026-03-21 07:00:00'),"
            " ('staff@shop.ir', 'x', 'staff', '2026-03-21 07:00:00')"
        )
    )
    db.session.commit()

    upgrade(revision="0007")

    assert db.session.execute(
        text("SELECT email, role, is_active FROM users ORDER BY id")
    ).all() == [("owner@shop.ir", "owner", True), ("staff@shop.ir", "staff", True)]
    assert db.session.execute(text("SELECT count(*) FROM audit_entries")).scalar() == 0


def test_0010_drops_the_plain_name_indexes_and_its_downgrade_brings_them_back(old_install):
    from flask_migrate import downgrade

    def indexes() -> set[str]:
        if db.engine.dialect.name == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contacts'"
        else:
            sql = "SELECT indexname FROM pg_indexes WHERE tablename = 'contacts'"
        return set(db.session.scalars(text(sql)))

    plain = {"ix_contacts_first_name", "ix_contacts_last_name"}
    upgrade(revision="0009")
    assert plain <= indexes()

    upgrade(revision="0010")
    assert not plain & indexes()
    # The name search keeps its own indexes (0006).
    assert {"ix_contacts_name_key", "ix_contacts_last_name_key"} <= indexes()
    db.session.rollback()

    downgrade(revision="0009")
    assert plain <= indexes()


def test_0012_counts_the_members_of_existing_lists_and_keeps_counting(old_install):
    from flask_migrate import downgrade

    upgrade(revision="0010")
    now = "2026-03-21 07:00:00"
    for statement in (
        f"INSERT INTO contact_lists (id, name, created_at) VALUES (1, 'ویژه', '{now}')",
        f"INSERT INTO contact_lists (id, name, created_at) VALUES (2, 'خالی', '{now}')",
        "INSERT INTO contacts (id, mobile, first_name, last_name, city, created_at, fields,"
        " source, purchase_count, total_spent) VALUES"
        f" (1, '+989121234567', 'علی', '', '', '{now}', '{{}}', 'import', 0, 0),"
        f" (2, '+989121234568', 'سارا', '', '', '{now}', '{{}}', 'import', 0, 0)",
        "INSERT INTO list_members (list_id, contact_id) VALUES (1, 1), (1, 2)",
        "INSERT INTO provider_accounts (id, name, kind, api_key, username, password, senders,"
        " requests_per_second, price_per_part, is_default, failures, created_at)"
        f" VALUES (1, 'آزمایشی', 'console', '', '', '', '10000000', 5, 0, true, 0, '{now}')",
        "INSERT INTO campaigns (name, body, to_everyone, list_id, provider_id, sender,"
        " marketing, status, scheduled_at, created_at)"
        f" VALUES ('نوروز', 'سلام', false, 1, 1, '10000000', true, 'done', '{now}', '{now}')",
    ):
        db.session.execute(text(statement))
    db.session.commit()

    upgrade(revision="0012")

    def counts():
        return db.session.execute(
            text("SELECT id, member_count FROM contact_lists ORDER BY id")
        ).all()

    assert counts() == [(1, 2), (2, 0)]
    assert db.session.scalar(text("SELECT list_name FROM campaigns")) == "ویژه"
    assert db.session.scalar(text("SELECT checked_at FROM provider_accounts")) is None
    db.session.execute(text("INSERT INTO list_members (list_id, contact_id) VALUES (2, 1)"))
    db.session.execute(text("DELETE FROM contacts WHERE id = 2"))
    db.session.commit()
    assert counts() == [(1, 1), (2, 1)]

    db.session.rollback()
    downgrade(revision="0010")
    # The memberships survive the downgrade, and no trigger is left to count them.
    assert db.session.execute(text("SELECT count(*) FROM list_members")).scalar() == 2
    db.session.execute(text("DELETE FROM list_members WHERE list_id = 2"))
    db.session.commit()


def test_0018_moves_each_campaigns_list_into_its_audience(old_install):
    """Campaigns made before 0018 keep going to the list they were made for; one whose
    list was deleted still goes to nobody and still names the list."""
    from flask_migrate import downgrade

    from app.messaging import service as campaigns
    from app.messaging.audience import describe
    from app.messaging.models import Campaign

    upgrade(revision="0013")
    now = "2026-03-21 07:00:00"
    times = f"'{now}', '{now}'"
    for statement in (
        f"INSERT INTO contact_lists (id, name, created_at) VALUES (1, 'ویژه', '{now}')",
        "INSERT INTO contacts (id, mobile, first_name, last_name, city, created_at, fields,"
        " source, purchase_count, total_spent) VALUES"
        f" (1, '+989121234567', 'علی', '', '', '{now}', '{{}}', 'import', 0, 0),"
        f" (2, '+989121234568', 'سارا', '', '', '{now}', '{{}}', 'import', 0, 0)",
        "INSERT INTO list_members (list_id, contact_id) VALUES (1, 2)",
        "INSERT INTO provider_accounts (id, name, kind, api_key, username, password, senders,"
        " requests_per_second, price_per_part, is_default, failures, created_at)"
        f" VALUES (1, 'آزمایشی', 'console', '', '', '', '10000000', 5, 0, true, 0, '{now}')",
        "INSERT INTO campaigns (id, name, body, to_everyone, list_id, list_name, provider_id,"
        " sender, marketing, status, scheduled_at, created_at) VALUES"
        f" (1, 'به گروه', 'سلام', false, 1, 'ویژه', 1, '1000', true, 'scheduled', {times}),"
        f" (2, 'گروه رفته', 'سلام', false, NULL, 'قدیمی', 1, '1000', true, 'scheduled', {times}),"
        f" (3, 'همه', 'سلام', true, NULL, NULL, 1, '1000', true, 'done', {times})",
    ):
        db.session.execute(text(statement))
    db.session.commit()

    upgrade(revision="0018")
    rows = db.session.execute(
        text(
            "SELECT campaign_id, kind, excluded, list_id, name FROM campaign_audience"
            " ORDER BY campaign_id"
        )
    ).all()
    assert [tuple(row) for row in rows] == [
        (1, "list", False, 1, "ویژه"),
        (2, "list", False, None, "قدیمی"),
    ]
    upgrade()  # the models are the latest schema's
    to_list, gone, everyone = (db.session.get(Campaign, i) for i in (1, 2, 3))
    assert [campaigns.audience_now(c) for c in (to_list, gone, everyone)] == [1, 0, 2]
    assert "قدیمی" in describe(gone)
    campaigns.materialise(to_list)
    assert db.session.execute(text("SELECT contact_id FROM messages")).scalars().all() == [2]
    db.session.commit()

    downgrade(revision="0013")
    rows = db.session.execute(text("SELECT id, list_id, list_name FROM campaigns ORDER BY id"))
    assert [tuple(row) for row in rows] == [(1, 1, "ویژه"), (2, None, "قدیمی"), (3, None, None)]


def test_0014_gives_a_fresh_install_its_builtin_segments(old_install):
    from flask_migrate import downgrade

    from app.audience import service as segments
    from app.audience.models import Segment

    upgrade(revision="0019")  # 0019 adds champions, counted from the RFM scores of 0015
    stored = db.session.scalars(select(Segment).order_by(Segment.id)).all()
    assert [s.key for s in stored] == [b["key"] for b in segments.BUILTINS]
    # The migration's copy says what the app's list says, and each one can be counted.
    for segment, builtin in zip(stored, segments.BUILTINS, strict=True):
        assert (segment.name, segment.description, segment.rules) == (
            builtin["name"],
            builtin["description"],
            builtin["rules"],
        )
        assert segment.builtin and segments.segment_count(segment) == 0
    assert segment.created_at.tzinfo is not None
    db.session.rollback()
    downgrade(revision="0013")
    assert "segments" not in sa_inspect(db.engine).get_table_names()


def test_0022_keeps_the_scheduler_jobs_and_its_downgrade_drops_them(old_install):
    from flask_migrate import downgrade

    upgrade(revision="0022")
    assert "scheduler_jobs" in sa_inspect(db.engine).get_table_names()
    db.session.execute(
        text("INSERT INTO scheduler_jobs (id, next_run_time, job_state) VALUES ('a', 1.5, :s)"),
        {"s": b"\x80state"},
    )
    db.session.commit()
    downgrade(revision="0020")
    assert "scheduler_jobs" not in sa_inspect(db.engine).get_table_names()


def test_0026_gives_campaigns_no_holdout_keeps_their_messages_and_its_downgrade_drops_it(
    old_install,
):
    from flask_migrate import downgrade

    upgrade(revision="0001")
    now = "2026-03-21 07:00:00"
    for statement in (
        "INSERT INTO contacts (mobile, first_name, last_name, created_at)"
        " VALUES ('+989121234567', 'علی', 'رضایی', '{now}')",
        "INSERT INTO campaigns (name, body, provider, sender, status, scheduled_at, created_at)"
        " VALUES ('نوروز', 'سلام', 'console', '10000000', 'done', '{now}', '{now}')",
        "INSERT INTO messages (campaign_id, contact_id, mobile, body, parts, provider, sender,"
        " status, idempotency_key, created_at) VALUES (1, 1, '+989121234567', 'سلام', 1,"
        " 'console', '10000000', 'delivered', 'campaign:1:1', '{now}')",
    ):
        db.session.execute(text(statement.format(now=now)))
    db.session.commit()
    upgrade(revision="0025")
    # (An earlier revision's SQLite table copy emptied it; from 0025 on, it must stay.)
    db.session.execute(text("UPDATE messages SET campaign_id = 1"))
    db.session.commit()
    upgrade(revision="0026")

    def columns(table: str) -> set[str]:
        return {column["name"] for column in sa_inspect(db.engine).get_columns(table)}

    assert db.session.execute(text("SELECT holdout_percent FROM campaigns")).scalar_one() == 0
    # Added in place: the messages keep their campaign (a copied table would empty it).
    assert db.session.execute(text("SELECT campaign_id FROM messages")).scalar_one() == 1
    assert "holdout_percent" in columns("automations")
    db.session.rollback()

    downgrade(revision="0025")
    assert "holdout_percent" not in columns("campaigns") | columns("automations")
    assert db.session.execute(text("SELECT campaign_id FROM messages")).scalar_one() == 1
