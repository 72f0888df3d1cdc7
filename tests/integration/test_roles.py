"""Roles that mean something: what staff may not do is refused on the server, and changes
nothing; the owner may do it.

Each owner-level action the hardening issue tried as a member of staff is tried again
here: viewing, adding and editing provider accounts (key and base URL), testing them,
viewing and making API tokens and revoking the owner's, changing the sending rules,
exporting every contact as CSV and Excel, and deleting contacts in bulk.
"""

import re
from functools import partial

import pytest
from flask_babel import gettext
from integration_support import KEY, PASSWORD, in_locale, log_in, page_text, provider_form
from sqlalchemy import func, select

from app.api.models import ApiToken
from app.api.service import create_token
from app.auth import policy
from app.auth.service import create_user
from app.contacts.models import Contact, Tag
from app.extensions import db
from app.sending import accounts
from app.sending.models import ProviderAccount
from app.sending.policy import SendingPolicy, load_policy, save_policy

# Fixtures and helpers ------------------------------------------------------------------


@pytest.fixture
def owners_account(app, fake_kavenegar):
    account = accounts.save_account(
        None,
        name="کاوه‌نگار مالک",
        kind="kavenegar",
        api_key=KEY,
        senders="3000123456",
        base_url=fake_kavenegar.base_url,
    )
    db.session.commit()
    return account.id


def refused(response) -> None:
    """The Persian page that says this is the owner's, with status 403."""
    assert response.status_code == 403, page_text(response)
    assert re.search(r'<html lang="fa" dir="rtl">', response.text)
    heading = in_locale("fa", lambda: gettext("This is for the shop's owner"))
    assert heading != "This is for the shop's owner"  # translated
    assert heading in page_text(response)
    assert response.mimetype == "text/html"


def account(account_id: int) -> ProviderAccount:
    db.session.expire_all()
    return db.session.get(ProviderAccount, account_id)


# The owner's account is the one these forms edit.
provider_form = partial(provider_form, name="کاوه‌نگار مالک")


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


# One table for every route ---------------------------------------------------------------


def test_every_route_has_its_entry_in_the_policy_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - set(policy.ENDPOINTS) == set(), "routes missing from the policy table"
    assert set(policy.ENDPOINTS) - endpoints == set(), "policy entries for no route"
    known = policy.OWNER_PERMISSIONS | {policy.PUBLIC, policy.SIGNED_IN, policy.API}
    named = {rule for rule in policy.ENDPOINTS.values() if isinstance(rule, str)}
    assert named <= known, "a misspelt permission would lock everyone out"


def test_a_route_missing_from_the_table_is_refused_even_to_the_owner(app, client):
    app.add_url_rule("/forgotten", "forgotten", lambda: "the view ran")
    create_user("owner@example.com", PASSWORD, "owner")
    db.session.commit()
    log_in(client)
    response = client.get("/forgotten")
    refused(response)
    assert "the view ran" not in response.text


def test_an_api_route_missing_from_the_table_answers_in_json(app, client):
    app.add_url_rule("/api/v1/forgotten", "forgotten", lambda: "the view ran")
    response = client.get("/api/v1/forgotten")
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def _owner_only_routes(app) -> list[tuple[str, str]]:
    """(method, url) of every route whose table entry is a permission staff lack."""
    routes = []
    for rule in app.url_map.iter_rules():
        permission = policy.ENDPOINTS[rule.endpoint]
        if not isinstance(permission, str) or permission in (
            policy.PUBLIC,
            policy.SIGNED_IN,
            policy.API,
        ):
            continue
        if policy.role_may("staff", permission):
            continue
        url = re.sub(r"<(?:\w+:)?\w+>", "1", rule.rule)
        routes += [(method, url) for method in ("GET", "POST") if method in rule.methods]
    return sorted(routes)


def test_staff_are_refused_every_owner_only_route(app, staff_client):
    routes = _owner_only_routes(app)
    assert ("GET", "/settings/providers") in routes and ("GET", "/audit") in routes
    for method, url in routes:
        refused(staff_client.open(url, method=method))


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/campaigns/",
        "/campaigns/new",
        "/contacts/",
        "/contacts/new",
        "/contacts/lists",
        "/contacts/tags",
        "/contacts/import",
        "/contacts/settings",
        "/reports/messages",
        # One campaign's log is a report; the whole log's export is the owner's
        # (tests/integration/test_delivery_log_filters.py).
        "/reports/messages.csv?campaign=1",
        "/reports/messages.xlsx?campaign=1",
        "/coupons/",
    ],
)
def test_staff_work_with_contacts_imports_campaigns_and_reports(staff_client, url):
    response = staff_client.get(url, follow_redirects=True)
    assert response.status_code == 200, page_text(response)


