from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from app.messaging.rendering import text_problems
from app.persian import GregorianDate, parse_jalali_datetime
from app.types import utcnow

CAMPAIGN_TEXT_MAX = 1000


class CampaignForm(FlaskForm):
    name = StringField(_l("Campaign name"), validators=[DataRequired(), Length(max=200)])
    body = TextAreaField(
        _l("Message text"), validators=[DataRequired(), Length(max=CAMPAIGN_TEXT_MAX)]
    )
    list_id = SelectField(_l("Send to"), coerce=int)
    # "account id:sender line"
    route = SelectField(_l("Send through"))
    when = RadioField(_l("When"), default="now")
    send_date = StringField(_l("Date (Jalali)"))
    send_time = StringField(_l("Time (Tehran)"))

    scheduled_at: datetime | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Set here, not in the declaration: WTForms 3.3 deprecates declared tuple choices.
        self.when.choices = [("now", _l("Now")), ("later", _l("At a date and time"))]

    def validate_body(self, field):
        problems = text_problems(field.data or "")
        if problems:
            raise ValidationError(" ".join(problems))

    def validate_send_date(self, field):
        if self.when.data != "later":
            return
        typed_date, typed_time = field.data or "", self.send_time.data or ""
        try:
            if len(typed_date) > 40 or len(typed_time) > 20:  # longer than any date or time
                raise ValueError("too long")
            self.scheduled_at = parse_jalali_datetime(typed_date, typed_time)
        except GregorianDate as error:
            raise ValidationError(f"{field.label.text}: {error.reason()}") from None
        except ValueError:
            raise ValidationError(
                _l("Enter a Jalali date like 1405/09/15 and a time like 18:30.")
            ) from None
        if self.scheduled_at <= utcnow():
            raise ValidationError(_l("This moment has passed; choose a time in the future."))


class TemplateForm(FlaskForm):
    """A template of the library: a name and a text with placeholders."""

    name = StringField(_l("Template name"), validators=[DataRequired(), Length(max=100)])
    body = TextAreaField(
        _l("Message text"), validators=[DataRequired(), Length(max=CAMPAIGN_TEXT_MAX)]
    )

    def validate_body(self, field):
        problems = text_problems(field.data or "")
        if problems:
            raise ValidationError(" ".join(problems))


class DeleteTemplateForm(FlaskForm):
    """Deleting a template: the CSRF token and the button."""
