"""Campaigns from the compose form to the handset: the outbox and its dispatcher."""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
from integration_support import log_in, page_text
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.contacts.models import ContactList, list_members
from app.extensions import db
from app.jobs import run_all_once
from app.messaging import service as campaigns
from app.messaging.models import Campaign
from app.sending import service as sending
from app.sending.models import Message
from app.sending.providers import KINDS
from app.sending.providers.base import (
    Accepted,
    ErrorCode,
    MaybeSent,
    NotSent,
    Outgoing,
    Rejected,
    StatusUpdate,
)

CLAIM_TIMEOUT = timedelta(seconds=300)


def accept(message: Outgoing) -> Accepted:
    return Accepted(message.local_id, f"rec-{message.local_id}")


class RecordingProvider:
    """A provider account that keeps what it was handed and answers as the test says.

    It stands in for the SMS company, not for the code under test: the dispatcher
    around it (claims, batching, state changes) is the real one.
    """

    kind = "recording"
    max_batch = 2
    max_p2p = 2
    uses_local_id = True
    calls: ClassVar[list[list[Outgoing]]] = []
    failure: ClassVar[Exception | None] = None
    # The answer for each message; None leaves it out of the reply.
    answer: ClassVar[Callable[[Outgoing], Accepted | Rejected | None]] = staticmethod(accept)

    def __init__(self, settings=None, session=None):
        pass

    def send(self, batch: Sequence[Outgoing]) -> list[Accepted | Rejected]:
        type(self).calls.append(list(batch))
        if len(self.calls) > 20:
            raise RuntimeError("the dispatcher keeps asking")
        if self.failure is not None:
            raise self.failure
        return [a for a in map(type(self).answer, batch) if a is not None]

    def statuses(self, refs: Sequence[str]) -> list[StatusUpdate]:
        return [StatusUpdate(ref, "sent") for ref in refs]  # still at the operator

    def credit(self) -> int:
        return 0

    def find_sent(self, local_ids):
        return []

    def inbox(self):
        return []


@pytest.fixture
def recording(app, monkeypatch):
    """Send through RecordingProvider: new campaigns use it, from the config."""
    monkeypatch.setitem(KINDS, "recording", f"{__name__}:RecordingProvider")
    monkeypatch.setattr(RecordingProvider, "calls", [])
    monkeypatch.setattr(RecordingProvider, "failure", None)
    monkeypatch.setattr(RecordingProvider, "answer", staticmethod(accept))
    app.config["VAFA_PROVIDER"] = "recording"
    return RecordingProvider


@pytest.fixture
def audience(make_contact):
    """Three contacts in id order: with a full name, a first name only, no name."""
    return [
        make_contact("09121234567", first_name="علی", last_name="رضایی"),
        make_contact("09351112233", first_name="سارا"),
        make_contact("09190001122"),
    ]


def compose(client, body="سلام {نام|مشتری عزیز}", list_id=0, **fields):
    data = {"name": "کمپین آزمایشی", "body": body, "list_id": list_id, "when": "now", **fields}
    return client.post("/campaigns/new", data=data)


def campaign_ids() -> list[int]:
    return db.session.scalars(select(Campaign.id).order_by(Campaign.id)).all()


def send_now(client, **fields) -> Campaign:
    response = compose(client, **fields)
    assert response.status_code == 302, page_text(response)
    campaign_id = int(response.location.rsplit("/", 1)[1])
    return db.session.get(Campaign, campaign_id)


def messages(campaign_id: int | None = None) -> list[Message]:
    db.session.expire_all()
    stmt = select(Message).order_by(Message.id)
    if campaign_id is not None:
        stmt = stmt.where(Message.campaign_id == campaign_id)
    return db.session.scalars(stmt).all()


def statuses(campaign_id: int | None = None) -> list[str]:
    return [message.status for message in messages(campaign_id)]


def campaign_status(campaign_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Campaign, campaign_id).status


def make_list(name: str, contacts) -> ContactList:
    contact_list = ContactList(name=name)
    db.session.add(contact_list)
    db.session.flush()
    db.session.execute(
        list_members.insert(), [{"list_id": contact_list.id, "contact_id": c.id} for c in contacts]
    )
    db.session.commit()
    return contact_list


# Composing ---------------------------------------------------------------------------


def test_an_unknown_placeholder_is_rejected_with_its_name(english, audience):
    response = compose(english, body="سلام {نام}، کد شما {کد} است")
    assert response.status_code == 200
    assert "Unknown placeholder: {کد}" in page_text(response)
    assert campaign_ids() == []


