"""The automation pages: the list, the editor, an automation's page with its runs, and its
plan ("who would receive this in the coming days")."""

from datetime import date, timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import func, select

from app.audience.models import Segment
from app.audience.service import ensure_builtin_segments
from app.extensions import db
from app.messaging import library
from app.messaging.audience import AudienceChoice, describe_choice
from app.messaging.models import CAMPAIGN_STATUS_LABELS, MessageTemplate
from app.messaging.template_views import placeholder_chips
from app.occasions import bp
from app.occasions.automation_forms import FIELD_KINDS, FORM_FIELD, AutomationForm
from app.occasions.automations import (
    AutomationError,
    AutomationFields,
    audience_choice,
    day_counts,
    fields_of,
    next_send,
    plan,
    runs,
    save_automation,
    set_active,
)
from app.occasions.automations import delete_automation as remove_automation
from app.occasions.calendar import BY_KEY, occurrences
from app.occasions.models import AUTOMATION_KINDS, Automation
from app.persian import (
    jalali_date,
    parse_jalali_date,
    show_date,
    show_digits,
    show_number,
    to_tehran,
)
from app.reports.campaigns import automation_report
from app.sending.accounts import all_accounts
from app.sending.models import Message
from app.sending.policy import load_policy
from app.types import utcnow

PLAN_DAYS = 30  # the plan's range unless the owner chooses another
PLAN_DAYS_MAX = 366
PLAN_ROWS = 200  # rows a plan page shows; the count covers them all

# Ready-made starting points, offered while there is no automation: the kind, the
# library's built-in text (app.messaging.library) and the timing.
STARTERS = {
    "birthday": {"kind": "birthday", "template": "birthday"},
    "yalda": {
        "kind": "occasion",
        "template": "yalda",
        "occasion_key": "yalda",
        "segment": "active",
    },
    "winback": {"kind": "winback", "template": "winback", "days_after": 60},
    "welcome": {"kind": "welcome", "template": "welcome", "counts_from": "signup"},
    "survey": {"kind": "followup", "template": "survey", "days_after": 1},
}


def _starter_words() -> dict[str, tuple[str, str]]:
    """Each starting point's title and what it does, in the owner's words."""
    return {
        "birthday": (
            _("Birthday greeting"),
            _("On each customer's birthday at 10 in the morning, a greeting with their name."),
        ),
        "yalda": (
            _("Yalda to active customers"),
            _("On Yalda night, to the customers who bought in the last 90 days."),
        ),
        "winback": (
            _("Win back after 60 days"),
            _("To each customer 60 days after their last purchase, once per quiet spell."),
        ),
        "welcome": (
            _("Welcome message"),
            _("As soon as a customer is added: a hello and a thank-you for joining."),
        ),
        "survey": (
            _("Survey after a purchase"),
            _("The day after each purchase: how likely are they to recommend you, from 0 to 10?"),
        ),
    }


# In words -------------------------------------------------------------------------------


def _clock(automation: Automation) -> str:
    return show_digits(f"{automation.send_time:%H:%M}")


def when_words(automation: Automation) -> str:
    """When it sends, as the owner would say it: «روز تولد هر مشتری، ساعت ۱۰:۰۰»."""
    kind, clock = automation.kind, _clock(automation)
    before = _days(automation.days_before)
    after = _days(automation.days_after)
    if kind == "birthday":
        if automation.days_before:
            return _(
                "%(days)s before each customer's birthday, at %(time)s", days=before, time=clock
            )
        return _("On each customer's birthday, at %(time)s", time=clock)
    if kind == "anniversary":
        since = (
            _("the first purchase") if automation.counts_from == "first_purchase" else _("joining")
        )
        if automation.days_before:
            return _(
                "%(days)s before each anniversary of %(since)s, at %(time)s",
                days=before,
                since=since,
                time=clock,
            )
        return _("On each anniversary of %(since)s, at %(time)s", since=since, time=clock)
    if kind == "occasion":
        occasion = BY_KEY.get(automation.occasion_key or "")
        name = str(occasion.name) if occasion else (automation.occasion_key or "—")
        if automation.days_before:
            return _(
                "%(days)s before %(occasion)s, at %(time)s",
                days=before,
                occasion=name,
                time=clock,
            )
        return _("On %(occasion)s, at %(time)s", occasion=name, time=clock)
    if kind == "winback":
        return _(
            "%(days)s after a customer's last purchase, at %(time)s (once per quiet spell)",
            days=after,
            time=clock,
        )
    if kind == "followup":
        if automation.days_after:
            return _("%(days)s after each purchase, at %(time)s", days=after, time=clock)
        return _("On the day of each purchase, at %(time)s", time=clock)
    # welcome
    since = (
        _("their first purchase")
        if automation.counts_from == "first_purchase"
        else _("a customer is added")
    )
    if not automation.delay_minutes:
        return _("As soon as %(since)s", since=since)
    return _("%(wait)s after %(since)s", wait=wait_words(automation.delay_minutes), since=since)


