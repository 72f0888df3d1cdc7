"""The delivery log page and its exports; the work is in app.reports.service."""

from flask import (
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _

from app.contacts import export_jobs
from app.exports import XLSX
from app.extensions import db
from app.messaging.models import Campaign
from app.persian import show_number
from app.reports import bp
from app.reports import service as reports
from app.reports.service import LogFilter
from app.sending.models import STATUS_LABELS


@bp.get("/messages")
def messages():
    log_filter = LogFilter.from_mapping(request.args)
    page = reports.delivery_log(log_filter, before=request.args.get("before", type=int))
    campaigns = reports.campaigns_for_filter()
    campaign = db.session.get(Campaign, log_filter.campaign_id) if log_filter.campaign_id else None
    if campaign and all(campaign.id != id_ for id_, _name in campaigns):
        campaigns.append((campaign.id, campaign.name))
    return render_template(
        "reports/messages.html",
        page=page,
        log_filter=log_filter,
        filter_args=log_filter.as_args(),
        campaign=campaign,
        campaigns=campaigns,
        automations=reports.automations_for_filter(),
        accounts=reports.provider_accounts(),
        labels=STATUS_LABELS,
        error_text=reports.error_text,
        contact_name=reports.contact_name,
    )


@bp.get("/messages.csv")
def messages_csv():
    log_filter = LogFilter.from_mapping(request.args)
    return Response(
        stream_with_context(reports.export_csv(log_filter)),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=vafa-delivery-log.csv"},
    )


@bp.get("/messages.xlsx")
def messages_xlsx():
    """The workbook at once, or — for many messages — written in the background while a
    page shows how far it has got."""
    log_filter = LogFilter.from_mapping(request.args)
    rtl = get_locale().text_direction == "rtl"
    if reports.count_over(log_filter, current_app.config["VAFA_EXPORT_BACKGROUND_OVER"]):

        def write(target, progress):
            reports.write_log_xlsx(target, log_filter, rtl=rtl, progress=progress)

        token = export_jobs.start_export(
            current_app._get_current_object(), write, get_locale().language
        )
        return redirect(url_for("reports.export_status", token=token))
    return send_file(
        reports.export_xlsx(log_filter, rtl=rtl),
        mimetype=XLSX,
        as_attachment=True,
        download_name="vafa-delivery-log.xlsx",
    )


@bp.get("/exports/<token>")
def export_status(token: str):
    state = export_jobs.export_state(current_app, token)
    if state.status == "unknown":
        abort(404)
    written = None
    if state.percent is not None:
        written = _(
            "Messages written: %(done)s of %(total)s",
            done=show_number(state.done),
            total=show_number(state.total),
        )
    return render_template(
        "_export.html",
        state=state,
        token=token,
        room="reports",
        heading=_("Excel export of the delivery log"),
        back=(url_for("reports.messages"), _("Back to the delivery log")),
        written=written,
    )


@bp.get("/exports/<token>/file")
def export_file(token: str):
    return export_jobs.send_export(current_app, token, "vafa-delivery-log.xlsx")
