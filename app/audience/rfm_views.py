"""The RFM page: how many customers sit in each group, and a button to score again."""

from flask import flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from app.audience import bp, rfm
from app.extensions import db
from app.persian import show_number
from app.types import utcnow


def _share(percent: float) -> str:
    """12.5% in English, ۱۲٫۵٪ in Persian."""
    text = f"{percent:.1f}"
    if get_locale().language == "fa":
        return text.translate(_PERSIAN_DECIMAL) + "٪"
    return f"{text}%"


_PERSIAN_DECIMAL = str.maketrans("0123456789.", "۰۱۲۳۴۵۶۷۸۹٫")


@bp.get("/rfm")
def rfm_page():
    return render_template(
        "audience/rfm.html", groups=rfm.group_counts(), run=rfm.last_run(), share=_share
    )


@bp.post("/rfm/score")
def rfm_score():
    scored = rfm.score_contacts(utcnow())
    db.session.commit()
    flash(_("Scored again: %(count)s customers.", count=show_number(scored)), "success")
    return redirect(url_for("audience.rfm_page"))
