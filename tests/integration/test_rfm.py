"""RFM scores: quintiles worked out by hand, ties kept together, the named groups, the
page and its button, ``vafa rfm score``, and the nightly rule.

The shop below has ten buyers and one contact who never bought. With ten buyers NTILE(5)
deals two to each quintile: positions 1–2 → 1, 3–4 → 2, 5–6 → 3, 7–8 → 4, 9–10 → 5.

Recency (Tehran days, oldest first)::

    A 400 days ago   pos 1  → 1
    B 350            pos 2  → 1
    C 300            pos 3  → 2
    D, E 200         pos 4–5 → NTILE 2 and 3; same Tehran day → both 3 (the higher)
                     (D bought at 00:30 Tehran, which is still the day before in UTC)
    F 90             pos 6  → 3
    G 40             pos 7  → 4
    H 20             pos 8  → 4
    I, J today       pos 9–10 → 5 (I at 00:30 Tehran, J at noon)

Frequency (purchases, fewest first)::

    B D G I: 1 purchase   pos 1–4 → NTILE 1, 1, 2, 2; one run → all 1 (the lower)
    E H:     2            pos 5–6 → 3
    C:       3            pos 7   → 4
    J:       5            pos 8   → 4
    F:       8            pos 9   → 5
    A:      12            pos 10  → 5

Monetary (Rials, least first)::

    B 1M → 1;  D, I 2M (pos 2–3: NTILE 1 and 2) → both 1;  G 3M → 2;
    E, H 5M (pos 5–6) → 3;  C 9M → 4;  J 20M → 4;  F 30M → 5;  A 50M → 5

Groups from (R, F): A (1,5) can't lose them · B (1,1) hibernating · C (2,4) at risk ·
D (3,1) about to sleep · E (3,3) need attention · F (3,5) loyal · G (4,1) promising ·
H (4,3) potential loyalists · I (5,1) new · J (5,4) champions. One in each group.
"""

import random
from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import gettext
from integration_support import PASSWORD, STAFF_EMAIL, in_locale, log_in, page_text, row_text
from sqlalchemy import func, select

from app.audience import rfm
from app.audience.models_rfm import ContactScore, RfmRun
from app.cli import main as vafa
from app.contacts.models import Contact
from app.extensions import db
from app.jobs import SCHEDULER_JOBS, run_job

# 12:30 in Tehran, 1 December 2026 (۱۴۰۵/۰۹/۱۰).
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
M = 1_000_000  # Rials

EXPECTED = {
    # name: (recency, frequency, monetary, group)
    "A": (1, 5, 5, "cant_lose_them"),
    "B": (1, 1, 1, "hibernating"),
    "C": (2, 4, 4, "at_risk"),
    "D": (3, 1, 1, "about_to_sleep"),
    "E": (3, 3, 3, "need_attention"),
    "F": (3, 5, 5, "loyal"),
    "G": (4, 1, 2, "promising"),
    "H": (4, 3, 3, "potential_loyalists"),
    "I": (5, 1, 1, "new"),
    "J": (5, 4, 4, "champions"),
}


def days_ago(days: int, hour: int = 12) -> datetime:
    """``hour`` o'clock UTC, ``days`` Tehran days before NOW's day."""
    day = NOW.date() - timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def shop(make_contact) -> dict[str, int]:
    """The ten buyers of the docstring and K, who never bought: name → contact id."""
    buyers = {
        # name: (last purchase, purchases, Rials)
        "A": (days_ago(400), 12, 50 * M),
        "B": (days_ago(350), 1, 1 * M),
        "C": (days_ago(300), 3, 9 * M),
        # 21:00 UTC the day before is 00:30 in Tehran: the same Tehran day as E.
        "D": (days_ago(201, hour=21), 1, 2 * M),
        "E": (days_ago(200, hour=10), 2, 5 * M),
        "F": (days_ago(90), 8, 30 * M),
        "G": (days_ago(40), 1, 3 * M),
        "H": (days_ago(20), 2, 5 * M),
        "I": (days_ago(1, hour=21), 1, 2 * M),  # 00:30 today in Tehran
        "J": (days_ago(0, hour=8), 5, 20 * M),  # 11:30 in Tehran
    }
    ids = {}
    for number, (name, (last, purchases, spent)) in enumerate(buyers.items()):
        contact = make_contact(
            f"0912000{number:04d}",
            first_name=name,
            first_purchase_at=last - timedelta(days=30 * (purchases - 1)),
            last_purchase_at=last,
            purchase_count=purchases,
            total_spent=spent,
        )
        ids[name] = contact.id
    ids["K"] = make_contact("09129999999", first_name="K").id
    return ids


