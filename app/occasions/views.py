"""The occasion calendar page: the coming twelve Jalali months, the shop's own occasions,
a lunar day moved by a day, and the mourning list."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.auth.audit import record_audit
from app.auth.policy import can
from app.extensions import db
from app.limits import ID_MAX
from app.occasions import bp
from app.occasions import service as occasions
from app.occasions.automations import planned_counts
from app.occasions.calendar import CALENDARS, HIJRI, MONTHS
from app.occasions.forms import CustomOccasionForm, MourningForm, ShiftForm
from app.occasions.models import CustomOccasion
from app.persian import show_digits
from app.sending.policy import WEEKDAY_LABELS


@bp.get("/")
def calendar():
    return _calendar_page()


def _calendar_page(failed: CustomOccasionForm | None = None, failed_id: int | None = None):
    """The calendar; ``failed``: a shop's occasion form refused, shown again as typed, its
    errors at their fields (``failed_id``: the occasion it edits; None: the new one)."""
    today = occasions.today_in_tehran()
    customs = occasions.custom_occasions()
    months = occasions.coming_months(today)
    planned = planned_counts(today, months[-1].days[-1].day)
    return render_template(
        "occasions/calendar.html",
        # Each month with the days that have an occasion or an automatic send.
        months=[
            (month, [day for day in month.days if day.occurrences or day.day in planned])
            for month in months
        ],
        planned=planned,
        today=today,
        month_names=MONTHS,
        calendars=CALENDARS,
        hijri=HIJRI,
        customs=[
            (item, failed if failed is not None and failed_id == item.id else _form_of(item))
            for item in customs
        ],
        new_form=failed
        if failed is not None and failed_id is None
        else CustomOccasionForm(prefix="new"),
        failed=failed,
        shift_form=ShiftForm(),
        mourning_form=MourningForm(),
        choices=occasions.mourning_choices(),
        may_change_rules=can("sending_rules"),
        weekday_names=WEEKDAY_LABELS,
    )


def _form_of(item: CustomOccasion) -> CustomOccasionForm:
    """The form that edits one of the shop's own occasions (its fields prefixed by id)."""
    return CustomOccasionForm(obj=_FormValues(item), prefix=f"c{item.id}")


class _FormValues:
    """A custom occasion's values as its form shows them (digits as text)."""

    def __init__(self, item: CustomOccasion):
        self.name = item.name
        self.calendar = item.calendar
        self.month = show_digits(str(item.month))
        self.day = show_digits(str(item.day))


def _save(occasion: CustomOccasion | None, form: CustomOccasionForm) -> bool:
    """Save the shop's occasion from its form; False with the problem at its field."""
    if not form.validate():
        flash(_("The form could not be read; please try again."), "error")
        return False
    try:
        saved = occasions.save_custom_occasion(
            occasion,
            form.name.data or "",
            form.calendar.data or "",
            form.number(form.month),
            form.number(form.day),
        )
    except occasions.OccasionError as error:
        db.session.rollback()
        field = getattr(form, error.field, None) or form.name
        field.errors = [*field.errors, error.message]
        return False
    db.session.commit()
    flash(_("The occasion «%(name)s» is saved.", name=saved.name), "success")
    return True


@bp.post("/custom")
def add_custom():
    form = CustomOccasionForm(prefix="new")
    if not _save(None, form):
        return _calendar_page(form), 422
    return redirect(url_for("occasions.calendar", _anchor="custom"))


def _custom(occasion_id: int) -> CustomOccasion:
    found = db.session.get(CustomOccasion, occasion_id) if occasion_id <= ID_MAX else None
    if found is None:
        abort(404)
    return found


@bp.post("/custom/<int:occasion_id>")
def edit_custom(occasion_id: int):
    occasion = _custom(occasion_id)
    form = CustomOccasionForm(prefix=f"c{occasion.id}")
    if not _save(occasion, form):
        return _calendar_page(form, occasion.id), 422
    return redirect(url_for("occasions.calendar", _anchor="custom"))


@bp.post("/custom/<int:occasion_id>/delete")
def delete_custom(occasion_id: int):
    # The button of the occasion's own form: its CSRF token was checked (CSRFProtect).
    occasion = _custom(occasion_id)
    name = occasion.name
    occasions.delete_custom_occasion(occasion)
    db.session.commit()
    flash(_("The occasion «%(name)s» is deleted.", name=name), "success")
    return redirect(url_for("occasions.calendar", _anchor="custom"))


@bp.post("/shift")
def shift():
    form = ShiftForm()
    if not form.validate():
        flash(_("The form could not be read; please try again."), "error")
        return redirect(url_for("occasions.calendar"))
    try:
        found = occasions.shift_occurrence(form.occurrence.data or "", int(form.days.data))
    except occasions.OccasionError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("occasions.calendar"))
    record_audit("occasions.shift", f"{found.name} ({found.ident})", {"days": int(form.days.data)})
    db.session.commit()
    flash(_("«%(name)s» is moved as you chose.", name=found.name), "success")
    return redirect(url_for("occasions.calendar", _anchor=f"day-{found.day.isoformat()}"))


@bp.post("/mourning")
def mourning():
    if not MourningForm().validate():
        flash(_("The form could not be read; please try again."), "error")
        return redirect(url_for("occasions.calendar", _anchor="mourning"))
    occasions.set_mourning(request.form.getlist("mourning")[:1000])
    chosen = [choice.name for choice in occasions.mourning_choices() if choice.mourning]
    record_audit("occasions.mourning", detail={"mourning": "، ".join(chosen)})
    db.session.commit()
    flash(_("The mourning list is saved: no marketing SMS leave on these days."), "success")
    return redirect(url_for("occasions.calendar", _anchor="mourning"))
