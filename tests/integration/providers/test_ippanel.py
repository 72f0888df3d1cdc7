"""The IPPanel adapter against a fake Edge API served on loopback: real HTTP, no network."""

import socket
from datetime import UTC, datetime

import pytest
import requests

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
from app.sending.providers.ippanel import IppanelProvider
from tests.fakes.ippanel import API_KEY, FIRST_OUTBOX_ID, LINE, create_app, receive, set_status
from tests.fakes.server import Faults, serving

TEXT = "سلام\u200cعلی، جشنواره یلدا: ۲۰٪ تخفیف تا جمعه. لغو۱۱"


class CurrentFake:
    """One loopback server for the module, answering with the running test's fake.

    Stopping a server takes half a second (its poll interval); a fresh fake per test
    behind one server keeps each test's state apart without paying that every time.
    """

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def server():
    current = CurrentFake()
    with serving(current) as url:
        yield current, url


@pytest.fixture
def fake(server):
    current, url = server
    current.app = create_app()
    current.app.url = url
    return current.app


def adapter(fake, **settings) -> IppanelProvider:
    values = {"api_key": API_KEY, "sender": LINE, "base_url": f"{fake.url}/v1"} | settings
    return IppanelProvider(Settings(**values))


def outgoing(count: int, body: str = TEXT, start: int = 1, sender: str = LINE) -> list[Outgoing]:
    return [
        Outgoing(start + n, f"+98912{1000000 + start + n:07d}", body, sender) for n in range(count)
    ]


def refused(error: ProviderError, code: ErrorCode) -> None:
    """The error is the expected one and its text never shows the key."""
    assert error.code == code
    assert API_KEY not in str(error)
    assert API_KEY not in error.detail


def test_registered_under_its_kind():
    provider = make_provider("ippanel", Settings(api_key=API_KEY))
    assert isinstance(provider, IppanelProvider)
    assert provider.base_url == "https://edge.ippanel.com/v1"
    assert (provider.max_batch, provider.max_p2p, provider.uses_local_id) == (1000, 1000, False)


def test_same_text_goes_in_one_webservice_request(fake):
    batch = outgoing(3)
    answers = adapter(fake).send(batch)

    assert len(fake.state["requests"]) == 1
    body = fake.state["requests"][0]
    assert body == {
        "sending_type": "webservice",
        "from_number": "+983000505",
        "message": TEXT,
        "params": {"recipients": [message.mobile for message in batch]},
    }
    assert answers == [
        Accepted(message.local_id, f"{FIRST_OUTBOX_ID}:{message.mobile}") for message in batch
    ]
    assert [row["message"] for row in fake.state["sent"]] == [TEXT] * 3  # Persian intact


def test_sender_lines_are_sent_in_e164(fake):
    for typed in ("3000505", "03000505", "983000505", "00983000505", "۳۰۰۰۵۰۵"):
        fake.state["recent"].clear()
        adapter(fake, sender="").send(outgoing(1, sender=typed))
        assert fake.state["requests"][-1]["from_number"] == "+983000505"


def test_different_texts_go_peer_to_peer_with_one_item_each(fake):
    batch = [
        Outgoing(7, "+989121111111", "مریم عزیز، تولدت مبارک!", LINE),
        Outgoing(8, "+989352222222", "Happy birthday, Sam!", LINE),
        Outgoing(9, "+989193333333", "رضا جان، ۱۰٪ تخفیف هدیه تولد", LINE),
    ]
    answers = adapter(fake).send(batch)

    assert len(fake.state["requests"]) == 1
    body = fake.state["requests"][0]
    assert body["sending_type"] == "peer_to_peer"
    assert body["from_number"] == LINE
    assert body["params"] == [{"recipients": [m.mobile], "message": m.body} for m in batch]
    ids = [FIRST_OUTBOX_ID, FIRST_OUTBOX_ID + 2, FIRST_OUTBOX_ID + 4]
    pairs = zip(batch, ids, strict=True)
    assert answers == [Accepted(m.local_id, f"{i}:{m.mobile}") for m, i in pairs]
    assert [(row["recipient"], row["message"]) for row in fake.state["sent"]] == [
        (m.mobile, m.body) for m in batch
    ]


