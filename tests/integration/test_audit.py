"""The audit trail: every owner-level change says who, what and when (Jalali), on a page
only the owner sees, newest first; no secret is ever written into it."""

import json
import re
from datetime import UTC, datetime

import pytest
import time_machine
from integration_support import KEY, in_locale, log_in, page_text, provider_form
from sqlalchemy import select

from app.auth.audit import record_audit
from app.auth.models import AuditEntry
from app.auth.service import create_user
from app.extensions import db
from app.sending.models import ERROR_LABELS, ProviderAccount

NEW_KEY = "kave-ffeeddccbbaa99887766-5678"
MELI_PASSWORD = "melli-secret-pass-9876"


def entries() -> list[AuditEntry]:
    db.session.expire_all()
    return db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()


def test_each_owner_level_change_is_recorded_with_who_and_what(
    logged_in, fake_kavenegar, make_contact
):
    make_contact("09121234567", first_name="سارا")
    make_contact("09351112233", first_name="علی")
    base = fake_kavenegar.base_url
    logged_in.post("/settings/providers/new", data=provider_form(api_key=KEY, base_url=base))
    account_id = db.session.scalar(select(ProviderAccount.id))
    logged_in.post(
        f"/settings/providers/{account_id}",
        data=provider_form(api_key=NEW_KEY, base_url=base, senders="3000123456\n3000999"),
    )
    logged_in.post(f"/settings/providers/{account_id}/test")
    logged_in.post(
        "/settings/sending",
        data={"window_start": "09:00", "window_end": "21:00", "frequency_cap_days": "3"},
    )
    page = logged_in.post("/settings/api-tokens", data={"name": "سایت فروشگاه"})
    secret = re.search(r'value="(vafa_[\w-]+)"', page.text).group(1)
    token_id = int(re.search(r'data-token="(\d+)"', page.text).group(1))
    logged_in.post("/settings/api-tokens", data={"revoke": token_id})
    logged_in.post("/settings/api-tokens", data={"revoke": token_id})  # once is enough
    logged_in.get("/contacts/export.csv?q=سارا")
    logged_in.get("/contacts/export.xlsx")
    logged_in.post("/contacts/bulk", data={"action": "delete", "q": "علی"})

    trail = entries()
    assert [(e.action, e.target) for e in trail] == [
        ("provider.add", "کاوه"),
        ("provider.edit", "کاوه"),
        ("provider.test", "کاوه"),
        ("sending_rules.edit", ""),
        ("api_token.create", "سایت فروشگاه"),
        ("api_token.revoke", "سایت فروشگاه"),
        ("contacts.export", ""),
        ("contacts.export", ""),
        ("contacts.bulk_delete", ""),
    ]
    assert {e.actor for e in trail} == {"owner@example.com"}
    assert trail[1].detail["fields"] == ["senders", "api_key"]
    assert trail[1].detail["host"] == "127.0.0.1"
    assert trail[2].detail == {"result": "failed", "error": "bad_key"}  # the new key is wrong
    assert trail[3].detail == {
        "window": "09:00–21:00",
        "quiet_days": "",
        "daily_cap": 0,
        "frequency_cap_days": 3,
        "optout_line": False,
    }
    assert trail[6].detail == {"format": "csv", "search": "سارا"}
    assert trail[7].detail == {"format": "xlsx"}
    assert trail[8].detail == {"count": 1, "search": "علی"}

    # No secret is in the trail, nor on its page.
    stored = json.dumps([(e.target, e.detail) for e in trail], ensure_ascii=False)
    page = logged_in.get("/audit").text
    assert in_locale("fa", lambda: ERROR_LABELS["bad_key"]) in page_text(logged_in.get("/audit"))
    # The opt-out switch is named as the on/off of its line, not as the line's text.
    assert "افزودن خط لغو خیر" in page_text(logged_in.get("/audit"))
    for secret_text in (KEY, NEW_KEY, secret, secret[:13]):
        assert secret_text not in stored
        assert secret_text not in page


def test_a_provider_password_is_never_audited(logged_in):
    logged_in.post(
        "/settings/providers/new",
        data=provider_form(
            name="ملی", kind="melipayamak", username="myshop", password=MELI_PASSWORD
        ),
    )
    [entry] = entries()
    assert entry.action == "provider.add"
    assert "password" in entry.detail["fields"]  # that one was typed …
    assert MELI_PASSWORD not in json.dumps(entry.detail) + entry.target  # … not what


def test_record_audit_refuses_a_detail_named_like_a_secret(app, owner):
    for key in ("api_key", "password", "token", "secret", "Key"):
        with pytest.raises(ValueError):
            record_audit("provider.edit", "کاوه", {key: "x"}, actor=owner)


