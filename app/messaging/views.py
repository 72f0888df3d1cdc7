from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.contacts.models import Contact
from app.contacts.service import all_lists
from app.extensions import db
from app.messaging import bp
from app.messaging import service as campaigns
from app.messaging.forms import CampaignForm
from app.messaging.models import CAMPAIGN_STATUS_LABELS, Campaign
from app.messaging.text import PLACEHOLDERS, count_parts, render, unknown_placeholders
from app.persian import show_mobile, show_number
from app.sending.models import STATUS_LABELS


@bp.get("/")
def campaigns_index():
    rows = db.session.scalars(select(Campaign).order_by(Campaign.id.desc()).limit(200)).all()
    return render_template(
        "messaging/campaigns.html", campaigns=rows, labels=CAMPAIGN_STATUS_LABELS
    )


@bp.route("/new", methods=["GET", "POST"])
def new_campaign():
    form = CampaignForm()
    form.list_id.choices = [(0, _("All contacts"))] + [
        (item.id, f"{item.name} ({show_number(count)})") for item, count in all_lists()
    ]
    if form.validate_on_submit():
        campaign = campaigns.create_campaign(
            name=form.name.data.strip(),
            body=form.body.data.replace("\r\n", "\n"),
            list_id=form.list_id.data or None,
            provider=current_app.config["VAFA_PROVIDER"],
            sender=current_app.config["VAFA_SENDER"],
            scheduled_at=form.scheduled_at,
            created_by_id=current_user.id,
        )
        db.session.commit()
        if form.scheduled_at:
            flash(_("The campaign is scheduled."), "success")
        else:
            flash(_("The campaign is on its way."), "success")
        return redirect(url_for("messaging.campaign", campaign_id=campaign.id))
    return render_template(
        "messaging/compose.html",
        form=form,
        placeholders=[name for name in PLACEHOLDERS if not name.isascii()],
    )


@bp.post("/preview")
def preview():
    """The text as one real contact of the audience would receive it."""
    body = request.form.get("body", "").replace("\r\n", "\n")
    list_id = request.form.get("list_id", type=int) or None
    offset = max(request.form.get("offset", 0, type=int), 0)
    size = campaigns.audience_size(list_id)
    contact = None
    if size:
        contact = db.session.scalars(
            campaigns.audience_query(list_id).order_by(Contact.id).offset(offset % size).limit(1)
        ).first()
    text = render(body, contact) if contact else body
    count = count_parts(text)
    return jsonify(
        text=text,
        characters=count.characters,
        parts=count.parts,
        unicode=count.unicode,
        audience=size,
        # The number is isolated left-to-right (LRI…PDI): in a Persian sentence its
        # space-separated digit groups would otherwise be laid out in reverse order.
        contact=(
            f"{contact.full_name} \u2066{show_mobile(contact.mobile)}\u2069".strip()
            if contact
            else None
        ),
        unknown=unknown_placeholders(body),
    )


@bp.get("/<int:campaign_id>")
def campaign(campaign_id: int):
    item = db.get_or_404(Campaign, campaign_id)
    return render_template(
        "messaging/campaign.html",
        campaign=item,
        progress=_progress(item),
        labels=CAMPAIGN_STATUS_LABELS,
    )


@bp.get("/<int:campaign_id>/progress")
def progress(campaign_id: int):
    return jsonify(_progress(db.get_or_404(Campaign, campaign_id)))


def _progress(campaign: Campaign) -> dict:
    counts = campaigns.campaign_counts(campaign.id)
    total = sum(counts.values())
    waiting = counts.get("queued", 0) + counts.get("sending", 0)
    return {
        "status": campaign.status,
        "status_label": str(CAMPAIGN_STATUS_LABELS[campaign.status]),
        "total": total,
        "handed_over": total - waiting,
        "percent": round(100 * (total - waiting) / total) if total else 0,
        "counts": [
            {
                "status": status,
                "label": str(label),
                "count": counts[status],
                "shown": show_number(counts[status]),
            }
            for status, label in STATUS_LABELS.items()
            if counts.get(status)
        ],
        "total_shown": show_number(total),
        "handed_over_shown": show_number(total - waiting),
    }
