"""The audience of a campaign through the JSON API, and the lists and tags a script reads.

A campaign takes ``{"all": true}``, the older ``{"list_id": …}``, or lists, tags and
segments with the lists and segments to leave out; the estimate counts exactly the
contacts the messages are then written for.
"""

from datetime import UTC, datetime

import pytest
from api_support import error_of, fields_of
from sqlalchemy import func, select

from app.auth.audit import AuditEntry
from app.contacts.models import Contact, ContactList, Tag
from app.extensions import db
from app.messaging import service as campaigns
from app.messaging.models import Campaign
from app.sending.models import Message


@pytest.fixture
def shop(make_contact):
    """Lists «وفادار» (ali, sara, opted-out reza) and «شکایت» (sara); tag «ویژه» (mina,
    sara); nima in nothing."""
    ali = make_contact("09121234567", first_name="علی")
    sara = make_contact("09351112233", first_name="سارا")
    reza = make_contact("09190001122", first_name="رضا", opted_out_at=datetime.now(UTC))
    mina = make_contact("09120000001", first_name="مینا")
    make_contact("09120000002", first_name="نیما")
    loyal, complained = ContactList(name="وفادار"), ContactList(name="شکایت")
    loyal.contacts.extend([ali, sara, reza])
    complained.contacts.append(sara)
    special = Tag(name="ویژه")
    special.contacts.extend([mina, sara])
    db.session.add_all([loyal, complained, special])
    db.session.commit()
    return {"loyal": loyal.id, "complained": complained.id, "special": special.id}


def create(api, audience: dict):
    return api.post("/campaigns", {"name": "یلدا", "text": "سلام {نام}", "audience": audience})


def written_to(campaign_id: int) -> set[str]:
    """First names of the contacts a campaign's queued messages are for."""
    return set(
        db.session.scalars(
            select(Contact.first_name)
            .join(Message, Message.contact_id == Contact.id)
            .where(Message.campaign_id == campaign_id, Message.status != "skipped")
        )
    )


def test_lists_and_tags_minus_a_list(api, shop):
    response = create(
        api,
        {
            "list_ids": [shop["loyal"]],
            "tag_ids": [shop["special"]],
            "exclude_list_ids": [shop["complained"]],
            "segment_ids": [],
            "exclude_segment_ids": [],
        },
    )
    assert response.status_code == 201, response.text
    audience = response.json["audience"]
    assert audience == {
        "all": False,
        "list_ids": [shop["loyal"]],
        "tag_ids": [shop["special"]],
        "segment_ids": [],
        "exclude_list_ids": [shop["complained"]],
        "exclude_segment_ids": [],
        "items": [
            {"kind": "list", "id": shop["loyal"], "name": "وفادار", "excluded": False},
            {"kind": "tag", "id": shop["special"], "name": "ویژه", "excluded": False},
            {"kind": "list", "id": shop["complained"], "name": "شکایت", "excluded": True},
        ],
        "description": "گروه وفادار، برچسب ویژه، به‌جز گروه شکایت",
        "list_id": None,
        "list_name": None,
    }
    cid = response.json["id"]
    estimate = api.get(f"/campaigns/{cid}/estimate").json
    assert (estimate["recipients"], estimate["opted_out"]) == (2, 1)
    assert api.post(f"/campaigns/{cid}/start").status_code == 200
    campaigns.start_due_campaigns()
    # sara is in the list and has the tag, but is in «شکایت»: the exclusion wins.
    assert written_to(cid) == {"علی", "مینا"} and len(written_to(cid)) == estimate["recipients"]


def test_everyone_minus_a_list(api, shop):
    response = create(api, {"all": True, "exclude_list_ids": [shop["complained"]]})
    assert response.status_code == 201, response.text
    assert response.json["audience"]["description"] == "همهٔ مخاطبان، به‌جز گروه شکایت"
    cid = response.json["id"]
    recipients = api.get(f"/campaigns/{cid}/estimate").json["recipients"]
    api.post(f"/campaigns/{cid}/start")
    campaigns.start_due_campaigns()
    assert written_to(cid) == {"علی", "مینا", "نیما"} and recipients == 3


