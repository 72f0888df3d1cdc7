"""The segment pages: thin handlers over app.audience.service."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.audience import bp, rfm
from app.audience import service as segments
from app.audience.forms import (
    ROWS_MAX,
    ROWS_MORE,
    Row,
    RuleRows,
    SegmentForm,
    condition_choices,
    read_rows,
    rows_from_rules,
    rules_from_rows,
    suggestions,
)
from app.audience.models import Segment
from app.audience.rules import check_rules, uses_rfm
from app.contacts.record_forms import ConfirmForm
from app.contacts.service import own_field_names
from app.extensions import db

SAMPLE = 20


@bp.get("/")
def segments_index():
    items = [(segment, segments.live_count(segment)) for segment in segments.all_segments()]
    return render_template("audience/index.html", items=items, rfm_run=rfm.last_run())


@bp.get("/<int:segment_id>")
def segment(segment_id: int):
    item = db.get_or_404(Segment, segment_id)
    problems = check_rules(item.rules)
    count = sample = None
    if not problems:
        count = segments.segment_count(item)
        sample = segments.segment_sample(item, SAMPLE)
    history = segments.segment_history(item)
    most = max((row.count for row in history), default=0)
    return render_template(
        "audience/segment.html",
        segment=item,
        count=count,
        sample=sample,
        problems=problems,
        history=history,
        most=most,
        confirm=ConfirmForm(),
        uses_rfm=uses_rfm(item.rules),
        rfm_run=rfm.last_run(),
        waiting=segments.campaigns_waiting_for(item),
    )


def _editor(form: SegmentForm, rule_rows: RuleRows, problems: list[str], item=None, status=200):
    keep = [row.condition for row in rule_rows.rows + rule_rows.group]
    return (
        render_template(
            "audience/edit.html",
            form=form,
            segment=item,
            rows=rule_rows.padded(),
            filled=len(rule_rows.rows),
            choices=condition_choices(own_field_names(), keep),
            suggestions=suggestions(),
            problems=problems,
        ),
        status,
    )


def _more_rows(rule_rows: RuleRows) -> RuleRows:
    """The same rows with room for more in the part whose button was pressed."""

    def grown(rows: list[Row], shown_field: str) -> list[Row]:
        # The count shown comes from the page: bounded before any row is made for it.
        shown = min(max(request.form.get(shown_field, type=int) or 0, 0), ROWS_MAX)
        room = max(shown - len(rows), 0) + ROWS_MORE
        return (rows + [Row() for _ in range(room)])[:ROWS_MAX]

    if request.form.get("more") == "group":
        return RuleRows(rule_rows.rows, grown(rule_rows.group, "group-shown"))
    return RuleRows(grown(rule_rows.rows, "rule-shown"), rule_rows.group)


def _save(form: SegmentForm, item: Segment | None):
    """Handle a submitted editor: more rows, or save; the editor again on any problem."""
    rule_rows = read_rows(request.form)
    if request.form.get("more"):
        return _editor(form, _more_rows(rule_rows), [], item)
    if not form.validate_on_submit():
        return _editor(form, rule_rows, [], item, 422)
    rules = rules_from_rows(rule_rows, form.match.data, form.group_match.data)
    try:
        if item is None:
            item = segments.create_segment(form.name.data, form.description.data, rules)
        else:
            segments.update_segment(item, form.name.data, form.description.data, rules)
    except segments.SegmentError as error:
        db.session.rollback()
        return _editor(form, rule_rows, error.messages, item, 422)
    db.session.commit()
    flash(_("Segment “%(name)s” saved.", name=item.name), "success")
    return redirect(url_for("audience.segment", segment_id=item.id))


@bp.route("/new", methods=["GET", "POST"])
def new_segment():
    form = SegmentForm()
    if request.method == "POST":
        return _save(form, None)
    return _editor(form, RuleRows(), [])


@bp.route("/<int:segment_id>/edit", methods=["GET", "POST"])
def edit_segment(segment_id: int):
    item = db.get_or_404(Segment, segment_id)
    if request.method == "POST":
        return _save(SegmentForm(), item)
    rule_rows, match, group_match = rows_from_rules(item.rules)
    form = SegmentForm(
        data={
            "name": item.name,
            "description": item.description,
            "match": match,
            "group_match": group_match,
        }
    )
    return _editor(form, rule_rows, check_rules(item.rules), item)


@bp.post("/<int:segment_id>/delete")
def delete_segment(segment_id: int):
    item = db.get_or_404(Segment, segment_id)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("audience.segment", segment_id=item.id))
    try:
        segments.delete_segment(item)
    except segments.SegmentError as error:
        for message in error.messages:
            flash(message, "error")
        return redirect(url_for("audience.segment", segment_id=item.id))
    db.session.commit()
    flash(_("Segment “%(name)s” deleted.", name=item.name), "success")
    return redirect(url_for("audience.segments_index"))
