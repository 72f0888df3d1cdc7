"""The Ghasedak adapter against the fake gateway, over real HTTP on loopback."""

import socket
from datetime import datetime, timedelta
from functools import partial

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
from app.sending.providers.ghasedak import GhasedakProvider
from tests.fakes.ghasedak import (
    API_KEY,
    LINE,
    MAX_RECEPTORS,
    PREFIX,
    create_app,
    reset,
    set_status,
)
from tests.fakes.server import Faults, serving

TEXT = "سلام مریم، تخفیف ویژهٔ یلدا برای شماست. اگر نمی\u200cخواهید، ۱۱ بفرستید."


@pytest.fixture(scope="module")
def server():
    """One fake for the module: stopping a server takes half a second."""
    app = create_app()
    with serving(app) as url:
        app.url = url
        yield app


@pytest.fixture
def fake(server):
    reset(server)
    server.faults = Faults(times=-1)
    return server


def provider(app, **settings) -> GhasedakProvider:
    options = {"api_key": API_KEY, "sender": LINE, "base_url": app.url + PREFIX}
    options.update(settings)
    return GhasedakProvider(Settings(**options))


def outgoing(local_id: int, mobile: str = "+989121234567", body: str = TEXT, sender=LINE):
    return Outgoing(local_id=local_id, mobile=mobile, body=body, sender=sender)


def mobiles(count: int, start: int = 0) -> list[str]:
    return [f"+98912{start + n:07d}" for n in range(count)]


def test_registered_by_kind():
    adapter = make_provider("ghasedak", Settings(api_key=API_KEY))
    assert isinstance(adapter, GhasedakProvider)
    assert adapter.base_url == "https://gateway.ghasedak.me/rest/api/v1/WebService"


def test_bulk_send_is_one_request_and_records_provider_ids(fake):
    batch = [outgoing(10 + n, mobile) for n, mobile in enumerate(mobiles(3))]

    answers = provider(fake).send(batch)

    assert len(fake.state["requests"]) == 1
    sent_request = fake.state["requests"][0]
    assert sent_request["path"] == "SendBulkSMS"
    assert sent_request["headers"]["Apikey"] == API_KEY
    body = sent_request["json"]
    assert body["receptors"] == ["09120000000", "09120000001", "09120000002"]
    assert body["message"] == TEXT  # Persian text, ZWNJ and all, intact
    assert body["lineNumber"] == LINE
    assert "clientReferenceId" not in body  # one per request: not ours to give
    ids = [sent["messageId"] for sent in fake.state["sent"]]
    assert answers == [Accepted(10, ids[0]), Accepted(11, ids[1]), Accepted(12, ids[2])]
    assert [sent["receptor"] for sent in fake.state["sent"]] == body["receptors"]


def test_one_message_bulk_carries_the_local_id(fake):
    answers = provider(fake).send([outgoing(77)])

    assert fake.state["requests"][0]["json"]["clientReferenceId"] == "77"
    assert answers == [Accepted(77, fake.state["sent"][0]["messageId"])]


def test_per_recipient_texts_go_pair_to_pair_with_local_ids(fake):
    batch = [
        outgoing(1, "+989121111111", "سلام مریم جان"),
        outgoing(2, "+989352222222", "سلام علی آقا"),
        outgoing(3, "+989121111111", "یادآوری نوبت فردا"),
    ]

    answers = provider(fake).send(batch)

    assert len(fake.state["requests"]) == 1
    request = fake.state["requests"][0]
    assert request["path"] == "SendPairToPairSMS"
    assert request["json"]["items"] == [
        {"lineNumber": LINE, "receptor": "09121111111", "message": "سلام مریم جان",
         "clientReferenceId": "1"},
        {"lineNumber": LINE, "receptor": "09352222222", "message": "سلام علی آقا",
         "clientReferenceId": "2"},
        {"lineNumber": LINE, "receptor": "09121111111", "message": "یادآوری نوبت فردا",
         "clientReferenceId": "3"},
    ]  # fmt: skip
    by_reference = {sent["clientReferenceId"]: sent["messageId"] for sent in fake.state["sent"]}
    assert answers == [Accepted(n, by_reference[str(n)]) for n in (1, 2, 3)]


def test_a_batch_of_max_batch_goes_and_one_more_is_refused(fake):
    adapter = provider(fake)
    assert adapter.max_batch == adapter.max_p2p == MAX_RECEPTORS == 100

    full = [outgoing(n, mobile) for n, mobile in enumerate(mobiles(100))]
    assert all(isinstance(answer, Accepted) for answer in adapter.send(full))

    over = [outgoing(n, mobile) for n, mobile in enumerate(mobiles(101, 200))]
    with pytest.raises(NotSent) as refused:
        adapter.send(over)
    assert refused.value.code is ErrorCode.PROVIDER_ERROR
    assert len(fake.state["sent"]) == 100

    pairs = [outgoing(n, mobile, f"متن {n}") for n, mobile in enumerate(mobiles(100, 400))]
    assert all(isinstance(answer, Accepted) for answer in adapter.send(pairs))
    with pytest.raises(NotSent):
        adapter.send(pairs + [outgoing(999, "+989129999999", "یکی بیشتر")])


