"""The retention page (numbers, formulas, cohorts) and its two Excel files: thin handlers."""

from flask import render_template, request, send_file
from flask_babel import get_locale
from flask_babel import gettext as _

from app.exports import XLSX, xlsx_file
from app.persian import jalali_date, show_date, show_digits
from app.reports import bp
from app.reports import retention as service
from app.reports.labels import month_name
from app.reports.retention_forms import PeriodForm


def _period() -> tuple[PeriodForm, service.Period | None, str | None]:
    """The period the query asks for: typed days, else a preset (this month by default).

    Returns the form (with its errors, if any), the period (None when the days typed are
    wrong) and the preset used (None for typed days).
    """
    form = PeriodForm(request.args)
    if form.start.data or form.end.data:
        if not form.validate():
            return form, None, None
        return form, service.Period(form.start.parsed, form.end.parsed), None
    preset = request.args.get("preset")
    preset = preset if preset in service.PRESETS else "this_month"
    period = service.preset_period(preset, service.today())
    form.start.data, form.end.data = show_date(period.start), show_date(period.end)
    return form, period, preset


def heat(share: float | None) -> int:
    """The shade of a cohort's cell: 0 (none came back) to 10 (all did)."""
    return 0 if share is None else min(10, round(share / 10))


def _presets() -> list[tuple[str, str]]:
    return [
        ("this_month", _("This month")),
        ("last_3_months", _("Last 3 months")),
        ("this_year", _("This year")),
        ("last_year", _("Last year")),
    ]


@bp.get("/retention")
def retention():
    form, period, preset = _period()
    return _page(form, period, preset)


def _page(form: PeriodForm, period: service.Period | None, preset: str | None):
    """The page; when the days typed are wrong, the form with its errors (400) and no numbers."""
    report = service.retention_report(period) if period else None
    page = render_template(
        "reports/retention.html",
        form=form,
        preset=preset,
        presets=_presets(),
        report=report,
        lines=service.report_lines(report) if report else [],
        cohorts=service.cohorts(period.end) if period else [],
        shown=service.shown,
        month_name=month_name,
        heat=heat,
    )
    return page, 200 if period else 400


def _workbook(header, rows, sheet: str, name: str, widths: dict[int, int]):
    return send_file(
        xlsx_file(
            header, rows, sheet=sheet, rtl=get_locale().text_direction == "rtl", widths=widths
        ),
        mimetype=XLSX,
        as_attachment=True,
        download_name=name,
    )


@bp.get("/retention.xlsx")
def retention_xlsx():
    """The report: each number with its formula and its sum, Jalali days, Persian headers."""
    form, period, _preset = _period()
    if period is None:
        return _page(form, None, None)
    report = service.retention_report(period)
    rows = [
        [_("Period"), f"{jalali_date(period.start)} – {jalali_date(period.end)}", "", "", ""],
        [_("A customer is lost after (days)"), report.lost_days, "", "", ""],
    ]
    for line in service.report_lines(report):
        value = line.value
        if isinstance(value, float):
            value = round(value, 0 if line.kind == "rials" else 2)
        rows.append(
            [line.label, "—" if value is None else value, line.formula, line.worked, line.note]
        )
    header = [_("Measure"), _("Value"), _("Formula"), _("Worked out"), _("Note")]
    return _workbook(
        header,
        rows,
        _("Retention"),
        f"vafa-retention-{period.start}-{period.end}.xlsx",
        {0: 32, 1: 18, 2: 60, 3: 36, 4: 50},
    )


@bp.get("/retention-cohorts.xlsx")
def cohorts_xlsx():
    """The cohort table: a row per month of first purchase, a share (%) per later month."""
    form, period, _preset = _period()
    if period is None:
        return _page(form, None, None)
    found = service.cohorts(period.end)
    header = [_("Month of first purchase"), _("Customers")] + [
        _("Month %(number)s", number=show_digits(str(number))) for number in range(1, len(found))
    ]
    rows = [
        [f"{cohort.year}/{cohort.month:02d}", cohort.size]
        + [None if share is None else round(share, 1) for share in cohort.shares]
        for cohort in found
    ]
    return _workbook(
        header,
        rows,
        _("Cohorts"),
        f"vafa-cohorts-{period.end}.xlsx",
        {0: 22, 1: 12},
    )