def scores(shop: dict[str, int]) -> dict[str, tuple]:
    db.session.expire_all()
    names = {contact_id: name for name, contact_id in shop.items()}
    return {
        names[score.contact_id]: (score.recency, score.frequency, score.monetary, score.rfm_group)
        for score in db.session.scalars(select(ContactScore))
    }


def runs() -> int:
    return db.session.scalar(select(func.count()).select_from(RfmRun))


# Scoring ------------------------------------------------------------------------------


def test_quintiles_and_groups_come_out_as_worked_out_by_hand(shop):
    assert rfm.score_contacts(NOW) == 10
    db.session.commit()
    assert scores(shop) == EXPECTED  # K, who never bought, has no score
    assert {score.scored_at for score in db.session.scalars(select(ContactScore))} == {NOW}


def test_every_r_f_pair_falls_in_exactly_one_group():
    for recency in range(1, 6):
        for frequency in range(1, 6):
            matching = [
                key
                for key, ((r_from, r_to), (f_from, f_to)) in rfm.RFM_GRID.items()
                if r_from <= recency <= r_to and f_from <= frequency <= f_to
            ]
            assert len(matching) == 1, (recency, frequency, matching)
    assert list(rfm.RFM_GRID) == list(rfm.RFM_GROUPS)
    assert rfm.group_of(5, 1) == "new" and rfm.group_of(1, 5) == "cant_lose_them"


def test_equal_values_never_split_however_many_share_them(make_contact):
    """Seven one-time buyers on one day and three who came back: NTILE alone would deal
    the seven over quintiles 1–4; they all get R=5 and F=1, the three get F=4."""
    for number in range(10):
        make_contact(
            f"0912100{number:04d}",
            last_purchase_at=NOW - timedelta(minutes=number),
            purchase_count=1 if number < 7 else 2,
            total_spent=M,
        )
    rfm.score_contacts(NOW)
    db.session.commit()
    rows = db.session.execute(
        select(Contact.purchase_count, ContactScore.recency, ContactScore.frequency)
        .join(ContactScore, ContactScore.contact_id == Contact.id)
        .order_by(Contact.purchase_count)
    ).all()
    assert [tuple(row) for row in rows] == [(1, 5, 1)] * 7 + [(2, 5, 4)] * 3
    # Everyone spent the same: one monetary score for all.
    assert set(db.session.scalars(select(ContactScore.monetary))) == {1}
    groups = set(db.session.scalars(select(ContactScore.rfm_group)))
    assert groups == {"new", "champions"}


def ntile_scores(values: list, pick) -> dict:
    """What NTILE(5) over ``values`` (ascending) gives each distinct value, its run of
    equal values brought together by ``pick`` (max or min): the rule, in Python."""
    ordered = sorted(values)
    size, larger = divmod(len(ordered), 5)
    tiles: dict = {}
    position = 0
    for tile in range(1, 6):
        for _ in range(size + (1 if tile <= larger else 0)):
            tiles.setdefault(ordered[position], []).append(tile)
            position += 1
    return {value: pick(drawn) for value, drawn in tiles.items()}


def test_a_shop_full_of_ties_is_scored_as_ntile_with_ties_kept_together(make_contact):
    rng = random.Random(9)
    for number in range(137):
        day = NOW - timedelta(days=rng.choice([0, 0, 0, 1, 2, 3, 7, 30, 90, 365]))
        make_contact(
            f"0912200{number:04d}",
            last_purchase_at=day - timedelta(minutes=rng.randrange(600)),
            purchase_count=rng.choice([1, 1, 1, 1, 2, 2, 3, 5, 9]),
            total_spent=rng.choice([1, 2, 2, 3, 5, 8]) * M,
        )
    assert rfm.score_contacts(NOW) == 137
    db.session.commit()
    rows = db.session.execute(
        select(Contact, ContactScore).join(ContactScore, ContactScore.contact_id == Contact.id)
    ).all()
    days = [(c.last_purchase_at + timedelta(hours=3, minutes=30)).date() for c, _ in rows]
    recency = ntile_scores(days, max)
    frequency = ntile_scores([c.purchase_count for c, _ in rows], min)
    monetary = ntile_scores([c.total_spent for c, _ in rows], min)
    for (contact, score), day in zip(rows, days, strict=True):
        assert (score.recency, score.frequency, score.monetary) == (
            recency[day],
            frequency[contact.purchase_count],
            monetary[contact.total_spent],
        )
        assert score.rfm_group == rfm.group_of(score.recency, score.frequency)


def scored_at(shop: dict[str, int]) -> dict[str, datetime]:
    names = {contact_id: name for name, contact_id in shop.items()}
    rows = db.session.execute(select(ContactScore.contact_id, ContactScore.scored_at))
    return {names[contact_id]: moment for contact_id, moment in rows}


