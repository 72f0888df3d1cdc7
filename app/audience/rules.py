"""A segment's rules: what they may say, how they are checked, and the SQL they become.

Rules are JSON::

    {"match": "all" | "any",
     "rules": [{"field": "city", "op": "eq", "value": "تهران"},
               {"match": "any", "rules": [...]}]}      # one level of nesting only

``clean_rules`` checks them and gives them back in one canonical form (numbers as
numbers, Persian text normalised), with a Persian problem per broken rule naming it
(«قانون ۲: …»). ``rules_condition`` turns clean rules into ONE SQLAlchemy boolean
expression over ``Contact``: counting a segment is one ``SELECT count(*)``, never a walk
over the contacts in Python.

Days are Tehran days, today being day 0: "bought at most 3 days ago" is a purchase made
since midnight (Tehran) three days back. Each condition is written as the range an index
answers: a moment column compared to the start of a Tehran day, a birthday window as
(Jalali month, day) ranges on the (birth_jmonth, birth_jday) index.
"""

import json
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import jdatetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    and_,
    bindparam,
    exists,
    false,
    func,
    or_,
    select,
    true,
)

from app.audience.models_rfm import ContactScore
from app.audience.rfm import RFM_GROUPS, rfm_group_condition
from app.contacts.models import Contact, ContactList, Tag, contact_tags, list_members
from app.extensions import db
from app.limits import ID_MAX
from app.messaging.models import Campaign
from app.persian import (
    ascii_digits,
    day_start,
    jalali_month_day,
    normalize_text,
    show_digits,
    tehran_today,
)
from app.sending.models import HANDED_OVER, Message

MATCHES = ("all", "any")
MAX_RULES = 20  # in a segment, those of its group included
TEXT_MAX = 100
DAYS_MAX = 3650  # ten years: purchases and messages
WINDOW_MAX = 365  # a birthday window: a year at most
COUNT_MAX = 1_000_000
RIALS_MAX = 10**15
OWN_FIELD = "own:"  # field "own:<name>": one of the shop's own fields
OWN_NAME_MAX = 50  # as app.contacts.service.OWN_FIELD_NAME_MAX
TEXTS_MAX = 50  # values of one "one of" rule

# What each kind of value is: checked and made canonical by _clean_value.
TEXT, TEXTS, GENDER, NONE, DAYS, WINDOW, MONTH, COUNT, RIALS, RFM, SCORE = (
    "text",
    "texts",
    "gender",
    "none",
    "days",
    "window",
    "month",
    "count",
    "rials",
    "rfm",  # RFM group keys (app.audience.rfm.RFM_GROUPS)
    "score",  # an RFM score, 1 to 5
)
LIST, TAG, CAMPAIGN = "list", "tag", "campaign"
GENDER_VALUES = ("male", "female", "unknown")
GENDER_LABELS = {
    "male": _l("Gender: male"),
    "female": _l("Gender: female"),
    "unknown": _l("Gender: unknown"),
}


@dataclass(frozen=True)
class Condition:
    """One kind of rule the owner can choose: a field, an operator, what the value is."""

    field: str
    op: str
    label: object  # a lazy string: the condition as the owner reads it
    value: str  # one of the kinds above