def test_a_refused_action_leaves_no_entry(app, client, owner):
    create_user("staff@example.com", "a good password", "staff")
    db.session.commit()
    staff = log_in(client, "staff@example.com", "a good password")
    staff.post("/settings/api-tokens", data={"name": "من"})
    staff.get("/contacts/export.csv")
    assert entries() == []


def test_the_audit_page_shows_who_what_and_when_in_jalali(logged_in, owner):
    # 2026-03-21 07:00 UTC is 1405/01/01 10:30 in Tehran.
    with time_machine.travel(datetime(2026, 3, 21, 7, 0, tzinfo=UTC), tick=False):
        record_audit(
            "provider.edit",
            "کاوه",
            {"fields": ["base_url", "api_key"], "host": "api.kavenegar.com"},
            actor=owner,
        )
        db.session.commit()
    page = logged_in.get("/audit")
    assert page.status_code == 200
    text = page_text(page)
    assert "۱۴۰۵/۰۱/۰۱ ۱۰:۳۰" in text
    assert "owner@example.com" in text
    assert "حساب سرویس‌دهنده ویرایش شد" in text
    assert "کاوه" in text
    assert "نشانی API، کلید API" in text  # the changed fields, in Persian
    assert "api.kavenegar.com" in text


def test_every_detail_of_an_entry_has_a_readable_label(logged_in, owner):
    """Walking the panel: a token's entry showed a bare «id ۱», a role change «نقش قبلی مالک
    نقش کارمند», and the English page joined fields with the Persian comma."""
    record_audit("api_token.create", "سایت", {"id": 7}, actor=owner)
    record_audit("user.role", "staff@example.com", {"from_role": "owner", "role": "staff"})
    record_audit("provider.edit", "کاوه", {"fields": ["name", "senders"]}, actor=owner)
    db.session.commit()
    text = page_text(logged_in.get("/audit"))
    assert "شمارهٔ توکن ۷" in text
    assert "id" not in text.split()
    assert "نقش قبلی مالک" in text and "نقش تازه کارمند" in text
    assert "نام حساب، خط‌های ارسال" in text
    logged_in.post("/language", data={"lang": "en"})
    text = page_text(logged_in.get("/audit"))
    assert "Token number 7" in text
    assert "Previous role Owner" in text and "New role Staff" in text
    assert "Account name, Sender lines" in text


def test_entries_from_the_command_line_name_it(logged_in):
    record_audit("api_token.create", "cron")
    db.session.commit()
    assert "خط فرمان" in page_text(logged_in.get("/audit"))


def test_the_audit_page_is_paged_newest_first(logged_in, owner):
    for number in range(1, 61):
        record_audit("api_token.create", f"token {number}", actor=owner)
    db.session.commit()
    first = logged_in.get("/audit")
    shown = [int(n) for n in re.findall(r"token (\d+)", first.text)]
    assert shown == list(range(60, 10, -1))
    older = re.search(r'href="([^"]+)" id="older"', first.text).group(1)
    second = logged_in.get(older.replace("&amp;", "&"))
    assert [int(n) for n in re.findall(r"token (\d+)", second.text)] == list(range(10, 0, -1))
    assert 'id="older"' not in second.text
    # A nonsense page number shows the newest page rather than failing.
    assert logged_in.get("/audit?before=99999999999999999999").status_code == 200


def test_changes_made_from_the_command_line_are_recorded_without_their_secrets(app):
    from app.cli import main as vafa

    runner = app.test_cli_runner()
    runner.invoke(vafa, ["create-user", "cli@example.com"], input="cli password\n")
    runner.invoke(
        vafa,
        [
            "providers",
            "add",
            "کاوه",
            "--kind",
            "kavenegar",
            "--api-key",
            KEY,
            "--sender",
            "3000123",
        ],
    )
    created = runner.invoke(vafa, ["api-token", "create", "cron"])
    secret = created.output.strip().splitlines()[-1]
    assert secret.startswith("vafa_")
    runner.invoke(vafa, ["api-token", "revoke", "1"])
    trail = entries()
    assert [(e.action, e.target, e.actor, e.user_id) for e in trail] == [
        ("user.add", "cli@example.com", "", None),
        ("provider.add", "کاوه", "", None),
        ("api_token.create", "cron", "", None),
        ("api_token.revoke", "cron", "", None),
    ]
    assert trail[1].detail["fields"][-1] == "api_key"
    stored = json.dumps([(e.target, e.detail) for e in trail], ensure_ascii=False)
    assert KEY not in stored and secret not in stored and "cli password" not in stored