def test_scoring_again_replaces_every_score(shop):
    rfm.score_contacts(NOW)
    db.session.commit()
    # An hour later nothing has changed: the same scores, rows left alone, one more run.
    assert rfm.score_contacts(NOW + timedelta(hours=1)) == 10
    db.session.commit()
    assert scores(shop) == EXPECTED
    assert set(scored_at(shop).values()) == {NOW}
    assert runs() == 2
    assert rfm.last_run().scored_at == NOW + timedelta(hours=1)

    # The next day K buys for the first time, A is deleted and B comes back.
    later = NOW + timedelta(days=1)
    k = db.session.get(Contact, shop["K"])
    k.first_purchase_at = k.last_purchase_at = later
    k.purchase_count, k.total_spent = 1, 4 * M
    b = db.session.get(Contact, shop["B"])
    b.last_purchase_at, b.purchase_count, b.total_spent = later, 2, 2 * M
    db.session.delete(db.session.get(Contact, shop["A"]))
    db.session.commit()

    assert rfm.score_contacts(later) == 10
    db.session.commit()
    # Recency: C p1 → 1; D, E p2–3 → 2; F p4 → 2; G p5, H p6 → 3; I, J p7–8 → 4;
    # B, K p9–10 → 5. Frequency: D G I K (once) → 1; B E H (twice, p5–7) → 3; C → 4;
    # J, F → 5. Monetary: B D I 2M → 1; G 3M → 2; K 4M → 3; E H 5M (p6–7) → 3;
    # C 9M → 4; J 20M, F 30M → 5.
    assert scores(shop) == {
        "B": (5, 3, 1, "potential_loyalists"),
        "C": (1, 4, 4, "at_risk"),
        "D": (2, 1, 1, "hibernating"),
        "E": (2, 3, 3, "at_risk"),
        "F": (2, 5, 5, "cant_lose_them"),
        "G": (3, 1, 2, "about_to_sleep"),
        "H": (3, 3, 3, "need_attention"),
        "I": (4, 1, 1, "promising"),
        "J": (4, 5, 5, "loyal"),
        "K": (5, 1, 3, "new"),
    }
    # Everyone's recency moved a step down: every row carries the new scoring.
    assert set(scored_at(shop).values()) == {later}
    assert runs() == 3


def test_a_contact_who_no_longer_counts_as_a_buyer_loses_the_score(shop):
    rfm.score_contacts(NOW)
    db.session.commit()
    # Their purchases were deleted (a refund, a mistaken import).
    g = db.session.get(Contact, shop["G"])
    g.first_purchase_at = g.last_purchase_at = None
    g.purchase_count = g.total_spent = 0
    db.session.commit()
    assert rfm.score_contacts(NOW + timedelta(hours=1)) == 9
    db.session.commit()
    assert "G" not in scores(shop) and len(scores(shop)) == 9


def test_a_deleted_contact_takes_its_score_with_it(shop):
    rfm.score_contacts(NOW)
    db.session.commit()
    db.session.delete(db.session.get(Contact, shop["J"]))
    db.session.commit()
    assert "J" not in scores(shop) and len(scores(shop)) == 9


def test_the_group_condition_selects_contacts_by_their_group(shop):
    rfm.score_contacts(NOW)
    db.session.commit()

    def names(groups):
        return set(
            db.session.scalars(select(Contact.first_name).where(rfm.rfm_group_condition(groups)))
        )

    assert names(["new", "champions"]) == {"I", "J"}
    assert names(["hibernating"]) == {"B"}
    assert names([]) == set()
    assert names(list(rfm.RFM_GROUPS)) == set(EXPECTED)  # never K
    with pytest.raises(ValueError, match="lost"):
        rfm.rfm_group_condition(["lost"])


def test_no_buyer_no_score(make_contact):
    make_contact("09121234567")
    assert rfm.score_contacts(NOW) == 0
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(ContactScore)) == 0
    assert runs() == 1


# The nightly rule -----------------------------------------------------------------------


def tehran(day: int, hour: int, minute: int = 0) -> datetime:
    """December ``day`` 2026 at hour:minute in Tehran (+03:30), as UTC."""
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC) - timedelta(hours=3, minutes=30)


def nightly():
    (job,) = [job for job in SCHEDULER_JOBS if job.id == "score_rfm_nightly"]
    return job


