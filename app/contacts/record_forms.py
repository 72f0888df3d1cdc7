"""Forms of the customer record: a contact, a purchase, confirmations, tags, settings.

What a person types is checked and parsed here — a mobile number in any form, Jalali
dates in Persian or Latin digits, amounts with separators — and every error names its
field in the page's language.
"""

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    FieldList,
    Form,
    FormField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Length, Optional, StopValidation, ValidationError

from app.contacts.phones import InvalidMobile, normalize_mobile
from app.contacts.preferences import ANNIVERSARY_KINDS, BUSINESS_NAME_MAX
from app.contacts.service import (
    OWN_FIELD_NAME_MAX,
    OWN_FIELD_VALUE_MAX,
    OwnFieldError,
    check_own_fields,
)
from app.persian import (
    GregorianDate,
    ascii_digits,
    normalize_text,
    parse_jalali_date,
    to_tehran,
)
from app.types import utcnow

GENDER_LABELS = {"male": _l("Male"), "female": _l("Female")}
_TAG_SEPARATORS = re.compile(r"[,،؛;]")
_FIELD_NAME_FORBIDDEN = re.compile(r"[{}|]")
_AMOUNT_SEPARATORS = re.compile(r"[\s,٬،'_]")
# Blank rows under a contact's own fields, for adding new ones.
BLANK_FIELD_ROWS = 2


def split_tags(text: str | None) -> list[str]:
    """Tag names from «VIP، عمده‌فروش, شعبه ونک»: split on Latin and Persian commas."""
    names = (normalize_text(part) for part in _TAG_SEPARATORS.split(text or ""))
    return list(dict.fromkeys(name for name in names if name))


class MobileField(StringField):
    """A mobile number in any form people type; ``canonical`` is its +98… form."""

    canonical: str | None = None

    def pre_validate(self, form):
        try:
            self.canonical = normalize_mobile(self.data)
        except InvalidMobile as error:
            raise StopValidation(str(error.reason)) from None


class JalaliDateField(StringField):
    """A Jalali date typed like 1370/05/12 (any digits, / - or .); ``parsed`` is Gregorian."""

    def __init__(self, *args, not_after_today: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.not_after_today = not_after_today
        self.parsed = None

    def pre_validate(self, form):
        self.parsed = None
        text = (self.data or "").strip()
        if not text:
            return
        try:
            self.parsed = parse_jalali_date(text)
        except GregorianDate as error:
            raise StopValidation(f"{self.label.text}: {error.reason()}") from None
        except ValueError:
            raise StopValidation(
                _l("“%(value)s” is not a Jalali date; write it like 1370/05/12.", value=text)
            ) from None
        if self.not_after_today and self.parsed > to_tehran(utcnow()).date():
            raise StopValidation(_l("This date has not come yet."))


class CustomFieldForm(Form):
    """One of the owner's own fields on a contact: a name and a value."""

    key = StringField(_l("Field name"), validators=[Optional(), Length(max=OWN_FIELD_NAME_MAX)])
    value = StringField(_l("Value"), validators=[Optional(), Length(max=OWN_FIELD_VALUE_MAX)])


class ContactForm(FlaskForm):
    first_name = StringField(_l("First name"), validators=[Optional(), Length(max=100)])
    last_name = StringField(_l("Last name"), validators=[Optional(), Length(max=100)])
    mobile = MobileField(_l("Mobile number"))
    gender = SelectField(_l("Gender"), validators=[Optional()])
    birth_date = JalaliDateField(_l("Birth date (Jalali)"), not_after_today=True)
    anniversary = JalaliDateField(_l("Anniversary (Jalali)"), not_after_today=True)
    city = StringField(_l("City"), validators=[Optional(), Length(max=100)])
    tags = StringField(_l("Tags"), validators=[Optional(), Length(max=1000)])
    list_ids = SelectMultipleField(_l("Lists"), coerce=int, validators=[Optional()])
    fields = FieldList(FormField(CustomFieldForm), label=_l("Your own fields"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Set here, not in the declaration: WTForms 3.3 deprecates declared tuple choices.
        self.gender.choices = [("", _l("Not known")), *GENDER_LABELS.items()]

    def validate_tags(self, field):
        too_long = [name for name in split_tags(field.data) if len(name) > 50]
        if too_long:
            raise ValidationError(
                _l("A tag has at most 50 characters: “%(name)s” is longer.", name=too_long[0])
            )

    def validate_fields(self, field):
        seen = set()
        for row in field.entries:
            key = normalize_text(row.form.key.data)
            value = normalize_text(row.form.value.data)
            if not key:
                if value:
                    raise ValidationError(_l("Give the value “%(value)s” a name.", value=value))
                continue
            if _FIELD_NAME_FORBIDDEN.search(key):
                raise ValidationError(
                    _l("A field name cannot have { } or |: “%(name)s”.", name=key)
                )
            if key in seen:
                raise ValidationError(_l("The field “%(name)s” is there twice.", name=key))
            seen.add(key)
        try:
            # The limits of names and values, and of how many names the shop may have (the
            # page lists them all): the same check as imports and the API.
            check_own_fields(self.custom_fields())
        except OwnFieldError as error:
            raise ValidationError(str(error)) from None

    def custom_fields(self) -> dict[str, str]:
        rows = (
            (normalize_text(row.form.key.data), normalize_text(row.form.value.data))
            for row in self.fields.entries
        )
        return {key: value for key, value in rows if key}


class PurchaseForm(FlaskForm):
    purchased_on = JalaliDateField(_l("Date (Jalali)"), not_after_today=True)
    amount = StringField(_l("Amount (Rials)"))
    reference = StringField(
        _l("Invoice number (optional)"), validators=[Optional(), Length(max=100)]
    )

    rials: int | None = None

    def validate_purchased_on(self, field):
        if field.parsed is None:
            raise ValidationError(_l("Enter the date of the purchase."))

    def validate_amount(self, field):
        text = _AMOUNT_SEPARATORS.sub("", ascii_digits(field.data or ""))
        if not text:
            raise ValidationError(_l("Enter the amount in Rials."))
        if not (text.isascii() and text.isdigit()):
            raise ValidationError(_l("Write the amount in digits, in Rials, like 2500000."))
        self.rials = int(text)
        if not 0 < self.rials < 10**15:
            raise ValidationError(_l("The amount must be more than zero."))


class NoteForm(FlaskForm):
    """A confirmation with an optional note (why the contact was opted out)."""

    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=500)])


class ConfirmForm(FlaskForm):
    """A confirmation with nothing to fill in: the CSRF token and the button."""


class TagForm(FlaskForm):
    name = StringField(_l("Tag name"), validators=[DataRequired(), Length(max=50)])


class ContactSettingsForm(FlaskForm):
    anniversary_kind = RadioField(_l("A contact's anniversary is their"))
    business_name = StringField(
        _l("Business name"), validators=[Optional(), Length(max=BUSINESS_NAME_MAX)]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.anniversary_kind.choices = list(ANNIVERSARY_KINDS.items())


class BulkForm(FlaskForm):
    """A bulk action's parameters; the search it applies to comes as q/list/tag/status."""

    action = SelectField(_l("Action"))
    tag = StringField(_l("Tag"), validators=[Optional(), Length(max=50)])
    list_id = SelectField(_l("List"), coerce=int, validators=[Optional()])
    new_list = StringField(_l("…or a new list named"), validators=[Optional(), Length(max=100)])
    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=500)])
