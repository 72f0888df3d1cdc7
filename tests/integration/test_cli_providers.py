"""`vafa providers …`: add, list, edit, remove and test accounts; keys never printed."""

import pytest
from flask_babel import gettext
from sqlalchemy import select

from app.auth.models import AuditEntry
from app.cli import main as vafa
from app.extensions import db
from app.messaging.service import create_campaign
from app.sending.models import ProviderAccount

KEY = "kave-0a1b2c3d4e5f6a7b8c9d-1234"
OTHER_KEY = "smsir-99aa88bb77cc66dd55ee-5678"
PASSWORD = "melli-secret-pass-9876"


def run(app, *args: str, input: str | None = None):
    """Run `vafa providers …` as its own process would: what it did not commit is gone."""
    result = app.test_cli_runner().invoke(vafa, ["providers", *args], input=input)
    db.session.rollback()
    return result


def accounts() -> list[ProviderAccount]:
    db.session.expire_all()
    return db.session.scalars(select(ProviderAccount).order_by(ProviderAccount.id)).all()


def add_kavenegar(app, name="کاوه", *extra: str):
    return run(
        app,
        "add",
        name,
        "--kind",
        "kavenegar",
        "--api-key",
        KEY,
        "--sender",
        "3000123",
        "--sender",
        "3000456",
        *extra,
    )


def test_add_creates_the_account_and_prints_the_key_masked(app):
    result = add_kavenegar(app, "کاوه", "--default", "--price-per-part", "1500")
    assert result.exit_code == 0, result.output
    assert "کاوه" in result.output
    assert "kavenegar" in result.output
    assert "••••••1234" in result.output
    assert KEY not in result.output
    assert KEY[:-4] not in result.output
    (account,) = accounts()
    assert (account.name, account.kind, account.api_key) == ("کاوه", "kavenegar", KEY)
    assert account.sender_lines == ["3000123", "3000456"]
    assert account.is_default
    assert account.price_per_part == 1500


def test_default_moves_to_the_account_added_with_default(app):
    assert add_kavenegar(app, "اول").exit_code == 0
    assert add_kavenegar(app, "دوم").exit_code == 0
    assert [(a.name, a.is_default) for a in accounts()] == [("اول", True), ("دوم", False)]
    assert add_kavenegar(app, "سوم", "--default").exit_code == 0
    assert [(a.name, a.is_default) for a in accounts()] == [
        ("اول", False),
        ("دوم", False),
        ("سوم", True),
    ]


