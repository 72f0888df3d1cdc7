"""Who a campaign goes to: everyone, or the union of lists, tags and segments, minus the
lists and segments it keeps away from — as one SQL condition over contacts.

A campaign stores its choice as rows of ``campaign_audience`` (AudienceEntry); the
compose page and the API hand a choice over as an ``AudienceChoice`` of ids. Opted-out
contacts are not left out here: materialise records them as skipped, and the counts
shown before sending leave them out (app.messaging.service).

The condition, for the database's planner (bench/audience.py prints the plans):
- included: ``contacts.id IN (members of the lists UNION ALL members of the tags …)``.
  The database reads only the chosen memberships, through the (list_id, contact_id) and
  (tag_id, contact_id) primary keys, and looks each contact up by id: a list of 1,000
  among a million contacts costs 1,000 lookups, not a million. (``EXISTS`` per contact
  would be one probe per contact of the table on SQLite, and PostgreSQL cannot make a
  semi-join of EXISTS joined by OR.)
- excluded: ``NOT EXISTS``: an anti-join on PostgreSQL (``NOT IN`` over a subquery runs
  row by row there once it outgrows work_mem), a key lookup per chosen contact on SQLite.
- ``window`` (materialise reads the audience in id order, at most ``MATERIALISE_CHUNK`` ids at a
  time): every part is bounded to the window, the memberships too, so each chunk reads
  its own stretch of each index and nothing before it. Unbounded, each chunk would read
  every chosen membership again (a million-member list: a hundred times a million), or,
  walking contacts with EXISTS, probe every contact of the table for a small list.
"""

from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, exists, false, select, true, union_all

from app.audience.models import Segment
from app.contacts.models import Contact, ContactList, Tag, contact_tags, list_members
from app.extensions import db
from app.messaging.models import AudienceEntry, Campaign
from app.persian import show_digits


class AudienceError(ValueError):
    """Why an audience cannot be chosen; shown as it is. ``at``: which part of it."""

    def __init__(self, message: str, at: str = ""):
        super().__init__(message)
        self.at = at


@dataclass(frozen=True)
class AudienceChoice:
    """Who a campaign goes to, by ids: everyone, or the contacts in any of the lists,
    tags and segments; minus those in any excluded list or segment."""

    everyone: bool = False
    lists: tuple[int, ...] = ()
    tags: tuple[int, ...] = ()
    segments: tuple[int, ...] = ()
    exclude_lists: tuple[int, ...] = ()
    exclude_segments: tuple[int, ...] = ()

    @property
    def includes_anyone(self) -> bool:
        return self.everyone or bool(self.lists or self.tags or self.segments)


def segment_condition_of(segment_id: int) -> ColumnElement[bool]:
    """The condition over ``Contact`` a member of segment ``segment_id`` meets.

    AudienceError when there is no such segment (deleted), or when its rules no longer
    hold (a list, tag or campaign they name was deleted): compiled anyway, "not in the
    deleted list" would match everyone, so a campaign would go to people the owner
    never meant, or "in it" to nobody. The owner fixes the rules first.
    """
    from app.audience.service import check_rules, segment_condition

    segment = db.session.get(Segment, segment_id)
    if segment is None:
        raise AudienceError(
            _(
                "There is no segment with id %(id)s; it may have been deleted.",
                id=show_digits(str(segment_id)),
            )
        )
    problems = check_rules(segment.rules)
    if problems:
        raise AudienceError(
            _(
                "The segment “%(name)s” cannot be used until its rules are fixed: %(problem)s",
                name=segment.name,
                problem=problems[0],
            )
        )
    return segment_condition(segment)


def audience_problem(choice: AudienceChoice) -> str | None:
    """Why the audience cannot be read now (a segment whose rules need fixing), or None."""
    try:
        for segment_id in choice.segments + choice.exclude_segments:
            segment_condition_of(segment_id)
    except AudienceError as error:
        return str(error)
    return None


