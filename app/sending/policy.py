"""The owner's sending rules: the window for marketing SMS, quiet days, the daily cap, the
frequency cap, the opt-out line.

Operators and providers refuse or defer advertising SMS at night, and sources differ on
the exact hours, so the window is the owner's to set (08:00–22:00 Tehran by default).
On a quiet day (a weekday such as Friday, a Jalali date such as ۱۴۰۵/۰۱/۰۱, or a day of
mourning of the occasion calendar: Tasua, Ashura, … as the owner lists them on the
occasions page) the window stays shut all day; the daily cap bounds how many marketing
SMS leave in one Tehran day, so a mistake cannot spend the whole credit at once. Service
messages keep none of these. The engine, not the UI, enforces every rule here.

Where a rule comes from, strongest first: what the owner saved (the rules page, `vafa
rules set`), the deployment's settings (VAFA_SENDING_WINDOW, VAFA_QUIET_DAYS,
VAFA_DAILY_CAP, VAFA_FREQUENCY_CAP_DAYS, VAFA_OPTOUT_LINE, VAFA_OPTOUT_TEXT; README.md),
and the defaults of ``SendingPolicy``.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, true

from app.extensions import db
from app.persian import (
    TEHRAN,
    ascii_digits,
    jalali_date,
    normalize_text,
    parse_clock,
    parse_jalali_date,
    to_tehran,
)
from app.sending.models import Message, SendingSetting

MAX_FREQUENCY_CAP_DAYS = 365
MAX_OPTOUT_TEXT = 30  # characters: the line is added to every marketing SMS
MAX_DAILY_CAP = 10_000_000
MAX_QUIET_DATES = 100

# Weekdays as Python numbers them (Monday 0), in the Jalali week's order (Saturday
# first), with the names people type: Persian (read with spaces and ZWNJ or without)
# and English.
WEEKDAYS = {
    5: ("شنبه", "saturday", "sat"),
    6: ("یکشنبه", "sunday", "sun"),
    0: ("دوشنبه", "monday", "mon"),
    1: ("سه‌شنبه", "tuesday", "tue"),
    2: ("چهارشنبه", "wednesday", "wed"),
    3: ("پنج‌شنبه", "thursday", "thu"),
    4: ("جمعه", "friday", "fri"),
}


def _squeezed(name: str) -> str:
    return re.sub(r"[\s\u200c]", "", name).lower()


WEEKDAY_LABELS = {
    5: _l("Saturday"),
    6: _l("Sunday"),
    0: _l("Monday"),
    1: _l("Tuesday"),
    2: _l("Wednesday"),
    3: _l("Thursday"),
    4: _l("Friday"),
}
_WEEKDAY_NAMES = {_squeezed(name): day for day, names in WEEKDAYS.items() for name in names}


@dataclass(frozen=True)
class SendingPolicy:
    # A window that starts and ends at the same time means any hour of the day.
    window_start: time = time(8, 0)
    window_end: time = time(22, 0)
    # Days the window stays shut: weekdays (Monday 0 … Friday 4) and single days.
    quiet_weekdays: tuple[int, ...] = ()
    quiet_dates: tuple[date, ...] = ()
    # At most this many marketing SMS handed over per Tehran day, shop-wide (0: no cap).
    daily_cap: int = 0
    # At most one marketing SMS per contact in this many days (0: no cap).
    frequency_cap_days: int = 0
    optout_line: bool = True
    optout_text: str = "لغو۱۱"
    # Days of mourning (app.occasions: the occasions the owner counts as mourning), from
    # yesterday on: quiet like ``quiet_dates``, but the calendar's, not saved with the
    # rules. A set, as the dispatcher asks about a day on every claim.
    mourning_dates: frozenset[date] = field(default=frozenset(), compare=False, repr=False)

    def in_window(self, moment: datetime) -> bool:
        """May a marketing SMS leave at ``moment``? (A window may wrap past midnight.)"""
        local = to_tehran(moment)
        if self.is_quiet(local.date()):
            return False
        now = local.time()
        if self.window_start == self.window_end:
            return True
        if self.window_start < self.window_end:
            return self.window_start <= now < self.window_end
        return now >= self.window_start or now < self.window_end

    def window_opens(self, moment: datetime) -> datetime:
        """The next moment at or after ``moment`` when marketing SMS may leave."""
        if self.in_window(moment):
            return moment
        local = to_tehran(moment)
        # Within a day the window opens at its start or, wrapping past midnight, at 00:00;
        # quiet days are skipped. At most 6 quiet weekdays, so an open day always comes.
        for offset in range(len(self.quiet_dates) + len(self.mourning_dates) + 8):
            day = local.date() + timedelta(days=offset)
            for clock in (time(0), self.window_start):
                opening = datetime.combine(day, clock, tzinfo=TEHRAN)
                if opening > local and self.in_window(opening):
                    return opening
        raise ValueError("every day is quiet")

    def is_quiet(self, day: date) -> bool:
        """Is ``day`` (a Tehran day) one on which no marketing SMS may leave at all?"""
        return (
            day.weekday() in self.quiet_weekdays
            or day in self.quiet_dates
            or day in self.mourning_dates
        )

    def next_day_opens(self, moment: datetime) -> datetime:
        """When the window opens on a later Tehran day than ``moment``'s (the cap is full)."""
        midnight = datetime.combine(to_tehran(moment).date(), time(0), tzinfo=TEHRAN)
        return self.window_opens(midnight + timedelta(days=1))

    def with_optout(self, body: str) -> str:
        """The marketing text as sent: the opt-out line appended on a line of its own."""
        line = self.optout_text.strip()
        if not (self.optout_line and line):
            return body
        text = body.rstrip()
        return body if text.endswith(line) else f"{text}\n{line}"