@pytest.mark.parametrize(
    ("send_date", "send_time"),
    [("1400/01/01", "10:00"), ("۱۴۰۴/۰۱/۰۱", "۰۹:۰۰")],
)
def test_a_scheduled_time_in_the_past_is_rejected(english, audience, send_date, send_time):
    response = compose(english, when="later", send_date=send_date, send_time=send_time)
    assert response.status_code == 200
    assert "This moment has passed; choose a time in the future." in page_text(response)
    assert campaign_ids() == []


@pytest.mark.parametrize(
    ("send_date", "send_time"),
    [
        ("1410/07/31", "10:00"),  # Mehr has 30 days
        ("1410/13/01", "10:00"),
        ("31/12/1410", "10:00"),
        ("فردا", "10:00"),
        ("", "10:00"),
        ("1410/01/01", "25:00"),
        ("1410/01/01", ""),
    ],
)
def test_an_invalid_jalali_moment_is_rejected(english, audience, send_date, send_time):
    response = compose(english, when="later", send_date=send_date, send_time=send_time)
    assert response.status_code == 200
    assert "Enter a Jalali date like 1405/09/15 and a time like 18:30." in page_text(response)
    assert campaign_ids() == []


def test_an_empty_message_is_rejected(logged_in, audience):
    response = compose(logged_in, body="")
    assert response.status_code == 200
    assert campaign_ids() == []


def test_sending_now_ignores_the_date_fields(logged_in, audience):
    campaign = send_now(logged_in, send_date="garbage", send_time="")
    assert campaign.status == "scheduled"
    assert campaign.scheduled_at <= datetime.now(UTC)


# Preview -----------------------------------------------------------------------------


def preview(client, body, list_id=0, offset=0) -> dict:
    response = client.post(
        "/campaigns/preview", data={"body": body, "list_id": list_id, "offset": offset}
    )
    assert response.status_code == 200
    return response.get_json()


def test_preview_renders_for_a_real_contact_with_the_fallback(logged_in, audience):
    body = "سلام {نام|مشتری عزیز}"
    first = preview(logged_in, body)
    assert first["text"] == "سلام علی"
    assert "علی رضایی" in first["contact"]
    assert "۰۹۱۲ ۱۲۳ ۴۵۶۷" in first["contact"]
    assert (first["audience"], first["parts"], first["unicode"]) == (3, 1, True)
    assert first["characters"] == len("سلام علی")
    assert preview(logged_in, body, offset=1)["text"] == "سلام سارا"
    assert preview(logged_in, body, offset=2)["text"] == "سلام مشتری عزیز"
    assert preview(logged_in, body, offset=3)["text"] == "سلام علی"  # round and round


def test_preview_counts_parts_of_the_rendered_text(logged_in, audience):
    body = "س" * 66 + " {نام}"
    assert preview(logged_in, body)["parts"] == 1  # 66 + 1 + «علی» = 70
    long_name = preview(logged_in, "س" * 66 + " {نام کامل}")  # «علی رضایی»: 76
    assert (long_name["characters"], long_name["parts"]) == (76, 2)
    latin = preview(logged_in, "Hello {first_name|friend}", offset=2)
    assert (latin["text"], latin["unicode"], latin["parts"]) == ("Hello friend", False, 1)


def test_preview_reports_unknown_placeholders(logged_in, audience):
    data = preview(logged_in, "{نام} {کد} {code}")
    assert data["unknown"] == ["کد", "code"]
    assert data["text"] == "علی {کد} {code}"


def test_preview_of_a_list_uses_its_members(logged_in, audience):
    members = make_list("ویژه", audience[1:2])
    data = preview(logged_in, "سلام {نام}", list_id=members.id)
    assert (data["audience"], data["text"]) == (1, "سلام سارا")


def test_preview_with_an_empty_audience(logged_in):
    data = preview(logged_in, "سلام {نام|دوست}")
    assert (data["audience"], data["contact"], data["text"]) == (0, None, "سلام {نام|دوست}")


# Sending -----------------------------------------------------------------------------


def test_send_now_reaches_every_contact_once_with_a_personal_text(logged_in, audience):
    campaign = send_now(logged_in)
    run_all_once(logged_in.application)
    sent = messages(campaign.id)
    assert sorted(m.contact_id for m in sent) == sorted(c.id for c in audience)
    bodies = {m.mobile: m.body for m in sent}
    assert bodies == {
        "+989121234567": "سلام علی",
        "+989351112233": "سلام سارا",
        "+989190001122": "سلام مشتری عزیز",
    }
    assert {m.status for m in sent} == {"delivered"}
    assert {m.provider_ref for m in sent} == {f"console-{m.id}" for m in sent}
    assert {m.sender for m in sent} == {"10000000"}
    assert campaign_status(campaign.id) == "done"