CONDITIONS = (
    Condition("first_name", "eq", _l("First name is"), TEXT),
    Condition("first_name", "contains", _l("First name contains"), TEXT),
    Condition("first_name", "starts_with", _l("First name starts with"), TEXT),
    Condition("first_name", "empty", _l("First name is empty"), NONE),
    Condition("last_name", "eq", _l("Last name is"), TEXT),
    Condition("last_name", "contains", _l("Last name contains"), TEXT),
    Condition("last_name", "starts_with", _l("Last name starts with"), TEXT),
    Condition("last_name", "empty", _l("Last name is empty"), NONE),
    Condition("city", "eq", _l("City is"), TEXT),
    Condition("city", "in", _l("City is one of (comma-separated)"), TEXTS),
    Condition("gender", "eq", _l("Gender is"), GENDER),
    Condition("birth_date", "known", _l("Birth date is known"), NONE),
    Condition("birth_date", "unknown", _l("Birth date is unknown"), NONE),
    Condition("list", "member", _l("Is in the list"), LIST),
    Condition("list", "not_member", _l("Is not in the list"), LIST),
    Condition("tag", "has", _l("Has the tag"), TAG),
    Condition("tag", "has_not", _l("Does not have the tag"), TAG),
    Condition("birthday", "today", _l("Birthday is today"), NONE),
    Condition("birthday", "within_next", _l("Birthday from today through the next N days"), WINDOW),
    Condition("birthday", "in_month", _l("Birthday is in Jalali month (1–12)"), MONTH),
    Condition("anniversary", "today", _l("Anniversary is today"), NONE),
    Condition(
        "anniversary", "within_next", _l("Anniversary from today through the next N days"), WINDOW
    ),
    Condition("anniversary", "in_month", _l("Anniversary is in Jalali month (1–12)"), MONTH),
    Condition("last_purchase", "within_last", _l("Last purchase in the last N days"), DAYS),
    Condition("last_purchase", "at_most", _l("Last purchase at most N days ago"), DAYS),
    Condition("last_purchase", "more_than", _l("Last purchase more than N days ago"), DAYS),
    Condition("last_purchase", "at_least", _l("Last purchase N or more days ago"), DAYS),
    Condition("first_purchase", "within_last", _l("First purchase in the last N days"), DAYS),
    Condition("purchase_count", "gte", _l("Number of purchases is at least"), COUNT),
    Condition("purchase_count", "lte", _l("Number of purchases is at most"), COUNT),
    Condition("purchase_count", "eq", _l("Number of purchases is exactly"), COUNT),
    Condition("total_spent", "gte", _l("Total spent (Rials) is at least"), RIALS),
    Condition("total_spent", "lte", _l("Total spent (Rials) is at most"), RIALS),
    Condition("purchases", "never", _l("Has never bought"), NONE),
    Condition("purchases", "ever", _l("Has bought at least once"), NONE),
    Condition(
        "last_messaged", "more_than", _l("Last messaged more than N days ago (or never)"), DAYS
    ),
    Condition("last_messaged", "never", _l("Never messaged"), NONE),
    Condition("campaign", "received", _l("Was sent the campaign"), CAMPAIGN),
    Condition("campaign", "delivered", _l("Was sent the campaign and it was delivered"), CAMPAIGN),
    Condition(
        "campaign", "not_delivered", _l("Was sent the campaign and it was not delivered"), CAMPAIGN
    ),
    # From the latest RFM scoring (app/audience/rfm.py): contacts never scored match none.
    Condition("rfm", "in", _l("RFM group is one of (comma-separated)"), RFM),
    Condition("rfm_recency", "gte", _l("RFM recency score (1–5) is at least"), SCORE),
    Condition("rfm_frequency", "gte", _l("RFM frequency score (1–5) is at least"), SCORE),
    Condition("rfm_monetary", "gte", _l("RFM monetary score (1–5) is at least"), SCORE),
)
RFM_FIELDS = ("rfm", "rfm_recency", "rfm_frequency", "rfm_monetary")
OWN_CONDITIONS = (
    Condition(OWN_FIELD, "eq", _l("“%(name)s” is"), TEXT),
    Condition(OWN_FIELD, "contains", _l("“%(name)s” contains"), TEXT),
    Condition(OWN_FIELD, "empty", _l("“%(name)s” is empty"), NONE),
)
_BY_KEY = {(c.field, c.op): c for c in CONDITIONS}
_OWN_BY_OP = {c.op: c for c in OWN_CONDITIONS}


def condition_of(field: str, op: str) -> Condition | None:
    """The kind of rule a field and an operator name, or None."""
    if field.startswith(OWN_FIELD):
        return _OWN_BY_OP.get(op)
    return _BY_KEY.get((field, op))


