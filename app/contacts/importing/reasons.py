"""Why a row was not imported, kept untranslated so that it is worded when shown.

An import runs in a worker, outside the request of the person who started it, and its
result is read later — perhaps after switching the panel to the other language, or by a
colleague who reads English. The rejected-rows file is worded in the language the import
was started in (the command line points to it); beside it each reason is kept as its
English msgid and values, and the panel words it again, numbers in the reader's digits,
each time the result page or the download shows it. Reasons are made as lazy strings
(``lazy_gettext`` with their values) and written down here without translating.
"""

import json

from flask_babel import gettext
from flask_babel.speaklater import LazyString


def plain(reason):
    """A reason or one of its values as JSON-ready data: {"id", "values"} for a message,
    {"n"} for a number (worded in the reader's digits), the text itself otherwise."""
    if isinstance(reason, LazyString):
        msgid = reason._args[0]
        return {"id": msgid, "values": {key: plain(v) for key, v in reason._kwargs.items()}}
    if isinstance(reason, int) and not isinstance(reason, bool):
        return {"n": reason}
    return str(reason)


def worded(value, digits) -> str:
    """Plain data as text in the current language; numbers through ``digits``."""
    if isinstance(value, str):
        return value
    if "n" in value:
        return digits(str(value["n"]))
    values = {key: worded(v, digits) for key, v in value["values"].items()}
    return gettext(value["id"], **values)


def shown(line: str, digits) -> str | None:
    """A stored line worded in the current language; None when it cannot be read."""
    try:
        return worded(json.loads(line), digits)
    except (ValueError, KeyError, TypeError):
        return None
