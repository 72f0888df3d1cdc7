from contextlib import suppress
from datetime import datetime, timedelta

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.auth.audit import record_audit
from app.contacts.models import Contact
from app.contacts.service import own_field_names
from app.coupons.service import (
    LENGTH_DEFAULT,
    CouponSettings,
    first_code,
    issued_count,
    prefix_fits,
    redemption_count,
    typed_length,
    typed_prefix,
)
from app.extensions import db
from app.limits import ID_MAX
from app.messaging import bp
from app.messaging import service as campaigns
from app.messaging.audience import AudienceChoice, audience_problem, describe
from app.messaging.forms import CAMPAIGN_TEXT_MAX, CampaignForm
from app.messaging.models import CAMPAIGN_STATUS_LABELS, Campaign, MessageTemplate
from app.messaging.rendering import (
    counted,
    longest_variant,
    message_template,
    render_text,
    sent_text,
    text_problems,
)
from app.messaging.template_views import placeholder_chips
from app.messaging.text import COUPON
from app.occasions.service import occasion_text_on
from app.persian import (
    ascii_digits,
    parse_jalali_date,
    show_date,
    show_digits,
    show_mobile,
    show_number,
    to_tehran,
)
from app.reports.campaigns import campaign_report
from app.reports.effect import DAYS_DEFAULT, DAYS_MAX, campaign_effect
from app.sending.accounts import all_accounts
from app.sending.models import ERROR_LABELS, HANDED_OVER, STATUS_LABELS, ProviderAccount
from app.sending.policy import WEEKDAY_LABELS, load_policy
from app.sending.service import default_account
from app.types import utcnow


@bp.get("/")
def campaigns_index():
    # An automation's runs are listed on its own page (app.occasions), not here.
    rows = db.session.scalars(
        select(Campaign)
        .where(Campaign.automation_id.is_(None))
        .order_by(Campaign.id.desc())
        .limit(200)
    ).all()
    policy = load_policy()
    held = {row.id: campaigns.planned_start(row, policy) for row in rows}
    return render_template(
        "messaging/campaigns.html",
        campaigns=rows,
        labels={row.id: _status_label(row, held[row.id]) for row in rows},
        audience_words={row.id: describe(row) for row in rows},
        starts={row.id: held[row.id] or row.scheduled_at for row in rows},
        # A scheduled campaign has no messages yet: its audience as it stands now.
        audiences={
            row.id: campaigns.audience_now(row) for row in rows if row.status == "scheduled"
        },
    )


def _routes() -> list[tuple[str, str]]:
    """Every (account, sender line) pair the owner can send through; the default first."""
    default_account()
    return [
        (f"{account.id}:{line}", f"{account.shown_name} — {show_digits(line)}")
        for account in all_accounts()
        for line in account.sender_lines
    ]


@bp.route("/new", methods=["GET", "POST"])
def new_campaign():
    form = CampaignForm()
    form.offer_choices()
    form.route.choices = _routes()
    if request.method == "GET" and (template_id := request.args.get("template", type=int)):
        # «Use this template»: the compose form starts from the template's text.
        template = db.session.get(MessageTemplate, template_id) if template_id < 2**31 else None
        if template is not None:
            form.name.data, form.body.data = template.name, template.body
    if form.validate_on_submit():
        account_id, sender = form.route.data.split(":", 1)
        campaign = campaigns.create_campaign(
            name=form.name.data.strip(),
            body=form.body.data.replace("\r\n", "\n"),
            audience=form.choice,
            provider_id=int(account_id),
            sender=sender,
            scheduled_at=form.scheduled_at,
            created_by_id=current_user.id,
            coupon_prefix=form.coupon_settings[0],
            coupon_length=form.coupon_settings[1],
            holdout_percent=form.holdout,
        )
        db.session.commit()
        return redirect(url_for("messaging.campaign", campaign_id=campaign.id))
    db.session.commit()  # the console account default_account() may have created
    policy, now = load_policy(), utcnow()
    wait = campaigns.wait_for_rules(policy, now, now)
    return render_template(
        "messaging/compose.html",
        form=form,
        placeholders=placeholder_chips(),
        optout=policy,
        window_closed=_(
            "Now is outside the sending window: sent now, it will start at %(time)s on "
            "%(day)s (marketing SMS are sent only from %(start)s to %(end)s, as set on the "
            "rules page).",
            **_window_words(policy, wait.opens),
        )
        if wait and wait.reason == "window"
        else _wait_text(policy, wait, now),
    )