def _days(count: int) -> str:
    """«۳ روز», "1 day", "3 days"."""
    # ngettext formats the count itself, in Latin digits: localised after.
    return show_digits(ngettext("%(num)s day", "%(num)s days", count))


def wait_words(minutes: int) -> str:
    """«۲ روز», «۳ ساعت», «۱۰ دقیقه»."""
    if minutes % 1440 == 0:
        return _days(minutes // 1440)
    if minutes % 60 == 0:
        return show_digits(ngettext("%(num)s hour", "%(num)s hours", minutes // 60))
    return show_digits(ngettext("%(num)s minute", "%(num)s minutes", minutes))


def occurrence_words(occurrence: str | None) -> str:
    """A run's occurrence as the owner reads it: «۱۴۰۵/۰۹/۳۰», «شب یلدا ۱۴۰۵»."""
    if not occurrence:
        return "—"
    key, _sep, year = occurrence.partition(":")
    if year:
        occasion = BY_KEY.get(key)
        return f"{occasion.name if occasion else key} {show_digits(year)}"
    try:
        return show_date(date.fromisoformat(occurrence))
    except ValueError:
        return occurrence


# Pages ----------------------------------------------------------------------------------


@bp.get("/automations/")
def automations():
    rows = db.session.scalars(select(Automation).order_by(Automation.name)).all()
    return render_template(
        "occasions/automations.html",
        automations=rows,
        kinds=AUTOMATION_KINDS,
        when={row.id: when_words(row) for row in rows},
        audience={row.id: describe_choice(audience_choice(row.audience)) for row in rows},
        next_sends={row.id: next_send(row) for row in rows},
        starters=_starter_words() if not rows else {},
    )


@bp.get("/automations/<int:automation_id>")
def automation(automation_id: int):
    item = db.get_or_404(Automation, automation_id)
    made = runs(item)
    return render_template(
        "occasions/automation.html",
        automation=item,
        kinds=AUTOMATION_KINDS,
        when=when_words(item),
        audience=describe_choice(audience_choice(item.audience)),
        next_send=next_send(item),
        runs=made,
        counts=_run_counts([run.id for run in made]),
        occurrences={run.id: occurrence_words(run.occurrence) for run in made},
        labels=CAMPAIGN_STATUS_LABELS,
        report=automation_report(item.id) if made else None,
    )


@bp.post("/automations/<int:automation_id>/delete")
def delete_automation(automation_id: int):
    # The button of its own form: its CSRF token was checked (CSRFProtect).
    item = db.get_or_404(Automation, automation_id)
    name = item.name
    remove_automation(item)
    db.session.commit()
    flash(
        _(
            "The automatic message “%(name)s” is deleted; what it has sent stays in the"
            " campaigns and the delivery log.",
            name=name,
        ),
        "success",
    )
    return redirect(url_for("occasions.automations"))


# A run's messages, counted in the groups its row shows.
_NOT_DELIVERED = ("failed", "undeliverable", "blacklisted", "expired", "rejected")


def _run_counts(campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """Each run's messages: all of them, delivered, not delivered, skipped."""
    counts: dict[int, dict[str, int]] = {
        campaign_id: {"total": 0, "delivered": 0, "not_delivered": 0, "skipped": 0}
        for campaign_id in campaign_ids
    }
    if not campaign_ids:
        return counts
    rows = db.session.execute(
        select(Message.campaign_id, Message.status, func.count())
        .where(Message.campaign_id.in_(campaign_ids))
        .group_by(Message.campaign_id, Message.status)
    )
    for campaign_id, status, count in rows:
        shown = counts[campaign_id]
        shown["total"] += count
        group = "not_delivered" if status in _NOT_DELIVERED else status
        if group in shown:
            shown[group] += count
    return counts


@bp.route("/automations/new", methods=["GET", "POST"])
def new_automation():
    return _editor(None)


@bp.route("/automations/<int:automation_id>/edit", methods=["GET", "POST"])
def edit_automation(automation_id: int):
    return _editor(db.get_or_404(Automation, automation_id))


def _editor(automation: Automation | None):
    form = AutomationForm()
    if request.args.get("start") in STARTERS:
        ensure_builtin_segments()  # the Yalda starter's «active customers»
    _offer(form)
    if request.method == "GET":
        form.fill(_starting_fields(automation))
        _use_template(form, automation)
    elif "show_kind" not in request.form and form.validate_on_submit():
        try:
            saved = save_automation(form.fields(), automation, current_user.id)
        except AutomationError as error:
            db.session.rollback()
            _field_for(form, error.field).errors.append(str(error))
        else:
            db.session.commit()
            flash(_("The automation is saved."), "success")
            return redirect(url_for("occasions.automation", automation_id=saved.id))
    db.session.commit()  # the built-in templates, on first use
    return render_template(
        "occasions/editor.html",
        form=form,
        automation=automation,
        kinds=FIELD_KINDS,
        placeholders=placeholder_chips(),
        optout=load_policy(),
    )


def _field_for(form: AutomationForm, name: str | None):
    """The form field an AutomationError names (the audience's errors show together)."""
    name = FORM_FIELD.get(name or "", name or "name")
    if name == "audience":
        name = "lists"
    return getattr(form, name, form.name)


def _offer(form: AutomationForm) -> None:
    """The choices: lists, tags and segments, occasions with their next date, and every
    account's lines after the default account."""
    form.offer_choices()
    today = to_tehran(utcnow()).date()
    coming: dict[str, str] = {}
    for item in occurrences(today, today + timedelta(days=400)):
        if item.key not in coming:
            day = show_date(item.day)
            coming[item.key] = _("%(day)s, estimated", day=day) if item.estimate else day
    form.occasion_key.choices = [
        (key, f"{occasion.name} ({coming[key]})" if key in coming else str(occasion.name))
        for key, occasion in BY_KEY.items()
    ]
    form.route.choices = [("", _("The default account (its first line)"))] + [
        (f"{account.id}:{line}", f"{account.shown_name} — {show_digits(line)}")
        for account in all_accounts()
        for line in account.sender_lines
    ]


def _starting_fields(automation: Automation | None) -> AutomationFields:
    """An automation's fields; a new one's from a starting point (``?start=``) or the kind
    asked for (``?kind=``)."""
    if automation is not None:
        return fields_of(automation)
    starter = STARTERS.get(request.args.get("start", ""))
    kind = request.args.get("kind", "")
    fields = AutomationFields(
        name="", kind=kind if kind in AUTOMATION_KINDS else "birthday", body="", active=True
    )
    if starter is None:
        return fields
    fields.kind = starter["kind"]
    fields.name = _starter_words()[request.args["start"]][0]
    for name in ("occasion_key", "days_after", "counts_from"):
        if name in starter:
            setattr(fields, name, starter[name])
    templates = {row.key: row for row in library.all_templates() if row.key}
    if starter["template"] in templates:
        fields.body = templates[starter["template"]].body
    if "segment" in starter:
        segment_id = db.session.scalar(select(Segment.id).where(Segment.key == starter["segment"]))
        if segment_id is not None:
            fields.audience = AudienceChoice(segments=(segment_id,))
    return fields


def _use_template(form: AutomationForm, automation: Automation | None) -> None:
    """«Use this template» from the library: the text starts from the template's."""
    template_id = request.args.get("template", type=int)
    if not template_id or template_id >= 2**31:
        return
    template = db.session.get(MessageTemplate, template_id)
    if template is not None:
        form.body.data = template.body
        if automation is None and not form.name.data:
            form.name.data = template.name


@bp.post("/automations/<int:automation_id>/active")
def automation_active(automation_id: int):
    item = db.get_or_404(Automation, automation_id)
    active = request.form.get("active") == "1"
    try:
        set_active(item, active)
    except AutomationError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        flash(
            _("“%(name)s” is on: it sends by itself when the time comes.", name=item.name)
            if active
            else _("“%(name)s” is off: it sends nothing until it is switched on.", name=item.name),
            "success",
        )
    back = request.form.get("back")
    if back == "automation":
        return redirect(url_for("occasions.automation", automation_id=item.id))
    return redirect(url_for("occasions.automations"))


@bp.get("/automations/<int:automation_id>/plan")
def automation_plan(automation_id: int):
    item = db.get_or_404(Automation, automation_id)
    today = to_tehran(utcnow()).date()
    start, end, problem = _plan_range(today)
    rows, total = [], 0
    if problem is None:
        rows = plan(item, start, end, limit=PLAN_ROWS + 1)
        total = len(rows)
        if total > PLAN_ROWS:
            rows = rows[:PLAN_ROWS]
            total = sum(day_counts(item, start, end).values())
    return render_template(
        "occasions/plan.html",
        automation=item,
        when=when_words(item),
        rows=rows,
        total=total,
        shown=len(rows),
        start=start,
        end=end,
        problem=problem,
        typed_from=request.args.get("from", show_date(start))[:40],
        typed_to=request.args.get("to", show_date(end))[:40],
        spans=[
            (days, jalali_date(today), jalali_date(today + timedelta(days=days - 1)))
            for days in (7, 30, 90)
        ],
    )


def _plan_range(today: date) -> tuple[date, date, str | None]:
    """The Tehran days the plan covers: ``from``..``to`` (Jalali) or the coming 30 days;
    a problem in words when they cannot be read."""
    start, end = today, today + timedelta(days=PLAN_DAYS - 1)
    try:
        if request.args.get("from"):
            start = parse_jalali_date(request.args["from"][:40])
        if request.args.get("to"):
            end = parse_jalali_date(request.args["to"][:40])
    except ValueError:
        return start, end, _("Enter the dates as Jalali dates, like 1405/09/30.")
    if end < start:
        return start, end, _("The end of the range comes before its start.")
    if (end - start).days + 1 > PLAN_DAYS_MAX:
        return (
            start,
            end,
            _("A plan covers at most %(days)s days.", days=show_number(PLAN_DAYS_MAX)),
        )
    return start, end, None
