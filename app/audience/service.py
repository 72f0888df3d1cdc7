"""Segments: saving them, counting them, a sample of their contacts, their daily counts.

The rules and their SQL live in app.audience.rules; this module is what the pages, the
API, campaigns and the daily job call. The caller commits.
"""

from datetime import date
from functools import lru_cache

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, func, select

from app.audience.models import Segment, SegmentCount
from app.audience.rules import (
    Problem,
    RulesInvalid,
    check_rules,
    clean_rules,
    rules_condition,
    tehran_today,
)
from app.contacts.models import Contact
from app.extensions import db
from app.persian import normalize_text
from app.types import utcnow

__all__ = [
    "BUILTINS",
    "RulesInvalid",
    "check_rules",
    "rules_condition",
    "segment_condition",
    "segment_count",
    "segment_sample",
]

NAME_MAX = 100
DESCRIPTION_MAX = 500


CHAMPIONS_NAME = "مشتریان قهرمان"
CHAMPIONS_DESCRIPTION = (
    "از امتیازدهی شبانهٔ RFM: مشتریانی که جزو یک‌پنجمِ تازه‌ترین خریداران‌اند و از نظر "
    "تعداد خرید هم در دو پنجمِ بالای مشتریان قرار دارند. امتیازها هر شب پس از ساعت ۳ "
    "بامداد دوباره حساب می‌شوند؛ خرید امروز از فردا صبح اینجا به حساب می‌آید."
)


def _rule(field: str, op: str, value=None) -> dict:
    return {"field": field, "op": op, "value": value}


# The segments of a fresh install (migrations 0014 and 0019 store the same), by key. Their rules
# are ordinary rules: the owner edits the thresholds; a built-in cannot be deleted.
BUILTINS = (
    {
        "key": "new",
        "name": "مشتریان تازه",
        "description": "اولین خریدشان در ۳۰ روز گذشته بوده است؛ وقت خوش‌آمدگویی و دعوت به خرید دوم.",
        "rules": {"match": "all", "rules": [_rule("first_purchase", "within_last", 30)]},
    },
    {
        "key": "active",
        "name": "مشتریان فعال",
        "description": "در ۹۰ روز گذشته دست‌کم یک بار خرید کرده‌اند.",
        "rules": {"match": "all", "rules": [_rule("last_purchase", "within_last", 90)]},
    },
    {
        "key": "at_risk",
        "name": "در خطر ریزش",
        "description": "آخرین خریدشان ۹۰ تا ۱۷۹ روز پیش بوده است؛ پیش از آنکه از دست بروند "
        "یادشان کنید.",
        "rules": {
            "match": "all",
            "rules": [
                _rule("last_purchase", "at_least", 90),
                _rule("last_purchase", "within_last", 180),
            ],
        },
    },
    {
        "key": "lost",
        "name": "از دست رفته",
        "description": "شش ماه است خرید نکرده‌اند (آخرین خرید ۱۸۰ روز پیش یا پیش‌تر)؛ "
        "مخاطبان پیام «دلمون برات تنگ شده».",
        "rules": {"match": "all", "rules": [_rule("last_purchase", "at_least", 180)]},
    },
    {
        "key": "never_bought",
        "name": "هنوز خرید نکرده",
        "description": "مخاطبانی که هنوز هیچ خریدی برایشان ثبت نشده است.",
        "rules": {"match": "all", "rules": [_rule("purchases", "never")]},
    },
    {
        "key": "birthday_week",
        "name": "تولد این هفته",
        "description": "تولدشان از امروز تا ۶ روز آینده است (سال نو و ۳۰ اسفند هم حساب "
        "می‌شود)؛ برای تبریک تولد.",
        "rules": {"match": "all", "rules": [_rule("birthday", "within_next", 6)]},
    },
    {
        "key": "champions",
        "name": CHAMPIONS_NAME,
        "description": CHAMPIONS_DESCRIPTION,
        "rules": {"match": "all", "rules": [_rule("rfm", "in", ["champions"])]},
    },
)


class SegmentError(ValueError):
    """Why a segment cannot be saved or deleted: Persian problems, each with its path."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = problems

    @property
    def messages(self) -> list[str]:
        return [problem.message for problem in self.problems]


def ensure_builtin_segments() -> None:
    """Store the built-in segments that are missing (a fresh database, a test)."""
    present = set(db.session.scalars(select(Segment.key).where(Segment.key.is_not(None))))
    for builtin in BUILTINS:
        if builtin["key"] not in present:
            db.session.add(Segment(builtin=True, **builtin))
    db.session.flush()


def all_segments() -> list[Segment]:
    """Built-ins first (in their order), then the owner's own by name."""
    order = {b["key"]: n for n, b in enumerate(BUILTINS)}
    segments = db.session.scalars(select(Segment)).all()
    return sorted(segments, key=lambda s: (not s.builtin, order.get(s.key, 99), s.name))


def segment_condition(segment: Segment) -> ColumnElement[bool]:
    """The segment as one boolean SQL expression over Contact."""
    return rules_condition(segment.rules)


def segment_count(segment: Segment) -> int:
    """How many contacts match the segment now: one count query."""
    return db.session.scalar(_count_query(segment_condition(segment))) or 0