def test_the_states_a_message_goes_through(logged_in, audience):
    campaign = send_now(logged_in)
    assert campaign.status == "scheduled"
    assert messages() == []

    assert campaigns.start_due_campaigns() == 1
    assert statuses(campaign.id) == ["queued"] * 3
    assert campaign_status(campaign.id) == "sending"
    assert all(m.sent_at is None and m.provider_ref is None for m in messages())

    assert sending.dispatch_queued(500) == 3
    assert statuses(campaign.id) == ["sent"] * 3
    assert all(m.sent_at and m.provider_ref == f"console-{m.id}" for m in messages())
    assert all(m.done_at is None for m in messages())
    assert sending.dispatch_queued(500) == 0  # nothing is sent twice

    assert campaigns.finish_campaigns() == 1
    assert campaign_status(campaign.id) == "done"

    assert sending.poll_delivery(5000) == 3
    assert statuses(campaign.id) == ["delivered"] * 3
    assert all(m.done_at and m.done_at >= m.sent_at for m in messages())
    assert sending.poll_delivery(5000) == 0


def test_parts_are_counted_per_recipient(logged_in, audience):
    campaign = send_now(logged_in, body="س" * 65 + " {نام کامل}")
    campaigns.start_due_campaigns()
    assert {m.mobile: m.parts for m in messages(campaign.id)} == {
        "+989121234567": 2,  # 65 + 1 + «علی رضایی» = 75 characters
        "+989351112233": 1,  # 65 + 1 + «سارا» = 70
        "+989190001122": 1,
    }


def test_sending_to_a_list_reaches_only_its_members(logged_in, audience, make_contact):
    members = make_list("ویژه", [audience[0], audience[2]])
    campaign = send_now(logged_in, list_id=members.id)
    run_all_once(logged_in.application)
    assert {m.contact_id for m in messages(campaign.id)} == {audience[0].id, audience[2].id}
    assert campaign.contact_list.name == "ویژه"


def test_a_campaign_to_nobody_finishes(logged_in):
    campaign = send_now(logged_in)
    run_all_once(logged_in.application)
    assert messages() == []
    assert campaign_status(campaign.id) == "done"


def test_a_scheduled_campaign_waits_for_its_time(client, owner, audience, time_machine):
    time_machine.move_to(datetime(2026, 3, 15, 8, 0, tzinfo=UTC), tick=False)
    log_in(client)
    response = compose(client, when="later", send_date="۱۴۰۵/۰۱/۰۱", send_time="10:30")
    assert response.status_code == 302, page_text(response)
    [campaign_id] = campaign_ids()
    campaign = db.session.get(Campaign, campaign_id)
    # Nowruz 1405, 10:30 in Tehran.
    assert campaign.scheduled_at == datetime(2026, 3, 21, 7, 0, tzinfo=UTC)
    assert "۱۴۰۵/۰۱/۰۱ ۱۰:۳۰" in page_text(client.get(f"/campaigns/{campaign_id}"))

    run_all_once(client.application)
    assert messages() == []
    assert campaign_status(campaign_id) == "scheduled"

    time_machine.move_to(datetime(2026, 3, 21, 6, 59, 59, tzinfo=UTC), tick=False)
    assert campaigns.start_due_campaigns() == 0
    assert messages() == []

    time_machine.move_to(datetime(2026, 3, 21, 7, 0, 1, tzinfo=UTC), tick=False)
    run_all_once(client.application)
    assert statuses(campaign_id) == ["delivered"] * 3
    assert campaign_status(campaign_id) == "done"
    started = db.session.get(Campaign, campaign_id).started_at
    assert started == datetime(2026, 3, 21, 7, 0, 1, tzinfo=UTC)


def test_starting_twice_does_not_duplicate_messages(logged_in, audience):
    campaign = send_now(logged_in)
    assert campaigns.start_due_campaigns() == 1
    assert campaigns.start_due_campaigns() == 0
    run_all_once(logged_in.application)
    assert len(messages(campaign.id)) == len(audience)


