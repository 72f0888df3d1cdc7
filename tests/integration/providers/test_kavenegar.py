"""The Kavenegar adapter against the fake Kavenegar API, over real HTTP on loopback.

The fake (tests/fakes/kavenegar.py) speaks the documented wire format; these tests
assert both what the adapter answers and what actually went over the wire.
"""

import socket
from datetime import UTC, datetime

import pytest
import requests

from app.sending.providers import provider_class
from app.sending.providers.base import (
    MAX_ANSWER_BYTES,
    Accepted,
    ErrorCode,
    Inbound,
    MaybeSent,
    NotSent,
    Outgoing,
    Rejected,
    Settings,
    Unseen,
)
from app.sending.providers.kavenegar import KavenegarProvider
from tests.fakes import kavenegar as fake
from tests.fakes.server import Faults, serving

KEY = "kave-secret-5f1c9e27"
LINE = "10004346"
GREETING = "سلام نگار\u200cجان، یلدا مبارک! ۲۰٪ تخفیف تا آخر هفته"


class Switch:
    """A WSGI app that hands each request to the current test's fake.

    One loopback server serves the whole module (stopping a server takes half a second)
    while every test still gets a fresh fake account.
    """

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def server():
    switch = Switch()
    with serving(switch) as url:
        yield switch, url


@pytest.fixture
def kave(server):
    """A fresh fake account behind the module's server; ``kave.url`` is its address."""
    switch, url = server
    switch.app = fake.create_app(KEY, lines=(LINE, "30002626"))
    switch.app.url = url
    return switch.app


@pytest.fixture
def session():
    with requests.Session() as session:
        yield session


@pytest.fixture
def make_provider(kave, session):
    """Factory: an adapter for the fake account; keyword arguments override Settings."""

    def make(**overrides) -> KavenegarProvider:
        fields = {"api_key": KEY, "sender": LINE, "base_url": f"{kave.url}/v1", "timeout": 2.0}
        return KavenegarProvider(Settings(**(fields | overrides)), session)

    return make


@pytest.fixture
def provider(make_provider):
    return make_provider()


def outgoing(count: int, body: str = GREETING, sender: str = LINE, first_id: int = 1):
    """``count`` messages to distinct canonical mobiles, local ids from ``first_id``."""
    return [Outgoing(first_id + n, f"+98912{1000000 + n:07d}", body, sender) for n in range(count)]


def calls(app, path: str) -> list[dict]:
    """The parameters of every call the fake received on ``path`` (e.g. "sms/send")."""
    return [params for _, seen, params in app.state["requests"] if seen == path]


def without_key(error: BaseException) -> BaseException:
    """The error, after checking that neither it nor anything it chains shows the key."""
    link: BaseException | None = error
    while link is not None:
        assert KEY not in str(link) and KEY not in repr(link)
        link = link.__cause__ or link.__context__
    return error


def test_registered_with_the_documented_limits():
    assert provider_class("kavenegar") is KavenegarProvider
    assert KavenegarProvider.kind == "kavenegar"
    assert KavenegarProvider.max_batch == 200  # sms/send: 200 receptors per call
    assert KavenegarProvider.max_p2p == 200  # sms/sendarray: 200 records per call
    assert KavenegarProvider.uses_local_id
    assert KavenegarProvider.default_base_url == "https://api.kavenegar.com/v1"


def test_bulk_send_is_one_request_with_national_receptors_and_local_ids(kave, provider):
    batch = outgoing(3)

    answers = provider.send(batch)

    assert len(kave.state["requests"]) == 1
    [params] = calls(kave, "sms/send")
    assert params["receptor"] == "09121000000,09121000001,09121000002"
    assert params["message"] == GREETING
    assert params["sender"] == LINE
    assert params["localid"] == "1,2,3"
    sent = kave.state["sent"]
    assert [r["message"] for r in sent] == [GREETING] * 3  # Persian text and ZWNJ intact
    refs = [str(record["messageid"]) for record in sent]
    assert answers == [Accepted(m.local_id, ref) for m, ref in zip(batch, refs, strict=True)]


def test_bulk_send_without_a_sender_uses_the_accounts_default_line(kave, make_provider):
    answers = make_provider(sender="").send(outgoing(2, sender=""))

    assert "sender" not in calls(kave, "sms/send")[0]
    assert {r["sender"] for r in kave.state["sent"]} == {LINE}
    assert all(isinstance(answer, Accepted) for answer in answers)


