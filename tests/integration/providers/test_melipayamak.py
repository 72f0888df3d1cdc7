"""The Melipayamak adapter against a fake Melipayamak REST service on loopback: real HTTP."""

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
from app.sending.providers.melipayamak import (
    DEFAULT_RIALS_PER_SMS,
    DELIVERY_CODES,
    MelipayamakProvider,
)
from tests.fakes.melipayamak import (
    LINE,
    PASSWORD,
    USERNAME,
    create_app,
    fresh_state,
    receive,
    set_delivery,
)
from tests.fakes.server import Faults, serving

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


def provider(fake, **settings) -> MelipayamakProvider:
    values = {
        "username": USERNAME,
        "password": PASSWORD,
        "sender": LINE,
        "base_url": f"{fake.url}/api/SendSMS",
    }
    values.update(settings)
    return make_provider("melipayamak", Settings(**values))


def message(local_id: int = 1, mobile: str = "+989121234567", body: str = TEXT) -> Outgoing:
    return Outgoing(local_id, mobile, body, LINE)


def sends(fake) -> list[dict]:
    return [r["params"] for r in fake.state["requests"] if r["method"] == "SendSMS"]


# -- sending -------------------------------------------------------------------------------


def test_the_adapter_is_registered_with_the_documented_limits():
    assert MelipayamakProvider.kind == "melipayamak"
    assert MelipayamakProvider.default_base_url == "https://rest.payamak-panel.com/api/SendSMS"
    # REST SendSMS has one `to` and answers one recId: one message per request.
    assert (MelipayamakProvider.max_batch, MelipayamakProvider.max_p2p) == (1, 1)
    assert MelipayamakProvider.uses_local_id is False


def test_a_send_is_one_form_request_and_the_message_is_accepted(fake):
    answers = provider(fake).send([message(7)])

    [sent] = fake.state["sent"]
    assert answers == [Accepted(7, sent["recId"])]
    assert len(fake.state["requests"]) == 1
    assert fake.state["requests"][0] == {
        "method": "SendSMS",
        "content_type": "application/x-www-form-urlencoded",  # as the official SDKs post
        "params": {
            "username": USERNAME,
            "password": PASSWORD,
            "to": "09121234567",
            "from": LINE,
            "text": TEXT,
            "isflash": "false",
        },
    }
    assert sent["text"] == TEXT  # Persian letters, Persian digits and «٪» intact
    assert fake.state["deliveries"][sent["recId"]] == 0


def test_per_recipient_texts_go_out_one_request_each(fake):
    adapter = provider(fake)
    batches = [
        [Outgoing(1, "+989121111111", "سلام علی، سفارش شما ارسال شد", LINE)],
        [Outgoing(2, "+989352222222", "سلام سارا، تولدت مبارک 🎂", LINE)],
    ]

    answers = [answer for batch in batches for answer in adapter.send(batch)]

    assert [type(a) for a in answers] == [Accepted, Accepted]
    assert [a.provider_ref for a in answers] == [r["recId"] for r in fake.state["sent"]]
    assert len(set(a.provider_ref for a in answers)) == 2
    assert [(p["to"], p["text"]) for p in sends(fake)] == [
        ("09121111111", "سلام علی، سفارش شما ارسال شد"),
        ("09352222222", "سلام سارا، تولدت مبارک 🎂"),
    ]


def test_the_senders_line_is_the_messages_own_else_the_accounts(fake):
    fake.state["lines"].add("30005006")
    adapter = provider(fake)

    adapter.send([Outgoing(1, "+989121234567", TEXT, "30005006")])
    adapter.send([Outgoing(2, "+989121234567", TEXT, "")])

    assert [p["from"] for p in sends(fake)] == ["30005006", LINE]


def test_a_batch_of_max_batch_is_sent_and_a_larger_one_never_leaves(fake):
    adapter = provider(fake)
    assert len(adapter.send([message(1)])) == MelipayamakProvider.max_batch == 1

    with pytest.raises(ValueError):
        adapter.send([message(2), message(3, "+989351234567")])
    assert len(fake.state["requests"]) == 1