def marketing_allowance(policy: SendingPolicy, now: datetime) -> int | None:
    """How many marketing SMS may be handed over at ``now``: 0 outside the window, on a
    quiet day or once the daily cap is reached; None for no limit.

    Counted: what was handed over since Tehran midnight (``ix_messages_marketing_handed_over_at``
    serves it: the index range of today's messages, never the whole table). A worker
    also counts the messages it has claimed and not yet handed over (``claim_queued``);
    other workers' claims it cannot see, so several workers claiming at once may
    together pass the cap by what the others hold; a shop with one worker never does.
    """
    if not policy.in_window(now):
        return 0
    if not policy.daily_cap:
        return None
    midnight = datetime.combine(to_tehran(now).date(), time(0), tzinfo=TEHRAN)
    handed_over = db.session.scalar(
        select(func.count())
        .select_from(Message)
        .where(Message.marketing == true(), Message.handed_over_at >= midnight)
    )
    return max(policy.daily_cap - handed_over, 0)


def within_allowance(candidates: list, allowance: int | None) -> list:
    """The candidates to claim (messages with a ``marketing`` flag, in order): every
    service message, and marketing ones up to ``allowance`` (None: all)."""
    if allowance is None:
        return candidates
    kept = []
    for message in candidates:
        if message.marketing:
            if allowance == 0:
                continue
            allowance -= 1
        kept.append(message)
    return kept


def _decode(kind, text: str):
    if kind is time:
        return time.fromisoformat(text)
    if kind is bool:
        return text == "1"
    if kind is date:
        return tuple(date.fromisoformat(day) for day in text.split(",") if day)
    if kind is tuple:
        return tuple(int(day) for day in text.split(",") if day)
    return kind(text)


def _encode(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, tuple):
        return ",".join(str(item) for item in value)
    return str(value)


_TYPES = {
    "window_start": time,
    "window_end": time,
    "quiet_weekdays": tuple,
    "quiet_dates": date,
    "daily_cap": int,
    "frequency_cap_days": int,
    "optout_line": bool,
    "optout_text": str,
}


def parse_window(text: str) -> tuple[time, time]:
    """The window typed as ``08:00-22:00`` (any dash, Persian digits too); else ValueError."""
    parts = re.split(r"[-–—]", ascii_digits(text))
    if len(parts) != 2:
        raise ValueError("not a window")
    return parse_clock(parts[0]), parse_clock(parts[1])


def parse_quiet_days(text: str) -> tuple[tuple[int, ...], tuple[date, ...]]:
    """Quiet days typed as ``جمعه، ۱۴۰۵/۰۱/۰۱`` (weekday names and Jalali dates, split by
    commas): the weekdays and the Gregorian days; else QuietDayError saying why."""
    parts = [part.strip() for part in re.split(r"[,،]", normalize_text(text))]
    # Counted before any is read: a pasted list of thousands is refused, not parsed.
    if len([part for part in parts if part]) > MAX_QUIET_DATES + len(WEEKDAYS):
        raise QuietDayError("too_many")
    weekdays: set[int] = set()
    days: set[date] = set()
    for word in parts:
        if not word:
            continue
        if _squeezed(word) in _WEEKDAY_NAMES:
            weekdays.add(_WEEKDAY_NAMES[_squeezed(word)])
            continue
        try:
            days.add(parse_jalali_date(word))
        except ValueError:
            raise QuietDayError("unknown", word) from None
    if len(weekdays) == len(WEEKDAYS):
        raise QuietDayError("every_weekday")
    if len(days) > MAX_QUIET_DATES:
        raise QuietDayError("too_many")
    ordered = sorted(weekdays, key=list(WEEKDAYS).index)
    return tuple(ordered), tuple(sorted(days))


