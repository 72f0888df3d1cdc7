"""WTForms' own error messages («this field is required», «not a number»…) in the panel's words.

Flask-WTF shows WTForms' bundled Persian catalog, which reads like a machine's
(«این فیلد اجباریست.», «عدد باید از %(max)s. کوچکتر باشد.») and puts Latin digits in
it («طول فیلد حداقل باید 10 حرف باشد.»). The messages a form of the panel can show are
listed here, so `make messages` carries them into our own catalogs; each request looks
there first, and WTForms' catalog answers only for the rest. In Persian the numbers
WTForms fills in (a length, a range) are written in Persian digits.
"""

from babel import support
from flask import Flask, request
from flask_babel import get_locale, get_translations
from wtforms.i18n import messages_path

from app.persian import persian_digits


def N_(message: str) -> str:  # noqa: N802 — the name pybabel extracts by default
    return message


# WTForms' msgids, word for word (plural ones by their singular: Persian has one form).
MESSAGES = (
    N_("This field is required."),
    N_("Invalid input."),
    N_("Not a valid choice."),
    N_("Not a valid integer value."),
    N_("Not a valid decimal value."),
    N_("Not a valid float value."),
    N_("Not a valid date value."),
    N_("Not a valid datetime value."),
    N_("Invalid email address."),
    N_("Number must be at least %(min)s."),
    N_("Number must be at most %(max)s."),
    N_("Number must be between %(min)s and %(max)s."),
    N_("Field must be at least %(min)d character long."),
    N_("Field cannot be longer than %(max)d character."),
    N_("Field must be between %(min)d and %(max)d characters long."),
)
_OURS = frozenset(MESSAGES)


class _PersianNumbers(str):
    """A message whose filled-in numbers come out in Persian digits."""

    def __mod__(self, values) -> str:
        return persian_digits(str.__mod__(self, values))


class FormTranslations:
    """What Flask-WTF asks for a message's translation (its ``ugettext``/``ungettext``)."""

    def __init__(self) -> None:
        self._wtforms = None

    def _fallback(self):
        if self._wtforms is None:
            self._wtforms = support.Translations.load(
                messages_path(), [get_locale()], domain="wtforms"
            )
        return self._wtforms

    def _own(self, message: str) -> str | None:
        if message not in _OURS:
            return None
        translated = get_translations().ugettext(message)
        if get_locale() is not None and get_locale().language == "fa":
            return _PersianNumbers(translated)
        return translated

    def ugettext(self, message: str) -> str:
        return self._own(message) or self._fallback().ugettext(message)

    def ungettext(self, singular: str, plural: str, count: int) -> str:
        if (own := self._own(singular)) is not None and own != singular:
            return own
        return self._fallback().ungettext(singular, plural, count)


def register_form_messages(app: Flask) -> None:
    """Hand Flask-WTF our translations: it keeps the request's in
    ``request.wtforms_translations`` and loads WTForms' own only when none is there."""

    @app.before_request
    def _form_translations() -> None:
        request.wtforms_translations = FormTranslations()