def test_a_number_twice_in_one_text_goes_peer_to_peer_to_keep_references_unique(fake):
    batch = [Outgoing(1, "+989121111111", TEXT, LINE), Outgoing(2, "+989121111111", TEXT, LINE)]
    answers = adapter(fake).send(batch)

    assert fake.state["requests"][0]["sending_type"] == "peer_to_peer"
    assert len({answer.provider_ref for answer in answers}) == 2


def test_a_batch_of_exactly_max_batch_is_one_request(fake):
    batch = outgoing(IppanelProvider.max_batch)
    answers = adapter(fake).send(batch)

    assert len(fake.state["requests"]) == 1
    assert len(fake.state["requests"][0]["params"]["recipients"]) == 1000
    assert all(isinstance(answer, Accepted) for answer in answers)
    assert len(fake.state["sent"]) == 1000


def test_the_documented_limit_is_1000_recipients(fake):
    one_more = [m.mobile for m in outgoing(IppanelProvider.max_batch + 1)]
    response = requests.post(
        f"{fake.url}/v1/api/send",
        headers={"Authorization": API_KEY},
        json={
            "sending_type": "webservice",
            "from_number": LINE,
            "message": TEXT,
            "params": {"recipients": one_more},
        },
        timeout=5,
    )
    assert response.status_code == 422
    assert response.json()["meta"]["message_code"] == "400-2"
    assert "params.recipients" in response.json()["meta"]["errors"]

    with pytest.raises(NotSent) as caught:  # the adapter does not even ask
        adapter(fake).send(outgoing(IppanelProvider.max_batch + 1))
    refused(caught.value, ErrorCode.PROVIDER_ERROR)
    assert len(fake.state["requests"]) == 1
    assert fake.state["sent"] == []


def test_messages_the_provider_would_refuse_are_rejected_and_the_rest_sent(fake):
    batch = [
        Outgoing(1, "+989121111111", "سلام مریم", LINE),
        Outgoing(2, "0912", "سلام رضا", LINE),  # not a number at all
        Outgoing(3, "+989352222222", "   ", LINE),
        Outgoing(4, "+989193333333", "ب" * 1341, LINE),  # 21 Persian parts
        Outgoing(5, "+989124444444", "سلام سارا", LINE),
    ]
    answers = adapter(fake).send(batch)

    assert len(fake.state["requests"]) == 1
    assert [row["recipient"] for row in fake.state["sent"]] == ["+989121111111", "+989124444444"]
    assert isinstance(answers[0], Accepted) and isinstance(answers[4], Accepted)
    assert answers[1] == Rejected(2, ErrorCode.INVALID_NUMBER, "not an E.164 number")
    assert answers[2] == Rejected(3, ErrorCode.BAD_MESSAGE, "empty text")
    assert answers[3] == Rejected(4, ErrorCode.BAD_MESSAGE, "more than 20 parts")


def test_a_batch_refused_entirely_here_makes_no_request(fake):
    answers = adapter(fake).send(outgoing(2, body="x" * 1401))

    assert fake.state["requests"] == []
    assert {answer.code for answer in answers} == {ErrorCode.BAD_MESSAGE}


def test_a_number_the_provider_refuses_refuses_the_whole_request(fake):
    batch = outgoing(3)
    fake.state["refused_numbers"].add(batch[1].mobile)

    with pytest.raises(NotSent) as caught:
        adapter(fake).send(batch)

    refused(caught.value, ErrorCode.INVALID_NUMBER)
    assert "params.recipients.1" in caught.value.detail
    assert fake.state["sent"] == []


def test_wrong_key(fake):
    with pytest.raises(NotSent) as caught:
        adapter(fake, api_key="not-the-key").send(outgoing(2))
    refused(caught.value, ErrorCode.BAD_KEY)
    assert "400-1" in caught.value.detail
    assert "not-the-key" not in str(caught.value)
    assert fake.state["sent"] == []


def test_no_key_configured_asks_nothing(fake):
    with pytest.raises(NotSent) as caught:
        adapter(fake, api_key="").send(outgoing(1))
    assert caught.value.code == ErrorCode.BAD_KEY
    assert fake.state["requests"] == []


def test_not_enough_credit(fake):
    fake.state["credit"] = 1000.0  # less than one part costs
    with pytest.raises(NotSent) as caught:
        adapter(fake).send(outgoing(2))
    refused(caught.value, ErrorCode.NO_CREDIT)
    assert "اعتبار" in caught.value.detail
    assert fake.state["sent"] == []