def test_scores_once_a_night_after_three_in_tehran(app, shop, time_machine):
    job = nightly()
    # A fresh install scores at its first tick, whatever the hour.
    time_machine.move_to(tehran(1, 1, 0), tick=False)
    assert run_job(app, job) == 10
    assert runs() == 1
    # At 02:59 the scores of 01:00 are newer than last night's 03:00: nothing to do.
    time_machine.move_to(tehran(1, 2, 59), tick=False)
    assert run_job(app, job) == 0
    # The first tick after 03:00 scores, the next ones don't, all day long.
    time_machine.move_to(tehran(1, 3, 1), tick=False)
    assert run_job(app, job) == 10
    for hour in (3, 12, 23):
        time_machine.move_to(tehran(1, hour, 30), tick=False)
        assert run_job(app, job) == 0
    assert runs() == 2
    # The next night, again once.
    time_machine.move_to(tehran(2, 0, 30), tick=False)
    assert run_job(app, job) == 0
    time_machine.move_to(tehran(2, 3, 0), tick=False)
    assert run_job(app, job) == 10
    assert run_job(app, job) == 0
    assert runs() == 3
    assert rfm.last_run().scored_at == tehran(2, 3, 0)


def test_scoring_on_demand_after_three_counts_as_tonights(app, shop, time_machine):
    time_machine.move_to(tehran(1, 9, 0), tick=False)
    rfm.score_contacts(datetime.now(UTC))
    db.session.commit()
    time_machine.move_to(tehran(1, 10, 0), tick=False)
    assert run_job(app, nightly()) == 0
    time_machine.move_to(tehran(2, 3, 15), tick=False)
    assert run_job(app, nightly()) == 10


def test_a_shop_without_buyers_is_scored_once_a_night_too(app, make_contact, time_machine):
    make_contact("09121234567")
    time_machine.move_to(tehran(1, 4, 0), tick=False)
    for _ in range(3):
        assert run_job(app, nightly()) == 0
    assert runs() == 1


def test_last_night_is_the_latest_three_oclock_in_tehran():
    assert rfm.last_night(tehran(2, 2, 59)) == tehran(1, 3, 0)
    assert rfm.last_night(tehran(2, 3, 0)) == tehran(2, 3, 0)
    assert rfm.last_night(tehran(2, 23, 59)) == tehran(2, 3, 0)


# The page, its button and the command ------------------------------------------------------


def test_the_page_shows_each_group_with_its_count_share_and_explanation(
    logged_in, shop, time_machine
):
    time_machine.move_to(NOW)  # the day the page names, whenever the test runs
    page = logged_in.get("/audience/rfm")
    assert page.status_code == 200
    assert '<html lang="fa" dir="rtl">' in page.text
    assert in_locale("fa", lambda: gettext("Not scored yet.")) in page_text(page)

    response = logged_in.post("/audience/rfm/score", follow_redirects=True)
    assert response.status_code == 200
    text = page_text(response)
    assert in_locale("fa", lambda: gettext("Scored again: %(count)s customers.", count="۱۰")) in (
        text
    )
    for key, group in rfm.RFM_GROUPS.items():
        name = in_locale("fa", lambda group=group: group.name)
        explanation = in_locale("fa", lambda group=group: group.explanation)
        english = in_locale("en", lambda group=group: f"{group.name} {group.explanation}")
        assert f"{name} {explanation}" != english  # translated
        row = row_text(response, f'data-group="{key}"')
        assert row.startswith(f"{name} {explanation}")
        assert "۱" in row.split(explanation)[1] and "۱۰٫۰٪" in row
    assert "قهرمان‌ها" in text and "نباید از دستشان داد" in text
    # When, in Jalali and Tehran time: 1 December 2026 (NOW) is 10 Azar 1405.
    assert "۱۴۰۵/۰۹/۱۰" in text
    assert len(scores(shop)) == 10


def test_the_page_reads_in_english_too(english, shop):
    english.post("/audience/rfm/score")
    text = page_text(english.get("/audience/rfm"))
    assert "Champions" in text and "Can't lose them" in text and "10.0%" in text
    assert "Last scored" in text and ": 10 customers." in text


def test_the_button_needs_the_forms_csrf_token(app, logged_in, shop):
    app.config["WTF_CSRF_ENABLED"] = True
    response = logged_in.post("/audience/rfm/score")
    assert response.status_code == 400
    assert runs() == 0
    page = logged_in.get("/audience/rfm")
    assert 'name="csrf_token"' in page.text and 'action="/audience/rfm/score"' in page.text


def test_staff_see_the_groups_and_score_again(app, client, staff_user, shop):
    log_in(client, STAFF_EMAIL, PASSWORD)
    assert client.get("/audience/rfm").status_code == 200
    assert client.post("/audience/rfm/score").status_code == 302
    assert runs() == 1


def test_the_command_scores_everyone(app, shop):
    result = app.test_cli_runner().invoke(vafa, ["rfm", "score"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Scored 10 contacts in ")
    assert "champions\t1" in result.output and "hibernating\t1" in result.output
    # Scored now rather than at NOW: the ranking, and so every score, is the same.
    assert scores(shop) == EXPECTED
