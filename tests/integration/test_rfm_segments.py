"""RFM in segments: the "RFM group is one of …" and score rules, the built-in champions
segment, and the RFM lines of the segment pages.

The shop is test_rfm's: ten buyers whose scores were worked out by hand (its docstring),
one in each group, and K, who never bought and is never scored.
"""

import re

import pytest
from flask_migrate import downgrade, upgrade
from integration_support import in_locale, page_text, text_of
from sqlalchemy import event, func, select, text
from test_migrations import old_install  # noqa: F401 (a fixture)
from test_rfm import EXPECTED, NOW, shop  # noqa: F401 (shop is a fixture)

from app.audience import rfm
from app.audience import service as segments
from app.audience.models import Segment
from app.audience.rules import check_rules, clean_rules, rule_problems, rules_condition
from app.contacts.models import Contact
from app.extensions import db


def rule(field: str, op: str, value) -> dict:
    return {"match": "all", "rules": [{"field": field, "op": op, "value": value}]}


def matching(rules: dict) -> set[str]:
    """The first names of the contacts the rules match."""
    return set(db.session.scalars(select(Contact.first_name).where(rules_condition(rules))))


@pytest.fixture
def scored(shop):  # noqa: F811
    rfm.score_contacts(NOW)
    db.session.commit()
    return shop


def by_key(key: str) -> Segment:
    return db.session.scalar(select(Segment).where(Segment.key == key))


def in_group(*groups: str) -> set[str]:
    return {name for name, (*_scores, group) in EXPECTED.items() if group in groups}


# The rules ------------------------------------------------------------------------------


def test_the_group_rule_matches_the_scored_contacts_of_those_groups(scored):
    assert matching(rule("rfm", "in", ["champions"])) == {"J"} == in_group("champions")
    several = ["champions", "loyal", "new"]
    assert matching(rule("rfm", "in", several)) == {"J", "F", "I"} == in_group(*several)
    # K never bought: no score, no group, whatever the groups asked for.
    assert "K" not in matching(rule("rfm", "in", list(rfm.RFM_GROUPS)))
    assert matching(rule("rfm", "in", list(rfm.RFM_GROUPS))) == set(EXPECTED)


def test_score_rules_compare_each_score(scored):
    # R, F, M as in test_rfm's EXPECTED.
    assert matching(rule("rfm_recency", "gte", 4)) == {"G", "H", "I", "J"}
    assert matching(rule("rfm_frequency", "gte", 5)) == {"A", "F"}
    assert matching(rule("rfm_monetary", "gte", 4)) == {"A", "C", "F", "J"}
    assert matching(rule("rfm_recency", "gte", 1)) == set(EXPECTED)  # not K
    both = {
        "match": "all",
        "rules": [
            {"field": "rfm_recency", "op": "gte", "value": 3},
            {"field": "rfm_monetary", "op": "gte", "value": 4},
        ],
    }
    assert matching(both) == {"F", "J"}
    for name, (recency, frequency, monetary, _group) in EXPECTED.items():
        assert (name in matching(rule("rfm_recency", "gte", 5))) == (recency == 5)
        assert (name in matching(rule("rfm_monetary", "gte", 3))) == (monetary >= 3)
        assert (name in matching(rule("rfm_frequency", "gte", 4))) == (frequency >= 4)


