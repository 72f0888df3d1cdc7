"""The shop's own contact fields work as placeholders in messages."""

from datetime import time

from sqlalchemy import select

from app.contacts.service import own_field_names
from app.extensions import db
from app.jobs import run_all_once
from app.sending.models import Message
from app.sending.policy import SendingPolicy, save_policy


def test_own_field_names_are_read_from_the_contacts(make_contact):
    make_contact("09121234567", fields={"کد اشتراک": "A12", "شعبه": "ونک"})
    make_contact("09351112233", fields={"شعبه": "تجریش"})
    make_contact("09190001122")
    assert own_field_names() == sorted(["کد اشتراک", "شعبه"])


def test_a_message_uses_an_own_field_with_its_fallback(logged_in, make_contact):
    make_contact("09121234567", first_name="علی", fields={"کد اشتراک": "A12"})
    make_contact("09351112233", first_name="سارا")
    save_policy(SendingPolicy(window_start=time(0), window_end=time(0), optout_line=False))
    db.session.commit()
    page = logged_in.get("/campaigns/new")
    assert "{کد اشتراک}" in page.text  # offered among the placeholders
    # The compose form's first route is the console line.
    first_route = page.text.split('name="route"')[1].split('value="')[1].split('"')[0]
    response = logged_in.post(
        "/campaigns/new",
        data={
            "name": "کد",
            "body": "{نام} جان، کد شما: {کد اشتراک|ندارید}",
            "list_id": 0,
            "route": first_route,
            "when": "now",
        },
    )
    assert response.status_code == 302, response.text
    logged_in.post(response.headers["Location"] + "/confirm")
    run_all_once(logged_in.application)

    bodies = set(db.session.scalars(select(Message.body)))
    assert bodies == {"علی جان، کد شما: A12", "سارا جان، کد شما: ندارید"}


def test_an_unknown_placeholder_is_still_refused(logged_in, make_contact):
    make_contact("09121234567", fields={"کد اشتراک": "A12"})
    response = logged_in.post(
        "/campaigns/new",
        data={
            "name": "x",
            "body": "کد: {کد ملی}",
            "list_id": 0,
            "when": "now",
        },
    )
    assert response.status_code == 200
    assert "{کد ملی}" in response.text