def test_the_fake_refuses_more_than_one_receptor_as_documented(fake):
    """Two numbers in `to` (max_batch + 1) get -2, "one mobile per call", and no message."""
    response = requests.post(
        f"{fake.url}/api/SendSMS/SendSMS",
        data={
            "username": USERNAME,
            "password": PASSWORD,
            "to": "09121234567,09351234567",
            "from": LINE,
            "text": TEXT,
            "isFlash": "false",
        },
        timeout=5,
    )

    assert response.json()["RetStatus"] == -2
    assert fake.state["sent"] == []


def test_empty_batch_sends_nothing(fake):
    assert provider(fake).send([]) == []
    assert fake.state["requests"] == []


def test_rejected_messages_sit_between_accepted_ones(fake):
    """Per-recipient refusals: with one message per request, each answer is its own."""
    fake.state["blacklist"].add("09350000035")
    fake.state["links_allowed"] = False
    adapter = provider(fake)
    batches = [
        message(1, "+989121111111"),
        message(2, "+989350000035"),  # blacklisted
        message(3, "+989122222222", "بازی قمار آنلاین"),  # a filtered word
        message(4, "+989123333333", "تخفیف: https://shop.example/x"),  # a link
        message(5, "+989124444444"),
    ]

    answers = [adapter.send([m])[0] for m in batches]

    assert [type(a) for a in answers] == [Accepted, Rejected, Rejected, Rejected, Accepted]
    assert [a.code for a in answers if isinstance(a, Rejected)] == [
        ErrorCode.BLOCKED,
        ErrorCode.BAD_MESSAGE,
        ErrorCode.BAD_MESSAGE,
    ]
    assert answers[1].detail.startswith("Melipayamak 35:")
    assert [r["to"] for r in fake.state["sent"]] == ["09121111111", "09124444444"]


def test_an_invalid_receptor_is_rejected_with_not_sent(fake):
    [answer] = provider(fake).send([message(9, "+98912123")])

    assert answer == Rejected(9, ErrorCode.PROVIDER_ERROR, "Melipayamak 11: ارسال نشده")
    assert fake.state["sent"] == []


def test_wrong_password_is_bad_key(fake):
    with pytest.raises(NotSent) as caught:
        provider(fake, password="not-the-password").send([message()])

    assert caught.value.code is ErrorCode.BAD_KEY
    assert caught.value.detail.startswith("Melipayamak 0:")
    assert fake.state["sent"] == []


def test_the_api_key_setting_serves_as_the_password(fake):
    answers = provider(fake, password="", api_key=PASSWORD).send([message()])

    assert isinstance(answers[0], Accepted)


def test_no_credit(fake):
    fake.state["credit"] = 0

    with pytest.raises(NotSent) as caught:
        provider(fake).send([message()])

    assert caught.value.code is ErrorCode.NO_CREDIT
    assert fake.state["sent"] == []


def test_a_line_not_on_the_account_is_bad_sender(fake):
    with pytest.raises(NotSent) as caught:
        provider(fake).send([Outgoing(1, "+989121234567", TEXT, "10001234")])

    assert caught.value.code is ErrorCode.BAD_SENDER


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (3, ErrorCode.RATE_LIMITED),  # daily limit
        (4, ErrorCode.RATE_LIMITED),  # volume limit
        (6, ErrorCode.BUSY),  # system updating
        (9, ErrorCode.BAD_SENDER),  # public line through the web service
        (10, ErrorCode.BAD_KEY),  # user inactive
        (12, ErrorCode.BAD_KEY),  # documents incomplete
    ],
)
def test_documented_account_refusals(fake, code, expected):
    fake.state["refuse"] = code

    with pytest.raises(NotSent) as caught:
        provider(fake).send([message()])

    assert caught.value.code is expected
    assert caught.value.detail.startswith(f"Melipayamak {code}:")


@pytest.mark.parametrize(
    ("code", "expected"), [(7, ErrorCode.BAD_MESSAGE), (15, ErrorCode.BAD_MESSAGE)]
)
def test_documented_message_refusals(fake, code, expected):
    fake.state["refuse"] = code

    [answer] = provider(fake).send([message(4)])

    assert isinstance(answer, Rejected)
    assert (answer.local_id, answer.code) == (4, expected)
    assert answer.detail.startswith(f"Melipayamak {code}:")