@bp.post("/preview")
def preview():
    """The text as one real contact of the audience would receive it, and the longest
    text anyone in the audience would receive (what the counter shows): the same
    rendering as the API's POST /api/v1/templates/render (app.messaging.rendering)."""
    body = request.form.get("body", "").replace("\r\n", "\n")[: CAMPAIGN_TEXT_MAX * 2]
    choice = _previewed_audience()
    offset = max(request.form.get("offset", 0, type=int), 0)
    size = campaigns.audience_size(choice)
    # Those the messages would go to: the sample contact and the longest text are theirs.
    audience = campaigns.audience_query(choice).where(
        Contact.opted_out_at.is_(None), ~campaigns.capped_now(load_policy())
    )
    contact = None
    if size:
        contact = db.session.scalars(
            audience.order_by(Contact.id).offset(offset % size).limit(1)
        ).first()
    own = own_field_names()
    problems = text_problems(body, own)
    coupon = _sample_coupon()
    occasion = _previewed_occasion()
    longest = None
    if problems:
        # What is known is filled in; the rest stays as written, braces and all.
        template = message_template(body, own, occasion)
        text = template.render(contact, coupon) if contact else body
        shown = counted(sent_text(text, marketing=True))
    else:
        shown = render_text(body, contact, own_fields=own, coupon=coupon, occasion=occasion)
        if size and body.strip():
            route = request.form.get("route", "")
            longest = _longest(body, audience, route, own, coupon, occasion)
    return jsonify(
        text=shown.text,
        characters=shown.characters,
        parts=shown.parts,
        unicode=shown.unicode,
        audience=size,
        # The number is isolated left-to-right (LRI…PDI): in a Persian sentence its
        # space-separated digit groups would otherwise be laid out in reverse order.
        contact=(
            f"{contact.full_name} \u2066{show_mobile(contact.mobile)}\u2069".strip()
            if contact
            else None
        ),
        problems=problems,
        longest=longest,
    )


def _sample_coupon() -> str:
    """A code as the compose form's coupon fields would make one (defaults where they
    are not filled in or not right: the form says what is wrong when it is sent)."""
    prefix = typed_prefix(request.form.get("coupon_prefix"))
    length = typed_length(request.form.get("coupon_length"))
    return CouponSettings(prefix if prefix_fits(prefix) else "", length or LENGTH_DEFAULT).sample()


def _previewed_occasion() -> str:
    """What {مناسبت} shows for the compose form's day: the first occasion of the Jalali
    date typed (when it is scheduled and the date can be read), else of today."""
    day = to_tehran(utcnow()).date()
    typed = request.form.get("send_date", "")
    if request.form.get("when") == "later" and len(typed) <= 40:
        with suppress(ValueError):  # the form says what is wrong when it is sent
            day = parse_jalali_date(typed)
    return occasion_text_on(day)


def _longest(
    body: str, audience, route: str, own_fields: list[str], coupon: str, occasion: str = ""
) -> dict:
    """The counter's figures: the audience's longest text and its cost through ``route``."""
    found = longest_variant(body, audience, own_fields=own_fields, coupon=coupon, occasion=occasion)
    account_id = route.split(":", 1)[0]
    if not route:  # an automation on the default account
        account = db.session.scalar(
            select(ProviderAccount).order_by(ProviderAccount.is_default.desc(), ProviderAccount.id)
        )
    else:
        account = (
            db.session.get(ProviderAccount, int(account_id))
            if account_id.isascii() and account_id.isdigit() and len(account_id) < 10
            else None
        )
    cost = found.rendered.parts * (account.price_per_part if account else 0)
    return {
        "characters": found.rendered.characters,
        "parts": found.rendered.parts,
        "unicode": found.rendered.unicode,
        "cost": cost,
        "cost_shown": show_number(cost),
        "empty": _(
            "Some recipients have no %(names)s: it is left out of their text. Give it "
            "a fallback, like %(example)s.",
            names="، ".join(f"{{{name}}}" for name in found.empty),
            example=f"{{{found.empty[0]}|…}}",
        )
        if found.empty
        else "",
    }


def _previewed_audience() -> AudienceChoice:
    """The audience the compose form holds now, as far as it can be read: a list, tag or
    segment that is not there (deleted meanwhile) adds nobody; the form's own check says
    so."""

    def ids(name: str) -> tuple[int, ...]:
        values = request.form.getlist(name, type=int)
        return tuple(dict.fromkeys(value for value in values if 0 < value <= ID_MAX))

    def usable(name: str) -> tuple[int, ...]:
        """The segments that can be read (one whose rules need fixing is left out: the
        form says so when it is sent)."""
        return tuple(i for i in ids(name) if not audience_problem(AudienceChoice(segments=(i,))))

    excluded = {
        "exclude_lists": ids("exclude_lists"),
        "exclude_segments": usable("exclude_segments"),
    }
    if request.form.get("audience", "all") == "all":
        return AudienceChoice(everyone=True, **excluded)
    return AudienceChoice(
        lists=ids("lists"), tags=ids("tags"), segments=usable("segments"), **excluded
    )


