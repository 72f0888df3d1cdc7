"""Automations: saving and checking them, and what they will send (their plan).

The engine that makes their runs is app.occasions.engine; the trigger of each kind, as
SQL, is app.occasions.triggers. The caller commits.
"""

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import String, func, select, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.audience.rules import day_window
from app.contacts.models import Contact
from app.contacts.service import own_field_names
from app.coupons.service import LENGTH_MAX, LENGTH_MIN, PREFIX_MAX, prefix_fits, typed_prefix
from app.extensions import db
from app.messaging.audience import (
    AudienceChoice,
    AudienceError,
    audience_condition,
    audience_problem,
    check_choice,
)
from app.messaging.models import HOLDOUT_PERCENT_MAX, Campaign
from app.messaging.rendering import message_template, text_problems
from app.messaging.service import CampaignText
from app.messaging.text import COUPON
from app.occasions.calendar import BY_KEY, occurrences
from app.occasions.models import AUTOMATION_KINDS, COUNTS_FROM, Automation
from app.occasions.triggers import Run, and_range, runs_between, send_moment, welcomed
from app.persian import day_start, jalali_date, normalize_text, show_number, to_tehran
from app.sending.models import ProviderAccount
from app.sending.policy import load_policy
from app.types import utcnow

NAME_MAX = 100
TEXT_MAX = 1000  # as a campaign's text
DAYS_BEFORE_MAX = 60
DAYS_AFTER_MAX = 730  # two years of quiet
DELAY_MINUTES_MAX = 20_160  # two weeks
# The parts of an audience, as AudienceChoice and ``Automation.audience`` name them.
AUDIENCE_PARTS = ("lists", "tags", "segments", "exclude_lists", "exclude_segments")


class AutomationError(ValueError):
    """Why an automation cannot be saved, in Persian; ``field`` names the field at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass
class AutomationFields:
    """An automation as the owner fills it in (the form, the API)."""

    name: str
    kind: str
    body: str
    send_time: time = time(10, 0)
    days_before: int = 0
    days_after: int = 0
    delay_minutes: int = 0
    counts_from: str = "first_purchase"
    occasion_key: str | None = None
    audience: AudienceChoice = field(default_factory=lambda: AudienceChoice(everyone=True))
    provider_id: int | None = None
    sender: str | None = None
    coupon_prefix: str | None = None
    coupon_length: int | None = None
    holdout_percent: int = 0
    active: bool = False


def audience_choice(stored: Mapping | None) -> AudienceChoice:
    """An automation's stored audience; no list, tag or segment chosen: every contact."""
    stored = stored or {}
    parts = {part: tuple(int(i) for i in stored.get(part) or ()) for part in AUDIENCE_PARTS}
    everyone = not (parts["lists"] or parts["tags"] or parts["segments"])
    return AudienceChoice(everyone=everyone, **parts)


def stored_audience(choice: AudienceChoice) -> dict:
    """What ``Automation.audience`` keeps of a choice (everyone: no chosen groups)."""
    kept = {part: list(getattr(choice, part)) for part in AUDIENCE_PARTS}
    if choice.everyone:
        kept.update(lists=[], tags=[], segments=[])
    return {part: ids for part, ids in kept.items() if ids}