def test_429_is_rate_limited_with_retry_after(fake):
    fake.faults = Faults(status=429, retry_after="30", times=1)

    with pytest.raises(NotSent) as caught:
        provider(fake).send([message()])

    assert caught.value.code is ErrorCode.RATE_LIMITED
    assert caught.value.retry_after == 30.0


def test_503_is_busy(fake):
    fake.faults = Faults(status=503, times=1)

    with pytest.raises(NotSent) as caught:
        provider(fake).send([message()])

    assert caught.value.code is ErrorCode.BUSY


def test_other_4xx_means_not_processed(fake):
    fake.faults = Faults(status=404, times=1)

    with pytest.raises(NotSent) as caught:
        provider(fake).send([message()])

    assert caught.value.code is ErrorCode.PROVIDER_ERROR


def test_500_may_have_sent(fake):
    fake.faults = Faults(status=500, times=1)

    with pytest.raises(MaybeSent):
        provider(fake).send([message()])


@pytest.mark.parametrize(
    "body",
    [
        "<html>Service Unavailable</html>",
        "[]",
        '{"Value": "5170000000000000001"}',  # no RetStatus
        '{"Value": "", "RetStatus": 1, "StrRetStatus": "Ok"}',  # Ok without a recId
        '{"Value": "2", "RetStatus": 1, "StrRetStatus": "Ok"}',  # Ok with a code
        '{"Value": "77", "RetStatus": 77, "StrRetStatus": "?"}',  # an undocumented code
    ],
)
def test_an_answer_that_does_not_say_what_happened_may_have_sent(fake, body):
    fake.faults = Faults(body=body, times=1)

    with pytest.raises(MaybeSent):
        provider(fake).send([message()])


def test_timeout_after_the_request_arrived_may_have_sent(fake):
    fake.faults = Faults(delay=0.6, after_handling=True, times=1)

    with pytest.raises(MaybeSent) as caught:
        provider(fake, timeout=0.3).send([message()])

    assert caught.value.code is ErrorCode.BUSY
    assert len(fake.state["sent"]) == 1  # it did go out: never resend blindly


def test_connection_refused_is_not_sent():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    adapter = make_provider(
        "melipayamak",
        Settings(
            username=USERNAME,
            password=PASSWORD,
            sender=LINE,
            base_url=f"http://127.0.0.1:{port}/api/SendSMS",
        ),
    )

    with pytest.raises(NotSent) as caught:
        adapter.send([message()])

    assert caught.value.code is ErrorCode.BUSY


# -- delivery ------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "expected"), sorted(DELIVERY_CODES.items()))
def test_every_documented_delivery_code(fake, code, expected):
    adapter = provider(fake)
    [accepted] = adapter.send([message()])
    set_delivery(fake, accepted.provider_ref, code)

    [update] = adapter.statuses([accepted.provider_ref])

    assert update.provider_ref == accepted.provider_ref
    assert update.status == expected[0]
    assert update.detail == f"Melipayamak delivery {code}: {expected[1]}"


def test_delivery_statuses_map_to_vafas_words():
    assert {status for status, _ in DELIVERY_CODES.values()} == {
        "sent",
        "delivered",
        "undeliverable",
        "failed",
        "blacklisted",
    }
    assert DELIVERY_CODES[1][0] == "delivered"
    assert DELIVERY_CODES[35][0] == "blacklisted"


def test_statuses_ask_once_per_reference(fake):
    adapter = provider(fake)
    refs = [adapter.send([message(i)])[0].provider_ref for i in range(3)]
    set_delivery(fake, refs[0], 1)
    set_delivery(fake, refs[2], 16)
    fake.state["requests"].clear()

    updates = adapter.statuses([*refs, "not-a-rec-id", "12345678901234"])

    assert [u.status for u in updates] == ["delivered", "sent", "failed", "sent", "sent"]
    assert [r["params"]["recid"] for r in fake.state["requests"]] == [*refs, "12345678901234"]
    assert updates[4].detail == "Melipayamak delivery 100: نامشخص"


def test_statuses_with_a_wrong_password(fake):
    with pytest.raises(NotSent) as caught:
        provider(fake, password="nope").statuses(["5170000000000000001"])

    assert caught.value.code is ErrorCode.BAD_KEY