def test_the_older_list_id_still_works(api, shop):
    response = create(api, {"list_id": shop["loyal"]})
    assert response.status_code == 201, response.text
    assert response.json["audience"]["list_ids"] == [shop["loyal"]]
    assert (response.json["audience"]["list_id"], response.json["audience"]["list_name"]) == (
        shop["loyal"],
        "وفادار",
    )


@pytest.mark.parametrize(
    ("audience", "field"),
    [
        (lambda ids: {"list_id": ids["loyal"], "list_ids": [ids["loyal"]]}, "audience"),
        (lambda ids: {"list_id": ids["loyal"], "exclude_list_ids": []}, "audience"),
        (lambda ids: {"list_ids": []}, "audience.list_ids"),
        (lambda ids: {"exclude_list_ids": [ids["loyal"]]}, "audience.list_ids"),
        (lambda ids: {"all": True, "tag_ids": [ids["special"]]}, "audience.tag_ids"),
        (lambda ids: {"list_ids": [999]}, "audience.list_ids"),
        (lambda ids: {"tag_ids": [999]}, "audience.tag_ids"),
        (lambda ids: {"all": True, "exclude_list_ids": [999]}, "audience.exclude_list_ids"),
        (lambda ids: {"list_ids": ["1"]}, "audience.list_ids[0]"),
        (lambda ids: {"list_ids": [0]}, "audience.list_ids[0]"),
        (lambda ids: {"list_ids": ids["loyal"]}, "audience.list_ids"),
        (lambda ids: {"list_ids": list(range(1, 102))}, "audience.list_ids"),
        (lambda ids: {"segment_ids": [999]}, "audience.segment_ids"),
        (lambda ids: {"all": True, "exclude_segment_ids": [999]}, "audience.exclude_segment_ids"),
        (
            lambda ids: {"list_ids": [ids["loyal"]], "exclude_list_ids": [ids["loyal"]]},
            "audience.exclude_list_ids",
        ),
        (lambda ids: {"lists": [1]}, "audience.lists"),
    ],
)
def test_a_wrong_audience_is_named_and_nothing_is_stored(api, shop, audience, field):
    error = error_of(create(api, audience(shop)), 422, "invalid")
    assert fields_of(error) == [field]
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_an_unknown_segment_is_refused_in_persian(api, shop):
    error = error_of(create(api, {"segment_ids": [999]}), 422, "invalid")
    assert error["details"][0]["message"] == ("بخش هوشمندی با شناسهٔ ۹۹۹ نیست؛ شاید حذف شده باشد.")


def test_segments_to_send_to_and_to_keep_away_from(api, shop):
    """«ویژه‌ها» (tag ویژه: mina, sara) and the contacts of «وفادار», minus «سارا‌ها»."""
    from app.audience import service as segments

    special = segments.create_segment(
        "ویژه‌ها", "", {"rules": [{"field": "tag", "op": "has", "value": shop["special"]}]}
    )
    saras = segments.create_segment(
        "سارا‌ها", "", {"rules": [{"field": "first_name", "op": "eq", "value": "سارا"}]}
    )
    db.session.commit()
    response = create(
        api,
        {
            "list_ids": [shop["loyal"]],
            "segment_ids": [special.id],
            "exclude_segment_ids": [saras.id],
        },
    )
    assert response.status_code == 201, response.text
    audience = response.json["audience"]
    assert (audience["segment_ids"], audience["exclude_segment_ids"]) == ([special.id], [saras.id])
    assert audience["items"][1:] == [
        {"kind": "segment", "id": special.id, "name": "ویژه‌ها", "excluded": False},
        {"kind": "segment", "id": saras.id, "name": "سارا‌ها", "excluded": True},
    ]
    assert audience["description"] == ("گروه وفادار، بخش هوشمند ویژه‌ها، به‌جز بخش هوشمند سارا‌ها")
    cid = response.json["id"]
    estimate = api.get(f"/campaigns/{cid}/estimate").json
    assert (estimate["recipients"], estimate["opted_out"]) == (2, 1)  # reza opted out
    assert api.post(f"/campaigns/{cid}/start").status_code == 200
    campaigns.start_due_campaigns()
    assert written_to(cid) == {"علی", "مینا"} and len(written_to(cid)) == estimate["recipients"]


