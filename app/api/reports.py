"""The API's reports: thin handlers over app.reports."""

from flask import jsonify, request
from flask_babel import gettext as _

from app.api import bp
from app.api.schemas import Invalid, effect_args, retention_args
from app.api.views import _campaign, _invalid
from app.persian import jalali_date
from app.reports import retention
from app.reports.effect import campaign_effect


def _two(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _whole(value: float | None) -> int | None:
    return None if value is None else round(value)


@bp.get("/reports/retention")
def retention_report():
    try:
        query = retention_args(request.args)
    except Invalid as error:
        raise _invalid(error, _("The period is not valid; see the details.")) from None
    period = retention.Period(query.start, query.end)
    report = retention.retention_report(period)
    return jsonify(
        {
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "from_jalali": jalali_date(period.start),
            "to_jalali": jalali_date(period.end),
            "lost_days": report.lost_days,
            "customers_start": report.customers_start,
            "customers_end": report.customers_end,
            "new_customers": report.new_customers,
            "new_customers_at_end": report.new_at_end,
            "returning_customers": report.returning,
            "retention_rate": _two(report.retention_rate),
            "churn_rate": _two(report.churn_rate),
            "repeat_purchase_rate": _two(report.repeat_purchase_rate),
            "purchase_frequency": _two(report.purchase_frequency),
            "average_order_value": _whole(report.average_order_value),
            "clv": _whole(report.clv),
            "customers_who_bought": report.buyers,
            "orders": report.orders,
            "revenue": report.revenue,
        }
    )


@bp.get("/campaigns/<int:campaign_id>/effect")
def campaign_effect_report(campaign_id: int):
    campaign = _campaign(campaign_id)
    try:
        query = effect_args(request.args)
    except Invalid as error:
        raise _invalid(error, _("The number of days is not valid; see the details.")) from None
    effect = campaign_effect(campaign, query.days)
    return jsonify(
        {
            "campaign_id": campaign.id,
            "days": effect.days,
            "recipients": effect.recipients,
            "holdout": effect.holdout,
            "recipient_conversions": effect.recipient_conversions,
            "holdout_conversions": effect.holdout_conversions,
            "recipient_rate": effect.recipient_rate,
            "holdout_rate": effect.holdout_rate,
            "uplift": effect.uplift,
            "z": effect.z,
            "p_value": effect.p_value,
            "interval": list(effect.interval) if effect.interval else None,
            "revenue": effect.revenue,
            "coupons_redeemed": effect.coupons_redeemed,
            "summary": effect.in_words(),
        }
    )
