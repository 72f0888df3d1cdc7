"""The sms.ir adapter against a fake sms.ir served on loopback: real HTTP, no network."""

import socket
from datetime import UTC, datetime

import pytest

from app.sending.providers import make_provider
from app.sending.providers.base import (
    Accepted,
    ErrorCode,
    MaybeSent,
    NotSent,
    Outgoing,
    ProviderError,
    Rejected,
    Settings,
)
from app.sending.providers.smsir import DEFAULT_RIALS_PER_CREDIT, SmsirProvider
from tests.fakes.server import Faults, serving
from tests.fakes.smsir import API_KEY, LINE, create_app, fresh_state, set_delivery

TEXT = "سلام مریم جان، ۲۰٪ تخفیف تولدت آماده است. لغو۱۱"


@pytest.fixture(scope="module")
def served():
    """One fake for the module: stopping a server takes half a second."""
    app = create_app()
    with serving(app) as url:
        app.url = url
        yield app


@pytest.fixture
def fake(served):
    """The served fake as a new account, with no faults."""
    served.state = fresh_state()
    served.faults = Faults(times=-1)
    return served


def provider(fake, **settings) -> SmsirProvider:
    values = {"api_key": API_KEY, "sender": str(LINE), "base_url": f"{fake.url}/v1"}
    values.update(settings)
    return make_provider("smsir", Settings(**values))


def outgoing(count: int, body: str = TEXT, start: int = 1) -> list[Outgoing]:
    return [
        Outgoing(start + i, f"+98912{1_000_000 + i:07d}", body, str(LINE)) for i in range(count)
    ]


def test_bulk_send_is_one_request_and_every_message_accepted(fake):
    batch = outgoing(3)

    answers = provider(fake).send(batch)

    assert [type(a) for a in answers] == [Accepted] * 3
    assert [a.local_id for a in answers] == [1, 2, 3]
    sent = fake.state["sent"]
    assert [a.provider_ref for a in answers] == [str(r["messageId"]) for r in sent]
    assert len(fake.state["requests"]) == 1
    request = fake.state["requests"][0]
    assert request["path"] == "/v1/send/bulk"
    assert request["json"] == {
        "lineNumber": LINE,
        "messageText": TEXT,
        "mobiles": ["09121000000", "09121000001", "09121000002"],
    }
    assert [r["messageText"] for r in sent] == [TEXT] * 3


def test_per_recipient_texts_go_through_like_to_like(fake):
    batch = [
        Outgoing(7, "+989121111111", "سلام علی", str(LINE)),
        Outgoing(8, "+989352222222", "سلام سارا", str(LINE)),
    ]

    answers = provider(fake).send(batch)

    assert all(isinstance(a, Accepted) for a in answers)
    assert [a.local_id for a in answers] == [7, 8]
    (request,) = fake.state["requests"]
    assert request["path"] == "/v1/send/likeToLike"
    assert request["json"]["messageTexts"] == ["سلام علی", "سلام سارا"]
    assert request["json"]["mobiles"] == ["09121111111", "09352222222"]
    texts = {r["mobile"]: r["messageText"] for r in fake.state["sent"]}
    assert texts == {"09121111111": "سلام علی", "09352222222": "سلام سارا"}


def test_the_documented_limit_of_100_fits_and_101_is_refused(fake):
    assert SmsirProvider.max_batch == SmsirProvider.max_p2p == 100
    smsir = provider(fake)

    assert all(isinstance(a, Accepted) for a in smsir.send(outgoing(100)))
    with pytest.raises(NotSent) as refused:
        smsir.send(outgoing(101, start=200))
    assert "105" in refused.value.detail

    texts = [
        Outgoing(300 + i, f"+98912{2_000_000 + i:07d}", f"پیام {i}", str(LINE)) for i in range(100)
    ]
    assert all(isinstance(a, Accepted) for a in smsir.send(texts))
    with pytest.raises(NotSent) as refused:
        smsir.send(texts + [Outgoing(999, "+989129999999", "یکی بیشتر", str(LINE))])
    assert "105" in refused.value.detail
    assert len(fake.state["sent"]) == 200


