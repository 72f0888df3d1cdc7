"""The owner's users page: adding staff, changing roles, resetting passwords, deactivating;
the shop always keeps an active owner."""

import re

from flask_babel import gettext
from integration_support import PASSWORD, STAFF_EMAIL, in_locale, page_text
from sqlalchemy import select

from app.auth.models import AuditEntry, User
from app.auth.service import create_user, find_user
from app.extensions import db


def user(email: str) -> User:
    db.session.expire_all()
    return find_user(email)


def flashes(response) -> list[tuple[str, str]]:
    return [
        (category, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", body)).strip())
        for category, body in re.findall(
            r'<div class="flash flash-(\w+)"[^>]*>(.*?)</div>', response.text, flags=re.S
        )
    ]


def fa(text: str, **values) -> str:
    return in_locale("fa", lambda: gettext(text, **values))


def can_log_in(app, email: str, password: str) -> bool:
    response = app.test_client().post("/login", data={"email": email, "password": password})
    return response.status_code == 302


def test_the_owner_adds_a_member_of_staff_who_can_then_log_in(app, logged_in):
    response = logged_in.post(
        "/users",
        data={"email": "Sara@Example.com", "role": "staff", "password": "sara's password"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    [(category, text)] = flashes(response)
    assert category == "success" and "sara@example.com" in text
    assert "کارمند" in text  # the role, in Persian
    row = re.search(
        r'<tr data-user="\d+" data-role="(\w+)" data-active="(\w+)">\s*<td><a[^>]*>'
        r'<bdi class="as-typed">sara@example.com</bdi>',
        response.text,
    )
    assert row and row.groups() == ("staff", "yes")
    assert user("sara@example.com").role == "staff"
    assert can_log_in(app, "sara@example.com", "sara's password")


def test_a_new_user_needs_a_password_the_policy_accepts(logged_in):
    response = logged_in.post(
        "/users", data={"email": "sara@example.com", "role": "staff", "password": "short"}
    )
    assert response.status_code == 200
    [(category, text)] = flashes(response)
    assert category == "error" and re.search(r"[۰-۹]", text)  # names the minimum length
    assert user("sara@example.com") is None


def test_the_owner_gives_a_member_of_staff_the_owners_role(logged_in, staff_client, staff_user):
    assert staff_client.get("/settings/providers").status_code == 403
    response = logged_in.post(f"/users/{staff_user}/role", data={"role": "owner"})
    assert response.status_code == 302
    assert user(STAFF_EMAIL).role == "owner"
    # The change holds from the next request of the session already open.
    assert staff_client.get("/settings/providers").status_code == 200
    # And back.
    logged_in.post(f"/users/{staff_user}/role", data={"role": "staff"})
    assert staff_client.get("/settings/providers").status_code == 403


def test_the_owner_resets_a_password(app, logged_in, staff_client, staff_user):
    assert staff_client.get("/contacts/").status_code == 200
    response = logged_in.post(
        f"/users/{staff_user}/password", data={"password": "a new password"}, follow_redirects=True
    )
    [(category, text)] = flashes(response)
    assert category == "success" and STAFF_EMAIL in text
    assert not can_log_in(app, STAFF_EMAIL, PASSWORD)
    assert can_log_in(app, STAFF_EMAIL, "a new password")
    # Whoever held the old password's session (and 'remember me' cookie) is out.
    response = staff_client.get("/contacts/")
    assert response.status_code == 302 and "/login" in response.location
    staff_client.delete_cookie("session")
    response = staff_client.get("/contacts/")
    assert response.status_code == 302 and "/login" in response.location


def test_a_reset_password_must_meet_the_policy(app, logged_in, staff_user):
    response = logged_in.post(f"/users/{staff_user}/password", data={"password": "short"})
    assert response.status_code == 400
    assert re.search(r'id="reset-password".*class="error"', response.text, re.S)
    assert can_log_in(app, STAFF_EMAIL, PASSWORD)


def test_deactivating_a_user_ends_their_sessions_and_their_logins(
    app, logged_in, staff_client, staff_user
):
    assert staff_client.get("/contacts/").status_code == 200
    staff_client.delete_cookie("session")
    assert staff_client.get("/contacts/").status_code == 200  # 'remember me' logs them in
    response = logged_in.post(f"/users/{staff_user}/active", data={"active": "0"})
    assert response.status_code == 302
    assert user(STAFF_EMAIL).is_active is False

    # The session opened before is over: the next page asks for a login.
    response = staff_client.get("/contacts/")
    assert response.status_code == 302 and "/login" in response.location
    # Not even the 'remember me' cookie brings them back.
    staff_client.delete_cookie("session")
    response = staff_client.get("/contacts/")
    assert response.status_code == 302 and "/login" in response.location
    # The right password does not let them in.
    response = app.test_client().post("/login", data={"email": STAFF_EMAIL, "password": PASSWORD})
    assert response.status_code == 200
    assert fa("The email or password is wrong.") in page_text(response)

    # Reactivated, they log in again.
    logged_in.post(f"/users/{staff_user}/active", data={"active": "1"})
    assert can_log_in(app, STAFF_EMAIL, PASSWORD)


def test_the_last_active_owner_can_be_neither_demoted_nor_deactivated(logged_in, owner):
    message = fa(
        "%(email)s is the shop's only active owner. Make another user an owner first:"
        " someone must be able to manage providers, tokens and users.",
        email="owner@example.com",
    )
    response = logged_in.post(f"/users/{owner.id}/role", data={"role": "staff"})
    assert response.status_code == 409
    assert message in page_text(response)
    response = logged_in.post(f"/users/{owner.id}/active", data={"active": "0"})
    assert response.status_code == 409
    assert message in page_text(response)
    me = user("owner@example.com")
    assert (me.role, me.is_active) == ("owner", True)
    assert logged_in.get("/users").status_code == 200  # still the owner, still logged in


def test_a_refused_demotion_shows_the_role_the_owner_still_has(logged_in, owner):
    """The role menu must not say «کارمند» under a flash saying the change was refused."""
    response = logged_in.post(f"/users/{owner.id}/role", data={"role": "staff"})
    assert response.status_code == 409
    selected = re.findall(r"<option[^>]*\bselected\b[^>]*>", response.text)
    assert len(selected) == 1
    assert 'value="owner"' in selected[0]


def test_the_owner_changes_their_own_password_on_the_account_page_not_here(logged_in, owner):
    """Reset here, the owner's own password ended this very session: they were logged out
    the moment they saved it. Their page points to the account page instead."""
    page = logged_in.get(f"/users/{owner.id}")
    assert f'action="/users/{owner.id}/password"' not in page.text
    section = re.search(r'id="reset-password">(.*?)</section>', page.text, flags=re.S).group(1)
    assert 'href="/account"' in section
    response = logged_in.post(f"/users/{owner.id}/password", data={"password": "a new password!"})
    assert response.status_code == 302
    assert response.location == "/account"
    assert user("owner@example.com").check_password(PASSWORD)
    assert logged_in.get("/users").status_code == 200  # still logged in


def test_a_deactivated_owner_does_not_count_as_the_other_owner(logged_in, owner):
    other = create_user("partner@example.com", PASSWORD, "owner")
    db.session.commit()
    other_id = other.id
    assert logged_in.post(f"/users/{other_id}/active", data={"active": "0"}).status_code == 302
    response = logged_in.post(f"/users/{owner.id}/role", data={"role": "staff"})
    assert response.status_code == 409
    assert user("owner@example.com").role == "owner"


def test_with_a_second_owner_the_first_may_step_down(logged_in, owner):
    create_user("partner@example.com", PASSWORD, "owner")
    db.session.commit()
    response = logged_in.post(f"/users/{owner.id}/role", data={"role": "staff"})
    assert response.status_code == 302
    assert response.location == "/"  # not to a page they may no longer open
    assert user("owner@example.com").role == "staff"
    # Now staff: the users page is the partner's.
    assert logged_in.get("/users").status_code == 403


def test_every_change_to_a_user_is_in_the_audit_trail(logged_in, staff_user):
    logged_in.post(
        "/users", data={"email": "sara@example.com", "role": "staff", "password": "sara's password"}
    )
    logged_in.post(f"/users/{staff_user}/role", data={"role": "owner"})
    logged_in.post(f"/users/{staff_user}/password", data={"password": "a new password"})
    logged_in.post(f"/users/{staff_user}/active", data={"active": "0"})
    db.session.expire_all()
    entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.action, e.target, e.actor) for e in entries] == [
        ("user.add", "sara@example.com", "owner@example.com"),
        ("user.role", STAFF_EMAIL, "owner@example.com"),
        ("user.password", STAFF_EMAIL, "owner@example.com"),
        ("user.deactivate", STAFF_EMAIL, "owner@example.com"),
    ]
    assert entries[1].detail == {"from_role": "staff", "role": "owner"}
    stored = repr([(e.target, e.detail) for e in entries])
    assert "a new password" not in stored and "sara's password" not in stored


def test_staff_cannot_manage_users(staff_client, staff_user, owner):
    for method, url, data in (
        ("GET", "/users", None),
        ("POST", "/users", {"email": "x@example.com", "role": "owner", "password": PASSWORD}),
        ("POST", f"/users/{staff_user}/role", {"role": "owner"}),
        ("POST", f"/users/{owner.id}/password", {"password": "taken over!!"}),
        ("POST", f"/users/{owner.id}/active", {"active": "0"}),
    ):
        assert staff_client.open(url, method=method, data=data).status_code == 403
    assert user(STAFF_EMAIL).role == "staff"
    assert user("x@example.com") is None
    assert user("owner@example.com").is_active
    assert user("owner@example.com").check_password("a good password")