def test_a_segment_of_rfm_groups_is_counted_in_one_query(scored):
    mine = segments.create_segment("بهترین‌ها", "", rule("rfm", "in", ["champions", "loyal"]))
    db.session.commit()
    statements = []

    def listen(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db.engine
    segments.segment_count(mine)  # the first count may check the rules
    event.listen(engine, "before_cursor_execute", listen)
    try:
        assert segments.segment_count(mine) == 2  # J and F
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert len(statements) == 1 and "contact_scores" in statements[0]


def test_before_any_scoring_the_rules_match_nobody(shop):  # noqa: F811
    assert matching(rule("rfm", "in", ["champions"])) == set()
    assert matching(rule("rfm_recency", "gte", 1)) == set()


def test_the_form_names_groups_in_persian_and_the_api_by_key(app):
    with app.test_request_context(headers={"Accept-Language": "fa"}):
        clean, problems = clean_rules(rule("rfm", "in", "وفادارها، قهرمان‌ها,champions"))
        assert not problems
        # Canonical: keys, in RFM_GROUPS order, each once.
        assert clean["rules"][0]["value"] == ["champions", "loyal"]
        clean, problems = clean_rules(rule("rfm_recency", "gte", "۴"))
        assert not problems and clean["rules"][0]["value"] == 4
    # The API takes keys only, and numbers as numbers.
    assert rule_problems(rule("rfm", "in", ["champions", "at_risk"])) == []
    assert rule_problems(rule("rfm", "in", "champions"))
    assert rule_problems(rule("rfm_recency", "gte", "4"))


@pytest.mark.parametrize(
    "bad, problem",
    [
        (rule("rfm", "in", "قهرمان‌ها، ستاره‌ها"), "قانون ۱: «ستاره‌ها» یکی از گروه‌های RFM نیست."),
        (rule("rfm", "in", []), "قانون ۱: یک یا چند گروه RFM را انتخاب کنید."),
        (rule("rfm", "in", ""), "قانون ۱: یک یا چند گروه RFM را انتخاب کنید."),
        (rule("rfm", "in", [5]), "قانون ۱: یک یا چند گروه RFM را انتخاب کنید."),
        (rule("rfm", "in", None), "قانون ۱: یک یا چند گروه RFM را انتخاب کنید."),
        (rule("rfm_recency", "gte", 6), "قانون ۱: امتیاز RFM عددی صحیح از ۱ تا ۵ است."),
        (rule("rfm_frequency", "gte", 0), "قانون ۱: امتیاز RFM عددی صحیح از ۱ تا ۵ است."),
        (rule("rfm_monetary", "gte", "زیاد"), "قانون ۱: امتیاز RFM عددی صحیح از ۱ تا ۵ است."),
        (rule("rfm", "eq", ["champions"]), "قانون ۱: این شرط شناخته نیست."),
    ],
)
def test_bad_rfm_rules_are_told_in_persian(app, bad, problem):
    assert in_locale("fa", lambda: "\n".join(check_rules(bad))) == problem


def test_a_bad_rfm_rule_is_never_compiled(app):
    with pytest.raises(ValueError):
        rules_condition(rule("rfm", "in", ["vip"]))


# The editor -------------------------------------------------------------------------------


def form(*rows, name="بهترین‌ها") -> dict:
    data = {"name": name, "description": "", "match": "all", "group_match": "any"}
    for number, (condition, value) in enumerate(rows):
        data[f"rule-{number}-condition"] = condition
        data[f"rule-{number}-value"] = value
    return data


def test_the_editor_offers_the_groups_by_their_persian_names(logged_in):
    page = logged_in.get("/audience/new")
    assert '<option value="rfm|in|champions">گروه RFM «قهرمان‌ها» است</option>' in page.text
    assert 'value="rfm|in"' in page.text and 'value="rfm_recency|gte"' in page.text
    assert '<option value="قهرمان‌ها">' in page.text  # the value box suggests the names


def test_the_editor_saves_rfm_rules(logged_in):
    response = logged_in.post("/audience/new", data=form(("rfm|in|champions", "")))
    assert response.status_code == 302
    one = db.session.scalar(select(Segment).where(Segment.name == "بهترین‌ها"))
    assert one.rules["rules"] == [{"field": "rfm", "op": "in", "value": ["champions"]}]
    edit = logged_in.get(f"/audience/{one.id}/edit").text
    assert '<option value="rfm|in|champions" selected>' in edit

    typed = form(("rfm|in", "در آستانهٔ ریزش، وفادارها"), ("rfm_monetary|gte", "۳"), name="دیگران")
    assert logged_in.post("/audience/new", data=typed).status_code == 302
    other = db.session.scalar(select(Segment).where(Segment.name == "دیگران"))
    assert other.rules["rules"] == [
        {"field": "rfm", "op": "in", "value": ["loyal", "at_risk"]},
        {"field": "rfm_monetary", "op": "gte", "value": 3},
    ]
    # Shown again as the owner reads them.
    assert 'value="وفادارها، در آستانهٔ ریزش"' in logged_in.get(f"/audience/{other.id}/edit").text


def test_the_editor_refuses_an_unknown_group(logged_in):
    response = logged_in.post("/audience/new", data=form(("rfm|in", "طلایی")))
    assert response.status_code == 422
    assert "قانون ۱: «طلایی» یکی از گروه‌های RFM نیست." in page_text(response)
    assert db.session.scalar(select(func.count()).select_from(Segment)) == 0


# The built-in champions segment ---------------------------------------------------------------


def test_champions_is_built_in_counted_and_never_deleted(logged_in, scored):
    segments.ensure_builtin_segments()
    db.session.commit()
    champions = by_key("champions")
    assert champions.builtin and champions.name == "مشتریان قهرمان"
    assert champions.rules == rule("rfm", "in", ["champions"])
    assert "RFM" in champions.description and "هر شب" in champions.description
    assert segments.segment_count(champions) == 1  # J

    page = logged_in.get(f"/audience/{champions.id}")
    assert 'id="delete-segment"' not in page.text
    line = page_text(page)
    assert "از امتیازهای RFM می‌خوانند که آخرین بار ۱۴۰۵/۰۹/۱۰" in line
    assert re.search(r'id="rfm-scored".*?href="/audience/rfm"', page.text, re.S)
    response = logged_in.post(f"/audience/{champions.id}/delete", follow_redirects=True)
    assert "بخش‌های پیش‌ساخته پاک نمی‌شوند" in page_text(response)
    assert by_key("champions") is not None


def test_a_segment_page_says_when_rfm_was_never_scored(logged_in):
    segments.ensure_builtin_segments()
    db.session.commit()
    page = logged_in.get(f"/audience/{by_key('champions').id}")
    assert "هنوز محاسبه نشده‌اند" in page_text(page)
    # A segment without RFM rules says nothing of RFM.
    assert 'id="rfm-scored"' not in logged_in.get(f"/audience/{by_key('new').id}").text


def test_the_segments_list_links_the_rfm_page_with_the_last_scoring(logged_in, shop):  # noqa: F811
    page = logged_in.get("/audience/")
    link = re.search(r'<p id="rfm-link">.*?</p>', page.text, re.S).group(0)
    assert 'href="/audience/rfm"' in link and "امتیاز RFM مشتریان" in link
    assert "هنوز محاسبه نشده" in link
    rfm.score_contacts(NOW)
    db.session.commit()
    link = re.search(r'<p id="rfm-link">.*?</p>', logged_in.get("/audience/").text, re.S)
    assert "آخرین محاسبه: ۱۴۰۵/۰۹/۱۰" in text_of(link.group(0))


def test_english_names_the_groups_in_english(english):
    page = english.get("/audience/new")
    assert '<option value="rfm|in|champions">RFM group is “Champions”</option>' in page.text


# The migration -------------------------------------------------------------------------------


def test_0019_adds_champions_and_the_downgrade_takes_it_away(old_install):  # noqa: F811
    upgrade(revision="0019")
    row = db.session.execute(
        text("SELECT name, builtin FROM segments WHERE key = 'champions'")
    ).one()
    assert row.name == "مشتریان قهرمان" and row.builtin
    keys = set(db.session.scalars(text("SELECT key FROM segments WHERE builtin")))
    assert keys == {b["key"] for b in segments.BUILTINS}  # as a fresh install has them
    db.session.commit()
    downgrade(revision="0018")
    assert db.session.scalar(text("SELECT count(*) FROM segments WHERE key = 'champions'")) == 0
    db.session.commit()


def test_0019_keeps_the_owners_segment_of_the_same_name(old_install):  # noqa: F811
    upgrade(revision="0018")
    db.session.execute(
        text(
            "INSERT INTO segments (name, description, rules, builtin, created_at, updated_at)"
            " VALUES ('مشتریان قهرمان', '', :rules, :no, '2026-11-01 00:00:00',"
            " '2026-11-01 00:00:00')"
        ),
        {"rules": '{"match": "all", "rules": [{"field": "purchases", "op": "ever"}]}', "no": False},
    )
    db.session.commit()
    upgrade(revision="0019")
    names = dict(db.session.execute(text("SELECT name, key FROM segments")).all())
    assert names["مشتریان قهرمان"] is None
    assert names["مشتریان قهرمان (RFM)"] == "champions"
    db.session.commit()