def test_blacklisted_and_invalid_recipients_are_rejected_the_rest_accepted(fake):
    fake.state["blacklist"].add("09121000001")
    batch = outgoing(3)
    batch[2] = Outgoing(3, "+98912100", TEXT, str(LINE))  # too short: sms.ir gives no id

    accepted, blocked, invalid = provider(fake).send(batch)

    assert isinstance(accepted, Accepted) and accepted.local_id == 1
    assert blocked == Rejected(2, ErrorCode.BLOCKED, "sms.ir: message id 0")
    assert invalid == Rejected(3, ErrorCode.INVALID_NUMBER, "sms.ir: no message id")
    assert [r["mobile"] for r in fake.state["sent"]] == ["09121000000"]


def test_a_single_refused_number_is_rejected_not_retried(fake):
    (answer,) = provider(fake).send([Outgoing(5, "+98912", TEXT, str(LINE))])

    assert isinstance(answer, Rejected)
    assert answer.code is ErrorCode.INVALID_NUMBER
    assert "104" in answer.detail


def test_blank_text_is_rejected_without_asking_the_provider(fake):
    batch = [Outgoing(1, "+989121111111", "  ", str(LINE))]

    assert provider(fake).send(batch) == [
        Rejected(1, ErrorCode.BAD_MESSAGE, "empty text, not sent")
    ]
    assert fake.state["requests"] == []


def test_bad_key_is_not_sent(fake):
    with pytest.raises(NotSent) as refused:
        provider(fake, api_key="wrong-key").send(outgoing(2))

    assert refused.value.code is ErrorCode.BAD_KEY
    assert "10" in refused.value.detail
    assert fake.state["sent"] == []


def test_no_credit_is_not_sent(fake):
    fake.state["credit"] = 1.0

    with pytest.raises(NotSent) as refused:
        provider(fake).send(outgoing(2))

    assert refused.value.code is ErrorCode.NO_CREDIT
    assert "102" in refused.value.detail
    assert fake.state["sent"] == []


def test_unknown_sender_line_is_not_sent(fake):
    with pytest.raises(NotSent) as refused:
        provider(fake).send([Outgoing(1, "+989121111111", TEXT, "30001234")])

    assert refused.value.code is ErrorCode.BAD_SENDER
    assert "101" in refused.value.detail


def test_sender_that_is_not_a_line_number_is_not_sent(fake):
    with pytest.raises(NotSent) as refused:
        provider(fake).send([Outgoing(1, "+989121111111", TEXT, "Vafa")])

    assert refused.value.code is ErrorCode.BAD_SENDER
    assert fake.state["requests"] == []


def test_http_429_is_rate_limited_with_retry_after(fake):
    fake.faults = Faults(status=429, retry_after="7")

    with pytest.raises(NotSent) as refused:
        provider(fake).send(outgoing(1))

    assert refused.value.code is ErrorCode.RATE_LIMITED
    assert refused.value.retry_after == 7.0


def test_http_503_is_busy(fake):
    fake.faults = Faults(status=503)

    with pytest.raises(NotSent) as refused:
        provider(fake).send(outgoing(1))

    assert refused.value.code is ErrorCode.BUSY


def test_http_500_may_have_sent(fake):
    fake.faults = Faults(status=500)

    with pytest.raises(MaybeSent):
        provider(fake).send(outgoing(1))


def test_garbage_body_may_have_sent(fake):
    fake.faults = Faults(body="<html>Service Unavailable</html>")

    with pytest.raises(MaybeSent):
        provider(fake).send(outgoing(1))


