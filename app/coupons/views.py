"""The counter's page: look a code up, see whose it is, mark it used; and the exports."""

from flask import (
    Response,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from app.coupons import bp
from app.coupons import service as coupons
from app.coupons.forms import RedeemForm
from app.exports import XLSX
from app.extensions import db
from app.messaging.models import Campaign
from app.persian import normalize_text

TYPED_MAX = 100  # what the code box takes before it is even read


@bp.get("/")
def lookup():
    """Type a code (any case, Persian digits, spaces): whose it is, and whether it was used."""
    typed = request.args.get("code", "")[:TYPED_MAX]
    code = coupons.normalize_code(typed)
    details = coupons.find_coupon(code) if code else None
    problem = None
    if typed.strip() and code is None:
        problem = _("A code has only Latin letters and digits, like NOWRUZ7K2MPQ9A.")
    elif code and details is None:
        problem = _("There is no coupon with the code %(code)s.", code=code)
    form = RedeemForm(code=code) if details else None
    return render_template(
        "coupons/lookup.html", typed=typed, details=details, problem=problem, form=form
    )


@bp.post("/redeem")
def redeem():
    form = RedeemForm()
    code = coupons.normalize_code(form.code.data)
    if not form.validate() or code is None:
        flash(_("The code could not be read; type it again."), "error")
        return redirect(url_for("coupons.lookup"))
    try:
        coupons.redeem_coupon(code, current_user.email, normalize_text(form.note.data) or None)
    except coupons.CouponRefused as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        flash(_("The code %(code)s is recorded as used.", code=code), "success")
    return redirect(url_for("coupons.lookup", code=code))


@bp.get("/campaign/<int:campaign_id>.csv")
def export_csv(campaign_id: int):
    db.get_or_404(Campaign, campaign_id)
    return Response(
        stream_with_context(coupons.export_csv(campaign_id)),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename=vafa-coupons-{campaign_id}.csv"},
    )


@bp.get("/campaign/<int:campaign_id>.xlsx")
def export_xlsx(campaign_id: int):
    db.get_or_404(Campaign, campaign_id)
    return send_file(
        coupons.export_xlsx(campaign_id, rtl=get_locale().text_direction == "rtl"),
        mimetype=XLSX,
        as_attachment=True,
        download_name=f"vafa-coupons-{campaign_id}.xlsx",
    )