def test_partial_batch_rejects_only_the_refused_recipients(fake):
    fake.state["invalid"].add("09120000001")
    fake.state["blacklist"].add("09120000002")
    batch = [outgoing(20 + n, mobile) for n, mobile in enumerate(mobiles(4))]

    answers = provider(fake).send(batch)

    assert isinstance(answers[0], Accepted) and isinstance(answers[3], Accepted)
    assert answers[1] == Rejected(21, ErrorCode.INVALID_NUMBER, answers[1].detail)
    assert answers[2] == Rejected(22, ErrorCode.BLOCKED, answers[2].detail)
    assert "گیرنده نامعتبر" in answers[1].detail and "لیست سیاه" in answers[2].detail
    assert len(fake.state["sent"]) == 2


def test_partial_pair_to_pair_batch(fake):
    fake.state["blacklist"].add("09350000000")
    batch = [outgoing(1, "+989350000000", "اول"), outgoing(2, "+989121234567", "دوم")]

    answers = provider(fake).send(batch)

    assert answers[0].code is ErrorCode.BLOCKED
    assert answers[1] == Accepted(2, fake.state["sent"][0]["messageId"])


def test_a_single_invalid_recipient_is_rejected_not_retried(fake):
    fake.state["invalid"].add("09121234567")

    answers = provider(fake).send([outgoing(5)])

    assert answers == [Rejected(5, ErrorCode.INVALID_NUMBER, answers[0].detail)]


def test_bad_key(fake):
    with pytest.raises(NotSent) as refused:
        provider(fake, api_key="wrong-key-123").send([outgoing(1)])
    assert refused.value.code is ErrorCode.BAD_KEY
    assert fake.state["sent"] == []


def test_no_credit(fake):
    fake.state["credit"] = 1_000

    with pytest.raises(NotSent) as refused:
        provider(fake).send([outgoing(n, m) for n, m in enumerate(mobiles(2))])
    assert refused.value.code is ErrorCode.NO_CREDIT
    assert "اعتبار" in refused.value.detail


def test_bad_sender_line(fake):
    with pytest.raises(NotSent) as refused:
        provider(fake).send([outgoing(1, sender="10001234")])
    assert refused.value.code is ErrorCode.BAD_SENDER

    with pytest.raises(NotSent) as refused:
        provider(fake).send([outgoing(1, body="یک"), outgoing(2, body="دو", sender="10001234")])
    assert refused.value.code is ErrorCode.BAD_SENDER
    assert fake.state["sent"] == []


def test_rate_limited(fake):
    fake.faults = Faults(status=429, retry_after="7", times=1)

    with pytest.raises(NotSent) as refused:
        provider(fake).send([outgoing(1)])
    assert refused.value.code is ErrorCode.RATE_LIMITED
    assert refused.value.retry_after == 7.0


def test_busy(fake):
    fake.faults = Faults(status=503, times=1)

    with pytest.raises(NotSent) as refused:
        provider(fake).send([outgoing(1)])
    assert refused.value.code is ErrorCode.BUSY


def test_server_error_may_have_sent(fake):
    fake.faults = Faults(status=500, times=1)

    with pytest.raises(MaybeSent):
        provider(fake).send([outgoing(1)])


def test_garbage_answer_may_have_sent(fake):
    fake.faults = Faults(body="<html>gateway</html>", times=1)

    with pytest.raises(MaybeSent):
        provider(fake).send([outgoing(1)])


def test_fewer_results_than_messages_may_have_sent(fake):
    body = (
        '{"isSuccess": true, "statusCode": 200, "message": "", "data": {"receptors": '
        '[{"receptor": "09120000000", "messageId": "9001"}]}}'
    )
    fake.faults = Faults(body=body, times=1)

    with pytest.raises(MaybeSent):
        provider(fake).send([outgoing(n, m) for n, m in enumerate(mobiles(2))])


def test_internal_error_in_the_envelope_may_have_sent(fake):
    body = '{"isSuccess": false, "statusCode": 500, "message": "خطای داخلی", "data": null}'
    fake.faults = Faults(body=body, times=1)

    with pytest.raises(MaybeSent):
        provider(fake).send([outgoing(1)])


def test_timeout_after_the_fake_recorded_the_request(fake):
    fake.faults = Faults(delay=0.6, after_handling=True, times=1)

    with pytest.raises(MaybeSent) as unknown:
        provider(fake, timeout=0.3).send([outgoing(1)])
    assert unknown.value.code is ErrorCode.BUSY
    assert len(fake.state["sent"]) == 1  # it did reach the provider