def test_fewer_message_ids_than_recipients_may_have_sent(fake):
    fake.faults = Faults(
        body='{"status":1,"message":"موفق","data":{"packId":"p","messageIds":[5],"cost":1.0}}'
    )

    with pytest.raises(MaybeSent) as unclear:
        provider(fake).send(outgoing(2))

    assert "1 message ids for 2" in unclear.value.detail


def test_timeout_after_the_provider_took_the_batch_may_have_sent(fake):
    fake.faults = Faults(delay=0.6, after_handling=True, times=1)

    with pytest.raises(MaybeSent):
        provider(fake, timeout=0.3).send(outgoing(2))

    assert len(fake.state["sent"]) == 2


def test_connection_refused_is_not_sent():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(api_key=API_KEY, sender=str(LINE), base_url=f"http://127.0.0.1:{port}/v1")

    with pytest.raises(NotSent) as refused:
        make_provider("smsir", settings).send(outgoing(1))

    assert refused.value.code is ErrorCode.BUSY


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (None, "sent"),
        (1, "delivered"),
        (2, "undeliverable"),
        (3, "sent"),
        (4, "failed"),
        (5, "sent"),
        (6, "failed"),
        (7, "blacklisted"),
    ],
)
def test_delivery_states_map_to_vafa_statuses(fake, state, status):
    smsir = provider(fake)
    (accepted,) = smsir.send(outgoing(1))
    set_delivery(fake, int(accepted.provider_ref), state)

    (update,) = smsir.statuses([accepted.provider_ref])

    assert update.provider_ref == accepted.provider_ref
    assert update.status == status
    if state is not None:
        assert f"deliveryState {state}" in update.detail


def test_statuses_of_several_messages_and_an_unknown_id(fake):
    smsir = provider(fake)
    first, second = smsir.send(outgoing(2))
    set_delivery(fake, int(first.provider_ref), 1)

    updates = smsir.statuses([first.provider_ref, second.provider_ref, "123"])

    assert [(u.provider_ref, u.status) for u in updates] == [
        (first.provider_ref, "delivered"),
        (second.provider_ref, "sent"),
        ("123", "sent"),
    ]
    assert "111" in updates[2].detail


@pytest.mark.parametrize(
    ("http", "status", "code"),
    [
        (401, 11, ErrorCode.BAD_KEY),
        (401, 12, ErrorCode.BAD_KEY),
        (401, 13, ErrorCode.BAD_KEY),
        (401, 14, ErrorCode.BAD_KEY),
        (400, 20, ErrorCode.RATE_LIMITED),
        (400, 118, ErrorCode.PROVIDER_ERROR),
        (400, 123, ErrorCode.BAD_SENDER),
    ],
)
def test_documented_refusals_are_not_sent(fake, http, status, code):
    fake.state["refuse"] = (http, status)

    with pytest.raises(NotSent) as refused:
        provider(fake).send(outgoing(2))

    assert refused.value.code is code
    assert refused.value.detail.startswith(f"sms.ir {status}: ")


def test_a_system_problem_while_sending_may_have_sent(fake):
    fake.state["refuse"] = (500, 0)

    with pytest.raises(MaybeSent):
        provider(fake).send(outgoing(1))
    with pytest.raises(NotSent):
        provider(fake).credit()


def test_unreadable_401_is_a_bad_key(fake):
    fake.faults = Faults(status=401)

    with pytest.raises(NotSent) as refused:
        provider(fake).send(outgoing(1))

    assert refused.value.code is ErrorCode.BAD_KEY


def test_a_refused_bulk_text_rejects_every_recipient(fake):
    fake.state["refuse"] = (400, 117)

    answers = provider(fake).send(outgoing(2))

    assert [(a.local_id, a.code) for a in answers] == [
        (1, ErrorCode.BAD_MESSAGE),
        (2, ErrorCode.BAD_MESSAGE),
    ]


