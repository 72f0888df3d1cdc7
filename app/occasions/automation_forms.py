"""The automation editor's form: the campaign composer's audience, text and coupon fields
(app.messaging.forms.MessageForm), and each kind's own timing."""

import re
from datetime import time

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from app.messaging.forms import MessageForm
from app.occasions.automations import (
    DELAY_MINUTES_MAX,
    NAME_MAX,
    AutomationFields,
)
from app.occasions.models import AUTOMATION_KINDS, COUNTS_FROM
from app.persian import ascii_digits, parse_clock, show_digits, show_number

# A time of day as typed (hours:minutes), whether or not the clock has it.
_CLOCK_SHAPED = re.compile(r"^\s*\d{1,2}\s*:\s*\d{2}\s*$")

# The kinds each timing field belongs to (the editor shows it for those only).
FIELD_KINDS = {
    "send_time": ("birthday", "anniversary", "occasion", "winback", "followup"),
    "days_before": ("birthday", "anniversary", "occasion"),
    "days_after": ("winback", "followup"),
    "delay": ("welcome",),
    "counts_from": ("anniversary", "welcome"),
    "occasion_key": ("occasion",),
}
# A welcome's wait, typed in one of these units.
DELAY_UNITS = {"minutes": 1, "hours": 60, "days": 1440}
# Where the service's AutomationError.field is shown on this form.
FORM_FIELD = {"delay_minutes": "delay", "provider_id": "route", "sender": "route"}


def whole(text: str | None) -> int | None:
    """A whole number typed in Latin or Persian digits; None for anything else."""
    text = ascii_digits(text or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 7 else None


def delay_shown(minutes: int) -> tuple[str, str]:
    """A stored wait as the editor shows it: in days or hours when it divides evenly."""
    for unit in ("days", "hours"):
        if minutes and minutes % DELAY_UNITS[unit] == 0:
            return str(minutes // DELAY_UNITS[unit]), unit
    return str(minutes), "minutes"


class AutomationForm(MessageForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=NAME_MAX)])
    kind = SelectField(_l("Kind"))
    send_time = StringField(_l("Time of day (Tehran)"), default="10:00")
    days_before = StringField(_l("How many days before"), default="0")
    days_after = StringField(_l("How many days after"), default="60")
    delay = StringField(_l("Wait"), default="0")
    delay_unit = SelectField(_l("Unit"), default="minutes")
    counts_from = RadioField(_l("Counted from"), default="first_purchase")
    occasion_key = SelectField(_l("Occasion"))
    # "" for the default account, else "account id:sender line"
    route = SelectField(_l("Send through"))
    active = BooleanField(_l("Active: send by itself when the time comes"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = list(AUTOMATION_KINDS.items())
        self.delay_unit.choices = [
            ("minutes", _l("minutes")),
            ("hours", _l("hours")),
            ("days", _l("days")),
        ]
        self.counts_from.choices = list(COUNTS_FROM.items())

    def uses(self, name: str) -> bool:
        """Does the chosen kind read this timing field?"""
        return self.kind.data in FIELD_KINDS[name]

    def validate_send_time(self, field):
        if not self.uses("send_time"):
            return
        typed = (field.data or "")[:20]
        try:
            parse_clock(typed)
        except ValueError:
            if _CLOCK_SHAPED.match(ascii_digits(typed)):  # 25:00, 10:75
                raise ValidationError(
                    _(
                        "The time must be between %(first)s and %(last)s, such as %(example)s.",
                        first=show_digits("00:00"),
                        last=show_digits("23:59"),
                        example=show_digits("10:00"),
                    )
                ) from None
            raise ValidationError(
                _("Give a time of day such as %(example)s.", example=show_digits("10:00"))
            ) from None

    def validate_delay(self, field):
        if not self.uses("delay"):
            return
        value = whole(field.data)
        factor = DELAY_UNITS.get(self.delay_unit.data, 1)
        if value is None or value * factor > DELAY_MINUTES_MAX:
            raise ValidationError(
                _(
                    "A whole number; at most %(days)s days (%(minutes)s minutes).",
                    days=show_number(DELAY_MINUTES_MAX // 1440),
                    minutes=show_number(DELAY_MINUTES_MAX),
                )
            )

    def fill(self, fields: AutomationFields) -> None:
        """Show a stored (or a starting) automation in the form."""
        self.name.data, self.kind.data, self.body.data = fields.name, fields.kind, fields.body
        self.send_time.data = show_digits(f"{fields.send_time:%H:%M}")
        self.days_before.data = show_digits(str(fields.days_before))
        self.days_after.data = show_digits(str(fields.days_after))
        delay, self.delay_unit.data = delay_shown(fields.delay_minutes)
        self.delay.data = show_digits(delay)
        self.counts_from.data = fields.counts_from
        self.occasion_key.data = fields.occasion_key or self.occasion_key.data
        self.choose(fields.audience)
        self.route.data = f"{fields.provider_id}:{fields.sender}" if fields.provider_id else ""
        self.coupon_prefix.data = fields.coupon_prefix or ""
        if fields.coupon_length:
            self.coupon_length.data = show_digits(str(fields.coupon_length))
        self.holdout_percent.data = show_digits(str(fields.holdout_percent))
        self.active.data = fields.active

    def fields(self) -> AutomationFields:
        """The automation as filled in (the service checks it): only the chosen kind's
        timing is read; a number that is not one reaches the service as None, which
        names the field."""
        provider_id, sender = None, None
        if self.route.data:
            account, _sep, line = self.route.data.partition(":")
            provider_id, sender = whole(account), line or None
        try:
            send_time = parse_clock((self.send_time.data or "")[:20])
        except ValueError:
            send_time = time(10, 0)
        delay = whole(self.delay.data)
        used = self.uses
        return AutomationFields(
            name=self.name.data or "",
            kind=self.kind.data,
            body=(self.body.data or "").replace("\r\n", "\n"),
            send_time=send_time,
            days_before=whole(self.days_before.data) if used("days_before") else 0,
            days_after=whole(self.days_after.data) if used("days_after") else 0,
            delay_minutes=delay * DELAY_UNITS.get(self.delay_unit.data, 1)
            if used("delay") and delay is not None
            else 0,
            counts_from=self.counts_from.data if used("counts_from") else "first_purchase",
            occasion_key=self.occasion_key.data if used("occasion_key") else None,
            audience=self.choice,
            provider_id=provider_id,
            sender=sender,
            coupon_prefix=self.coupon_settings[0],
            coupon_length=self.coupon_settings[1],
            holdout_percent=self.holdout,
            active=bool(self.active.data),
        )
