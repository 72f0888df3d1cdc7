"""Messages of unknown fate may already be on the phone: only the owner sends them again.

Staff start, pause, resume and cancel campaigns; retrying is the owner's, refused to staff
on the server (nothing is queued again) and offered to them by no button.
"""

import re

from integration_support import log_in
from sqlalchemy import select

from app.auth.models import AuditEntry
from app.auth.service import create_user
from app.extensions import db
from app.jobs import run_all_once
from app.sending.models import Message
from app.sending.providers.base import ErrorCode, MaybeSent


def statuses(campaign_id: int) -> list[str]:
    db.session.expire_all()
    return db.session.scalars(
        select(Message.status).where(Message.campaign_id == campaign_id).order_by(Message.id)
    ).all()


def buttons(page) -> set[str]:
    return set(re.findall(r'data-action="(\w+)"', page.text))


def test_only_the_owner_retries_messages_of_unknown_fate(
    app, logged_in, scripted, started_campaign
):
    create_user("staff@example.com", "a good password", "staff")
    db.session.commit()
    staff = log_in(app.test_client(), "staff@example.com", "a good password")
    scripted.answers.append(MaybeSent(ErrorCode.BUSY, "no answer in time"))
    campaign, _contacts = started_campaign(body="حراج یلدا")  # one text: one request
    run_all_once(app)
    assert statuses(campaign.id) == ["unknown"] * 3

    assert "retry" not in buttons(staff.get(f"/campaigns/{campaign.id}"))
    response = staff.post(f"/campaigns/{campaign.id}/retry")
    assert response.status_code == 403
    assert statuses(campaign.id) == ["unknown"] * 3
    # Staff keep their hands on the campaign otherwise.
    assert staff.post(f"/campaigns/{campaign.id}/pause").status_code == 302

    assert "retry" in buttons(logged_in.get(f"/campaigns/{campaign.id}"))
    assert logged_in.post(f"/campaigns/{campaign.id}/retry").status_code == 302
    assert statuses(campaign.id) == ["queued"] * 3
    entry = db.session.scalars(select(AuditEntry)).one()
    assert (entry.action, entry.actor, entry.detail) == (
        "campaign.retry",
        "owner@example.com",
        {"messages": 3},
    )