class RulesInvalid(ValueError):
    """Rules that cannot be compiled; ``problems`` says, in Persian, what and where."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


# Checking ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """What is wrong with the rules, and where (a JSON path below ``rules``)."""

    path: str
    message: str


def check_rules(rules) -> list[str]:
    """The problems of these rules, each naming its rule; empty when they are good."""
    return [problem.message for problem in clean_rules(rules)[1]]


def rule_problems(rules, strict: bool = True) -> list[Problem]:
    """The problems with their paths; ``strict``: JSON types exactly, as the API takes them."""
    return clean_rules(rules, strict)[1]


def clean_rules(rules, strict: bool = False) -> tuple[dict, list[Problem]]:
    """The rules in canonical form and the problems found (if any, the rules are unusable).

    Not strict (the panel's form): numbers may come as text, in Persian digits, a list
    of cities as one comma-separated text. Strict (the API): exactly the JSON types its
    document declares, and no unknown keys.
    """
    problems: list[Problem] = []
    if not isinstance(rules, dict):
        message = _('Rules are a JSON object: {"match": "all", "rules": [...]}.')
        return {}, [Problem("", message)]
    clean = _clean_group(rules, "", "", problems, nested=False, strict=strict)
    total = sum(len(r["rules"]) if "match" in r else 1 for r in clean["rules"])
    if not clean["rules"] and not problems:
        problems.append(Problem("rules", _("A segment needs at least one rule.")))
    if total > MAX_RULES:
        message = _("A segment has at most %(max)s rules.", max=show_digits(str(MAX_RULES)))
        problems.append(Problem("rules", message))
    return clean, problems


GROUP_KEYS = {"match", "rules"}
RULE_KEYS = {"field", "op", "value"}


def _clean_group(
    group: dict, prefix: str, path: str, problems: list[Problem], nested: bool, strict: bool
) -> dict:
    match = group.get("match", None if strict else "all")
    if match not in MATCHES:
        if prefix:
            number = show_digits(prefix.rstrip("."))
            message = _("Rule %(n)s: a group matches “all” or “any”.", n=number)
        else:
            message = _("Rules match “all” or “any”.")
        problems.append(Problem(f"{path}match", message))
        match = "all"
    if strict and set(group) - GROUP_KEYS:
        problems.append(Problem(path.rstrip("."), _("Unknown key in the rules.")))
    items = group.get("rules", None if strict else [])
    if not isinstance(items, list):
        problems.append(Problem(f"{path}rules", _("“rules” is a list of rules.")))
        items = []
    clean = []
    for number, rule in enumerate(items, start=1):
        name = show_digits(f"{prefix}{number}")
        at = f"{path}rules[{number - 1}]"
        if isinstance(rule, dict) and ("match" in rule or "rules" in rule):
            if nested:
                message = _(
                    "Rule %(n)s: a group inside a group is not allowed (one level only).", n=name
                )
                problems.append(Problem(at, message))
                continue
            inner = _clean_group(
                rule, f"{prefix}{number}.", f"{at}.", problems, nested=True, strict=strict
            )
            if not rule.get("rules"):
                problems.append(Problem(at, _("Rule %(n)s: the group has no rules.", n=name)))
            clean.append(inner)
            continue
        cleaned = _clean_rule(rule, name, at, problems, strict)
        if cleaned is not None:
            clean.append(cleaned)
    return {"match": match, "rules": clean}


def _number(value, low: int, high: int, strict: bool) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 3.0 is the integer 3 in JSON
    if isinstance(value, str) and not strict:
        text = ascii_digits(value).strip().replace(",", "").replace("٬", "")
        if not text.isdigit():
            return None
        value = int(text)
    if not isinstance(value, int) or not low <= value <= high:
        return None
    return value


def _clean_rule(rule, name: str, at: str, problems: list[Problem], strict: bool) -> dict | None:
    if not isinstance(rule, dict):
        message = _("Rule %(n)s: a rule is an object with field, op and value.", n=name)
        problems.append(Problem(at, message))
        return None
    if strict and set(rule) - RULE_KEYS:
        problems.append(Problem(at, _("Rule %(n)s: a rule has only field, op and value.", n=name)))
        return None
    field, op = rule.get("field"), rule.get("op")
    if not isinstance(field, str) or not field:
        problems.append(Problem(f"{at}.field", _("Rule %(n)s: choose a condition.", n=name)))
        return None
    if field.startswith(OWN_FIELD):
        own = field.removeprefix(OWN_FIELD)
        own = normalize_text(own) if len(own) <= OWN_NAME_MAX and "\x00" not in own else ""
        if not own:
            problems.append(Problem(f"{at}.field", _("Rule %(n)s: name the own field.", n=name)))
            return None
        field = OWN_FIELD + own
    condition = condition_of(field, op) if isinstance(op, str) else None
    if condition is None:
        problems.append(Problem(f"{at}.op", _("Rule %(n)s: this condition is unknown.", n=name)))
        return None
    value, problem = _clean_value(condition.value, rule.get("value"), name, strict)
    if problem:
        problems.append(Problem(f"{at}.value", problem))
        return None
    return {"field": field, "op": op, "value": value}


def _too_long(name: str) -> str:
    return _(
        "Rule %(n)s: a value has at most %(max)s characters.",
        n=name,
        max=show_digits(str(TEXT_MAX)),
    )


def _text(value, name: str, strict: bool):
    """(normalised text, None) or (None, the problem)."""
    if isinstance(value, int) and not isinstance(value, bool) and not strict:
        value = str(value)
    if not isinstance(value, str) or "\x00" in value:
        return None, _("Rule %(n)s: write a value.", n=name)
    if len(value) > TEXT_MAX:
        return None, _too_long(name)
    # NFKC may lengthen a rare ligature: the value is checked as typed, stored clipped.
    text = normalize_text(value)[:TEXT_MAX]
    return (text, None) if text else (None, _("Rule %(n)s: write a value.", n=name))


def _clean_value(kind: str, value, name: str, strict: bool):  # noqa: C901 (a branch per kind)
    """(the canonical value, None) or (None, the problem)."""
    if kind == NONE:
        if strict and value is not None:
            return None, _("Rule %(n)s: this condition takes no value (null).", n=name)
        return None, None
    if kind == TEXT:
        return _text(value, name, strict)
    if kind == TEXTS:
        if isinstance(value, str) and not strict:
            value = value.replace("،", ",").split(",")
            value = [part for part in value if part.strip()]
        if not isinstance(value, list) or not 1 <= len(value) <= TEXTS_MAX:
            return None, _(
                "Rule %(n)s: write 1 to %(max)s values.", n=name, max=show_digits(str(TEXTS_MAX))
            )
        texts = []
        for part in value:
            text, problem = _text(part, name, strict)
            if problem:
                return None, problem
            texts.append(text)
        return list(dict.fromkeys(texts)), None
    if kind == GENDER:
        if value not in GENDER_VALUES:
            return None, _("Rule %(n)s: gender is male, female or unknown.", n=name)
        return value, None
    if kind in (DAYS, WINDOW):
        high = DAYS_MAX if kind == DAYS else WINDOW_MAX
        number = _number(value, 0, high, strict)
        if number is None:
            return None, _(
                "Rule %(n)s: the number of days must be a number from 0 to %(max)s.",
                n=name,
                max=show_digits(str(high)),
            )
        return number, None
    if kind == MONTH:
        number = _number(value, 1, 12, strict)
        if number is None:
            return None, _("Rule %(n)s: the month must be a number from 1 to 12.", n=name)
        return number, None
    if kind == RFM:
        return _rfm_groups(value, name, strict)
    if kind == SCORE:
        number = _number(value, 1, 5, strict)
        if number is None:
            return None, _("Rule %(n)s: an RFM score is a whole number from 1 to 5.", n=name)
        return number, None
    if kind in (COUNT, RIALS):
        high = COUNT_MAX if kind == COUNT else RIALS_MAX
        number = _number(value, 0, high, strict)
        if number is None:
            return None, _(
                "Rule %(n)s: the number must be a whole number from 0 to %(max)s.",
                n=name,
                max=show_digits(f"{high:,}"),
            )
        return number, None
    model, missing = {
        LIST: (ContactList, _("Rule %(n)s: there is no such list.", n=name)),
        TAG: (Tag, _("Rule %(n)s: there is no such tag.", n=name)),
        CAMPAIGN: (Campaign, _("Rule %(n)s: there is no such campaign.", n=name)),
    }[kind]
    number = _number(value, 1, ID_MAX, strict)
    if number is None and strict:
        return None, _(
            "Rule %(n)s: a number from 1 to %(max)s.", n=name, max=show_digits(str(ID_MAX))
        )
    if number is None or db.session.get(model, number) is None:
        return None, missing
    return number, None


def rfm_group_names() -> dict[str, str]:
    """Each RFM group's name as the owner reads it (the current language) → its key."""
    return {normalize_text(str(group.name)): key for key, group in RFM_GROUPS.items()}


def _rfm_groups(value, name: str, strict: bool):
    """RFM group keys in ``RFM_GROUPS`` order; the form may name them (comma-separated)."""
    if isinstance(value, str) and not strict:
        value = [part for part in value.replace("،", ",").split(",") if part.strip()]
    if not isinstance(value, list) or not 1 <= len(value) <= TEXTS_MAX:
        return None, _("Rule %(n)s: choose one or more RFM groups.", n=name)
    names = {} if strict else rfm_group_names()
    keys = set()
    for part in value:
        if not isinstance(part, str):
            return None, _("Rule %(n)s: choose one or more RFM groups.", n=name)
        text = normalize_text(part.replace("\x00", "")[:TEXT_MAX])
        key = text if text in RFM_GROUPS else names.get(text)
        if key is None:
            return None, _("Rule %(n)s: “%(value)s” is not an RFM group.", n=name, value=text)
        keys.add(key)
    return [key for key in RFM_GROUPS if key in keys], None


def uses_rfm(rules) -> bool:
    """Whether any rule reads the RFM scores (its page then says when they were made)."""
    if not isinstance(rules, dict) or not isinstance(rules.get("rules"), list):
        return False
    return any(
        uses_rfm(rule) if "match" in rule else rule.get("field") in RFM_FIELDS
        for rule in rules["rules"]
        if isinstance(rule, dict)
    )


# Compiling --------------------------------------------------------------------------


def rules_condition(rules: dict) -> ColumnElement[bool]:
    """One boolean SQL expression over Contact for the rules (RulesInvalid if they are bad).

    Usable as ``select(Contact).where(rules_condition(rules))``.
    """
    try:
        key = json.dumps(rules, sort_keys=True)
    except (TypeError, ValueError):  # not JSON: say what is wrong with it
        raise RulesInvalid(check_rules(rules)) from None
    dialect = db.session.get_bind().dialect.name  # NOT IN or NOT EXISTS, an own field's SQL
    return _condition(key, tehran_today(), dialect)


@lru_cache(maxsize=512)
def _condition(rules: str, today: date, dialect: str) -> ColumnElement[bool]:
    """The expression of the rules (as JSON) on a Tehran day, built once and reused.

    A live count of a selective segment takes a fraction of a millisecond in the
    database; checking the rules (the lists they name exist…) and building the
    expression afresh, with SQLAlchemy computing its cache key, would cost as much
    again. Bad rules raise, and a raise is not cached. A list deleted after its rules
    were built is simply empty: its condition matches nobody.
    """
    clean, problems = clean_rules(json.loads(rules))
    if problems:
        raise RulesInvalid([problem.message for problem in problems])
    return _group_condition(clean, today, dialect)


def _group_condition(group: dict, today: date, dialect: str) -> ColumnElement[bool]:
    parts = [
        _group_condition(rule, today, dialect)
        if "match" in rule
        else _rule_condition(rule, today, dialect)
        for rule in group["rules"]
    ]
    if group["match"] == "any":
        return or_(false(), *parts)
    return and_(true(), *parts)


_WILDCARDS = ("%", "_", "/")


def _like(column, value: str, before: str):
    """``column LIKE pattern`` with the pattern made here (not ``:p || '%'`` per row);
    an ESCAPE clause only when the owner's text holds a LIKE wildcard."""
    if any(wildcard in value for wildcard in _WILDCARDS):
        escaped = value.replace("/", "//").replace("%", "/%").replace("_", "/_")
        return column.like(f"{before}{escaped}%", escape="/")
    return column.like(f"{before}{value}%")


def _text_condition(column, op: str, value):
    if op == "eq":
        return column == value
    if op == "contains":
        return _like(column, value, "%")
    if op == "starts_with":
        return _like(column, value, "")
    if op == "in":
        return column.in_(value)
    # empty: one evaluation of the value (an own field's is a subquery)
    return func.coalesce(column, "") == ""


def _number_in_sql(value: int, type_=Integer):
    """A checked whole number written into the SQL, not sent as a parameter.

    The planner then sees the value: with a parameter, PostgreSQL's cached generic plan
    (psycopg prepares a statement run five times) plans "in list $1" for an average
    list, and scans a million contacts for a list of a thousand (20× slower).
    """
    return bindparam(None, value, type_=type_, literal_execute=True)


def _without(dialect: str, ids, correlated) -> ColumnElement[bool]:
    """Contacts whose id is not among ``ids`` (a SELECT of non-null contact ids).

    SQLite reads the ids once into a temporary index and checks each contact against it,
    where a correlated NOT EXISTS would look up each contact's rows one by one (ten times
    slower for the messages, whose status is not in the index). PostgreSQL plans NOT
    EXISTS as an anti-join, while its NOT IN keeps the ids in memory only up to work_mem
    and otherwise rescans them for every contact. ``correlated`` is ids' WHERE clause
    tying them to the contact, for the NOT EXISTS.
    """
    if dialect == "sqlite":
        return ~Contact.id.in_(ids)
    return ~exists(ids.where(correlated))


def _rule_condition(rule: dict, today: date, dialect: str) -> ColumnElement[bool]:  # noqa: C901
    field, op, value = rule["field"], rule["op"], rule["value"]
    if field.startswith(OWN_FIELD):
        from app.contacts.service import own_field_value

        return _text_condition(own_field_value(field.removeprefix(OWN_FIELD)), op, value)
    if field in ("first_name", "last_name", "city"):
        column = getattr(Contact, field)
        return column == "" if op == "empty" else _text_condition(column, op, value)
    if field == "gender":
        return Contact.gender.is_(None) if value == "unknown" else Contact.gender == value
    if field == "birth_date":
        known = Contact.birth_jmonth.is_not(None)
        return known if op == "known" else Contact.birth_jmonth.is_(None)
    if field == "list":
        in_list = list_members.c.list_id == _number_in_sql(value)
        members = select(list_members.c.contact_id).where(in_list)
        if op == "member":
            return Contact.id.in_(members)
        return _without(dialect, members, list_members.c.contact_id == Contact.id)
    if field == "tag":
        with_tag = contact_tags.c.tag_id == _number_in_sql(value)
        tagged = select(contact_tags.c.contact_id).where(with_tag)
        if op == "has":
            return Contact.id.in_(tagged)
        return _without(dialect, tagged, contact_tags.c.contact_id == Contact.id)
    if field in ("birthday", "anniversary"):
        month_column, day_column = (
            (Contact.birth_jmonth, Contact.birth_jday)
            if field == "birthday"
            else (Contact.anniversary_jmonth, Contact.anniversary_jday)
        )
        if op == "in_month":
            return month_column == _number_in_sql(value)
        return day_window_condition(month_column, day_column, today, value or 0)
    if field in ("last_purchase", "first_purchase", "last_messaged"):
        return _days_condition(field, op, value, today, dialect)
    if field == "purchase_count":
        column = Contact.purchase_count
        number = _number_in_sql(value)
        return {"gte": column >= number, "lte": column <= number, "eq": column == number}[op]
    if field == "total_spent":
        column = Contact.total_spent
        number = _number_in_sql(value, BigInteger)
        return column >= number if op == "gte" else column <= number
    if field == "purchases":
        # Every purchase recorded sets last_purchase_at (and purchase_count).
        bought = Contact.last_purchase_at.is_not(None)
        return bought if op == "ever" else Contact.last_purchase_at.is_(None)
    if field == "rfm":
        return rfm_group_condition(value)
    if field in RFM_FIELDS:
        column = getattr(ContactScore, field.removeprefix("rfm_"))
        scored = select(ContactScore.contact_id).where(column >= _number_in_sql(value))
        return Contact.id.in_(scored)
    if field == "campaign":
        statuses = {
            "received": HANDED_OVER,
            "delivered": ("delivered",),
            "not_delivered": tuple(s for s in HANDED_OVER if s != "delivered"),
        }[op]
        sent = select(Message.contact_id).where(
            Message.campaign_id == _number_in_sql(value), Message.status.in_(statuses)
        )
        return Contact.id.in_(sent)
    raise RulesInvalid([f"unknown rule {field} {op}"])


def _days_condition(
    field: str, op: str, days: int, today: date, dialect: str
) -> ColumnElement[bool]:
    """Days since a moment, in Tehran days (today is 0), as a range of the moment."""
    if field == "last_messaged":
        sent = select(Message.contact_id).where(
            Message.contact_id.is_not(None), Message.status.in_(HANDED_OVER)
        )
        if op == "more_than":
            # More than N days ago, or never: no message since the start of day today-N.
            sent = sent.where(Message.created_at >= day_start(today - timedelta(days=days)))
        return _without(dialect, sent, Message.contact_id == Contact.id)
    column = Contact.last_purchase_at if field == "last_purchase" else Contact.first_purchase_at
    if op == "within_last":  # days since < N: since midnight N-1 days back
        return column >= day_start(today - timedelta(days=days - 1))
    if op == "at_most":  # days since <= N
        return column >= day_start(today - timedelta(days=days))
    if op == "more_than":  # days since > N
        return column < day_start(today - timedelta(days=days))
    return column < day_start(today - timedelta(days=days - 1))  # at_least: days since >= N


def day_window(today: date, days: int) -> list[tuple[int, int, int]]:
    """The Jalali (month, first day, last day) ranges of today through today + ``days``.

    A birthday on 30 Esfand is celebrated on 29 Esfand in a common year: when the
    window holds 29 Esfand of a common year, it holds 30 Esfand too.
    """
    ranges: list[list[int]] = []
    for offset in range(days + 1):
        day = today + timedelta(days=offset)
        month, number = jalali_month_day(day)
        last = number
        if (month, number) == (12, 29) and not jdatetime.date.fromgregorian(date=day).isleap():
            last = 30
        if ranges and ranges[-1][0] == month and ranges[-1][2] == number - 1:
            ranges[-1][2] = last
        else:
            ranges.append([month, number, last])
    return [tuple(r) for r in ranges]


def day_window_condition(month_column, day_column, today: date, days: int):
    """(month, day) in the window: each range a seek on the (month, day) index."""
    if days >= WINDOW_MAX:
        return month_column.is_not(None)
    parts = []
    for month, first, last in day_window(today, days):
        if first == 1 and last >= (31 if month <= 6 else 30):
            parts.append(month_column == _number_in_sql(month))
        elif first == last:
            day = day_column == _number_in_sql(first)
            parts.append(and_(month_column == _number_in_sql(month), day))
        else:
            days = day_column.between(_number_in_sql(first), _number_in_sql(last))
            parts.append(and_(month_column == _number_in_sql(month), days))
    return or_(*parts)