@bp.get("/<int:campaign_id>")
def campaign(campaign_id: int):
    item = db.get_or_404(Campaign, campaign_id)
    # A segment whose rules need fixing: said instead of figures (none would be right),
    # while the audience is still to be read (messages written are not taken back).
    unread = item.status in ("draft", "scheduled")
    problem = (
        campaigns.campaign_audience_problem(item)
        if unread or item.paused_reason == campaigns.AUDIENCE_UNUSABLE
        else None
    )
    return render_template(
        "messaging/campaign.html",
        campaign=item,
        audience=describe(item),
        audience_problem=problem,
        starts=campaigns.planned_start(item, load_policy()) or item.scheduled_at,
        estimate=campaigns.estimate(item) if item.status == "draft" and not problem else None,
        window_wait=_window_wait(item),
        audience_now=campaigns.audience_now(item) if item.status == "scheduled" else None,
        progress=_progress(item),
        waiting_for_scheduler=campaigns.waits_for_scheduler(item),
        labels=CAMPAIGN_STATUS_LABELS,
        error_labels=ERROR_LABELS,
        coupons=_coupon_figures(item),
        report=campaign_report(item) if item.started_at else None,
        effect=campaign_effect(item, _effect_days()) if item.started_at else None,
    )


def _effect_days() -> int:
    """The days after the send the effect counts purchases in (the page's own form)."""
    typed = ascii_digits(request.args.get("days", "")).strip()
    days = int(typed) if typed.isascii() and typed.isdigit() and len(typed) < 4 else None
    return days if days is not None and 1 <= days <= DAYS_MAX else DAYS_DEFAULT


def _coupon_figures(campaign: Campaign) -> dict | None:
    """A campaign's codes: how they look and, once written, how many of those sent were
    used. None for a text without {کد تخفیف}."""
    issued = issued_count(campaign.id) if campaign.status != "draft" else 0
    if not issued and COUPON not in message_template(campaign.body).reads:
        return None
    settings = CouponSettings.of(campaign)
    used, sent = redemption_count(campaign.id) if issued else (0, 0)
    # Once written, a real code of the campaign: one made up for the page would be looked
    # up at the counter and not found.
    example = first_code(campaign.id) if issued else settings.sample()
    return {"issued": issued, "used": used, "sent": sent, "settings": settings, "example": example}


@bp.post("/<int:campaign_id>/confirm")
def confirm(campaign_id: int):
    item = db.get_or_404(Campaign, campaign_id)
    try:
        campaigns.confirm_campaign(item)
    except campaigns.CampaignError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        campaigns.start_soon(item)
        later = item.scheduled_at > utcnow() + timedelta(seconds=30)
        flash(
            _window_wait(item)
            or (_("The campaign is scheduled.") if later else _("The campaign is on its way.")),
            "success",
        )
    return redirect(url_for("messaging.campaign", campaign_id=campaign_id))


@bp.post("/<int:campaign_id>/<any(pause, resume, cancel, retry):action>")
def control(campaign_id: int, action: str):
    """The owner's hands on a running campaign."""
    item = db.get_or_404(Campaign, campaign_id)
    if action == "pause":
        campaigns.pause_campaign(item)
        message = _("The campaign is paused.")
    elif action == "resume":
        campaigns.resume_campaign(item)
        message = _("The campaign goes on.")
    elif action == "cancel":
        count = campaigns.cancel_campaign(item)
        message = _(
            "The campaign is cancelled; %(count)s messages will not be sent.",
            count=show_number(count),
        )
    else:
        count = campaigns.retry_unknown_messages(item)
        record_audit("campaign.retry", item.name, {"messages": count})
        message = _("%(count)s messages are queued again.", count=show_number(count))
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("messaging.campaign", campaign_id=campaign_id))


@bp.get("/<int:campaign_id>/progress")
def progress(campaign_id: int):
    return jsonify(_progress(db.get_or_404(Campaign, campaign_id)))


def _window_wait(campaign: Campaign, started: bool = False) -> str:
    """When and why the sending window holds the campaign back; empty when it does not.

    ``started``: some of its messages have already gone to the provider.
    """
    policy, now = load_policy(), utcnow()
    wait = campaigns.rules_wait(campaign, policy, now)
    if wait is None or wait.reason != "window":
        return _wait_text(policy, wait, now, started)
    window = _window_words(policy, wait.opens)
    if started:
        return _(
            "The rest of this campaign will be sent from %(time)s on %(day)s: marketing "
            "SMS are sent only within the sending window set on the rules page "
            "(%(start)s to %(end)s).",
            **window,
        )
    return _(
        "It will start at %(time)s on %(day)s: marketing SMS are sent only within the "
        "sending window set on the rules page (%(start)s to %(end)s).",
        **window,
    )


