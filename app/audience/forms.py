"""The segment form: a name, a description, and rules as rows that work without JavaScript.

Each row is a condition (one select: field and operator, and for gender the value too)
and a value (one text box). Rows below the first ones form the one nested group. Lists,
tags and campaigns are typed by name (a datalist suggests them) or by number.
"""

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import RadioField, StringField, TextAreaField
from wtforms.validators import Length

from app.audience.rules import (
    CAMPAIGN,
    CONDITIONS,
    GENDER,
    GENDER_LABELS,
    LIST,
    OWN_CONDITIONS,
    OWN_FIELD,
    RFM,
    RFM_GROUPS,
    TAG,
    TEXTS,
    condition_of,
)
from app.contacts.models import ContactList, Tag
from app.extensions import db
from app.messaging.models import Campaign
from app.persian import ascii_digits

ROWS = 4  # rule rows shown at first; "more rows" adds ROWS_MORE
GROUP_ROWS = 3
ROWS_MORE = 3
ROWS_MAX = 20

_MODELS = {LIST: ContactList, TAG: Tag, CAMPAIGN: Campaign}


class SegmentForm(FlaskForm):
    """Name and description (WTForms); the rule rows are read by ``rules_from_form``."""

    name = StringField(_l("Name"), validators=[Length(max=100)])
    description = TextAreaField(_l("Description"), validators=[Length(max=500)])
    match = RadioField(_l("Contacts who match"), default="all")
    group_match = RadioField(_l("…and the group below, which matches"), default="any")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.match.choices = [("all", _l("all of the rules")), ("any", _l("any of the rules"))]
        self.group_match.choices = [
            ("all", _l("all of its rules")),
            ("any", _l("any of its rules")),
        ]


@dataclass
class Row:
    condition: str = ""  # "field|op" or "field|op|value" (gender)
    value: str = ""


@dataclass
class RuleRows:
    """The rows of the editor, as the owner typed them (or as stored rules read)."""

    rows: list[Row] = field(default_factory=list)
    group: list[Row] = field(default_factory=list)

    def padded(self) -> "RuleRows":
        """At least the default number of rows, one empty row more than are filled."""

        def pad(rows: list[Row], least: int) -> list[Row]:
            empty = sum(1 for row in rows if not row.condition)
            more = max(least - len(rows), 0 if empty else 1)
            return (rows + [Row() for _ in range(more)])[:ROWS_MAX]

        return RuleRows(pad(self.rows, ROWS), pad(self.group, GROUP_ROWS))


def condition_choices(own_fields: list[str], keep: list[str]) -> list[tuple[str, str]]:
    """Every condition the select offers: (option value, label)."""
    choices = [("", _l("— choose a condition —"))]
    for condition in CONDITIONS:
        key = f"{condition.field}|{condition.op}"
        if condition.value == GENDER:
            choices += [(f"{key}|{value}", label) for value, label in GENDER_LABELS.items()]
        elif condition.value == RFM:
            # One group a click away; several typed by name in the value box.
            choices += [
                (f"{key}|{group_key}", _l("RFM group is “%(name)s”", name=group.name))
                for group_key, group in RFM_GROUPS.items()
            ]
            choices.append((key, condition.label))
        else:
            choices.append((key, condition.label))
    names = list(own_fields) + [
        k.split("|")[0].removeprefix(OWN_FIELD) for k in keep if k.startswith(OWN_FIELD)
    ]
    for name in dict.fromkeys(names):
        for condition in OWN_CONDITIONS:
            choices.append((f"{OWN_FIELD}{name}|{condition.op}", condition.label % {"name": name}))
    return choices


def _names(model) -> dict[int, str]:
    return {row.id: row.name for row in db.session.execute(select(model.id, model.name))}


def suggestions() -> list[str]:
    """Names of lists, tags, campaigns and RFM groups, for the value box's datalist."""
    names = [str(group.name) for group in RFM_GROUPS.values()]
    for model in _MODELS.values():
        names += _names(model).values()
    return sorted(set(names))


def _value_of(kind: str, text: str):
    """The rule's value from the text box: a list/tag/campaign named by name or number."""
    text = text.strip()
    if kind in _MODELS:
        digits = ascii_digits(text)
        if digits.isdigit():
            return int(digits)
        found = db.session.scalar(select(_MODELS[kind].id).where(_MODELS[kind].name == text))
        return found if found is not None else text
    return text


def _rule_of(row: Row) -> dict:
    field_name, _sep, rest = row.condition.partition("|")
    op, _sep, preset = rest.partition("|")
    condition = condition_of(field_name, op)
    if condition is None:
        return {"field": field_name, "op": op, "value": row.value}
    if preset:
        return {"field": field_name, "op": op, "value": preset}
    return {"field": field_name, "op": op, "value": _value_of(condition.value, row.value)}


def read_rows(form_data) -> RuleRows:
    """The filled rows of a submitted form, in order (empty rows dropped)."""

    def rows(prefix: str) -> list[Row]:
        found = []
        for number in range(ROWS_MAX):
            condition = form_data.get(f"{prefix}-{number}-condition", "")
            value = form_data.get(f"{prefix}-{number}-value", "")
            if condition:
                found.append(Row(condition, value[:200]))
        return found

    return RuleRows(rows("rule"), rows("group"))


def rules_from_rows(rule_rows: RuleRows, match: str, group_match: str) -> dict:
    rules = [_rule_of(row) for row in rule_rows.rows]
    if rule_rows.group:
        rules.append({"match": group_match, "rules": [_rule_of(r) for r in rule_rows.group]})
    return {"match": match, "rules": rules}


def _text_of(kind: str, value, names: dict) -> str:
    if value is None:
        return ""
    if kind in _MODELS:
        return names[kind].get(value, str(value))
    if kind == TEXTS and isinstance(value, list):
        return "، ".join(value)
    if kind == RFM and isinstance(value, list):
        return "، ".join(str(RFM_GROUPS[key].name) if key in RFM_GROUPS else key for key in value)
    return str(value)


def rows_from_rules(rules: dict) -> tuple[RuleRows, str, str]:
    """The editor's rows for stored rules: (rows, match, group match)."""
    names = {kind: _names(model) for kind, model in _MODELS.items()}

    def row(rule: dict) -> Row:
        condition = condition_of(rule["field"], rule["op"])
        key = f"{rule['field']}|{rule['op']}"
        if condition is not None and condition.value == GENDER:
            return Row(f"{key}|{rule['value']}")
        value = rule.get("value")
        one_group = isinstance(value, list) and len(value) == 1 and value[0] in RFM_GROUPS
        if condition is not None and condition.value == RFM and one_group:
            return Row(f"{key}|{value[0]}")
        kind = condition.value if condition else ""
        return Row(key, _text_of(kind, rule.get("value"), names))

    rule_rows, group_match = RuleRows(), "any"
    for rule in rules.get("rules", []):
        if "match" in rule:
            group_match = rule["match"]
            rule_rows.group = [row(r) for r in rule["rules"]]
        else:
            rule_rows.rows.append(row(rule))
    return rule_rows, rules.get("match", "all"), group_match