def choice_of(campaign: Campaign) -> AudienceChoice:
    """A stored campaign's audience (its deleted lists and tags count as empty)."""
    picked: dict[tuple[str, bool], list[int]] = {}
    for entry in campaign.audience:
        if entry.ref_id is not None:
            picked.setdefault((entry.kind, entry.excluded), []).append(entry.ref_id)
    return AudienceChoice(
        everyone=campaign.to_everyone,
        lists=tuple(picked.get(("list", False), ())),
        tags=tuple(picked.get(("tag", False), ())),
        segments=tuple(picked.get(("segment", False), ())),
        exclude_lists=tuple(picked.get(("list", True), ())),
        exclude_segments=tuple(picked.get(("segment", True), ())),
    )


def audience_condition(choice: AudienceChoice, window: tuple | None = None) -> ColumnElement[bool]:
    """The condition a contact of the audience meets (see the module's docstring).

    ``window``: (low, high), the contacts with ``low <= id <= high`` only (values or bind
    parameters).
    """
    if not choice.includes_anyone:
        return false()  # every chosen list was deleted: nobody, never everyone

    def bounded(column) -> list[ColumnElement[bool]]:
        return [column.between(*window)] if window else []

    terms: list[ColumnElement[bool]] = bounded(Contact.id)
    if not choice.everyone:
        parts = []
        if choice.lists:
            column = list_members.c.contact_id
            parts.append(
                select(column).where(list_members.c.list_id.in_(choice.lists), *bounded(column))
            )
        if choice.tags:
            column = contact_tags.c.contact_id
            parts.append(
                select(column).where(contact_tags.c.tag_id.in_(choice.tags), *bounded(column))
            )
        # A segment's own contacts, not correlated with the outer query's.
        parts += [
            select(Contact.id)
            .where(segment_condition_of(segment_id), *bounded(Contact.id))
            .correlate(None)
            for segment_id in choice.segments
        ]
        terms.append(Contact.id.in_(union_all(*parts) if len(parts) > 1 else parts[0]))
    if choice.exclude_lists:
        terms.append(
            ~exists().where(
                list_members.c.contact_id == Contact.id,
                list_members.c.list_id.in_(choice.exclude_lists),
                *bounded(list_members.c.contact_id),
            )
        )
    terms += [~segment_condition_of(segment_id) for segment_id in choice.exclude_segments]
    return and_(true(), *terms)


def check_choice(choice: AudienceChoice, field_names: dict[str, str] | None = None) -> None:
    """Refuse a choice that names a list, tag or segment that does not exist, a segment
    whose rules need fixing, nobody at all, or one list or segment both chosen and
    excluded.

    ``field_names`` says how the caller names each part (``lists`` → ``list_ids``) in
    ``AudienceError.at``.
    """
    names = {
        "lists": "lists",
        "tags": "tags",
        "segments": "segments",
        "exclude_lists": "exclude_lists",
        "exclude_segments": "exclude_segments",
        **(field_names or {}),
    }
    if not choice.includes_anyone:
        raise AudienceError(
            _("Choose at least one list, tag or segment, or send to all contacts."),
            names["lists"],
        )
    for part, model in (("lists", ContactList), ("exclude_lists", ContactList), ("tags", Tag)):
        ids = set(getattr(choice, part))
        found = set(db.session.scalars(select(model.id).where(model.id.in_(ids)))) if ids else ids
        for missing in sorted(ids - found):
            if model is Tag:
                message = _("There is no tag with id %(id)s; it may have been deleted.", id=missing)
            else:
                message = _(
                    "There is no list with id %(id)s; it may have been deleted.", id=missing
                )
            raise AudienceError(message, names[part])
    for part in ("segments", "exclude_segments"):
        for segment_id in getattr(choice, part):
            try:
                segment_condition_of(segment_id)
            except AudienceError as error:
                raise AudienceError(str(error), names[part]) from None
    both = set(choice.lists) & set(choice.exclude_lists)
    if both:
        name = db.session.get(ContactList, min(both)).name
        raise AudienceError(
            _("The list “%(name)s” is both chosen and excluded; choose one.", name=name),
            names["exclude_lists"],
        )
    both = set(choice.segments) & set(choice.exclude_segments)
    if both:
        name = _names(Segment, both)[min(both)]
        raise AudienceError(
            _("The segment “%(name)s” is both chosen and excluded; choose one.", name=name),
            names["exclude_segments"],
        )


