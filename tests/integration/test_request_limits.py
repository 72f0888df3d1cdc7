"""Hostile requests to the panel: too large forms and uploads, 20-digit ids, too many own
fields. Each is refused with a page that says why, nothing is written, and the panel
keeps serving."""

import io

import pytest
from flask_babel import gettext
from integration_support import in_locale, page_text
from sqlalchemy import func, select

from app.contacts.models import Contact, ImportJob
from app.contacts.service import own_field_names
from app.extensions import db
from app.limits import ID_MAX

MB = 1024 * 1024
TOO_BIG = "99999999999999999999"  # 20 digits: beyond any database integer


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_the_default_limits_fit_a_real_shop(app):
    # A 1,000,000-row customer file is 100-200 MB; the API's 1000 items a few MB.
    assert app.config["VAFA_MAX_UPLOAD"] >= 200 * MB
    assert app.config["VAFA_MAX_API_BODY"] <= 8 * MB
    assert app.config["VAFA_MAX_FORM_BODY"] <= 8 * MB


def test_a_form_over_the_limit_gets_a_persian_413_page_and_nothing_is_saved(logged_in, app):
    app.config["VAFA_MAX_FORM_BODY"] = 4096
    response = logged_in.post(
        "/contacts/new", data={"mobile": "09121234567", "first_name": "ع" * 4000}
    )
    assert response.status_code == 413
    assert 'lang="fa"' in response.text
    expected = in_locale(
        "fa",
        lambda: gettext(
            "The form is larger than %(size)s or has more than %(count)s fields, "
            "the most a form of the panel may have.",
            size=gettext("%(count)s KB", count="۴"),
            count="۱٬۰۰۰",
        ),
    )
    assert expected in page_text(response)
    assert _count(Contact) == 0
    # The next request is served as usual.
    assert logged_in.post("/contacts/new", data={"mobile": "09121234567"}).status_code == 302


def test_a_200_mb_body_to_a_form_is_refused_before_it_is_read(logged_in):
    response = logged_in.post(
        "/contacts/new",
        data={"mobile": "09121234567"},
        environ_overrides={"CONTENT_LENGTH": str(200 * MB)},
    )
    assert response.status_code == 413
    assert _count(Contact) == 0


def _upload(client, size: int):
    rows = "mobile\n" + "".join(f"0912{i:07d}\n" for i in range(size // 12 + 1))
    return client.post(
        "/contacts/import",
        data={"kind": "contacts", "file": (io.BytesIO(rows.encode()), "contacts.csv")},
        content_type="multipart/form-data",
    )


def test_the_import_upload_takes_more_than_a_form_but_not_more_than_its_own_limit(logged_in, app):
    app.config["VAFA_MAX_FORM_BODY"] = 4096
    app.config["VAFA_MAX_UPLOAD"] = 64 * 1024
    taken = _upload(logged_in, 16 * 1024)  # four times a form's limit
    assert taken.status_code == 302, page_text(taken)
    assert _count(ImportJob) == 1

    refused = _upload(logged_in, 100 * 1024)
    assert refused.status_code == 413
    text = page_text(refused)
    # The owner reads about a file, the setting that limits it, and a way back to imports.
    expected = in_locale(
        "fa",
        lambda: gettext(
            "The file is larger than %(size)s, the largest file Vafa imports"
            " (setting VAFA_MAX_UPLOAD).",
            size=gettext("%(count)s KB", count="۶۴"),
        ),
    )
    assert expected in text
    assert "فایل از ۶۴ کیلوبایت بزرگ‌تر است" in text
    assert 'href="/contacts/import"' in refused.text
    assert _count(ImportJob) == 1


def test_an_upload_over_the_default_limit_is_refused_before_it_is_read(logged_in, app):
    too_big = app.config["VAFA_MAX_UPLOAD"] + 1
    response = logged_in.post(
        "/contacts/import",
        data={"kind": "contacts", "file": (io.BytesIO(b"mobile\n"), "contacts.csv")},
        content_type="multipart/form-data",
        environ_overrides={"CONTENT_LENGTH": str(too_big)},
    )
    assert response.status_code == 413
    assert _count(ImportJob) == 0


@pytest.mark.parametrize(
    "path",
    [
        f"/contacts/{TOO_BIG}",
        f"/contacts/{TOO_BIG}/edit",
        f"/contacts/{ID_MAX + 1}",
        f"/campaigns/{TOO_BIG}",
        f"/contacts/import/{TOO_BIG}",
    ],
)
def test_a_20_digit_id_in_a_panel_url_is_404(logged_in, path):
    assert logged_in.get(path).status_code == 404


def test_the_largest_id_is_simply_not_found(logged_in):
    assert logged_in.get(f"/contacts/{ID_MAX}").status_code == 404


@pytest.mark.parametrize(
    "path",
    [f"/contacts/?before={TOO_BIG}", f"/reports/messages?campaign={TOO_BIG}&before={TOO_BIG}"],
)
def test_a_20_digit_number_in_a_query_is_ignored(logged_in, make_contact, path):
    make_contact("09121234567", first_name="علی")
    response = logged_in.get(path)
    assert response.status_code == 200


def test_the_contact_form_refuses_more_own_fields_than_the_shop_may_have(
    logged_in, app, make_contact
):
    app.config["VAFA_MAX_OWN_FIELDS"] = 2
    make_contact("09120000000", fields={"رنگ": "آبی", "شعبه": "ونک"})
    ali = make_contact("09121234567", first_name="علی")
    response = logged_in.post(
        f"/contacts/{ali.id}/edit",
        data={"mobile": "09121234567", "fields-0-key": "کد", "fields-0-value": "۱۲"},
    )
    assert response.status_code == 200
    expected = in_locale(
        "fa",
        lambda: gettext(
            "A shop can have at most %(max)s fields of its own; there are already"
            " %(count)s, and “%(name)s” would be a new one.",
            max="۲",
            count="۲",
            name="کد",
        ),
    )
    assert expected in page_text(response)
    db.session.expire_all()
    assert db.session.get(Contact, ali.id).fields == {}
    assert own_field_names() == ["رنگ", "شعبه"]
    # A name the shop already has is fine.
    response = logged_in.post(
        f"/contacts/{ali.id}/edit",
        data={"mobile": "09121234567", "fields-0-key": "رنگ", "fields-0-value": "سبز"},
    )
    assert response.status_code == 302


def test_the_contact_form_refuses_a_too_long_value(logged_in, make_contact):
    ali = make_contact("09121234567", first_name="علی")
    response = logged_in.post(
        f"/contacts/{ali.id}/edit",
        data={"mobile": "09121234567", "fields-0-key": "یادداشت", "fields-0-value": "x" * 501},
    )
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(Contact, ali.id).fields == {}