def test_statuses_on_a_garbled_answer_are_not_sent(fake):
    fake.faults = Faults(body="oops", times=1)

    with pytest.raises(NotSent):
        provider(fake).statuses(["5170000000000000001"])


# -- credit, local ids, inbox --------------------------------------------------------------


def test_credit_is_the_sms_count_in_rials(fake):
    fake.state["credit"] = 2_500

    assert provider(fake).credit() == 2_500 * DEFAULT_RIALS_PER_SMS


def test_credit_with_the_owners_tariff(fake):
    fake.state["credit"] = 12.5
    adapter = MelipayamakProvider(
        Settings(username=USERNAME, password=PASSWORD, base_url=f"{fake.url}/api/SendSMS"),
        rials_per_sms=1_330,
    )

    assert adapter.credit() == 16_625


def test_credit_goes_down_as_messages_go_out(fake):
    adapter = provider(fake)
    before = adapter.credit()
    adapter.send([message()])  # one Persian part

    assert adapter.credit() == before - DEFAULT_RIALS_PER_SMS


def test_credit_with_a_wrong_password(fake):
    with pytest.raises(NotSent) as caught:
        provider(fake, password="nope").credit()

    assert caught.value.code is ErrorCode.BAD_KEY


def test_find_sent_learns_nothing_without_a_local_id(fake):
    provider(fake).send([message(42)])
    fake.state["requests"].clear()

    assert provider(fake).find_sent([42]) == []
    assert fake.state["requests"] == []


def test_inbox_returns_new_messages_once(fake):
    adapter = provider(fake)
    at = datetime(2025, 3, 20, 9, 30, tzinfo=UTC)
    first = receive(fake, "09121234567", "۱۱", at)
    second = receive(fake, "9351234567", "لغو", at)

    received = adapter.inbox()

    assert [(m.mobile, m.text, m.provider_ref) for m in received] == [
        ("+989121234567", "۱۱", str(first)),
        ("+989351234567", "لغو", str(second)),
    ]
    assert received[0].received_at == at
    assert fake.state["requests"][-1]["params"]["location"] == "1"

    assert adapter.inbox() == []
    third = receive(fake, "+989127654321", "سلام", at)
    assert [m.provider_ref for m in adapter.inbox()] == [str(third)]


def test_an_empty_inbox(fake):
    assert provider(fake).inbox() == []


def test_inbox_with_a_wrong_password(fake):
    with pytest.raises(NotSent) as caught:
        provider(fake, password="nope").inbox()

    assert caught.value.code is ErrorCode.BAD_KEY


# -- secrets -------------------------------------------------------------------------------


SECRET = "Very-Secret-Password-42"


@pytest.mark.parametrize(
    "scenario",
    [
        "bad_password_send",
        "bad_password_credit",
        "bad_password_statuses",
        "bad_password_inbox",
        "echoing_provider",
        "garbage",
        "server_error",
        "timeout",
        "refused",
    ],
)
def test_the_password_never_appears_in_an_exception(fake, scenario):
    settings = {"password": SECRET, "api_key": SECRET}
    call = "send"
    if scenario.startswith("bad_password_"):
        call = scenario.removeprefix("bad_password_")
    elif scenario == "echoing_provider":
        body = f'{{"Value": "0", "RetStatus": 0, "StrRetStatus": "bad password {SECRET}"}}'
        fake.faults = Faults(body=body, times=1)
    elif scenario == "garbage":
        fake.faults = Faults(body=f"error for {SECRET}", times=1)
    elif scenario == "server_error":
        fake.faults = Faults(status=500, times=1)
    elif scenario == "timeout":
        fake.faults = Faults(delay=0.5, after_handling=True, times=1)
        settings["timeout"] = 0.2
    elif scenario == "refused":
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            settings["base_url"] = f"http://127.0.0.1:{closed.getsockname()[1]}/api/SendSMS"
    adapter = provider(fake, **settings)
    calls = {
        "send": lambda: adapter.send([message()]),
        "credit": adapter.credit,
        "statuses": lambda: adapter.statuses(["5170000000000000001"]),
        "inbox": adapter.inbox,
    }

    with pytest.raises(ProviderError) as caught:
        calls[call]()

    assert SECRET not in str(caught.value)
    assert SECRET not in caught.value.detail
    assert SECRET not in repr(caught.value)
