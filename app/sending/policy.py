"""The owner's sending rules: the window for marketing SMS, the frequency cap, the opt-out line.

Operators and providers refuse or defer advertising SMS at night, and sources differ on
the exact hours, so the window is the owner's to set (08:00–22:00 Tehran by default).
The engine, not the UI, enforces every rule here.

Where a rule comes from, strongest first: what the owner saved (the rules page, `vafa
rules set`), the deployment's settings (VAFA_SENDING_WINDOW, VAFA_FREQUENCY_CAP_DAYS,
VAFA_OPTOUT_LINE, VAFA_OPTOUT_TEXT; README.md), and the defaults of ``SendingPolicy``.
"""

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, time, timedelta

from flask import current_app
from sqlalchemy import delete, select

from app.extensions import db
from app.persian import TEHRAN, ascii_digits, parse_clock, to_tehran
from app.sending.models import SendingSetting

MAX_FREQUENCY_CAP_DAYS = 365
MAX_OPTOUT_TEXT = 30  # characters: the line is added to every marketing SMS


@dataclass(frozen=True)
class SendingPolicy:
    # A window that starts and ends at the same time means any hour of the day.
    window_start: time = time(8, 0)
    window_end: time = time(22, 0)
    # At most one marketing SMS per contact in this many days (0: no cap).
    frequency_cap_days: int = 0
    optout_line: bool = True
    optout_text: str = "لغو۱۱"

    def in_window(self, moment: datetime) -> bool:
        """May a marketing SMS leave at ``moment``? (A window may wrap past midnight.)"""
        now = to_tehran(moment).time()
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
        opening = datetime.combine(local.date(), self.window_start, tzinfo=TEHRAN)
        if opening <= local:
            opening += timedelta(days=1)
        return opening

    def with_optout(self, body: str) -> str:
        """The marketing text as sent: the opt-out line appended on a line of its own."""
        if not self.optout_line or not self.optout_text.strip():
            return body
        if body.rstrip().endswith(self.optout_text.strip()):
            return body
        return f"{body.rstrip()}\n{self.optout_text.strip()}"


def _decode(kind, text: str):
    if kind is time:
        return time.fromisoformat(text)
    if kind is bool:
        return text == "1"
    return kind(text)


def _encode(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return str(value)


_TYPES = {
    "window_start": time,
    "window_end": time,
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
        "VAFA_FREQUENCY_CAP_DAYS": ("frequency_cap_days", _cap_days, "0 to 365"),
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
    return SendingPolicy(**values)


def _cap_days(text: str) -> int:
    days = int(ascii_digits(text))
    if not 0 <= days <= MAX_FREQUENCY_CAP_DAYS:
        raise ValueError("out of range")
    return days


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
    stored = dict(db.session.execute(select(SendingSetting.key, SendingSetting.value)).all())
    values = {
        field.name: _decode(_TYPES[field.name], stored[field.name])
        for field in fields(SendingPolicy)
        if field.name in stored
    }
    return replace(deployment_policy(), **values)


def save_policy(policy: SendingPolicy) -> None:
    """Store every rule; the caller commits."""
    for key, value in asdict(policy).items():
        db.session.merge(SendingSetting(key=key, value=_encode(value)))


def forget_policy() -> None:
    """Drop what the owner saved: the deployment's settings apply again. Caller commits."""
    db.session.execute(delete(SendingSetting))