def test_connection_refused_is_not_sent():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapter = GhasedakProvider(
        Settings(api_key=API_KEY, sender=LINE, base_url=f"http://127.0.0.1:{port}", timeout=1)
    )

    with pytest.raises(NotSent) as refused:
        adapter.send([outgoing(1)])
    assert refused.value.code is ErrorCode.BUSY


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (0, "sent"),
        (1, "failed"),
        (2, "blacklisted"),
        (3, "sent"),
        (4, "undeliverable"),
        (5, "delivered"),
        (6, "failed"),
        (7, "failed"),
        (8, "sent"),
    ],
)
def test_delivery_statuses(fake, code, status):
    adapter = provider(fake)
    [accepted] = adapter.send([outgoing(1)])
    set_status(fake, accepted.provider_ref, code)

    [update] = adapter.statuses([accepted.provider_ref])

    assert update.provider_ref == accepted.provider_ref
    assert update.status == status
    assert f"status {code}" in update.detail


def test_statuses_ask_100_ids_per_call_and_skip_unknown_refs(fake):
    adapter = provider(fake)
    answers = adapter.send([outgoing(n, m) for n, m in enumerate(mobiles(100))])
    answers += adapter.send([outgoing(100 + n, m) for n, m in enumerate(mobiles(50, 100))])
    refs = [answer.provider_ref for answer in answers]
    set_status(fake, refs[120], 5)

    updates = adapter.statuses([*refs, "123456789"])

    assert [update.provider_ref for update in updates] == refs
    assert {u.provider_ref: u.status for u in updates}[refs[120]] == "delivered"


def test_credit_in_rials(fake):
    fake.state["credit"] = 9_135_538

    assert provider(fake).credit() == 9_135_538


def test_pascal_case_answers_are_read_too(fake):
    fake.state.update(pascal_case=True, credit=120_000)
    adapter = provider(fake)

    [accepted] = adapter.send([outgoing(3)])
    set_status(fake, accepted.provider_ref, 5)

    assert adapter.credit() == 120_000 - fake.state["price"]
    assert adapter.statuses([accepted.provider_ref])[0].status == "delivered"
    assert adapter.find_sent([3]) == [accepted]


def test_find_sent_by_local_id(fake):
    adapter = provider(fake)
    answers = adapter.send([outgoing(41, body="الف"), outgoing(42, "+989350000000", "ب")])
    single = adapter.send([outgoing(43, "+989360000000")])

    found = adapter.find_sent([41, 42, 43, 44])

    assert found == [*answers, *single]


def test_inbox(fake):
    fake.state["inbox"] = [
        {"id": 12345, "message": "۱۱", "sender": "09191234567", "lineNumber": LINE,
         "receiveDate": "2024-07-02T14:00:34.975Z"},
        {"id": 12346, "message": "لغو", "sender": "989371234567", "lineNumber": LINE,
         "receiveDate": "2024-07-09T14:01:36.6632614"},
        {"id": 12347, "message": "old", "sender": "09121111111", "lineNumber": LINE,
         "receiveDate": "2024-07-01T10:00:00", "isRead": True},
        {"id": 12348, "message": "other line", "sender": "09121111111",
         "lineNumber": "2100000", "receiveDate": "2024-07-01T10:00:00"},
    ]  # fmt: skip

    received = provider(fake).inbox()

    assert [(m.provider_ref, m.mobile, m.text) for m in received] == [
        ("12345", "+989191234567", "۱۱"),
        ("12346", "+989371234567", "لغو"),
    ]
    first, second = (m.received_at for m in received)
    assert first.utcoffset() == timedelta(0) and first.hour == 14
    assert second.utcoffset() == timedelta(hours=3, minutes=30)
    assert isinstance(first, datetime)


def test_inbox_needs_a_line(fake):
    assert provider(fake, sender="").inbox() == []


def test_the_api_key_never_shows_in_errors(fake):
    echo = '{"isSuccess": false, "statusCode": 400, "message": "ApiKey %s نامعتبر است"}'
    attempts = [
        ({"api_key": "wrong-key-123"}, LINE, None),
        ({}, LINE, Faults(status=500, times=1)),
        ({}, LINE, Faults(body="not json", times=1)),
        ({}, LINE, Faults(status=429, times=1)),
        ({}, "10001234", None),
        # A provider that echoes the key back in its words: the detail scrubs it.
        ({}, LINE, Faults(body=echo % API_KEY, times=0)),
    ]
    raised: list[ProviderError] = []
    for settings, line, faults in attempts:
        fake.faults = faults or Faults(times=-1)
        adapter = provider(fake, **settings)
        for call in (partial(adapter.send, [outgoing(1, sender=line)]), adapter.credit):
            try:
                call()
            except ProviderError as error:
                raised.append(error)
    fake.faults = Faults(times=-1)
    fake.state["credit"] = 0
    with pytest.raises(NotSent) as refused:
        provider(fake).send([outgoing(1)])
    raised.append(refused.value)

    assert len(raised) == 9
    assert raised[-2].code is ErrorCode.BAD_KEY and "***" in raised[-2].detail
    for error in raised:
        for text in (str(error), error.detail, repr(error.args)):
            assert API_KEY not in text