# Provider accounts ----------------------------------------------------------------------


def test_staff_cannot_see_the_provider_accounts(staff_client, logged_in, owners_account):
    for url in ("/settings/providers", f"/settings/providers/{owners_account}"):
        response = staff_client.get(url)
        refused(response)
        assert "کاوه‌نگار مالک" not in response.text
        assert KEY[-4:] not in response.text
    # The owner sees them.
    assert "کاوه‌نگار مالک" in page_text(logged_in.get("/settings/providers"))


def test_staff_cannot_add_a_provider_account(staff_client, logged_in):
    refused(staff_client.get("/settings/providers/new"))
    refused(staff_client.post("/settings/providers/new", data=provider_form(api_key=KEY, name="x")))
    assert count(ProviderAccount) == 0
    response = logged_in.post("/settings/providers/new", data=provider_form(api_key=KEY))
    assert response.status_code == 302
    assert count(ProviderAccount) == 1


def test_staff_cannot_change_a_providers_key_or_base_url(
    staff_client, logged_in, owners_account, eavesdropper, fake_kavenegar
):
    response = staff_client.post(
        f"/settings/providers/{owners_account}",
        data=provider_form(api_key="kave-staff-own-key", base_url=eavesdropper.base_url),
    )
    refused(response)
    unchanged = account(owners_account)
    assert (unchanged.api_key, unchanged.base_url) == (KEY, fake_kavenegar.base_url)
    # The owner may.
    response = logged_in.post(
        f"/settings/providers/{owners_account}",
        data=provider_form(api_key="kave-new-key-5678", base_url=fake_kavenegar.base_url),
    )
    assert response.status_code == 302
    assert account(owners_account).api_key == "kave-new-key-5678"


def test_staff_cannot_send_the_owners_key_to_their_own_host(
    staff_client, logged_in, owners_account, eavesdropper, fake_kavenegar
):
    """The issue's attack: point the base URL at one's own host, press «آزمایش اتصال»."""
    refused(
        staff_client.post(
            f"/settings/providers/{owners_account}",
            data=provider_form(base_url=eavesdropper.base_url),  # blank key: «keep the stored one»
        )
    )
    refused(staff_client.post(f"/settings/providers/{owners_account}/test"))
    assert eavesdropper.heard == []
    assert fake_kavenegar.state["requests"] == []  # nothing was tested at all
    assert account(owners_account).base_url == fake_kavenegar.base_url
    # The owner tests the connection: the key goes to the owner's provider only.
    response = logged_in.post(f"/settings/providers/{owners_account}/test")
    assert response.status_code == 302
    assert [r[1] for r in fake_kavenegar.state["requests"]] == ["account/info"]
    assert eavesdropper.heard == []


# API tokens -------------------------------------------------------------------------------


@pytest.fixture
def owners_token(app):
    token, secret = create_token("فروشگاه اینترنتی")
    db.session.commit()
    return token.id, secret


def test_staff_cannot_see_the_api_tokens(staff_client, logged_in, owners_token):
    response = staff_client.get("/settings/api-tokens")
    refused(response)
    assert "فروشگاه اینترنتی" not in response.text
    assert "فروشگاه اینترنتی" in page_text(logged_in.get("/settings/api-tokens"))


def test_staff_cannot_make_an_api_token(staff_client, logged_in):
    response = staff_client.post("/settings/api-tokens", data={"name": "اسکریپت من"})
    refused(response)
    assert "vafa_" not in response.text
    assert count(ApiToken) == 0
    response = logged_in.post("/settings/api-tokens", data={"name": "اسکریپت مالک"})
    assert response.status_code == 200
    assert re.search(r'value="vafa_[\w-]{43}"', response.text)
    assert count(ApiToken) == 1


