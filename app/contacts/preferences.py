"""The owner's choices about the customer record, kept in the settings table.

The anniversary: what a contact's anniversary is in this shop — the day they became a
member (a club, a gym) or their wedding day (a jeweller, a florist). Pages, forms,
exports and message variables name the date accordingly. And the business name, which
messages show as {نام کسب‌وکار}.
"""

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db

ANNIVERSARY_KEY = "anniversary_kind"
ANNIVERSARY_KINDS = {
    "membership": _l("Membership anniversary"),
    "wedding": _l("Wedding anniversary"),
}
DEFAULT_ANNIVERSARY = "membership"


# app.sending.models is imported in the functions, not at the top: app.sending imports
# app.contacts (phones), whose package imports its views, which import this module.


def anniversary_kind() -> str:
    from app.sending.models import SendingSetting

    stored = db.session.scalar(
        select(SendingSetting.value).where(SendingSetting.key == ANNIVERSARY_KEY)
    )
    return stored if stored in ANNIVERSARY_KINDS else DEFAULT_ANNIVERSARY


def anniversary_label():
    """«سالگرد عضویت» or «سالگرد ازدواج», as the owner chose (a lazy string)."""
    return ANNIVERSARY_KINDS[anniversary_kind()]


def save_anniversary_kind(kind: str) -> None:
    """Store the choice (in the settings table the sending rules use); the caller commits."""
    from app.sending.models import SendingSetting

    if kind not in ANNIVERSARY_KINDS:
        raise ValueError(kind)
    db.session.merge(SendingSetting(key=ANNIVERSARY_KEY, value=kind))


BUSINESS_NAME_KEY = "business_name"
BUSINESS_NAME_MAX = 100


def business_name() -> str:
    """The shop's name as messages show it ({نام کسب‌وکار}); empty until the owner sets it."""
    from app.sending.models import SendingSetting

    stored = db.session.scalar(
        select(SendingSetting.value).where(SendingSetting.key == BUSINESS_NAME_KEY)
    )
    return stored or ""


def save_business_name(name: str) -> None:
    """Store the business name (trimmed, at most BUSINESS_NAME_MAX); the caller commits."""
    from app.sending.models import SendingSetting

    db.session.merge(SendingSetting(key=BUSINESS_NAME_KEY, value=name.strip()[:BUSINESS_NAME_MAX]))
