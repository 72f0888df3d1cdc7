"""The retention report's period: two Jalali days typed (or picked), or a preset."""

from flask_babel import lazy_gettext as _l
from wtforms import Form
from wtforms.validators import ValidationError

from app.contacts.record_forms import JalaliDateField


class PeriodForm(Form):
    """Read from the page's query (a GET form: nothing changes, so no CSRF token)."""

    start = JalaliDateField(_l("From (Jalali)"), not_after_today=True)
    end = JalaliDateField(_l("To (Jalali)"), not_after_today=True)

    def validate_start(self, field):
        if field.parsed is None and self.end.data:
            raise ValidationError(_l("Give the first day of the period too."))

    def validate_end(self, field):
        if field.parsed is None and self.start.data:
            raise ValidationError(_l("Give the last day of the period too."))
        if self.start.parsed and field.parsed and field.parsed < self.start.parsed:
            raise ValidationError(_l("The period ends before it starts."))