def test_an_interrupted_start_resumes_without_duplicates(logged_in, make_contact, monkeypatch):
    """A scheduler that died while writing a campaign's messages picks up where it stopped."""
    monkeypatch.setattr(campaigns, "MATERIALISE_CHUNK", 2)
    contacts = [make_contact(f"0912000000{i}") for i in range(5)]
    campaign = send_now(logged_in)
    campaigns.start_due_campaigns()
    # What a crash after the first committed chunk leaves behind.
    db.session.execute(
        Message.__table__.delete().where(Message.contact_id.in_([c.id for c in contacts[2:]]))
    )
    db.session.execute(update(Campaign).values(status="preparing"))
    db.session.commit()
    assert len(messages()) == 2

    assert campaigns.start_due_campaigns() == 1
    assert sorted(m.contact_id for m in messages()) == [c.id for c in contacts]
    keys = [m.idempotency_key for m in messages()]
    assert keys == [f"campaign:{campaign.id}:{c.id}" for c in contacts]


def test_the_idempotency_key_refuses_a_second_copy(logged_in, audience):
    campaign = send_now(logged_in)
    campaigns.start_due_campaigns()
    first = messages(campaign.id)[0]
    db.session.add(
        Message(
            campaign_id=campaign.id,
            contact_id=first.contact_id,
            mobile=first.mobile,
            body=first.body,
            parts=first.parts,
            provider=first.provider,
            sender=first.sender,
            idempotency_key=first.idempotency_key,
        )
    )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert len(messages(campaign.id)) == len(audience)


def test_a_claim_takes_at_most_its_limit_and_never_the_same_message(app, make_contact):
    for i in range(5):
        make_contact(f"0912000000{i}")
    campaigns.create_campaign(
        name="x",
        body="x",
        list_id=None,
        provider="console",
        sender="1",
        scheduled_at=None,
        created_by_id=None,
    )
    db.session.commit()
    campaigns.start_due_campaigns()
    now = datetime.now(UTC)
    claims = [[m.id for m in sending.claim_queued(2, now)] for _ in range(4)]
    assert [len(claim) for claim in claims] == [2, 2, 1, 0]
    assert sorted(sum(claims, [])) == [m.id for m in messages()]
    assert statuses() == ["sending"] * 5


def test_a_stale_claim_becomes_unknown_and_is_never_sent(
    app, logged_in, audience, recording, time_machine
):
    time_machine.move_to(datetime.now(UTC), tick=False)
    campaign = send_now(logged_in)
    campaigns.start_due_campaigns()
    # A dispatcher claims the messages and dies before the provider answers.
    claimed = sending.claim_queued(500, datetime.now(UTC))
    assert [m.status for m in claimed] == ["sending"] * 3
    assert sending.expire_stale_claims(CLAIM_TIMEOUT) == 0  # a live claim is left alone

    time_machine.shift(CLAIM_TIMEOUT + timedelta(seconds=1))
    assert sending.expire_stale_claims(CLAIM_TIMEOUT) == 3
    assert statuses(campaign.id) == ["unknown"] * 3
    assert {m.error for m in messages()} == {"dispatcher_stopped"}

    for _ in range(2):
        run_all_once(app)
    assert recording.calls == []
    assert statuses(campaign.id) == ["unknown"] * 3
    assert campaign_status(campaign.id) == "done"


def test_the_expiry_job_uses_the_configured_claim_timeout(app, audience, time_machine):
    time_machine.move_to(datetime(2026, 5, 1, 12, 0, tzinfo=UTC), tick=False)
    campaigns.create_campaign(
        name="x",
        body="x",
        list_id=None,
        provider="console",
        sender="1",
        scheduled_at=None,
        created_by_id=None,
    )
    db.session.commit()
    campaigns.start_due_campaigns()
    sending.claim_queued(500, datetime.now(UTC))
    app.config["VAFA_CLAIM_TIMEOUT"] = 60
    time_machine.shift(timedelta(seconds=59))
    run_all_once(app)
    assert statuses() == ["sending"] * 3
    time_machine.shift(timedelta(seconds=2))
    run_all_once(app)
    assert statuses() == ["unknown"] * 3


def test_batches_follow_the_providers_limit(app, logged_in, make_contact, recording):
    for i in range(5):
        make_contact(f"0912000000{i}")
    send_now(logged_in)
    run_all_once(app)
    assert [len(call) for call in recording.calls] == [2, 2, 1]
    sent = [m.local_id for call in recording.calls for m in call]
    assert sorted(sent) == [m.id for m in messages()]  # each message once
    assert statuses() == ["sent"] * 5


