from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from app.coupons.service import (
    LENGTH_DEFAULT,
    LENGTH_MAX,
    LENGTH_MIN,
    PREFIX_MAX,
    PREFIX_PATTERN,
    typed_length,
    typed_prefix,
)
from app.messaging.audience import AudienceChoice, AudienceError, segment_condition_of
from app.messaging.models import HOLDOUT_PERCENT_MAX
from app.messaging.rendering import message_template, text_problems
from app.messaging.text import COUPON
from app.persian import GregorianDate, ascii_digits, parse_jalali_datetime, show_number
from app.types import utcnow

CAMPAIGN_TEXT_MAX = 1000


class ChosenIds(SelectMultipleField):
    """Lists or tags as checkboxes, read as ids; one that is no longer offered (deleted
    meanwhile, or never there) is refused with ``gone``, in the panel's words."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __init__(self, label, gone, **kwargs):
        super().__init__(label, coerce=int, **kwargs)
        self.gone = gone

    def process_formdata(self, valuelist):
        self.data = []
        for value in valuelist:
            text = ascii_digits(value).strip()
            self.data.append(int(text) if text.isascii() and text.isdigit() else -1)

    def pre_validate(self, form):
        offered = {value for value, _label in self.choices or ()}
        if any(value not in offered for value in self.data or ()):
            raise ValidationError(self.gone)


class AudienceForm(FlaskForm):
    """The audience chooser the compose page and the automation editor share: everyone, or
    the contacts of the lists, tags and segments ticked, minus the lists and segments left
    out (templates/messaging/_compose.html draws it)."""

    audience = RadioField(_l("Send to"), default="all")
    lists = ChosenIds(
        _l("Contacts in these lists"),
        _l("A chosen list no longer exists (it may have been deleted); check the lists again."),
    )
    tags = ChosenIds(
        _l("Contacts with these tags"),
        _l("A chosen tag no longer exists (it may have been deleted); check the tags again."),
    )
    segments = ChosenIds(
        _l("Contacts in these segments"),
        _l("A chosen segment no longer exists (it may have been deleted); check again."),
    )
    exclude_lists = ChosenIds(
        _l("Except the contacts in these lists"),
        _l("A list to leave out no longer exists (it may have been deleted); check again."),
    )
    exclude_segments = ChosenIds(
        _l("Except the contacts in these segments"),
        _l("A segment to leave out no longer exists (it may have been deleted); check again."),
    )

    # (id, name) of every list and segment: the lists' labels also show their counts.
    list_names: list[tuple[int, str]] = []
    segment_names: list[tuple[int, str]] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Set here, not in the declaration: WTForms 3.3 deprecates declared tuple choices.
        self.audience.choices = [
            ("all", _l("All contacts")),
            ("chosen", _l("The contacts of the lists, tags and segments chosen below")),
        ]

    def offer_choices(self) -> None:
        """Offer every list and tag, each with its number of contacts, and every segment
        (built-ins first; their counts are on the segments page: counting each one live
        would cost the form a query over all contacts per segment)."""
        # By module: app.audience builds on campaigns.
        from app.audience import service as segments
        from app.contacts.service import all_lists, all_tags

        lists = all_lists()
        self.list_names = [(item.id, item.name) for item, _count in lists]
        self.lists.choices = [(item.id, f"{item.name} ({show_number(n)})") for item, n in lists]
        self.exclude_lists.choices = self.lists.choices
        self.tags.choices = [(tag.id, f"{tag.name} ({show_number(n)})") for tag, n in all_tags()]
        self.segment_names = [(item.id, item.name) for item in segments.all_segments()]
        self.segments.choices = self.segment_names
        self.exclude_segments.choices = self.segment_names

    def validate_lists(self, field):
        chosen = bool(field.data or self.tags.data or self.segments.data)
        if self.audience.data == "chosen" and not chosen:
            raise ValidationError(
                _l("Choose at least one list, tag or segment, or send to all contacts.")
            )
        if self.audience.data == "all" and chosen:
            raise ValidationError(
                _l(
                    "Lists, tags or segments are chosen, but so is “All contacts”: choose "
                    "one or the other."
                )
            )

    def validate_segments(self, field):
        _usable(field.data)

    def validate_exclude_segments(self, field):
        _usable(field.data)
        both = set(field.data or ()) & set(self.segments.data or ())
        if both:
            names = dict(self.segment_names)
            raise ValidationError(
                _l(
                    "“%(name)s” is both chosen and left out; untick one of them.",
                    name=names[min(both)],
                )
            )

    def validate_exclude_lists(self, field):
        both = set(field.data or ()) & set(self.lists.data or ())
        if both:
            names = {value: label for value, label in self.list_names}
            raise ValidationError(
                _l(
                    "“%(name)s” is both chosen and left out; untick one of them.",
                    name=names[min(both)],
                )
            )

    @property
    def audience_errors(self) -> list[str]:
        """Every error of the chooser, shown together under it."""
        return [
            *self.audience.errors,
            *self.lists.errors,
            *self.tags.errors,
            *self.segments.errors,
            *self.exclude_lists.errors,
            *self.exclude_segments.errors,
        ]

    @property
    def choice(self) -> AudienceChoice:
        """Who the messages go to, as the form was filled (once it is valid)."""
        return AudienceChoice(
            everyone=self.audience.data == "all",
            lists=tuple(dict.fromkeys(self.lists.data or ())),
            tags=tuple(dict.fromkeys(self.tags.data or ())),
            segments=tuple(dict.fromkeys(self.segments.data or ())),
            exclude_lists=tuple(dict.fromkeys(self.exclude_lists.data or ())),
            exclude_segments=tuple(dict.fromkeys(self.exclude_segments.data or ())),
        )

    def choose(self, choice: AudienceChoice) -> None:
        """Fill the chooser (its choices offered) with a stored choice (an automation
        being edited). A list, tag or segment deleted since is left out: it has no box to
        untick, and kept it would refuse every save."""
        self.audience.data = "all" if choice.everyone else "chosen"
        for part in ("lists", "tags", "segments", "exclude_lists", "exclude_segments"):
            field = getattr(self, part)
            offered = {value for value, _label in field.choices or ()}
            field.data = [item for item in getattr(choice, part) if item in offered]


class MessageForm(AudienceForm):
    """A message text to an audience, with the coupon codes of {کد تخفیف}: what a campaign
    and an automation have in common (templates/messaging/_compose.html)."""

    body = TextAreaField(
        _l("Message text"), validators=[DataRequired(), Length(max=CAMPAIGN_TEXT_MAX)]
    )
    # The codes of {کد تخفیف}: read only when the text has it.
    coupon_prefix = StringField(_l("Code prefix (optional)"), validators=[Length(max=40)])
    coupon_length = StringField(
        _l("Random characters after the prefix"), default=str(LENGTH_DEFAULT)
    )

    # The holdout: this share of the audience gets no message, to measure the effect.
    holdout_percent = StringField(
        _l("Keep back this share of the audience unsent, to measure the effect (per cent)"),
        default="0",
    )

    # What the coupon fields hold once checked: (prefix, length), None for the defaults.
    coupon_settings: tuple[str | None, int | None] = (None, None)
    # What the holdout field holds once checked: a whole number from 0 to 50.
    holdout: int = 0

    def validate_body(self, field):
        problems = text_problems(field.data or "")
        if problems:
            raise ValidationError(" ".join(problems))

    def validate_holdout_percent(self, field):
        typed = ascii_digits(field.data or "").strip().rstrip("%٪").strip()
        if not typed:
            self.holdout = 0
            return
        if not (typed.isascii() and typed.isdigit()) or int(typed) > HOLDOUT_PERCENT_MAX:
            raise ValidationError(
                _(
                    "The share kept back is a whole number of per cent from %(min)s to %(max)s.",
                    min=show_number(0),
                    max=show_number(HOLDOUT_PERCENT_MAX),
                )
            )
        self.holdout = int(typed)

    def has_coupon(self) -> bool:
        """Does the text put a coupon code in each message?"""
        return COUPON in message_template(self.body.data or "").reads

    def validate_coupon_prefix(self, field):
        if not self.has_coupon():
            return
        prefix = typed_prefix(field.data)
        if len(prefix) > PREFIX_MAX:
            raise ValidationError(
                _(
                    "The code prefix can have at most %(max)s letters and digits.",
                    max=show_number(PREFIX_MAX),
                )
            )
        if not PREFIX_PATTERN.fullmatch(prefix):
            raise ValidationError(
                _("The code prefix may hold only Latin letters (A to Z) and digits.")
            )
        self.coupon_settings = (prefix or None, self.coupon_settings[1])

    def validate_coupon_length(self, field):
        if not self.has_coupon():
            return
        if not ascii_digits(field.data or "").strip():
            return  # the default
        length = typed_length(field.data)
        if length is None:
            raise ValidationError(
                _(
                    "The random part of a code has from %(min)s to %(max)s characters.",
                    min=show_number(LENGTH_MIN),
                    max=show_number(LENGTH_MAX),
                )
            )
        self.coupon_settings = (self.coupon_settings[0], length)


class CampaignForm(MessageForm):
    name = StringField(_l("Campaign name"), validators=[DataRequired(), Length(max=200)])
    # "account id:sender line"
    route = SelectField(_l("Send through"))
    when = RadioField(_l("When"), default="now")
    send_date = StringField(_l("Date (Jalali)"))
    send_time = StringField(_l("Time (Tehran)"))

    scheduled_at: datetime | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.when.choices = [("now", _l("Now")), ("later", _l("At a date and time"))]

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


def _usable(segment_ids) -> None:
    """Refuse a segment whose rules need fixing (a list they name was deleted), naming it."""
    for segment_id in segment_ids or ():
        try:
            segment_condition_of(segment_id)
        except AudienceError as error:
            raise ValidationError(str(error)) from None


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