def test_a_refused_text_among_several_cannot_be_pinned_on_one(fake):
    fake.state["refuse"] = (400, 117)
    batch = [
        Outgoing(1, "+989121111111", "متن یک", str(LINE)),
        Outgoing(2, "+989122222222", "متن دو", str(LINE)),
    ]

    with pytest.raises(NotSent) as refused:
        provider(fake).send(batch)

    assert refused.value.code is ErrorCode.BAD_MESSAGE


def test_a_refused_blacklisted_single_number_is_rejected(fake):
    fake.state["refuse"] = (400, 115)

    (answer,) = provider(fake).send(outgoing(1))

    assert answer.code is ErrorCode.BLOCKED


def test_per_recipient_texts_from_two_lines_cannot_share_a_request(fake):
    batch = [
        Outgoing(1, "+989121111111", "متن یک", str(LINE)),
        Outgoing(2, "+989122222222", "متن دو", "30004505000017"),
    ]

    with pytest.raises(ValueError, match="one line per request"):
        provider(fake).send(batch)
    assert fake.state["requests"] == []


def test_credit_is_converted_to_rials(fake):
    fake.state["credit"] = 1234.5

    assert provider(fake).credit() == 1234.5 * DEFAULT_RIALS_PER_CREDIT
    priced = SmsirProvider(
        Settings(api_key=API_KEY, base_url=f"{fake.url}/v1"), rials_per_credit=1_190
    )
    assert priced.credit() == 1_469_055


def test_credit_with_a_bad_key_is_not_available(fake):
    with pytest.raises(NotSent) as refused:
        provider(fake, api_key="wrong-key").credit()

    assert refused.value.code is ErrorCode.BAD_KEY


def test_find_sent_learns_nothing_since_sms_ir_takes_no_local_id(fake):
    smsir = provider(fake)
    smsir.send(outgoing(1))

    assert SmsirProvider.uses_local_id is False
    assert smsir.find_sent([1]) == []
    assert len(fake.state["requests"]) == 1


def test_inbox_reads_each_received_message_once(fake):
    fake.state["inbox"] = [
        {
            "receiveReturnId": 501,
            "messageText": "۱۱",
            "number": LINE,
            "mobile": 9121234567,
            "receivedDateTime": 1_700_000_000,
        },
        {
            "receiveReturnId": 502,
            "messageText": "لغو",
            "number": LINE,
            "mobile": 989351234567,
            "receivedDateTime": 1_700_000_060,
        },
    ]
    smsir = provider(fake)

    first, second = smsir.inbox()

    assert (first.mobile, first.text, first.provider_ref) == ("+989121234567", "۱۱", "501")
    assert first.received_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert (second.mobile, second.text) == ("+989351234567", "لغو")
    assert smsir.inbox() == []


def test_the_api_key_never_shows_in_an_error(fake):
    errors: list[ProviderError] = []
    attempts = [
        (provider(fake, api_key="wrong-secret-key-1"), Faults(times=-1)),
        (provider(fake), Faults(status=500)),
        (provider(fake), Faults(body="not json")),
        (provider(fake), Faults(status=429)),
        (provider(fake, timeout=0.3), Faults(delay=0.6, after_handling=True, times=1)),
    ]
    for smsir, faults in attempts:
        fake.faults = faults
        for call in (lambda s=smsir: s.send(outgoing(1)), smsir.credit, smsir.inbox):
            try:
                call()
            except ProviderError as error:
                errors.append(error)
    fake.faults = Faults(times=-1)
    fake.state["credit"] = 0
    try:
        provider(fake).send(outgoing(1))
    except ProviderError as error:
        errors.append(error)

    assert len(errors) >= 10
    for error in errors:
        shown = " ".join([str(error), repr(error), error.detail, error.message])
        cause = error.__cause__
        while cause is not None:
            shown += " " + str(cause)
            cause = cause.__cause__
        assert API_KEY not in shown
        assert "wrong-secret-key-1" not in shown