def test_a_segment_whose_rules_broke_gives_no_estimate_and_does_not_start(api, shop):
    from app.audience import service as segments

    outside = segments.create_segment(
        "بیرون از شکایت",
        "",
        {"rules": [{"field": "list", "op": "not_member", "value": shop["complained"]}]},
    )
    db.session.commit()
    cid = create(api, {"segment_ids": [outside.id]}).json["id"]
    assert api.delete(f"/lists/{shop['complained']}").status_code == 204  # a draft: allowed
    problem = "تا شرط‌های بخش هوشمند «بیرون از شکایت» درست نشود"
    assert (
        problem in error_of(api.get(f"/campaigns/{cid}/estimate"), 409, "cannot_start")["message"]
    )
    assert problem in error_of(api.post(f"/campaigns/{cid}/start"), 409, "cannot_start")["message"]
    assert db.session.get(Campaign, cid).status == "draft"
    refused = error_of(
        create(api, {"all": True, "exclude_segment_ids": [outside.id]}), 422, "invalid"
    )
    assert fields_of(refused) == ["audience.exclude_segment_ids"]


# Lists and tags ---------------------------------------------------------------------


def test_lists_with_their_member_counts(api, shop):
    response = api.get("/lists")
    assert response.status_code == 200
    assert response.json == {
        "items": [
            {"id": shop["complained"], "name": "شکایت", "member_count": 1},
            {"id": shop["loyal"], "name": "وفادار", "member_count": 3},
        ]
    }


def test_tags_with_their_contact_counts(api, shop):
    assert api.get("/tags").json == {
        "items": [{"id": shop["special"], "name": "ویژه", "member_count": 2}]
    }


def test_create_rename_and_delete_a_list(api, shop):
    created = api.post("/lists", {"name": "  مشتريان  يلدا "})  # Arabic ي, stray spaces
    assert created.status_code == 201, created.text
    new_id = created.json["id"]
    assert created.json == {"id": new_id, "name": "مشتریان یلدا", "member_count": 0}

    renamed = api.patch(f"/lists/{new_id}", {"name": "یلدا ۱۴۰۵"})
    assert renamed.json == {"id": new_id, "name": "یلدا ۱۴۰۵", "member_count": 0}
    assert db.session.get(ContactList, new_id).name == "یلدا ۱۴۰۵"

    deleted = api.delete(f"/lists/{new_id}")
    assert (deleted.status_code, deleted.data) == (204, b"")
    db.session.expire_all()
    assert db.session.get(ContactList, new_id) is None
    entry = db.session.scalars(select(AuditEntry)).one()
    assert (entry.action, entry.target, entry.detail) == (
        "list.delete",
        "یلدا ۱۴۰۵",
        {"count": 0, "via": "API: tests"},
    )
    assert api.delete(f"/lists/{new_id}").status_code == 404


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (lambda api, ids: api.post("/lists", {"name": "وفادار"}), "name"),
        (lambda api, ids: api.post("/lists", {"name": "  "}), "name"),
        (lambda api, ids: api.post("/lists", {"name": "x" * 101}), "name"),
        (lambda api, ids: api.post("/lists", {}), "name"),
        (lambda api, ids: api.post("/lists", {"name": "a", "colour": "red"}), "colour"),
        (lambda api, ids: api.patch(f"/lists/{ids['loyal']}", {"name": "شکایت"}), "name"),
        (lambda api, ids: api.patch(f"/lists/{ids['loyal']}", {"name": 5}), "name"),
    ],
)
def test_a_wrong_name_is_refused(api, shop, request_, field):
    error = error_of(request_(api, shop), 422, "invalid")
    assert fields_of(error) == [field]
    assert db.session.scalar(select(func.count()).select_from(ContactList)) == 2
    assert db.session.get(ContactList, shop["loyal"]).name == "وفادار"


def test_a_list_a_waiting_campaign_names_is_not_deleted(api, shop):
    cid = create(api, {"all": True, "exclude_list_ids": [shop["complained"]]}).json["id"]
    assert api.post(f"/campaigns/{cid}/start").status_code == 200
    error = error_of(api.delete(f"/lists/{shop['complained']}"), 409, "invalid_state")
    assert "یلدا" in error["message"]
    assert db.session.get(ContactList, shop["complained"]) is not None


def test_an_unknown_list_is_not_found(api, shop):
    assert error_of(api.patch("/lists/999", {"name": "x"}), 404, "not_found")
    assert error_of(api.delete("/lists/2147483648"), 404, "not_found")