def audience_entries(choice: AudienceChoice) -> list[AudienceEntry]:
    """The rows that store a checked choice on its campaign, with each one's name."""
    list_names = _names(ContactList, choice.lists + choice.exclude_lists)
    tag_names = _names(Tag, choice.tags)
    segment_names = _names(Segment, choice.segments + choice.exclude_segments)
    entries = [AudienceEntry(kind="list", list_id=i, name=list_names[i]) for i in choice.lists]
    entries += [AudienceEntry(kind="tag", tag_id=i, name=tag_names[i]) for i in choice.tags]
    entries += [
        AudienceEntry(kind="segment", segment_id=i, name=segment_names[i]) for i in choice.segments
    ]
    entries += [
        AudienceEntry(kind="list", list_id=i, name=list_names[i], excluded=True)
        for i in choice.exclude_lists
    ]
    entries += [
        AudienceEntry(kind="segment", segment_id=i, name=segment_names[i], excluded=True)
        for i in choice.exclude_segments
    ]
    return entries


def _names(model, ids) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(model.id, model.name).where(model.id.in_(ids))).all())


# In words ----------------------------------------------------------------------------


def _joined(names: list[str]) -> str:
    """«الف»، «الف و ب»، «الف، ب و ج»."""
    if len(names) == 1:
        return names[0]
    return _("%(items)s and %(last)s", items=_(", ").join(names[:-1]), last=names[-1])


def _shown(entry: AudienceEntry) -> str:
    if entry.ref_id is None:
        return _("%(name)s (deleted)", name=entry.name or "—")
    return entry.current_name


# One and several of each kind: «گروه الف», «گروه‌های الف و ب» (two messages rather than
# ngettext: Persian has one plural form for numbers, yet says these two apart).
_KINDS_IN_WORDS = {
    "list": (_l("list %(names)s"), _l("lists %(names)s")),
    "tag": (_l("tag %(names)s"), _l("tags %(names)s")),
    "segment": (_l("segment %(names)s"), _l("segments %(names)s")),
}


def _groups(named: list[tuple[str, str]]) -> list[str]:
    """«گروه‌های الف و ب»، «برچسب ویژه»: (kind, name) pairs of each kind, in words."""
    groups = []
    for kind, (one, several) in _KINDS_IN_WORDS.items():
        names = [name for of_kind, name in named if of_kind == kind]
        if names:
            words = one if len(names) == 1 else several
            groups.append(str(words) % {"names": _joined(names)})
    return groups


def _in_words(everyone: bool, included: list[str], excluded: list[str]) -> str:
    words = _(", ").join(([_("All contacts")] if everyone else []) + included) or _("Nobody")
    if excluded:
        return _("%(audience)s, except %(excluded)s", audience=words, excluded=_joined(excluded))
    return words


def describe(campaign: Campaign) -> str:
    """The audience in words: «گروه‌های الف و ب، برچسب ویژه، به‌جز گروه ج»."""
    return _in_words(
        campaign.to_everyone,
        _groups([(entry.kind, _shown(entry)) for entry in campaign.audience if not entry.excluded]),
        _groups([(entry.kind, _shown(entry)) for entry in campaign.audience if entry.excluded]),
    )


def describe_choice(choice: AudienceChoice) -> str:
    """A choice of ids in words, as ``describe`` says a campaign's (an automation's
    audience); a list, tag or segment deleted since is named as such."""
    names = {
        "list": _names(ContactList, choice.lists + choice.exclude_lists),
        "tag": _names(Tag, choice.tags),
        "segment": _names(Segment, choice.segments + choice.exclude_segments),
    }

    def named(kind: str, ids: tuple[int, ...]) -> list[tuple[str, str]]:
        deleted = _("(deleted)")
        return [(kind, names[kind].get(item, deleted)) for item in ids]

    return _in_words(
        choice.everyone,
        _groups(
            named("list", choice.lists)
            + named("tag", choice.tags)
            + named("segment", choice.segments)
        ),
        _groups(named("list", choice.exclude_lists) + named("segment", choice.exclude_segments)),
    )