def test_per_person_texts_go_in_one_sendarray_request(kave, provider):
    batch = [
        Outgoing(7, "+989121234567", "تولدت مبارک مریم", LINE),
        Outgoing(8, "+989351234567", "تولدت مبارک علی", "30002626"),
        Outgoing(9, "+989011234567", "Happy birthday Sara", LINE),
    ]

    answers = provider.send(batch)

    assert len(kave.state["requests"]) == 1
    [params] = calls(kave, "sms/sendarray")
    # JSON arrays, compact as Kavenegar's PHP SDK writes them (json_encode).
    assert params["receptor"] == '["09121234567","09351234567","09011234567"]'
    assert params["localmessageids"] == "[7,8,9]"
    sent = {r["receptor"]: r for r in kave.state["sent"]}
    assert sent["09121234567"]["message"] == "تولدت مبارک مریم"
    assert sent["09351234567"]["sender"] == "30002626"
    assert sent["09011234567"]["localid"] == "9"
    assert answers == [
        Accepted(7, str(sent["09121234567"]["messageid"])),
        Accepted(8, str(sent["09351234567"]["messageid"])),
        Accepted(9, str(sent["09011234567"]["messageid"])),
    ]


def test_texts_with_the_forms_own_characters_arrive_as_written(kave, provider):
    # Persian and Latin, with what a form body gives meaning to (& = + %) and a new line.
    texts = ["۵۰٪ تخفیف + ارسال رایگان & هدیه = شادی\nلغو۱۱", "50% off + free & more = joy"]
    batch = [
        Outgoing(1, "+989121234567", texts[0], LINE),
        Outgoing(2, "+989351234567", texts[1], LINE),
    ]

    provider.send(batch)

    assert [r["message"] for r in kave.state["sent"]] == texts


def test_a_bulk_batch_of_exactly_max_batch_goes_out_in_one_request(kave, provider):
    answers = provider.send(outgoing(KavenegarProvider.max_batch))

    assert len(calls(kave, "sms/send")) == 1
    assert len(kave.state["sent"]) == 200
    assert all(isinstance(answer, Accepted) for answer in answers)


def test_the_provider_refuses_one_more_than_max_batch(kave, provider):
    with pytest.raises(NotSent) as refused:
        provider.send(outgoing(KavenegarProvider.max_batch + 1))

    assert refused.value.code == ErrorCode.PROVIDER_ERROR
    assert refused.value.detail.startswith("414")
    assert kave.state["sent"] == []


def test_the_provider_refuses_one_more_than_max_p2p(kave, provider):
    batch = [
        Outgoing(n, f"+98912{n:07d}", f"پیام شماره {n}", LINE)
        for n in range(KavenegarProvider.max_p2p + 1)
    ]

    with pytest.raises(NotSent) as refused:
        provider.send(batch)
    assert refused.value.detail.startswith("414")

    assert all(isinstance(a, Accepted) for a in provider.send(batch[:-1]))
    assert len(kave.state["sent"]) == KavenegarProvider.max_p2p


def test_a_blocked_number_is_rejected_while_the_rest_go_out(kave, provider):
    kave.state["blocked"].add("09121000001")
    credit = kave.state["credit"]
    batch = outgoing(3)

    accepted, blocked, also_accepted = provider.send(batch)

    assert isinstance(accepted, Accepted) and isinstance(also_accepted, Accepted)
    assert blocked.local_id == 2
    assert blocked.code == ErrorCode.BLOCKED
    assert blocked.detail.startswith("14: ")
    assert credit - kave.state["credit"] == 2 * 1_500  # the blocked one is refunded


def test_one_invalid_number_alone_is_rejected(kave, provider):
    [answer] = provider.send([Outgoing(5, "+98912123", "سلام", LINE)])

    assert answer == Rejected(5, ErrorCode.INVALID_NUMBER, answer.detail)
    assert answer.detail.startswith("411")
    assert calls(kave, "sms/send")[0]["receptor"] == "0912123"


def test_an_invalid_number_in_a_larger_batch_refuses_the_whole_request(kave, provider):
    batch = [*outgoing(2), Outgoing(9, "+98912123", GREETING, LINE)]

    with pytest.raises(NotSent) as refused:
        provider.send(batch)

    assert refused.value.code == ErrorCode.INVALID_NUMBER
    assert kave.state["sent"] == []


