from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FloatField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from app.persian import show_number
from app.sending.policy import (
    MAX_DAILY_CAP,
    MAX_FREQUENCY_CAP_DAYS,
    MAX_OPTOUT_TEXT,
    MAX_QUIET_DATES,
    WEEKDAY_LABELS,
    QuietDayError,
    parse_quiet_days,
)

PROVIDER_KINDS = [
    ("kavenegar", _l("Kavenegar")),
    ("melipayamak", _l("Melipayamak")),
    ("ippanel", _l("IPPanel (Faraz SMS, Mediana)")),
    ("smsir", _l("sms.ir")),
    ("ghasedak", _l("Ghasedak")),
    ("console", _l("Test service (sends no messages)")),
]


class _WithoutSecrets:
    """An account as the edit form may read it: every field but the stored secrets.

    The key and password never go back to the browser, and reading them would decrypt
    them (and fail when the encryption key has changed).
    """

    def __init__(self, account):
        self._account = account

    def __getattr__(self, name):
        if name in ("api_key", "password"):
            raise AttributeError(name)
        return getattr(self._account, name)


class ProviderForm(FlaskForm):
    name = StringField(_l("Account name"), validators=[DataRequired(), Length(max=100)])
    kind = SelectField(_l("Provider"))
    api_key = PasswordField(_l("API key"), validators=[Optional(), Length(max=500)])
    username = StringField(_l("Username"), validators=[Optional(), Length(max=200)])
    password = PasswordField(_l("Password"), validators=[Optional(), Length(max=500)])
    senders = TextAreaField(_l("Sender lines"), validators=[DataRequired(), Length(max=2000)])
    base_url = StringField(_l("API address (optional)"), validators=[Optional(), Length(max=500)])
    requests_per_second = FloatField(
        _l("Requests per second"), validators=[Optional(), NumberRange(min=0.01, max=1000)]
    )
    price_per_part = IntegerField(
        _l("Price of one SMS part (Rials)"),
        default=0,
        validators=[InputRequired(), NumberRange(min=0)],
    )
    is_default = BooleanField(_l("Use for new campaigns"))

    def __init__(self, *args, obj=None, **kwargs):
        super().__init__(*args, obj=_WithoutSecrets(obj) if obj is not None else None, **kwargs)
        # Set here, not in the declaration: WTForms 3.3 deprecates declared tuple choices.
        self.kind.choices = PROVIDER_KINDS


_HHMM = Regexp(r"^\s*\d{1,2}:\d{2}\s*$", message=_l("Write the time like 08:00."))


_EVERY_WEEKDAY = _l("Leave at least one weekday open, or no marketing SMS would ever be sent.")


class _Checkboxes(SelectMultipleField):
    """Several choices as a list of checkboxes (the weekdays)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class SendingPolicyForm(FlaskForm):
    window_start = StringField(
        _l("Marketing SMS may be sent from"), validators=[DataRequired(), _HHMM]
    )
    window_end = StringField(_l("until"), validators=[DataRequired(), _HHMM])
    quiet_weekdays = _Checkboxes(_l("Weekdays without marketing SMS"), coerce=int)
    # Jalali dates; a weekday's name typed here counts as if its box were ticked.
    quiet_dates = StringField(_l("Dates without marketing SMS"), validators=[Length(max=2000)])
    daily_cap = IntegerField(
        _l("At most this many marketing SMS a day, for the whole shop (0 for no limit)"),
        validators=[Optional(), NumberRange(min=0, max=MAX_DAILY_CAP)],
    )
    frequency_cap_days = IntegerField(
        _l("At most one marketing SMS per contact every (days; 0 for no limit)"),
        validators=[InputRequired(), NumberRange(min=0, max=MAX_FREQUENCY_CAP_DAYS)],
    )
    optout_line = BooleanField(_l("Add the opt-out line to marketing SMS"))
    optout_text = StringField(
        _l("Opt-out line"), validators=[Optional(), Length(max=MAX_OPTOUT_TEXT)]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Set here, not in the declaration: WTForms 3.3 deprecates declared tuple choices.
        self.quiet_weekdays.choices = list(WEEKDAY_LABELS.items())

    def validate_quiet_dates(self, field) -> None:
        """Each date must be a real Jalali day (the message names the one that is not), and
        one weekday at least stays open. Sets ``quiet_days``: (weekdays, dates)."""
        try:
            typed_weekdays, dates = parse_quiet_days(field.data or "")
        except QuietDayError as error:
            if error.kind == "every_weekday":
                raise ValidationError(_EVERY_WEEKDAY) from None
            if error.kind == "too_many":
                raise ValidationError(
                    _l("List at most %(count)s dates.", count=show_number(MAX_QUIET_DATES))
                ) from None
            raise ValidationError(
                _l(
                    "“%(part)s” is not a Jalali date; write the dates like 1405/01/01, "
                    "split by commas.",
                    part=error.part,
                )
            ) from None
        ticked = set(self.quiet_weekdays.data or ()) | set(typed_weekdays)
        if len(ticked) == len(WEEKDAY_LABELS):
            raise ValidationError(_EVERY_WEEKDAY)
        self.quiet_days = (tuple(day for day in WEEKDAY_LABELS if day in ticked), dates)