def test_a_line_that_is_not_the_accounts(fake):
    with pytest.raises(NotSent) as caught:
        adapter(fake).send(outgoing(2, sender="+9810004223"))
    refused(caught.value, ErrorCode.BAD_SENDER)
    assert "from_number" in caught.value.detail


def test_no_sender_line_configured_asks_nothing(fake):
    with pytest.raises(NotSent) as caught:
        adapter(fake, sender="").send(outgoing(1, sender=""))
    assert caught.value.code == ErrorCode.BAD_SENDER
    assert fake.state["requests"] == []


def test_one_request_cannot_carry_two_sender_lines(fake):
    batch = [Outgoing(1, "+989121111111", "الف", LINE), Outgoing(2, "+989122222222", "ب", "2000")]
    with pytest.raises(NotSent):
        adapter(fake).send(batch)
    assert fake.state["requests"] == []


def test_too_many_requests(fake):
    fake.faults = Faults(status=429, retry_after="7", times=1)
    with pytest.raises(NotSent) as caught:
        adapter(fake).send(outgoing(2))
    refused(caught.value, ErrorCode.RATE_LIMITED)
    assert caught.value.retry_after == 7.0


def test_the_same_request_twice_within_40_seconds_is_refused(fake):
    provider = adapter(fake)
    provider.send(outgoing(2))
    with pytest.raises(NotSent) as caught:
        provider.send(outgoing(2))
    refused(caught.value, ErrorCode.RATE_LIMITED)
    assert len(fake.state["sent"]) == 2


def test_unavailable(fake):
    fake.faults = Faults(status=503, times=1)
    with pytest.raises(NotSent) as caught:
        adapter(fake).send(outgoing(2))
    refused(caught.value, ErrorCode.BUSY)


def test_server_error_may_have_sent(fake):
    fake.faults = Faults(status=500, after_handling=True, times=1)
    with pytest.raises(MaybeSent) as caught:
        adapter(fake).send(outgoing(2))
    refused(caught.value, ErrorCode.PROVIDER_ERROR)
    assert len(fake.state["sent"]) == 2


def test_garbled_answer_may_have_sent(fake):
    fake.faults = Faults(body="<html>502 Bad Gateway</html>", times=1)
    with pytest.raises(MaybeSent) as caught:
        adapter(fake).send(outgoing(2))
    refused(caught.value, ErrorCode.PROVIDER_ERROR)


@pytest.mark.parametrize(
    "body",
    [
        '{"data": {"message_outbox_ids": [11, 12]}, "meta": {"status": true}}',
        '{"data": {"message_outbox_ids": []}, "meta": {"status": true}}',
        '{"data": null, "meta": {"status": false, "message": "?"}}',
        '{"data": {"message_outbox_ids": ["x"]}, "meta": {"status": true}}',
        "[1123544244]",
    ],
)
def test_an_answer_that_does_not_say_what_was_taken_may_have_sent(fake, body):
    fake.faults = Faults(body=body, times=1)
    with pytest.raises(MaybeSent):
        adapter(fake).send(outgoing(2))


def test_peer_to_peer_with_fewer_ids_than_messages_may_have_sent(fake):
    fake.faults = Faults(body='{"data": {"message_outbox_ids": [5, 6]}, "meta": {}}', times=1)
    with pytest.raises(MaybeSent):
        adapter(fake).send([Outgoing(n, f"+98912000000{n}", f"متن {n}", LINE) for n in (1, 2, 3)])


def test_timeout_after_the_provider_took_the_request_may_have_sent(fake):
    fake.faults = Faults(delay=0.6, after_handling=True, times=1)
    with pytest.raises(MaybeSent) as caught:
        adapter(fake, timeout=0.3).send(outgoing(2))
    refused(caught.value, ErrorCode.BUSY)
    assert len(fake.state["sent"]) == 2  # it did take them


def test_connection_refused_was_not_sent():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = IppanelProvider(
        Settings(api_key=API_KEY, sender=LINE, base_url=f"http://127.0.0.1:{port}/v1")
    )
    with pytest.raises(NotSent) as caught:
        provider.send(outgoing(1))
    refused(caught.value, ErrorCode.BUSY)