def test_a_text_the_provider_refuses_rejects_every_message_of_a_bulk(provider):
    answers = provider.send(outgoing(2, body="x" * 5000))

    assert [(a.local_id, a.code) for a in answers] == [
        (1, ErrorCode.BAD_MESSAGE),
        (2, ErrorCode.BAD_MESSAGE),
    ]


def test_a_wrong_key_is_bad_key(kave, make_provider):
    with pytest.raises(NotSent) as refused:
        make_provider(api_key="not-the-key").send(outgoing(1))

    assert refused.value.code == ErrorCode.BAD_KEY
    assert refused.value.detail.startswith("403")
    assert "not-the-key" not in str(refused.value)
    assert kave.state["sent"] == []


def test_no_key_at_all_sends_nothing(kave, make_provider):
    with pytest.raises(NotSent) as refused:
        make_provider(api_key="").send(outgoing(1))

    assert refused.value.code == ErrorCode.BAD_KEY
    assert kave.state["requests"] == []


def test_no_credit_is_no_credit(kave, provider):
    kave.state["credit"] = 1_000

    with pytest.raises(NotSent) as refused:
        provider.send(outgoing(2))

    assert without_key(refused.value).code == ErrorCode.NO_CREDIT
    assert refused.value.detail.startswith("418")
    assert kave.state["sent"] == []


def test_a_line_not_on_the_account_is_bad_sender(kave, provider):
    with pytest.raises(NotSent) as bulk:
        provider.send(outgoing(2, sender="50001111"))
    with pytest.raises(NotSent) as p2p:
        provider.send([Outgoing(1, "+989121234567", "الف", "50001111"), *outgoing(1, "ب")])

    assert bulk.value.code == p2p.value.code == ErrorCode.BAD_SENDER
    assert bulk.value.detail.startswith("412")
    assert kave.state["sent"] == []


def test_rate_limit_is_not_sent_with_retry_after(kave, provider):
    kave.faults = Faults(status=429, retry_after="7", times=1)

    with pytest.raises(NotSent) as refused:
        provider.send(outgoing(1))

    assert refused.value.code == ErrorCode.RATE_LIMITED
    assert refused.value.retry_after == 7.0
    assert kave.state["sent"] == []


def test_a_busy_provider_is_not_sent(kave, provider):
    kave.faults = Faults(status=503, times=1)

    with pytest.raises(NotSent) as refused:
        provider.send(outgoing(1))

    assert without_key(refused.value).code == ErrorCode.BUSY


def test_a_server_error_may_have_sent(kave, provider):
    kave.faults = Faults(status=500, times=1)

    with pytest.raises(MaybeSent) as unsure:
        provider.send(outgoing(2))

    assert without_key(unsure.value).code == ErrorCode.PROVIDER_ERROR


@pytest.mark.parametrize(
    "body",
    [
        "<html>502 Bad Gateway</html>",
        '{"entries": []}',
        '{"return": {"status": 200, "message": "تایید شد"}, "entries": []}',
        '{"return": {"status": 200, "message": "تایید شد"}, "entries": {"messageid": 1}}',
        '{"return": {"status": 999, "message": "?"}, "entries": null}',
    ],
    ids=["not-json", "no-return", "fewer-entries", "entries-not-a-list", "unknown-code"],
)
def test_an_answer_that_does_not_say_what_was_taken_may_have_sent(kave, provider, body):
    kave.faults = Faults(body=body, times=1)

    with pytest.raises(MaybeSent) as unsure:
        provider.send(outgoing(2))

    assert without_key(unsure.value).code == ErrorCode.PROVIDER_ERROR


# The answer to sending outgoing(1): its one message taken, as message 61.
ONE_ACCEPTED = (
    '{"return": {"status": 200, "message": "تایید شد"}, "entries": ['
    '{"messageid": 61, "status": 1, "receptor": "09121000000"}]}'
)


@pytest.mark.parametrize("streamed", [False, True], ids=["length-given", "length-unsaid"])
def test_an_answer_over_the_limit_is_not_read_and_may_have_sent(kave, provider, streamed):
    # A valid answer, padded past the limit: only the limit decides.
    padded = ONE_ACCEPTED + " " * MAX_ANSWER_BYTES
    kave.faults = Faults(body=padded, streamed=streamed, after_handling=True, times=1)

    with pytest.raises(MaybeSent) as unsure:
        provider.send(outgoing(1))

    assert without_key(unsure.value).code == ErrorCode.PROVIDER_ERROR
    assert "2 MB" in unsure.value.detail
    assert [r["receptor"] for r in kave.state["sent"]] == ["09121000000"]
    # The connection it came on is not reused half-read: the next request is answered.
    (accepted,) = provider.send(outgoing(1, first_id=2))
    assert isinstance(accepted, Accepted) and accepted.local_id == 2


