"""Fixtures for the sending engine: a scripted provider account and campaigns to send."""

from datetime import time

import pytest

from app.extensions import db
from app.messaging import service as campaigns
from app.sending.policy import SendingPolicy, save_policy
from tests.fakes.scripted import ScriptedProvider


@pytest.fixture
def scripted(app, monkeypatch):
    """The ScriptedProvider class, reset, behind a provider account; any hour may send."""
    account = ScriptedProvider.install(monkeypatch, is_default=True)
    save_policy(SendingPolicy(window_start=time(0), window_end=time(0)))
    db.session.commit()
    ScriptedProvider.account = account
    return ScriptedProvider


@pytest.fixture
def started_campaign(scripted, make_contact):
    """Factory: contacts and a confirmed, materialised campaign to them."""
    counter = iter(range(1_000_000))

    def start(names=("علی", "مریم", "رضا"), body="سلام {نام}", marketing=True):
        contacts = [make_contact(f"0912{next(counter):07d}", first_name=name) for name in names]
        campaign = campaigns.create_campaign(
            name="test",
            body=body,
            list_id=None,
            provider_id=scripted.account.id,
            sender="3000123",
            scheduled_at=None,
            created_by_id=None,
            marketing=marketing,
        )
        campaigns.confirm_campaign(campaign)
        db.session.commit()
        campaigns.start_due_campaigns()
        return campaign, contacts

    return start