def _whole_in(value, low: int, high: int, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise AutomationError(
            _(
                "A whole number from %(min)s to %(max)s.",
                min=show_number(low),
                max=show_number(high),
            ),
            name,
        )


def check_automation(fields: AutomationFields, automation: Automation | None = None) -> None:
    """Refuse what could not be saved, with a Persian message naming the field.

    ``automation``: the one being edited (its own name is not taken).
    """
    name = normalize_text(fields.name)
    if not name:
        raise AutomationError(_("Give the automation a name."), "name")
    if len(name) > NAME_MAX:
        raise AutomationError(
            _("At most %(count)s characters.", count=show_number(NAME_MAX)), "name"
        )
    taken = select(Automation.id).where(Automation.name == name)
    if automation is not None and automation.id is not None:
        taken = taken.where(Automation.id != automation.id)
    if db.session.scalar(taken) is not None:
        raise AutomationError(
            _("Another automation is already called “%(name)s”.", name=name), "name"
        )
    if fields.kind not in AUTOMATION_KINDS:
        raise AutomationError(_("Unknown kind of automation."), "kind")
    body = (fields.body or "").strip()
    if not body:
        raise AutomationError(_("Write the message text."), "body")
    if len(body) > TEXT_MAX:
        raise AutomationError(
            _("At most %(count)s characters.", count=show_number(TEXT_MAX)), "body"
        )
    problems = text_problems(body)
    if problems:
        raise AutomationError(" ".join(problems), "body")
    if not isinstance(fields.send_time, time):
        raise AutomationError(_("Give a time of day such as 10:00."), "send_time")
    kind = fields.kind
    if kind in ("birthday", "anniversary", "occasion"):
        _whole_in(fields.days_before, 0, DAYS_BEFORE_MAX, "days_before")
    if kind == "winback":
        _whole_in(fields.days_after, 0, DAYS_AFTER_MAX, "days_after")
        if fields.days_after < 1:
            raise AutomationError(
                _("A win-back comes at least one day after the last purchase."), "days_after"
            )
    if kind == "followup":
        _whole_in(fields.days_after, 0, DAYS_AFTER_MAX, "days_after")
    if kind == "welcome":
        _whole_in(fields.delay_minutes, 0, DELAY_MINUTES_MAX, "delay_minutes")
    if kind in ("anniversary", "welcome") and fields.counts_from not in COUNTS_FROM:
        raise AutomationError(
            _("Count from the day the customer was added or from their first purchase."),
            "counts_from",
        )
    if kind == "occasion" and not _known_occasion(fields.occasion_key):
        raise AutomationError(_("Choose an occasion from the calendar."), "occasion_key")
    try:
        check_choice(fields.audience, dict.fromkeys(AUDIENCE_PARTS, "audience"))
    except AudienceError as error:
        raise AutomationError(str(error), "audience") from None
    _check_line(fields)
    _whole_in(fields.holdout_percent, 0, HOLDOUT_PERCENT_MAX, "holdout_percent")
    if COUPON in message_template(body).reads:
        prefix = typed_prefix(fields.coupon_prefix)
        if len(prefix) > PREFIX_MAX:
            raise AutomationError(
                _(
                    "The code prefix can have at most %(max)s letters and digits.",
                    max=show_number(PREFIX_MAX),
                ),
                "coupon_prefix",
            )
        if not prefix_fits(prefix):
            raise AutomationError(
                _("The code prefix may hold only Latin letters (A to Z) and digits."),
                "coupon_prefix",
            )
        length = fields.coupon_length
        if length is not None and not (
            isinstance(length, int) and LENGTH_MIN <= length <= LENGTH_MAX
        ):
            raise AutomationError(
                _(
                    "The random part of a code has from %(min)s to %(max)s characters.",
                    min=show_number(LENGTH_MIN),
                    max=show_number(LENGTH_MAX),
                ),
                "coupon_length",
            )


def _known_occasion(key: str | None) -> bool:
    """Is ``key`` an occasion of the calendar: a built-in one, or one the calendar
    names in the coming three years (the shop's own occasions too)?"""
    if not key:
        return False
    if key in BY_KEY:
        return True
    today = to_tehran(utcnow()).date()
    return any(item.key == key for item in occurrences(today, today + timedelta(days=3 * 366)))


def _check_line(fields: AutomationFields) -> None:
    """The account must exist and the sender be one of its lines (None: the default)."""
    if fields.provider_id is None:
        if fields.sender:
            raise AutomationError(
                _("Choose the provider account the sender line belongs to."), "provider_id"
            )
        return
    account = db.session.get(ProviderAccount, fields.provider_id)
    if account is None:
        raise AutomationError(_("There is no such provider account."), "provider_id")
    if fields.sender and fields.sender not in account.sender_lines:
        raise AutomationError(
            _("“%(sender)s” is not a line of this account.", sender=fields.sender), "sender"
        )


def save_automation(
    fields: AutomationFields, automation: Automation | None = None, user_id: int | None = None
) -> Automation:
    """Check and store an automation (a new one when ``automation`` is None)."""
    check_automation(fields, automation)
    if automation is None:
        automation = Automation(created_by_id=user_id)
    body = fields.body.strip()
    with_coupon = COUPON in message_template(body).reads
    automation.name = normalize_text(fields.name)
    automation.kind = fields.kind
    automation.body = body
    automation.send_time = fields.send_time.replace(second=0, microsecond=0, tzinfo=None)
    automation.days_before = fields.days_before or 0
    automation.days_after = fields.days_after or 0
    automation.delay_minutes = fields.delay_minutes or 0
    automation.counts_from = fields.counts_from or "first_purchase"
    automation.occasion_key = fields.occasion_key if fields.kind == "occasion" else None
    automation.audience = stored_audience(fields.audience)
    automation.provider_id = fields.provider_id
    automation.sender = fields.sender or None
    automation.coupon_prefix = (typed_prefix(fields.coupon_prefix) or None) if with_coupon else None
    automation.coupon_length = fields.coupon_length if with_coupon else None
    automation.holdout_percent = fields.holdout_percent
    automation.active = bool(fields.active)
    db.session.add(automation)
    db.session.flush()
    return automation


def fields_of(automation: Automation) -> AutomationFields:
    """An automation's fields, to fill a form with or to change some of."""
    return AutomationFields(
        name=automation.name,
        kind=automation.kind,
        body=automation.body,
        send_time=automation.send_time,
        days_before=automation.days_before,
        days_after=automation.days_after,
        delay_minutes=automation.delay_minutes,
        counts_from=automation.counts_from,
        occasion_key=automation.occasion_key,
        audience=audience_choice(automation.audience),
        provider_id=automation.provider_id,
        sender=automation.sender,
        coupon_prefix=automation.coupon_prefix,
        coupon_length=automation.coupon_length,
        holdout_percent=automation.holdout_percent,
        active=automation.active,
    )


def set_active(automation: Automation, active: bool) -> None:
    """Switch an automation on or off. Refused on while its audience names a list, tag
    or segment deleted since, or a segment whose rules need fixing."""
    if active:
        try:
            check_choice(audience_choice(automation.audience))
        except AudienceError as error:
            raise AutomationError(str(error), "audience") from None
    automation.active = active


def delete_automation(automation: Automation) -> None:
    """Delete an automation. The campaigns its runs made stay, with their messages and
    reports (``Campaign.automation_id`` becomes NULL through the foreign key); a run
    stopped half-way goes out as far as it got, as the engine lets such runs go."""
    db.session.execute(
        update(Campaign)
        .where(Campaign.automation_id == automation.id, Campaign.status == "preparing")
        .values(status="sending")
        .execution_options(synchronize_session=False)
    )
    db.session.delete(automation)
    db.session.flush()


def automations_waiting_for(kind: str, item_id: int) -> list[str]:
    """Names of the active automations whose audience names a list, tag or segment
    (``kind``: "list", "tag", "segment"): deleting it would change who they send to."""
    parts = {
        "list": ("lists", "exclude_lists"),
        "tag": ("tags",),
        "segment": ("segments", "exclude_segments"),
    }[kind]
    names = []
    for automation in db.session.scalars(
        select(Automation).where(Automation.active.is_(True)).order_by(Automation.name)
    ):
        stored = automation.audience or {}
        if any(item_id in (stored.get(part) or ()) for part in parts):
            names.append(automation.name)
    return names


def automation_waits(name: str, kind: str) -> str:
    """Why a list, tag or segment an active automation names cannot be deleted."""
    if kind == "list":
        return _(
            "Not now: the automation “%(name)s” sends to this list. Switch it off or"
            " change its audience first.",
            name=name,
        )
    if kind == "tag":
        return _(
            "Not now: the automation “%(name)s” sends to this tag. Switch it off or"
            " change its audience first.",
            name=name,
        )
    return _(
        "Not now: the automation “%(name)s” sends to this segment. Switch it off or"
        " change its audience first.",
        name=name,
    )


# What it will send ------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedSend:
    contact_id: int
    name: str
    mobile: str
    send_at: datetime  # UTC
    occurrence: str
    body: str


def _audience_of(automation: Automation):
    """The contacts an automation may send to (opted-out ones are never sent to)."""
    return audience_condition(audience_choice(automation.audience)) & Contact.opted_out_at.is_(None)


def _text_of(automation: Automation, run: Run, own_fields: list[str]) -> CampaignText:
    """The automation's text as a run's campaign prepares it (opt-out line, coupons, and
    whatever the text reads of the run itself: the campaign is made as the engine makes
    it, never stored)."""
    campaign = Campaign(
        body=automation.body,
        marketing=True,
        coupon_prefix=automation.coupon_prefix,
        coupon_length=automation.coupon_length,
        scheduled_at=run.due,
        automation=automation,  # no backref: the unsaved campaign stays out of the session
        occurrence=run.occurrence,
    )
    return CampaignText(campaign, load_policy(), own_fields)


def _range(start: date, end: date) -> tuple[datetime, datetime]:
    return day_start(start), day_start(end + timedelta(days=1))


def plan(
    automation: Automation, start: date, end: date, limit: int | None = None
) -> list[PlannedSend]:
    """Who will receive this automation's messages on the Tehran days start..end, when,
    and with which text (active or not), as the sending rules would time them: a run
    due outside the sending window, or on a quiet or mourning day, waits for it to open.

    Only what is still to be sent: from now on (a send whose moment has passed, sent or
    not, is left out). Contacts are read as they are now (a future purchase cannot be
    foreseen); opted-out ones are left out, as materialising would skip them.
    """
    policy = load_policy()
    now = utcnow()
    own_fields = own_field_names()
    audience = _audience_of(automation)
    planned: list[PlannedSend] = []
    for run in runs_between(automation, *_range(start, end)):
        moment = run.moment if run.again else None
        if moment is None and policy.window_opens(run.due) < now:
            continue
        text = _text_of(automation, run, own_fields)
        query = (
            select(Contact.id, Contact.first_name, Contact.last_name, Contact.mobile)
            .add_columns(*text.columns)
            .where(audience, run.condition)
            .order_by(Contact.id)
        )
        if moment is not None:
            # A welcome's moments come through the day: those still to come.
            query = query.add_columns(moment).where(
                moment >= now - timedelta(minutes=automation.delay_minutes)
            )
        if limit is not None:
            query = query.limit(limit - len(planned))
        for row in db.session.execute(query):
            contact_id, first_name, last_name, mobile, *values = row
            due = run.due
            if moment is not None:
                due = _aware(values.pop()) + timedelta(minutes=automation.delay_minutes)
            body = text.render(values, text.coupons.sample() if text.coupons else None)
            planned.append(
                PlannedSend(
                    contact_id,
                    f"{first_name} {last_name}".strip(),
                    mobile,
                    policy.window_opens(due),
                    run.occurrence,
                    body,
                )
            )
        if limit is not None and len(planned) >= limit:
            break
    planned.sort(key=lambda item: (item.send_at, item.contact_id))
    return planned


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _counts_from_column(automation: Automation):
    return Contact.created_at if automation.counts_from == "signup" else Contact.first_purchase_at


# A moment's hour in Tehran standard time (+03:30), as text: "2026-12-21 10". Tehran kept
# summer time (+04:30) until 2022, always from one whole hour to the next, so every
# moment of one such hour falls on the same Tehran day; which one, Python says exactly.
class _standard_hour(FunctionElement):
    type = String()
    inherit_cache = True


@compiles(_standard_hour, "sqlite")
def _standard_hour_sqlite(element, compiler, **kw):
    (column,) = element.clauses
    return f"strftime('%Y-%m-%d %H', {compiler.process(column, **kw)}, '+210 minutes')"


@compiles(_standard_hour, "postgresql")
def _standard_hour_postgresql(element, compiler, **kw):
    (column,) = element.clauses
    moment = compiler.process(column, **kw)
    return f"to_char(({moment} AT TIME ZONE 'UTC') + interval '210 minutes', 'YYYY-MM-DD HH24')"


def _tehran_days(column, *where) -> Counter:
    """How many contacts' ``column`` falls on each Tehran day (one grouped query: an
    index-only read of the column's index when ``where`` allows)."""
    hour = _standard_hour(column)
    rows = db.session.execute(
        select(hour, func.count())
        .select_from(Contact)
        .where(column.is_not(None), *where)
        .group_by(hour)
    ).all()
    days: Counter = Counter()
    for text, count in rows:
        standard = datetime.strptime(text, "%Y-%m-%d %H").replace(tzinfo=UTC)
        days[to_tehran(standard - _STANDARD_OFFSET).date()] += count
    return days


_STANDARD_OFFSET = timedelta(hours=3, minutes=30)


def _opted_out(audience, *columns) -> list:
    """``column`` of the audience's opted-out contacts (materialising skips them): they
    are few, read through their partial index, and taken off counts made from the
    indexes alone (with "not opted out" in it, a count would read every contact's row)."""
    query = select(*columns).where(audience, Contact.opted_out_at.is_not(None))
    return db.session.execute(query).all()


def _take_off(by_day: Counter, moments) -> None:
    """One fewer on the Tehran day of each moment counted."""
    for (moment,) in moments:
        day = to_tehran(moment).date() if moment else None
        if by_day.get(day):
            by_day[day] -= 1


def day_counts(automation: Automation, start: date, end: date) -> dict[date, int]:
    """How many contacts each day's run of the automation will send to (by SQL; no
    text is rendered), for the Tehran days start..end; days with none are left out.

    As the plan, only what is still to be sent: a run whose moment (as the sending rules
    time it) has passed is left out."""
    counts = _day_counts(automation, start, end)
    if automation.kind == "welcome":  # counted from now on already
        return counts
    policy, now = load_policy(), utcnow()
    return {
        day: count
        for day, count in counts.items()
        if policy.window_opens(send_moment(day, automation.send_time)) >= now
    }


def _day_counts(automation: Automation, start: date, end: date) -> dict[date, int]:
    audience = audience_condition(audience_choice(automation.audience))
    kind = automation.kind
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    counts: dict[date, int] = {}
    if kind == "birthday":
        # One pass over the birthday index: contacts per Jalali (month, day).
        def per_birthday(where) -> Counter:
            rows = db.session.execute(
                select(Contact.birth_jmonth, Contact.birth_jday, func.count())
                .where(where, Contact.birth_jmonth.is_not(None))
                .group_by(Contact.birth_jmonth, Contact.birth_jday)
            ).all()
            return Counter({(month, day): count for month, day, count in rows})

        by_day = per_birthday(audience)
        for month, day in _opted_out(audience, Contact.birth_jmonth, Contact.birth_jday):
            if month is not None:
                by_day[(month, day)] -= 1
        for day in days:
            target = day + timedelta(days=automation.days_before)
            total = sum(
                by_day[(month, number)]
                for month, first, last in day_window(target, 0)
                for number in range(first, last + 1)
            )
            if total:
                counts[day] = total
        return counts
    if kind == "anniversary":
        column = _counts_from_column(automation)
        by_day = _tehran_days(column, audience)
        _take_off(by_day, _opted_out(audience, column))
        # (Jalali month, day) → {Jalali year: contacts}
        years: dict[tuple[int, int], Counter] = defaultdict(Counter)
        for day, count in by_day.items():
            year, month, number = (int(part) for part in jalali_date(day).split("/"))
            years[(month, number)][year] += count
        for day in days:
            target = day + timedelta(days=automation.days_before)
            year = int(jalali_date(target)[:4])
            total = sum(
                count
                for month, first, last in day_window(target, 0)
                for number in range(first, last + 1)
                for past, count in years.get((month, number), {}).items()
                if past < year
            )
            if total:
                counts[day] = total
        return counts
    if kind == "winback":
        shift = timedelta(days=automation.days_after)
        column = Contact.last_purchase_at
        within = and_range(
            column, day_start(start - shift), day_start(end + timedelta(days=1) - shift)
        )
        by_day = _tehran_days(column, audience, within)
        _take_off(by_day, _opted_out(audience, column))
        return {day: by_day[day - shift] for day in days if by_day[day - shift] > 0}
    if kind == "occasion":
        runs = runs_between(automation, *_range(start, end))
        if runs:
            everyone = db.session.scalar(
                select(func.count())
                .select_from(Contact)
                .where(audience, Contact.opted_out_at.is_(None))
            )
            for run in runs:
                if everyone:
                    counts[run.day] = counts.get(run.day, 0) + everyone
        return counts
    # followup and welcome: only days whose purchases or signups have happened can have
    # anyone (a purchase days_after before them; a signup delay_minutes before them).
    today = to_tehran(utcnow()).date()
    if kind == "followup":
        last = today + timedelta(days=automation.days_after)
    else:
        last = to_tehran(utcnow() + timedelta(minutes=automation.delay_minutes)).date()
    if min(end, last) < start:
        return counts
    audience = audience & Contact.opted_out_at.is_(None)
    if kind == "welcome":  # those whose moment is still to come
        delay = timedelta(minutes=automation.delay_minutes)
        audience = audience & (_counts_from_column(automation) >= utcnow() - delay)
    for run in runs_between(automation, *_range(start, min(end, last))):
        count = db.session.scalar(
            select(func.count()).select_from(Contact).where(audience, run.condition)
        )
        if count:
            counts[run.day] = counts.get(run.day, 0) + count
    return counts


def planned_counts(start: date, end: date) -> dict[date, list[tuple[Automation, int]]]:
    """The calendar page's figures: for each Tehran day start..end, the active
    automations that would send on it and to how many contacts (as they are now).

    A run the sending rules hold back (a quiet or mourning day) is counted on the day its
    messages go out, as the plan times them."""
    policy = load_policy()
    found: dict[date, dict[Automation, int]] = defaultdict(Counter)
    for automation in db.session.scalars(
        select(Automation).where(Automation.active.is_(True)).order_by(Automation.id)
    ):
        if audience_problem(audience_choice(automation.audience)):
            continue
        for day, count in sorted(day_counts(automation, start, end).items()):
            goes_out = policy.window_opens(send_moment(day, automation.send_time))
            found[to_tehran(goes_out).date()][automation] += count
    return {
        day: list(counts.items()) for day, counts in sorted(found.items()) if start <= day <= end
    }


def next_send(automation: Automation) -> datetime | None:
    """When an active automation next sends to someone (UTC, as the sending rules time
    it), looking a year ahead; None when inactive or nobody is due."""
    if not automation.active or audience_problem(audience_choice(automation.audience)):
        return None
    now = utcnow()
    policy = load_policy()
    if automation.kind == "welcome":
        # The next contact whose welcome is still to come (one seek of the column's index).
        delay = timedelta(minutes=automation.delay_minutes)
        column = _counts_from_column(automation)
        first = db.session.scalar(
            select(func.min(column)).where(
                _audience_of(automation), column > now - delay, welcomed(automation)
            )
        )
        return policy.window_opens(_aware(first) + delay) if first else None
    start, end = _today_and_year(now)
    for day, _count in sorted(day_counts(automation, start, end).items()):
        due = send_moment(day, automation.send_time)
        if due > now:
            return policy.window_opens(due)
    return None


def _today_and_year(now: datetime) -> tuple[date, date]:
    today = to_tehran(now).date()
    return today, today + timedelta(days=366)


def runs(automation: Automation) -> list[Campaign]:
    """The campaigns an automation's runs made, the latest first."""
    return list(
        db.session.scalars(
            select(Campaign)
            .where(Campaign.automation_id == automation.id)
            .order_by(Campaign.scheduled_at.desc(), Campaign.id.desc())
        )
    )