def test_melipayamak_takes_a_username_and_password(app):
    result = run(
        app,
        "add",
        "ملی",
        "--kind",
        "melipayamak",
        "--username",
        "myshop",
        "--password",
        PASSWORD,
        "--sender",
        "5000123",
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert "••••••9876" in result.output
    (account,) = accounts()
    assert (account.username, account.password) == ("myshop", PASSWORD)


def test_an_unknown_kind_is_refused(app):
    result = run(app, "add", "x", "--kind", "twilio", "--api-key", KEY, "--sender", "3000123")
    assert result.exit_code != 0
    assert "--kind" in result.output
    assert "twilio" in result.output
    assert "kavenegar" in result.output  # the kinds it does know
    assert accounts() == []


@pytest.mark.parametrize("kind", ["kavenegar", "ippanel", "smsir", "ghasedak"])
def test_a_key_provider_without_a_key_is_refused(app, kind):
    result = run(app, "add", "x", "--kind", kind, "--sender", "3000123")
    assert result.exit_code == 1
    assert gettext("Enter the API key from your provider's panel.") in result.output
    assert accounts() == []


def test_melipayamak_without_a_password_is_refused(app):
    result = run(
        app, "add", "x", "--kind", "melipayamak", "--username", "myshop", "--sender", "5000123"
    )
    assert result.exit_code == 1
    assert gettext("This provider needs the panel's username and password.") in result.output
    assert accounts() == []


@pytest.mark.parametrize("line", ["3000abc", "SHOP"])
def test_a_sender_with_letters_is_refused(app, line):
    result = run(
        app, "add", "x", "--kind", "kavenegar", "--api-key", KEY, "--sender", "3000123",
        "--sender", line,
    )  # fmt: skip
    assert result.exit_code == 1
    expected = gettext("The sender line “%(line)s” should be digits only.", line=line)
    assert expected in result.output
    assert KEY not in result.output
    assert accounts() == []


def test_a_sender_is_required(app):
    result = run(app, "add", "x", "--kind", "kavenegar", "--api-key", KEY)
    assert result.exit_code != 0
    assert "--sender" in result.output
    assert accounts() == []


def test_a_duplicate_name_is_refused(app):
    assert add_kavenegar(app, "کاوه").exit_code == 0
    result = add_kavenegar(app, "کاوه")
    assert result.exit_code == 1
    assert gettext("Another account already has this name.") in result.output
    assert len(accounts()) == 1


def test_a_base_url_that_is_not_http_is_refused(app):
    result = add_kavenegar(app, "کاوه", "--base-url", "ftp://example.com")
    assert result.exit_code == 1
    assert gettext("The API address must look like https://api.example.com/v1.") in result.output
    assert accounts() == []


def test_a_plain_http_base_url_is_refused_unless_it_is_loopback(app):
    result = add_kavenegar(app, "کاوه", "--base-url", "http://sms-proxy.example.com/v1")
    assert result.exit_code == 1
    assert "https://" in result.output
    assert KEY not in result.output
    assert accounts() == []
    for i, address in enumerate(
        ["http://127.0.0.1:8080/v1", "http://127.8.0.1/v1", "http://[::1]:9000/v1", "http://localhost/v1",
         "https://sms-proxy.example.com/v1"]
    ):  # fmt: skip
        assert add_kavenegar(app, f"کاوه {i}", "--base-url", address).exit_code == 0
    assert len(accounts()) == 5


def test_a_base_url_without_the_version_prefix_says_so(app):
    result = add_kavenegar(app, "کاوه", "--base-url", "https://api.kavenegar.com/")
    assert result.exit_code == 1
    # Isolated (LRI…PDI, invisible) so a bidi terminal too keeps «/v1» the right way round.
    assert (
        "نشانی API باید با \u2066/v1\u2069 تمام شود؛ مثلاً \u2066https://api.kavenegar.com/v1\u2069"
        in result.output
    )
    assert KEY not in result.output
    assert accounts() == []


def test_a_key_read_from_standard_input_stays_off_the_command_line(app):
    result = run(
        app, "add", "کاوه", "--kind", "kavenegar", "--api-key", "-", "--sender", "3000123",
        input=f"{KEY}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert KEY not in result.output
    [account] = accounts()
    assert account.api_key == KEY


def test_list_shows_every_account_with_its_key_masked(app):
    assert add_kavenegar(app, "کاوه").exit_code == 0
    result = run(
        app, "add", "اس‌ام‌اس", "--kind", "smsir", "--api-key", OTHER_KEY, "--sender", "3000789",
        "--default",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert run(app, "add", "آزمایشی", "--kind", "console", "--sender", "1000").exit_code == 0

    listing = run(app, "list")
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert len(lines) == 3
    rows = [line.split("\t") for line in lines]
    kavenegar, smsir, console = rows
    assert kavenegar[1:] == ["کاوه", "kavenegar", "3000123,3000456", "••••••1234"]
    assert smsir[1:] == ["اس‌ام‌اس", "smsir", "3000789", "••••••5678"]
    assert console[1:] == ["آزمایشی", "console", "1000", ""]
    # The default account is starred.
    assert [row[0].startswith("*") for row in rows] == [False, True, False]
    for key in (KEY, OTHER_KEY):
        assert key not in listing.output
        assert key[:-4] not in listing.output


def test_list_with_no_account_prints_nothing(app):
    result = run(app, "list")
    assert result.exit_code == 0
    assert result.output == ""


# edit, remove, test ---------------------------------------------------------------------


def audit_actions() -> list[tuple[str, str]]:
    return [
        (entry.action, entry.target)
        for entry in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))
    ]


def test_edit_changes_only_what_is_given(app):
    assert add_kavenegar(app, "کاوه", "--price-per-part", "1500", "--rate", "4").exit_code == 0
    result = run(app, "edit", "کاوه", "--name", "کاوه‌نگار", "--sender", "3000999")
    assert result.exit_code == 0, result.output
    assert "••••••1234" in result.output and KEY not in result.output
    (account,) = accounts()
    assert (account.name, account.sender_lines, account.api_key) == ("کاوه‌نگار", ["3000999"], KEY)
    assert (account.price_per_part, account.requests_per_second) == (1500, 4.0)
    assert audit_actions()[-1] == ("provider.edit", "کاوه‌نگار")


def test_edit_finds_the_account_by_id_in_either_digits(app):
    assert add_kavenegar(app, "کاوه").exit_code == 0
    (account,) = accounts()
    assert run(app, "edit", str(account.id), "--price-per-part", "2000").exit_code == 0
    persian_id = str(account.id).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert run(app, "edit", persian_id, "--rate", "2.5").exit_code == 0
    (account,) = accounts()
    assert (account.price_per_part, account.requests_per_second) == (2000, 2.5)


def test_edit_of_an_unknown_account_says_so(app):
    result = run(app, "edit", "نیست", "--rate", "2")
    assert result.exit_code == 1
    assert "No provider account has the id or name 'نیست'" in result.output


def test_an_id_no_database_could_hold_is_no_account(app):
    result = run(app, "edit", "9" * 20, "--rate", "2")
    assert result.exit_code == 1
    assert f"No provider account has the id or name '{'9' * 20}'" in result.output


def test_a_new_address_needs_the_key_typed_again(app):
    assert add_kavenegar(app, "کاوه").exit_code == 0
    moved = ("edit", "کاوه", "--base-url", "https://proxy.example.com/v1")
    refused = run(app, *moved)
    assert refused.exit_code == 1
    assert (
        gettext(
            "The provider or its API address has changed: type the API key again, "
            "so it is not sent to a new address unnoticed."
        )
        in refused.output
    )
    assert accounts()[0].base_url is None
    assert run(app, *moved, "--api-key", "-", input=f"{OTHER_KEY}\n").exit_code == 0
    (account,) = accounts()
    assert (account.base_url, account.api_key) == ("https://proxy.example.com/v1", OTHER_KEY)
    assert run(app, "edit", "کاوه", "--base-url", "", "--api-key", KEY).exit_code == 0
    assert accounts()[0].base_url is None


def test_remove_an_account_that_sent_nothing(app):
    assert add_kavenegar(app, "اول").exit_code == 0
    assert add_kavenegar(app, "دوم").exit_code == 0
    result = run(app, "remove", "اول", "--yes")
    assert result.exit_code == 0, result.output
    assert [(a.name, a.is_default) for a in accounts()] == [("دوم", True)]
    assert audit_actions()[-1] == ("provider.remove", "اول")


def test_remove_asks_first(app):
    assert add_kavenegar(app, "کاوه").exit_code == 0
    result = run(app, "remove", "کاوه", input="n\n")
    assert result.exit_code == 1
    assert len(accounts()) == 1


def test_an_account_with_a_campaign_is_kept_for_its_delivery_log(app):
    assert add_kavenegar(app, "کاوه").exit_code == 0
    (account,) = accounts()
    create_campaign(
        name="یلدا", body="سلام", list_id=None, provider_id=account.id, sender="3000123",
        scheduled_at=None, created_by_id=None,
    )  # fmt: skip
    db.session.commit()
    result = run(app, "remove", "کاوه", "--yes")
    assert result.exit_code == 1
    assert (
        gettext(
            "The account “%(name)s” has campaigns or messages, and their delivery log needs it, "
            "so it is kept. Make another account the default instead.",
            name="کاوه",
        )
        in result.output
    )
    assert [a.name for a in accounts()] == ["کاوه"]
    assert ("provider.remove", "کاوه") not in audit_actions()


@pytest.mark.parametrize("form", ["number", "float", "separated"])
def test_test_prints_the_credit_and_never_the_key(app, fake_kavenegar, form):
    fake_kavenegar.state["credit_form"] = form
    assert add_kavenegar(app, "کاوه", "--base-url", fake_kavenegar.base_url).exit_code == 0
    result = run(app, "test", "کاوه")
    assert result.exit_code == 0, result.output
    assert "Connected to 'کاوه'. Credit: 1,234,567 Rials." in result.output
    assert KEY not in result.output
    assert audit_actions()[-1] == ("provider.test", "کاوه")


def test_test_prints_why_it_failed(app, fake_kavenegar):
    assert add_kavenegar(app, "کاوه", "--base-url", fake_kavenegar.base_url).exit_code == 0
    fake_kavenegar.state["api_key"] = "another-key"
    result = run(app, "test", "کاوه")
    assert result.exit_code == 1
    reason = gettext("The provider did not accept the API key or username/password.")
    assert f"Connecting to 'کاوه' failed: {reason}" in result.output
    assert KEY not in result.output
    assert accounts()[0].last_error == "bad_key"
