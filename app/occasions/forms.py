"""The occasion page's forms. Every field is read again by app.occasions.service, which
says what is wrong; the forms carry the CSRF token and the typed values."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import Length

from app.occasions.calendar import CALENDARS
from app.persian import ascii_digits


class ShiftForm(FlaskForm):
    """Move one lunar occurrence a day earlier or later (or back to the calendar's day)."""

    occurrence = HiddenField(validators=[Length(max=64)])
    days = SelectField(_l("Move"), choices=[], default="0")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.days.choices = [
            ("-1", _l("A day earlier")),
            ("0", _l("As the calendar says")),
            ("1", _l("A day later")),
        ]


class CustomOccasionForm(FlaskForm):
    """The shop's own occasion: a name, a calendar, a month and a day, every year."""

    name = StringField(_l("Name"), validators=[Length(max=1000)])  # the service says more
    calendar = SelectField(_l("Calendar"), choices=[], default="jalali")
    month = StringField(_l("Month"), validators=[Length(max=10)])
    day = StringField(_l("Day"), validators=[Length(max=10)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calendar.choices = list(CALENDARS.items())

    def number(self, field) -> int | None:
        """A typed whole number (Persian digits too), or None."""
        text = ascii_digits(field.data or "").strip()
        return int(text) if text.isascii() and text.isdigit() and len(text) <= 3 else None


class MourningForm(FlaskForm):
    """The mourning list: the ticked occasions (``mourning``, read from the request)."""