def test_a_refusing_provider_gets_the_messages_again_later(app, logged_in, audience, recording):
    app.config["VAFA_DISPATCH_BATCH"] = 2
    recording.failure = NotSent(ErrorCode.RATE_LIMITED, "HTTP 429")
    campaign = send_now(logged_in)
    run_all_once(app)
    # Asked once in this tick, not again and again while it refuses.
    assert len(recording.calls) == 1
    assert statuses(campaign.id) == ["queued"] * 3
    assert all(m.claimed_at is None for m in messages())
    assert campaign_status(campaign.id) == "sending"

    recording.failure = None
    run_all_once(app)
    assert statuses(campaign.id) == ["sent"] * 3
    accepted = [m.local_id for call in recording.calls[1:] for m in call]
    assert sorted(accepted) == [m.id for m in messages()]
    assert campaign_status(campaign.id) == "done"


def test_a_batch_that_may_have_been_sent_is_never_sent_again(app, logged_in, audience, recording):
    recording.failure = MaybeSent(ErrorCode.BUSY, "no answer in time")
    campaign = send_now(logged_in)
    run_all_once(app)
    assert statuses(campaign.id) == ["unknown"] * 3
    assert {m.error for m in messages()} == {"maybe_sent"}
    asked = len(recording.calls)

    recording.failure = None
    run_all_once(app)
    run_all_once(app)
    assert len(recording.calls) == asked
    assert statuses(campaign.id) == ["unknown"] * 3
    assert campaign_status(campaign.id) == "done"


def test_per_message_answers(app, logged_in, audience, recording):
    def answer(message: Outgoing):
        if message.mobile == "+989351112233":
            return Rejected(message.local_id, ErrorCode.BLOCKED, "blacklist")
        if message.mobile == "+989190001122":
            return None  # the provider's reply left this one out
        return accept(message)

    recording.answer = answer
    campaign = send_now(logged_in)
    run_all_once(app)
    by_mobile = {m.mobile: m for m in messages(campaign.id)}
    assert by_mobile["+989121234567"].status == "sent"
    assert (by_mobile["+989351112233"].status, by_mobile["+989351112233"].error) == (
        "rejected",
        "blocked",
    )
    assert (by_mobile["+989190001122"].status, by_mobile["+989190001122"].error) == (
        "unknown",
        "no_answer",
    )
    assert campaign_status(campaign.id) == "done"


# Progress ---------------------------------------------------------------------------


def progress(client, campaign_id) -> dict:
    response = client.get(f"/campaigns/{campaign_id}/progress")
    assert response.status_code == 200
    return response.get_json()


def counts(data) -> dict[str, int]:
    return {item["status"]: item["count"] for item in data["counts"]}


def test_progress_counts_as_the_campaign_goes(app, logged_in, audience):
    campaign = send_now(logged_in)
    data = progress(logged_in, campaign.id)
    assert (data["status"], data["total"], data["handed_over"], data["percent"]) == (
        "scheduled",
        0,
        0,
        0,
    )

    campaigns.start_due_campaigns()
    data = progress(logged_in, campaign.id)
    assert (data["status"], data["total"], data["handed_over"], data["percent"]) == (
        "sending",
        3,
        0,
        0,
    )
    assert counts(data) == {"queued": 3}
    assert data["total_shown"] == "۳"

    sending.claim_queued(1, datetime.now(UTC))
    data = progress(logged_in, campaign.id)
    assert counts(data) == {"queued": 2, "sending": 1}
    assert data["handed_over"] == 0

    run_all_once(app)
    data = progress(logged_in, campaign.id)
    assert counts(data) == {"sending": 1, "delivered": 2}
    assert (data["handed_over"], data["percent"]) == (2, 67)
    assert data["status"] == "sending"
    assert data["handed_over_shown"] == "۲"

    db.session.execute(update(Message).where(Message.status == "sending").values(status="queued"))
    db.session.commit()
    run_all_once(app)
    data = progress(logged_in, campaign.id)
    assert counts(data) == {"delivered": 3}
    assert (data["status"], data["handed_over"], data["percent"]) == ("done", 3, 100)
    assert all(item["label"] for item in data["counts"])


def test_the_campaign_page_shows_its_progress(logged_in, audience):
    campaign = send_now(logged_in)
    run_all_once(logged_in.application)
    page = logged_in.get(f"/campaigns/{campaign.id}")
    assert page.status_code == 200
    assert 'data-status="delivered"' in page.text
    assert "کمپین آزمایشی" in page_text(page)
    assert f"/reports/messages?campaign={campaign.id}" in page.text


def test_an_unknown_campaign_is_not_found(logged_in):
    assert logged_in.get("/campaigns/999").status_code == 404
    assert logged_in.get("/campaigns/999/progress").status_code == 404


def test_campaign_count_in_the_database(logged_in, audience):
    send_now(logged_in)
    send_now(logged_in)
    assert db.session.scalar(select(func.count(Campaign.id))) == 2
