"""The owner's sending rules: the window for marketing SMS, the frequency cap, the opt-out line.

Operators and providers refuse or defer advertising SMS at night, and sources differ on
the exact hours, so the window is the owner's to set (08:00–22:00 Tehran by default).
The engine, not the UI, enforces every rule here.
"""

from dataclasses import asdict, dataclass, fields
from datetime import datetime, time, timedelta

from sqlalchemy import select

from app.extensions import db
from app.persian import TEHRAN, to_tehran
from app.sending.models import SendingSetting


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


def load_policy() -> SendingPolicy:
    stored = dict(db.session.execute(select(SendingSetting.key, SendingSetting.value)).all())
    values = {
        field.name: _decode(_TYPES[field.name], stored[field.name])
        for field in fields(SendingPolicy)
        if field.name in stored
    }
    return SendingPolicy(**values)


def save_policy(policy: SendingPolicy) -> None:
    """Store every rule; the caller commits."""
    for key, value in asdict(policy).items():
        db.session.merge(SendingSetting(key=key, value=_encode(value)))
