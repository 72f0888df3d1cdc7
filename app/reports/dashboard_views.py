from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.extensions import db
from app.reports import bp
from app.reports import dashboard as figures
from app.sending.models import ProviderAccount


@bp.get("/")
def dashboard():
    period = request.args.get("period", "day")
    return render_template(
        "reports/dashboard.html",
        board=figures.dashboard(period),
        periods=figures.PERIODS,
        counted_at=figures.counted_at(),
    )


@bp.post("/credit")
def read_credit():
    """Read every real account's credit now (the worker reads it every half hour)."""
    accounts = db.session.scalars(
        db.select(ProviderAccount).where(ProviderAccount.kind != "console")
    ).all()
    failed = []
    for account in accounts:
        credit, error = figures.check_credit(account)
        if error:
            failed.append(f"{account.shown_name}: {error}")
    db.session.commit()
    if failed:
        flash(_("The credit could not be read: %(reasons)s", reasons="؛ ".join(failed)), "error")
    else:
        flash(_("The credit was read just now."), "success")
    return redirect(url_for("reports.dashboard", period=request.args.get("period", "day")))