def live_count(segment: Segment) -> int | None:
    """The count for a page or the API: None when the rules need fixing (a list, tag or
    campaign they name was deleted), so the owner is told instead of shown a number."""
    if check_rules(segment.rules):
        return None
    return segment_count(segment)


@lru_cache(maxsize=512)
def _count_query(condition: ColumnElement[bool]):
    """The count statement of a (cached) condition: SQLAlchemy keeps its cache key."""
    return select(func.count()).select_from(Contact.__table__).where(condition)


def segment_sample(segment: Segment, limit: int = 20) -> list[Contact]:
    """Some matching contacts, the newest first."""
    query = (
        select(Contact).where(segment_condition(segment)).order_by(Contact.id.desc()).limit(limit)
    )
    return list(db.session.scalars(query))


def segment_history(segment: Segment, days: int = 30) -> list[SegmentCount]:
    """The recorded daily counts of the last ``days`` recorded days, oldest first."""
    rows = db.session.scalars(
        select(SegmentCount)
        .where(SegmentCount.segment_id == segment.id)
        .order_by(SegmentCount.counted_on.desc())
        .limit(days)
    ).all()
    return list(reversed(rows))


def _checked(name, description, rules, segment: Segment | None, strict: bool):
    problems = []
    name = name if isinstance(name, str) else ""
    description = description if isinstance(description, str) else ""
    if len(name) > NAME_MAX:
        problems.append(Problem("name", _("A segment's name has at most 100 characters.")))
    # NFKC may lengthen a rare ligature: checked as typed, stored clipped to the column.
    name = normalize_text(name.replace("\x00", ""))[:NAME_MAX]
    if not name:
        problems.append(Problem("name", _("Give the segment a name.")))
    elif not problems:
        same = db.session.scalar(select(Segment).where(Segment.name == name))
        if same is not None and same is not segment:
            message = _("Another segment is already named “%(name)s”.", name=name)
            problems.append(Problem("name", message))
    if len(description) > DESCRIPTION_MAX:
        message = _("A segment's description has at most 500 characters.")
        problems.append(Problem("description", message))
    description = description.replace("\x00", "").strip()
    clean, rule_problems = clean_rules(rules, strict)
    for problem in rule_problems:
        path = f"rules.{problem.path}" if problem.path else "rules"
        problems.append(Problem(path, problem.message))
    if problems:
        raise SegmentError(problems)
    return name, description, clean


def create_segment(name, description, rules, strict: bool = False) -> Segment:
    """A new segment of the owner's; SegmentError lists every problem, nothing stored.

    ``strict``: the rules' values are exactly the JSON types the API declares.
    """
    name, description, clean = _checked(name, description, rules, None, strict)
    segment = Segment(name=name, description=description, rules=clean, builtin=False)
    db.session.add(segment)
    db.session.flush()
    return segment


def update_segment(segment: Segment, name, description, rules, strict: bool = False) -> Segment:
    """Change a segment (a built-in's thresholds too); SegmentError when anything is wrong."""
    name, description, clean = _checked(name, description, rules, segment, strict)
    segment.name, segment.description, segment.rules = name, description, clean
    segment.updated_at = utcnow()
    db.session.flush()
    return segment


def campaigns_waiting_for(segment: Segment) -> list[str]:
    """Names of the campaigns yet to go out that name a segment: deleting it would send
    them to fewer contacts (or, a segment they keep away from, to those they meant to
    spare)."""
    campaigns = {entry.campaign.id: entry.campaign for entry in segment.campaign_entries}
    return [campaign.name for campaign in campaigns.values() if campaign.yet_to_go_out]


def delete_segment(segment: Segment) -> None:
    """Delete an owner's segment; campaigns that named it keep its name (a draft's goes
    to nobody for it). Refused for a built-in, or while a campaign yet to go out or an
    active automation names it."""
    if segment.builtin:
        message = _("A built-in segment cannot be deleted; change its rules instead.")
        raise SegmentError([Problem("", message)])
    waiting = campaigns_waiting_for(segment)
    if waiting:
        message = _(
            "Not now: the campaign “%(name)s” has yet to go out to this segment."
            " Cancel it, or wait until it is sent.",
            name=waiting[0],
        )
        raise SegmentError([Problem("", message)])
    from app.occasions.automations import automation_waits, automations_waiting_for

    automations = automations_waiting_for("segment", segment.id)
    if automations:
        raise SegmentError([Problem("", automation_waits(automations[0], "segment"))])
    db.session.delete(segment)
    db.session.flush()


def record_segment_counts(day: date | None = None) -> int:
    """Count each segment not yet counted today (Tehran) and store it; returns how many.

    Runs every scheduler tick; once a segment has today's row it is not counted again,
    so the work is done once a day.
    """
    day = day or tehran_today()
    counted = set(
        db.session.scalars(select(SegmentCount.segment_id).where(SegmentCount.counted_on == day))
    )
    done = 0
    for segment in db.session.scalars(select(Segment).order_by(Segment.id)).all():
        if segment.id in counted:
            continue
        try:
            count = segment_count(segment)
        except RulesInvalid:  # a list or campaign it names was deleted: nothing to count
            count = 0
        db.session.add(SegmentCount(segment_id=segment.id, counted_on=day, count=count))
        db.session.commit()
        done += 1
    return done