def test_an_answer_just_within_the_limit_is_read(kave, provider):
    exactly = ONE_ACCEPTED + " " * (MAX_ANSWER_BYTES - len(ONE_ACCEPTED.encode()))  # octets
    kave.faults = Faults(body=exactly, streamed=True, times=1)

    assert provider.send(outgoing(1)) == [Accepted(1, "61")]


def test_an_answer_opening_with_a_byte_order_mark_is_read(kave, provider):
    kave.faults = Faults(body="\ufeff" + ONE_ACCEPTED, times=1)

    assert provider.send(outgoing(1)) == [Accepted(1, "61")]


def test_a_credit_answer_over_the_limit_is_a_failed_read(kave, provider):
    kave.faults = Faults(body=" " * (MAX_ANSWER_BYTES + 1), times=1)

    with pytest.raises(NotSent) as failed:
        provider.credit()

    assert failed.value.code == ErrorCode.PROVIDER_ERROR


def test_an_entry_for_a_number_not_in_the_batch_may_have_sent(kave, provider):
    stranger = (
        '{"return": {"status": 200, "message": "تایید شد"}, "entries": ['
        '{"messageid": 5, "status": 1, "receptor": "09121000000"},'
        '{"messageid": 6, "status": 1, "receptor": "09350000000"}]}'
    )
    kave.faults = Faults(body=stranger, times=1)

    with pytest.raises(MaybeSent):
        provider.send(outgoing(2))


def test_entries_are_matched_by_receptor_not_by_position(kave, provider):
    reordered = (
        '{"return": {"status": 200, "message": "تایید شد"}, "entries": ['
        '{"messageid": 62, "status": 1, "receptor": "09121000001"},'
        '{"messageid": 61, "status": 1, "receptor": "9121000000"}]}'
    )
    kave.faults = Faults(body=reordered, times=1)

    assert provider.send(outgoing(2)) == [Accepted(1, "61"), Accepted(2, "62")]


def test_a_timeout_after_the_provider_took_the_batch_may_have_sent(kave, make_provider):
    kave.faults = Faults(delay=0.6, after_handling=True, times=1)

    with pytest.raises(MaybeSent) as unsure:
        make_provider(timeout=0.3).send(outgoing(1))

    assert without_key(unsure.value).code == ErrorCode.BUSY
    assert [r["receptor"] for r in kave.state["sent"]] == ["09121000000"]


def test_a_refused_connection_is_not_sent(session):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = KavenegarProvider(
        Settings(api_key=KEY, sender=LINE, base_url=f"http://127.0.0.1:{port}/v1"), session
    )

    with pytest.raises(NotSent) as refused:
        closed.send(outgoing(1))

    assert without_key(refused.value).code == ErrorCode.BUSY
    assert refused.value.detail == "connection refused"


def test_every_documented_delivery_code_maps_to_a_vafa_status(kave, provider):
    codes = {
        1: "sent",
        2: "sent",
        4: "sent",
        5: "sent",
        6: "failed",
        10: "delivered",
        11: "undeliverable",
        13: "failed",
        14: "blacklisted",
    }
    answers = provider.send(outgoing(len(codes)))
    refs = {}
    for answer, code in zip(answers, codes, strict=True):
        fake.set_status(kave, int(answer.provider_ref), code)
        refs[answer.provider_ref] = code

    updates = provider.statuses([*refs, "123"])

    assert {u.provider_ref: u.status for u in updates} == {
        **{ref: codes[code] for ref, code in refs.items()},
        "123": "expired",  # 100: not Kavenegar's id, or past the status window
    }
    assert all(u.detail.split(":")[0].isdigit() for u in updates)
    assert calls(kave, "sms/status")[0]["messageid"] == ",".join([*refs, "123"])


def test_statuses_ask_at_most_500_ids_per_call(kave, provider):
    refs = [str(n) for n in range(1, 602)]

    updates = provider.statuses(refs)

    assert [len(c["messageid"].split(",")) for c in calls(kave, "sms/status")] == [500, 101]
    assert [u.provider_ref for u in updates] == refs


def test_statuses_of_a_wrong_key_are_not_sent(make_provider):
    with pytest.raises(NotSent) as refused:
        make_provider(api_key="wrong").statuses(["1"])

    assert refused.value.code == ErrorCode.BAD_KEY