def test_staff_cannot_revoke_the_owners_token(staff_client, logged_in, owners_token):
    token_id, secret = owners_token
    refused(staff_client.post("/settings/api-tokens", data={"revoke": token_id}))
    db.session.expire_all()
    assert db.session.get(ApiToken, token_id).revoked_at is None
    api = staff_client.get("/api/v1/campaigns", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 200  # the owner's script still works
    # The owner may revoke it.
    assert logged_in.post("/settings/api-tokens", data={"revoke": token_id}).status_code == 302
    db.session.expire_all()
    assert db.session.get(ApiToken, token_id).revoked_at is not None


# Sending rules ------------------------------------------------------------------------------


def test_staff_cannot_change_the_sending_rules(staff_client, logged_in):
    save_policy(SendingPolicy())
    db.session.commit()
    before = load_policy()
    loose = {
        "window_start": "00:00",
        "window_end": "23:59",
        "frequency_cap_days": "0",
        "optout_text": "",
    }
    refused(staff_client.get("/settings/sending"))
    refused(staff_client.post("/settings/sending", data=loose))
    db.session.expire_all()
    assert load_policy() == before
    assert logged_in.post("/settings/sending", data=loose).status_code == 302
    db.session.expire_all()
    assert load_policy().frequency_cap_days == 0
    assert load_policy() != before


# Contacts: exports and bulk delete -------------------------------------------------------


@pytest.fixture
def shop_contacts(make_contact):
    return [
        make_contact("09121234567", first_name="سارا"),
        make_contact("09351112233", first_name="علی"),
    ]


def test_staff_cannot_export_every_contact_as_csv(staff_client, logged_in, shop_contacts):
    for url in ("/contacts/export.csv", "/contacts/export.csv?q=سارا"):
        response = staff_client.get(url)
        refused(response)
        assert "123 4567" not in response.text and "1234567" not in response.text
        assert "attachment" not in response.headers.get("Content-Disposition", "")
    response = logged_in.get("/contacts/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "0912 123 4567" in response.text


def test_staff_cannot_export_every_contact_as_excel(staff_client, logged_in, shop_contacts):
    response = staff_client.get("/contacts/export.xlsx")
    refused(response)
    assert not response.data.startswith(b"PK")  # not a workbook
    refused(staff_client.get("/contacts/exports/some-token"))
    refused(staff_client.get("/contacts/exports/some-token/file"))
    response = logged_in.get("/contacts/export.xlsx")
    assert response.status_code == 200 and response.data.startswith(b"PK")


def test_staff_cannot_delete_contacts_in_bulk(staff_client, logged_in, shop_contacts):
    refused(staff_client.get("/contacts/bulk?action=delete"))
    refused(staff_client.post("/contacts/bulk", data={"action": "delete"}))
    # Asking for a harmless action in the form but deletion in the address is refused too.
    refused(staff_client.post("/contacts/bulk?action=delete", data={"action": "tag", "tag": "x"}))
    assert count(Contact) == 2
    # The owner may.
    response = logged_in.post("/contacts/bulk", data={"action": "delete"})
    assert response.status_code == 302
    assert count(Contact) == 0


def test_staff_tag_opt_out_and_list_contacts_in_bulk(staff_client, shop_contacts):
    response = staff_client.post("/contacts/bulk", data={"action": "tag", "tag": "مشتری ویژه"})
    assert response.status_code == 302
    db.session.expire_all()
    tag = db.session.scalar(select(Tag).where(Tag.name == "مشتری ویژه"))
    assert len(tag.contacts) == 2
    assert staff_client.get("/contacts/bulk?action=opt_out").status_code == 200


def test_staff_see_no_export_links_and_no_bulk_delete(staff_client, logged_in, shop_contacts):
    page = staff_client.get("/contacts/")
    assert 'id="export-csv"' not in page.text and 'id="export-xlsx"' not in page.text
    assert '<option value="delete">' not in page.text
    assert '<option value="tag">' in page.text
    page = logged_in.get("/contacts/")
    assert 'id="export-csv"' in page.text and 'id="export-xlsx"' in page.text
    assert '<option value="delete">' in page.text


def menu(response) -> set[str]:
    nav = re.search(r'<nav class="nav" id="menu">(.*?)</nav>', response.text, re.S).group(1)
    return set(re.findall(r'data-menu="(\w+)"', nav))


def test_each_role_sees_the_menu_of_what_it_may_do(staff_client, logged_in):
    assert menu(staff_client.get("/contacts/")) == {
        "campaigns",
        "occasions",
        "automations",
        "contacts",
        "lists",
        "coupons",
        "segments",
        "dashboard",
        "reports",
        "retention",
    }
    assert menu(logged_in.get("/contacts/")) == {
        "campaigns",
        "occasions",
        "automations",
        "contacts",
        "lists",
        "coupons",
        "segments",
        "dashboard",
        "reports",
        "retention",
        "providers",
        "sending_rules",
        "api_tokens",
        "users",
        "audit",
    }