def test_every_documented_delivery_code(fake):
    provider = adapter(fake)
    batch = outgoing(7)
    refs = [answer.provider_ref for answer in provider.send(batch)]
    for message, code in zip(batch, ["0", "1", "2", "3", "4", None, "17"], strict=True):
        set_status(fake, FIRST_OUTBOX_ID, message.mobile, code)

    updates = provider.statuses(refs)

    assert [update.provider_ref for update in updates] == refs
    assert [update.status for update in updates] == [
        "sent",  # 0 sent to the operator
        "sent",  # 1 the operator received it
        "delivered",  # 2
        "failed",  # 3 not delivered
        "blacklisted",  # 4
        "sent",  # not final yet
        "sent",  # a code the docs do not list
    ]
    assert updates[3].detail == "message_status 3: not delivered to the recipient"


def test_statuses_read_every_page_and_every_request(fake):
    provider = adapter(fake)
    bulk = provider.send(outgoing(150))  # two report pages of 100
    other = provider.send([Outgoing(900, "+989350000900", "متن دیگر", LINE)])
    set_status(fake, FIRST_OUTBOX_ID, outgoing(150)[149].mobile, "2")
    set_status(fake, FIRST_OUTBOX_ID + 2, "+989350000900", "4")

    updates = provider.statuses([bulk[149].provider_ref, other[0].provider_ref])

    assert [update.status for update in updates] == ["delivered", "blacklisted"]


def test_a_request_that_ended_without_credit_fails_its_messages(fake):
    provider = adapter(fake)
    refs = [answer.provider_ref for answer in provider.send(outgoing(2))]
    fake.state["bulks"][FIRST_OUTBOX_ID].update(state_id=8, recipients=[])

    updates = provider.statuses(refs)

    assert {update.status for update in updates} == {"failed"}
    assert "insufficient credit" in updates[0].detail


def test_a_recipient_not_reported_yet_stays_sent(fake):
    provider = adapter(fake)
    refs = [answer.provider_ref for answer in provider.send(outgoing(1))]
    fake.state["bulks"][FIRST_OUTBOX_ID]["recipients"] = []

    assert [update.status for update in provider.statuses(refs)] == ["sent"]


def test_statuses_with_a_wrong_key(fake):
    provider = adapter(fake)
    refs = [answer.provider_ref for answer in provider.send(outgoing(1))]
    with pytest.raises(NotSent) as caught:
        adapter(fake, api_key="stale").statuses(refs)
    refused(caught.value, ErrorCode.BAD_KEY)


def test_credit_is_rials_rounded_down(fake):
    fake.state["credit"] = 6084722932.705052
    assert adapter(fake).credit() == 6_084_722_932


def test_credit_with_a_wrong_key(fake):
    with pytest.raises(NotSent) as caught:
        adapter(fake, api_key="stale").credit()
    refused(caught.value, ErrorCode.BAD_KEY)


def test_no_local_id_so_nothing_to_find(fake):
    provider = adapter(fake)
    provider.send(outgoing(2))
    assert provider.find_sent([1, 2]) == []


def test_inbox_starts_at_the_newest_page_then_follows_from_id(fake):
    for n in range(3):
        receive(fake, f"+98912555000{n}", f"قدیمی {n}", when=1747808000 + n)
    provider = adapter(fake)

    first = provider.inbox()
    assert [message.text for message in first] == ["قدیمی 0", "قدیمی 1", "قدیمی 2"]
    assert provider.inbox() == []

    receive(fake, "+989125550009", "۱۱", when=1747808125)
    latest = provider.inbox()
    assert len(latest) == 1
    assert latest[0].mobile == "+989125550009"
    assert latest[0].text == "۱۱"
    assert latest[0].received_at == datetime(2025, 5, 21, 6, 15, 25, tzinfo=UTC)
    assert latest[0].provider_ref == "123"


def test_inbox_continues_from_a_remembered_id(fake):
    for n in range(130):  # more than one page of 100
        receive(fake, "+989125550001", f"پیام {n}", when=1747808000 + n)
    provider = adapter(fake)
    provider.inbox_from_id = 124  # the fifth message was the last one seen

    received = provider.inbox()

    assert [message.text for message in received] == [f"پیام {n}" for n in range(5, 130)]
    assert provider.inbox_from_id == 249


def test_a_key_echoed_by_the_provider_is_kept_out_of_errors(fake):
    echo = f'{{"data": null, "meta": {{"status": false, "message": "key {API_KEY} blocked"}}}}'
    fake.faults = Faults(body=echo, times=1)
    with pytest.raises(MaybeSent) as caught:
        adapter(fake).send(outgoing(1))
    refused(caught.value, ErrorCode.PROVIDER_ERROR)
    assert "key *** blocked" in caught.value.detail
