"""Credits in every form providers write them, read by every adapter over real HTTP.

Each fake answers its credit in the form its state names (tests/fakes/server.py,
AMOUNT_FORMS): a JSON integer, a float, text with separators, Persian digits, or text
nobody can read. One parser (app/sending/providers/base.py, ``rials``) reads them all.
"""

from decimal import Decimal

import pytest

from app.sending.providers import provider_class
from app.sending.providers.base import ErrorCode, NotSent, Settings, rials
from app.sending.providers.melipayamak import DEFAULT_RIALS_PER_SMS
from app.sending.providers.smsir import DEFAULT_RIALS_PER_CREDIT
from tests.fakes import ghasedak, ippanel, kavenegar, melipayamak, smsir
from tests.fakes.server import serving

# kind → (the fake's module, the account's settings at it, Rials per unit of its credit)
ACCOUNTS = {
    "kavenegar": (kavenegar, {"api_key": "kave-test-key"}, 1),
    "melipayamak": (
        melipayamak,
        {"username": melipayamak.USERNAME, "password": melipayamak.PASSWORD},
        DEFAULT_RIALS_PER_SMS,
    ),
    "ippanel": (ippanel, {"api_key": ippanel.API_KEY}, 1),
    "smsir": (smsir, {"api_key": smsir.API_KEY}, DEFAULT_RIALS_PER_CREDIT),
    "ghasedak": (ghasedak, {"api_key": ghasedak.API_KEY}, 1),
}


def credit_of(kind: str, credit, form: str) -> int:
    """The credit the adapter of ``kind`` reads when its fake writes ``credit`` in ``form``."""
    module, settings, _per_unit = ACCOUNTS[kind]
    fake = module.create_app()
    fake.state.update(credit=credit, credit_form=form)
    adapter = provider_class(kind)
    with serving(fake) as url:
        return adapter(Settings(base_url=url + adapter.api_path, **settings)).credit()


@pytest.mark.parametrize("kind", ACCOUNTS)
@pytest.mark.parametrize("form", ["number", "float", "separated", "spaced", "persian"])
def test_every_adapter_reads_every_written_form_of_a_credit(kind, form):
    assert credit_of(kind, 1_234_567, form) == 1_234_567 * ACCOUNTS[kind][2]


@pytest.mark.parametrize("kind", ACCOUNTS)
def test_an_unreadable_credit_is_refused_with_a_reason_not_a_crash(kind):
    with pytest.raises(NotSent) as refused:
        credit_of(kind, 1_234_567, "garbage")

    assert refused.value.code == ErrorCode.UNREADABLE_ANSWER
    assert refused.value.message == "The provider's answer could not be read."
    assert "credit" in refused.value.detail  # the log says which field


def test_a_kavenegar_credit_written_as_a_float_is_read():
    assert credit_of("kavenegar", 1_000_000_000_000, "float") == 1_000_000_000_000


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (1_234_567, 1_234_567),
        (1000000000000.0, 1_000_000_000_000),
        ("1,234,567", 1_234_567),
        ("1 234 567", 1_234_567),
        ("1\u202f234", 1_234),  # a narrow no-break space between thousands
        ("۱٬۲۳۴٬۵۶۷", 1_234_567),
        ("١٬٢٣٤", 1_234),  # Arabic-Indic digits
        ("۱۲٫۷", 12),  # the Arabic decimal separator; a fraction of a Rial is dropped
        ("1,234.99", 1_234),
        (" -5000 ", -5_000),  # a post-paid account in debt
        (Decimal("12.5"), None),  # not a JSON type: no provider writes it
        (True, None),
        (None, None),
        ("", None),
        ("1e9", None),
        ("NaN", None),
        (float("inf"), None),
        ("۱۲ ریال", None),
        ([1], None),
    ],
)
def test_the_one_amount_parser(written, expected):
    if expected is None:
        with pytest.raises(NotSent) as refused:
            rials(written, "credit")
        assert refused.value.code == ErrorCode.UNREADABLE_ANSWER
    else:
        assert rials(written, "credit") == expected


def test_a_count_of_sms_credits_is_converted_to_rials():
    assert rials("12.5", "credit", per_unit=1_330) == 16_625
