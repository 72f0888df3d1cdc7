"""RFM scores: who bought how recently (R), how often (F) and for how much (M).

Every contact who ever bought gets three quintile scores, 1 (lowest fifth of the shop's
buyers) to 5 (highest fifth), relative to this shop's own customers, and one named group
(``RFM_GROUPS``) a marketer can send to. Contacts who never bought get no score: they
are a segment of their own (never bought), not the bottom of a ranking.

Scoring (``score_contacts``) is one INSERT … SELECT with NTILE(5) window functions
(and a DELETE for contacts who no longer count as buyers), run by the database over
the purchase summary every contact already holds (``last_purchase_at``,
``purchase_count``, ``total_spent``): nothing is read into Python, so a million
contacts take seconds (bench/rfm.py). It replaces the scores of ``contact_scores`` in
the caller's transaction, so readers see the old scores or the new ones, never a mix.
It runs each night after ``NIGHT_HOUR`` Tehran time (``score_if_due``, a scheduler
job) and whenever someone asks (the RFM page's button, ``vafa rfm score``).

Ties are never split. NTILE(5) alone deals rows of equal value into neighbouring
quintiles in whatever order the database meets them: of two customers who each bought
once, one could be F=1 and the other F=2. Here every run of equal values shares one
score, settled the way a shop owner reads it:

- Recency is counted in Tehran days (two purchases on the same day are equally recent),
  and all who last bought on one day share the *highest* quintile any of them reached:
  the latest buyers are always R=5, even when they are many (the day after importing
  one day's sales, say), and no one who bought today sits below a score nobody holds.
- Frequency and monetary value share the *lowest* quintile their run of equal values
  reached: one-time buyers, often half of a shop's customers, are always F=1 — the
  first-time buyers the ``new`` and ``promising`` groups stand for — and a higher score
  always means more purchases (or more money) than everyone below it.

So equal values always get equal scores, and a larger value never a smaller score.

The named groups come from the R×F segment map most RFM tutorials use (the ``seg_map``
of the widely copied "RFM customer segmentation" notebooks on Kaggle and GitHub, with
these ten keys; Putler's "RFM Analysis for Successful Customer Segmentation" describes
the same segments). As there, M is scored and shown but does not pick the group: what a
customer spends mostly follows how often they buy, and a grid of two scores keeps every
group explainable in one line. The map covers each of the 25 (R, F) cells exactly once
(``RFM_GRID``)::

         F=1             F=2             F=3             F=4        F=5
    R=5  new             pot. loyalist   pot. loyalist   champion   champion
    R=4  promising       pot. loyalist   pot. loyalist   loyal      loyal
    R=3  about to sleep  about to sleep  need attention  loyal      loyal
    R=2  hibernating     hibernating     at risk         at risk    can't lose
    R=1  hibernating     hibernating     at risk         at risk    can't lose
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, case, delete, false, func, literal, or_, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.audience.models_rfm import ContactScore, RfmRun
from app.contacts.models import Contact
from app.extensions import db
from app.persian import TEHRAN, to_tehran
from app.types import UTCDateTime, utcnow

log = logging.getLogger("vafa.rfm")

# The nightly scoring runs at the first scheduler tick after this hour, Tehran time:
# late enough that the day's purchases are in, early enough to be ready for the morning.
NIGHT_HOUR = time(3, 0)

# Two scorings at once (the nightly job and the button) wait for each other on
# PostgreSQL; SQLite lets one writer in at a time anyway.
_LOCK_KEY = 0x52464D  # "RFM"


@dataclass(frozen=True)
class RfmGroup:
    name: str  # lazy: translated when shown
    explanation: str


# Best customers first, as the RFM page lists them.
RFM_GROUPS: dict[str, RfmGroup] = {
    "champions": RfmGroup(
        _l("Champions"), _l("Bought recently and buy more often than almost anyone.")
    ),
    "loyal": RfmGroup(
        _l("Loyal"), _l("Buy often and still come back, if not always the most recently.")
    ),
    "potential_loyalists": RfmGroup(
        _l("Potential loyalists"),
        _l("Bought recently, and more than once: a little attention makes them loyal."),
    ),
    "new": RfmGroup(_l("New customers"), _l("Made their first purchase very recently.")),
    "promising": RfmGroup(
        _l("Promising"), _l("Bought once, not long ago: worth a reason to come back.")
    ),
    "need_attention": RfmGroup(
        _l("Need attention"),
        _l("Middling in how recently and how often they buy: left alone, they drift away."),
    ),
    "about_to_sleep": RfmGroup(
        _l("About to sleep"), _l("Bought once or twice, and nothing for a while.")
    ),
    "at_risk": RfmGroup(
        _l("At risk"), _l("Used to buy often, but have not come back for a long time.")
    ),
    "cant_lose_them": RfmGroup(
        _l("Can't lose them"),
        _l("Were among the most frequent buyers, and have not bought for a long time."),
    ),
    "hibernating": RfmGroup(_l("Hibernating"), _l("Bought little, and long ago.")),
}

# Each group's (R from, R to) and (F from, F to), both inclusive: the map of the docstring.
RFM_GRID: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "champions": ((5, 5), (4, 5)),
    "loyal": ((3, 4), (4, 5)),
    "potential_loyalists": ((4, 5), (2, 3)),
    "new": ((5, 5), (1, 1)),
    "promising": ((4, 4), (1, 1)),
    "need_attention": ((3, 3), (3, 3)),
    "about_to_sleep": ((3, 3), (1, 2)),
    "at_risk": ((1, 2), (3, 4)),
    "cant_lose_them": ((1, 2), (5, 5)),
    "hibernating": ((1, 2), (1, 2)),
}


def group_of(recency: int, frequency: int) -> str:
    """The group of an (R, F) pair, read from ``RFM_GRID`` (for tests and explanations)."""
    for key, ((r_from, r_to), (f_from, f_to)) in RFM_GRID.items():
        if r_from <= recency <= r_to and f_from <= frequency <= f_to:
            return key
    raise ValueError(f"no RFM group for R={recency}, F={frequency}")


class tehran_day(FunctionElement):
    """The Tehran calendar day of a stored UTC moment, the same on both databases.

    Iran has kept +03:30 all year since the autumn of 2022; the fixed offset makes SQLite
    (which knows no time zones) and PostgreSQL agree. A purchase from a summer before
    that, made within an hour of midnight, may count as its neighbouring day: recency is a
    ranking, and a day that long ago moves no one's score.
    """

    inherit_cache = True


@compiles(tehran_day)
def _tehran_day_sqlite(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)}, '+210 minutes')"


@compiles(tehran_day, "postgresql")
def _tehran_day_postgresql(element, compiler, **kw):
    moment = compiler.process(element.clauses, **kw)
    return f"CAST(({moment} AT TIME ZONE 'UTC') + INTERVAL '210 minutes' AS DATE)"


class unindexed(FunctionElement):
    """A column as it is, but out of the SQLite planner's reach (the unary ``+`` SQLite
    documents for this): it will not build an index over a million rows to look up a
    few thousand, and scans them in order instead. PostgreSQL plans the join by itself."""

    inherit_cache = True


@compiles(unindexed)
def _unindexed_sqlite(element, compiler, **kw):
    return f"+{compiler.process(element.clauses, **kw)}"


@compiles(unindexed, "postgresql")
def _unindexed_postgresql(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


def _group_case(recency, frequency) -> ColumnElement[str]:
    return case(
        *(
            (and_(recency.between(*r_range), frequency.between(*f_range)), literal(key))
            for key, (r_range, f_range) in RFM_GRID.items()
        )
    )


def _is_buyer() -> ColumnElement[bool]:
    """The contacts who get a score: they have bought.

    Most contacts have, and reading the whole table in order is far quicker than reaching
    seven rows in ten through an index: conditions on expressions keep the planner
    (SQLite's in particular) off the purchase indexes.
    """
    return and_(Contact.purchase_count + 0 > 0, tehran_day(Contact.last_purchase_at).is_not(None))


def _buyers():
    """Every contact who ever bought, read once: id, Tehran day of the last purchase,
    number of purchases, total spent."""
    return (
        select(
            Contact.id.label("contact_id"),
            tehran_day(Contact.last_purchase_at).label("day"),
            Contact.purchase_count.label("purchases"),
            Contact.total_spent.label("spent"),
        )
        .where(_is_buyer())
        .cte("buyers")
    )


def _quintiles(buyers, value, pick, name):
    """Each distinct ``value`` of the buyers with its quintile, ``pick`` (max or min) of the
    NTILE(5) its rows drew: a run of equal values shares one score.

    NTILE sorts only the value itself, not whole rows, and the database keeps one row per
    distinct value: a few thousand days, purchase counts or totals, however many buyers.
    """
    # Older first, fewer first, less first: quintile 5 is the most recent, most frequent,
    # biggest-spending fifth. Equal values may be dealt into neighbouring quintiles here...
    tiles = select(
        value.label("value"), func.ntile(5).over(order_by=value).label("tile")
    ).subquery()
    # ...and are brought back together.
    return (
        select(tiles.c.value, pick(tiles.c.tile).label("score")).group_by(tiles.c.value).cte(name)
    )


def _scores_select(now: datetime):
    """SELECT contact_id, recency, frequency, monetary, rfm_group, scored_at: the new rows."""
    buyers = _buyers()
    recency = _quintiles(buyers, buyers.c.day, func.max, "recency")
    frequency = _quintiles(buyers, buyers.c.purchases, func.min, "frequency")
    monetary = _quintiles(buyers, buyers.c.spent, func.min, "monetary")
    return (
        select(
            buyers.c.contact_id,
            recency.c.score,
            frequency.c.score,
            monetary.c.score,
            _group_case(recency.c.score, frequency.c.score),
            literal(now, UTCDateTime()),
        )
        .select_from(
            buyers.join(recency, recency.c.value == unindexed(buyers.c.day))
            .join(frequency, frequency.c.value == unindexed(buyers.c.purchases))
            .join(monetary, monetary.c.value == unindexed(buyers.c.spent))
        )
        # In key order: new rows are appended to the table, twice as quick as scattered.
        .order_by(buyers.c.contact_id)
    )


def score_contacts(now: datetime) -> int:
    """Score every contact who ever bought, replacing all earlier scores; the caller commits.

    Returns how many contacts were scored. Run twice, it gives the same scores (for the
    same purchases and day): the scoring is idempotent.

    Only what changed is written: a new buyer's row is added, a row whose scores moved is
    updated (INSERT … ON CONFLICT DO UPDATE … WHERE), and the rows of contacts who no
    longer count as buyers are deleted. Each night most scores stay as they were, and
    rewriting a million rows (PostgreSQL checking the foreign key of each) would take
    most of the time. So ``scored_at`` says since when a contact has held its scores;
    when everyone was last scored is the latest ``RfmRun``.
    """
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        # The sorts of a million buyers fit in memory instead of spilling to disk.
        db.session.execute(text("SET LOCAL work_mem = '64MB'"))
    table = ContactScore.__table__
    upsert = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)
    columns = ["contact_id", "recency", "frequency", "monetary", "rfm_group", "scored_at"]
    upsert = upsert.from_select(columns, _scores_select(now))
    new = upsert.excluded
    db.session.execute(
        upsert.on_conflict_do_update(
            index_elements=[table.c.contact_id],
            set_={name: new[name] for name in columns[1:]},
            # The group follows from R and F: no need to compare it.
            where=or_(
                table.c.recency != new.recency,
                table.c.frequency != new.frequency,
                table.c.monetary != new.monetary,
            ),
        )
    )
    buyer = select(Contact.id).where(Contact.id == table.c.contact_id, _is_buyer())
    db.session.execute(delete(table).where(~buyer.exists()))
    # Counted, not read from the cursor: psycopg reports no row count for INSERT … SELECT.
    scored = db.session.scalar(select(func.count()).select_from(table))
    db.session.add(RfmRun(scored_at=now, scored=scored))
    db.session.flush()
    return scored


def last_run() -> RfmRun | None:
    """The latest scoring, or None before the first."""
    return db.session.scalars(select(RfmRun).order_by(RfmRun.scored_at.desc()).limit(1)).first()


def last_night(now: datetime) -> datetime:
    """The latest ``NIGHT_HOUR`` in Tehran at or before ``now`` (an aware UTC moment)."""
    local = to_tehran(now)
    night = datetime.combine(local.date(), NIGHT_HOUR, tzinfo=TEHRAN)
    if night > local:
        night = datetime.combine(local.date() - timedelta(days=1), NIGHT_HOUR, tzinfo=TEHRAN)
    return night.astimezone(UTC)


def score_if_due(now: datetime | None = None) -> int:
    """The nightly job: score everyone unless that was done since last night's hour.

    The scheduler calls it every few seconds; only the first call after ``NIGHT_HOUR``
    (Tehran) scores, and so does the first one on a fresh install. A scoring on demand
    after the hour counts as tonight's. Commits; returns how many were scored (0: not due).
    """
    now = now or utcnow()
    run = last_run()
    if run is not None and run.scored_at >= last_night(now):
        return 0
    scored = score_contacts(now)
    db.session.commit()
    log.info("RFM: scored %d contacts", scored)
    return scored


def rfm_group_condition(groups: list[str]) -> ColumnElement[bool]:
    """Contacts (``Contact``) whose latest score puts them in one of these groups.

    For segment rules and campaign audiences: a condition on ``Contact`` that the database
    answers from the group index of ``contact_scores``. Unknown keys raise ValueError;
    no group at all matches no one.
    """
    unknown = [group for group in groups if group not in RFM_GROUPS]
    if unknown:
        raise ValueError(f"unknown RFM groups: {', '.join(map(str, unknown))}")
    if not groups:
        return false()
    return Contact.id.in_(
        select(ContactScore.contact_id).where(ContactScore.rfm_group.in_(sorted(set(groups))))
    )


@dataclass(frozen=True)
class GroupCount:
    key: str
    name: str
    explanation: str
    count: int
    share: float  # percent of the scored contacts


def group_counts() -> list[GroupCount]:
    """Every group, in ``RFM_GROUPS`` order, with its number of contacts and share."""
    counts = dict(
        db.session.execute(
            select(ContactScore.rfm_group, func.count()).group_by(ContactScore.rfm_group)
        ).all()
    )
    total = sum(counts.values())
    return [
        GroupCount(
            key,
            group.name,
            group.explanation,
            counts.get(key, 0),
            100 * counts.get(key, 0) / total if total else 0.0,
        )
        for key, group in RFM_GROUPS.items()
    ]