def _wait_text(policy, wait, now, started: bool = False) -> str:
    """What a quiet day or the full daily cap means for the campaign; empty otherwise."""
    if wait is None or wait.reason == "window":
        return ""
    words = {
        "time": show_digits(f"{to_tehran(wait.opens):%H:%M}"),
        "day": _day_words(wait.opens, now),
    }
    if wait.reason == "cap":
        return _(
            "The daily sending cap (%(cap)s marketing SMS) is reached; the rest will be "
            "sent %(day)s at %(time)s.",
            cap=show_number(policy.daily_cap),
            **words,
        )
    quiet = (
        str(WEEKDAY_LABELS[wait.quiet_day.weekday()])
        if wait.quiet_day.weekday() in policy.quiet_weekdays
        else show_date(wait.quiet_day)
    )
    mourning = (
        wait.quiet_day in policy.mourning_dates
        and wait.quiet_day.weekday() not in policy.quiet_weekdays
        and wait.quiet_day not in policy.quiet_dates
    )
    if mourning:
        return _(
            "It will be sent %(day)s at %(time)s: %(quiet)s is a day of mourning, with no "
            "marketing SMS (set on the occasions page).",
            quiet=quiet,
            **words,
        )
    if started:
        return _(
            "The rest of this campaign will be sent %(day)s from %(time)s: %(quiet)s is a "
            "quiet day, with no marketing SMS (set on the rules page).",
            quiet=quiet,
            **words,
        )
    return _(
        "It will start %(day)s at %(time)s: %(quiet)s is a quiet day, with no marketing "
        "SMS (set on the rules page).",
        quiet=quiet,
        **words,
    )


def _day_words(moment, now) -> str:
    """«فردا» for tomorrow, else the weekday and Jalali date: «شنبه ۱۴۰۵/۰۹/۰۸»."""
    day = to_tehran(moment).date()
    if day == to_tehran(now).date() + timedelta(days=1):
        return _("tomorrow")
    return _("%(weekday)s %(date)s", weekday=WEEKDAY_LABELS[day.weekday()], date=show_date(day))


def _status_label(campaign: Campaign, held_until: datetime | None) -> str:
    """The campaign's status as the owner reads it: one the window holds back is waiting
    for it, not sending."""
    if held_until is not None:
        return _("Waiting for the sending window")
    return str(CAMPAIGN_STATUS_LABELS[campaign.status])


def _window_words(policy, opens) -> dict[str, str]:
    """The moment the window opens and the window itself, as the page shows them."""
    return {
        "time": show_digits(f"{to_tehran(opens):%H:%M}"),
        "day": show_date(opens),
        "start": show_digits(f"{policy.window_start:%H:%M}"),
        "end": show_digits(f"{policy.window_end:%H:%M}"),
    }


def _progress(campaign: Campaign) -> dict:
    counts = campaigns.campaign_counts(campaign.id)
    total = sum(counts.values())
    waiting = sum(counts.get(status, 0) for status in ("queued", "sending", "held"))
    rate = campaigns.throughput(campaign.id) if campaign.status == "sending" else 0.0
    eta = round(waiting / rate) if rate and waiting else None
    return {
        "status": campaign.status,
        "status_label": _status_label(campaign, campaigns.planned_start(campaign, load_policy())),
        "paused_reason": str(ERROR_LABELS.get(campaign.paused_reason, ""))
        if campaign.paused_reason and campaign.paused_reason != "owner"
        else "",
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
        "rate_text": _("%(rate)s per second", rate=show_number(round(rate))) if rate else "",
        "eta_text": _("about %(time)s left", time=_duration(eta)) if eta else "",
        "uncertain_text": _uncertain_text(campaign, counts.get("unknown", 0)),
        "window_text": _window_wait(
            campaign, started=any(counts.get(status) for status in HANDED_OVER)
        ),
    }


def _uncertain_text(campaign: Campaign, unknown: int) -> str:
    """What is being done about the messages whose fate is not known yet."""
    if not unknown:
        return ""
    owner = campaigns.left_to_owner([campaign.id]).get(campaign.id, 0)
    texts = []
    if unknown > owner:
        texts.append(
            _(
                "%(count)s messages are being checked with the provider; those it never "
                "received will be sent again.",
                count=show_number(unknown - owner),
            )
        )
    if owner:
        texts.append(
            _(
                "The provider cannot tell whether it received %(count)s messages; you may "
                "send them again, though some may then arrive twice.",
                count=show_number(owner),
            )
        )
    return " ".join(texts)


def _duration(seconds: int) -> str:
    minutes, seconds = divmod(seconds, 60)
    if minutes:
        return _(
            "%(minutes)s min %(seconds)s s",
            minutes=show_number(minutes),
            seconds=show_number(seconds),
        )
    return _("%(seconds)s s", seconds=show_number(seconds))