def test_credit_is_remaincredit_in_rials(kave, provider):
    kave.state["credit"] = 1_234_500

    assert provider.credit() == 1_234_500
    provider.send(outgoing(1))  # one Persian part at 1,500 Rials
    assert provider.credit() == 1_233_000


def test_find_sent_looks_local_ids_up(kave, provider):
    answers = provider.send(outgoing(2, first_id=41))
    provider.send([Outgoing(43, "+989121234567", "الف", LINE), *outgoing(1, "ب", first_id=44)])

    found = provider.find_sent([41, 42, 43, 44, 99])

    assert found == [
        *answers,
        Accepted(43, str(kave.state["sent"][2]["messageid"])),
        Accepted(44, str(kave.state["sent"][3]["messageid"])),
        Unseen(99),  # status 100: Kavenegar never took it
    ]
    assert set(calls(kave, "sms/statuslocalmessageid")[0]["localid"].split(",")) == {
        "41",
        "42",
        "43",
        "44",
        "99",
    }


def test_sendarray_local_ids_must_be_a_json_array_as_long_as_the_receptors(kave):
    """The documented form, as the fake checks it: a comma list is refused with 419."""
    form = {
        "receptor": '["09121234567", "09351234567"]',
        "sender": f'["{LINE}", "{LINE}"]',
        "message": '["الف", "ب"]',
    }
    url = f"{kave.url}/v1/{KEY}/sms/sendarray.json"

    def status(localmessageids: str) -> int:
        return requests.post(url, data={**form, "localmessageids": localmessageids}).json()[
            "return"
        ]["status"]

    assert status("7,8") == 419
    assert status("[7]") == 419
    assert status("null") == 419
    assert kave.state["sent"] == []
    assert status("[7, 8]") == 200
    assert [r["localid"] for r in kave.state["sent"]] == ["7", "8"]


def test_a_resent_sendarray_local_id_is_not_delivered_twice(kave, provider):
    batch = [
        Outgoing(7, "+989121234567", "تولدت مبارک مریم", LINE),
        Outgoing(8, "+989351234567", "تولدت مبارک علی", LINE),
    ]
    first = provider.send(batch)

    again = provider.send(batch)

    assert again == first
    assert len(kave.state["sent"]) == 2
    assert kave.state["asked"] == {"7": 2, "8": 2}


def test_sending_a_local_id_again_is_not_delivered_twice(kave, provider):
    first = provider.send(outgoing(2))

    again = provider.send(outgoing(2))

    assert again == first
    assert len(kave.state["sent"]) == 2


def test_inbox_reads_unread_messages_once(kave, provider):
    fake.receive(kave, "09121234567", LINE, "۱۱", date=1_700_000_000)
    fake.receive(kave, "+989351234567", LINE, "لغو")
    fake.receive(kave, "09120000000", "30002626", "another line")

    first = provider.inbox()

    assert first[0] == Inbound(
        "+989121234567",
        "۱۱",
        datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
        str(kave.state["inbox"][0]["messageid"]),
    )
    assert [(m.mobile, m.text) for m in first] == [
        ("+989121234567", "۱۱"),
        ("+989351234567", "لغو"),
    ]
    assert calls(kave, "sms/receive")[0] == {"linenumber": LINE, "isread": "0"}
    assert provider.inbox() == []


def test_inbox_pages_through_more_than_100_unread(kave, provider):
    for n in range(150):
        fake.receive(kave, f"0912{n:07d}", LINE, f"پیام {n}")

    assert len(provider.inbox()) == 150
    assert len(calls(kave, "sms/receive")) == 2


def test_inbox_without_a_line_asks_nothing(kave, make_provider):
    assert make_provider(sender="").inbox() == []
    assert kave.state["requests"] == []


def test_the_key_never_shows_in_failures(kave, make_provider, session):
    failures = []
    provider = make_provider()
    kave.faults = Faults(status=500, times=0)
    for call in (lambda: provider.send(outgoing(1)), provider.credit, provider.inbox):
        with pytest.raises((NotSent, MaybeSent)) as failure:
            call()
        failures.append(failure.value)
    kave.faults = Faults(delay=0.6, times=1)
    with pytest.raises(NotSent) as slow:
        make_provider(timeout=0.3).statuses(["1"])
    failures.append(slow.value)

    for failure in failures:
        without_key(failure)
