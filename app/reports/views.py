from flask import Response, render_template, request, send_file, stream_with_context
from flask_babel import get_locale

from app.extensions import db
from app.messaging.models import Campaign
from app.reports import bp
from app.reports import service as reports
from app.sending.models import STATUS_LABELS


def _filters() -> dict:
    return {
        "campaign_id": request.args.get("campaign", type=int),
        "status": request.args.get("status") or None,
        "mobile": request.args.get("mobile", "").strip() or None,
    }


@bp.get("/messages")
def messages():
    filters = _filters()
    rows, next_before = reports.delivery_log(**filters, before=request.args.get("before", type=int))
    return render_template(
        "reports/messages.html",
        messages=rows,
        next_before=next_before,
        filters=filters,
        campaign=db.session.get(Campaign, filters["campaign_id"])
        if filters["campaign_id"]
        else None,
        labels=STATUS_LABELS,
        error_text=reports.error_text,
    )


@bp.get("/messages.csv")
def messages_csv():
    return Response(
        stream_with_context(reports.export_csv(**_filters())),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=vafa-delivery-log.csv"},
    )


@bp.get("/messages.xlsx")
def messages_xlsx():
    return send_file(
        reports.export_xlsx(**_filters(), rtl=get_locale().text_direction == "rtl"),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name="vafa-delivery-log.xlsx",
    )