class QuietDayError(ValueError):
    """Why typed quiet days were refused: ``part`` is neither a weekday nor a Jalali date
    (``"unknown"``), every weekday was made quiet (``"every_weekday"``: nothing would
    ever leave) or more than MAX_QUIET_DATES dates were listed (``"too_many"``)."""

    def __init__(self, kind: str, part: str = ""):
        super().__init__(kind, part)
        self.kind = kind
        self.part = part

    def reason(self) -> str:
        """The refusal in English, for `vafa rules set` and the settings at start."""
        if self.kind == "every_weekday":
            return "not all seven weekdays: marketing SMS would never be sent"
        if self.kind == "too_many":
            return f"at most {MAX_QUIET_DATES} dates"
        return f"{self.part!r} is neither a weekday nor a Jalali date"


def quiet_days_text(policy: SendingPolicy) -> str:
    """The quiet days as typed: ``جمعه,1405/01/01`` (the form `parse_quiet_days` reads)."""
    names = [WEEKDAYS[day][0] for day in policy.quiet_weekdays]
    return ",".join(names + [jalali_date(day) for day in policy.quiet_dates])


def parse_switch(text: str) -> bool:
    """on/off as a setting writes it: 1, true, yes, on or 0, false, no, off."""
    word = text.strip().lower()
    if word in {"1", "true", "yes", "on"}:
        return True
    if word in {"0", "false", "no", "off"}:
        return False
    raise ValueError("not on or off")


def default_policy(config: Mapping) -> SendingPolicy:
    """The rules before the owner saves any: the deployment's VAFA_* settings, where set.

    Raises ValueError naming the setting that cannot be read, so a typo stops the app
    at start (``create_app``) instead of every tick of the engine.
    """
    values: dict = {}
    readers = {
        "VAFA_SENDING_WINDOW": ("window", parse_window, "08:00-22:00"),
        "VAFA_QUIET_DAYS": ("quiet", parse_quiet_days, "جمعه,1405/01/01"),
        "VAFA_DAILY_CAP": ("daily_cap", _number_up_to(MAX_DAILY_CAP), f"0 to {MAX_DAILY_CAP}"),
        "VAFA_FREQUENCY_CAP_DAYS": (
            "frequency_cap_days",
            _number_up_to(MAX_FREQUENCY_CAP_DAYS),
            f"0 to {MAX_FREQUENCY_CAP_DAYS}",
        ),
        "VAFA_OPTOUT_LINE": ("optout_line", parse_switch, "on or off"),
        "VAFA_OPTOUT_TEXT": ("optout_text", _optout_text, "at most 30 characters"),
    }
    for setting, (rule, read, example) in readers.items():
        text = str(config.get(setting) or "").strip()
        if not text:
            continue
        try:
            values[rule] = read(text)
        except ValueError:
            message = f"{setting}={text!r} cannot be read: write it like {example}."
            raise ValueError(message) from None
    if "window" in values:
        values["window_start"], values["window_end"] = values.pop("window")
    if "quiet" in values:
        values["quiet_weekdays"], values["quiet_dates"] = values.pop("quiet")
    return SendingPolicy(**values)


def _number_up_to(maximum: int):
    """A reader of a whole number from 0 to ``maximum`` (Persian digits too)."""

    def read(text: str) -> int:
        number = int(ascii_digits(text))
        if not 0 <= number <= maximum:
            raise ValueError("out of range")
        return number

    return read


def _optout_text(text: str) -> str:
    if len(text) > MAX_OPTOUT_TEXT:
        raise ValueError("too long")
    return text


def deployment_policy() -> SendingPolicy:
    """The rules the deployment's settings give, read once at start (``default_policy``)."""
    return current_app.config["VAFA_SENDING_DEFAULTS"]


def saved_rules() -> set[str]:
    """The names of the rules the owner has saved (the others come from settings)."""
    return set(db.session.scalars(select(SendingSetting.key)))


def load_policy() -> SendingPolicy:
    """The rules in force: the saved ones over the deployment's, and the days of mourning
    of the occasion calendar."""
    from app.occasions.service import mourning_days

    stored = dict(db.session.execute(select(SendingSetting.key, SendingSetting.value)).all())
    values = {
        rule.name: _decode(_TYPES[rule.name], stored[rule.name])
        for rule in fields(SendingPolicy)
        if rule.name in stored and rule.name in _TYPES
    }
    return replace(deployment_policy(), **values, mourning_dates=mourning_days())


def save_policy(policy: SendingPolicy) -> None:
    """Store every rule (the days of mourning are the calendar's); the caller commits."""
    for key in _TYPES:
        db.session.merge(SendingSetting(key=key, value=_encode(getattr(policy, key))))


def forget_policy() -> None:
    """Drop what the owner saved: the deployment's settings apply again. Caller commits."""
    db.session.execute(delete(SendingSetting))
