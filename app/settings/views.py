from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import inspect

from app.api.forms import ApiTokenForm
from app.api.service import TokenError, all_tokens, create_token, revoke_token
from app.auth.audit import (
    provider_change,
    provider_snapshot,
    provider_test,
    record_audit,
    sending_rules,
)
from app.extensions import db
from app.persian import jalali_date, parse_clock, show_number
from app.sending import accounts
from app.sending.models import ERROR_LABELS, ProviderAccount
from app.sending.policy import (
    SendingPolicy,
    deployment_policy,
    load_policy,
    save_policy,
)
from app.settings import bp
from app.settings.forms import PROVIDER_KINDS, ProviderForm, SendingPolicyForm


@bp.get("/providers")
def providers():
    return render_template(
        "settings/providers.html",
        accounts=accounts.all_accounts(),
        sent_through=accounts.accounts_that_sent(),
        kinds=dict(PROVIDER_KINDS),
        error_labels=ERROR_LABELS,
    )


@bp.route("/providers/new", methods=["GET", "POST"])
@bp.route("/providers/<int:account_id>", methods=["GET", "POST"])
def provider(account_id: int | None = None):
    account = db.get_or_404(ProviderAccount, account_id) if account_id else None
    form = ProviderForm(obj=account if request.method == "GET" else None)
    if request.method == "GET" and account is not None:
        form.api_key.data = form.password.data = ""
    if form.validate_on_submit():
        before = provider_snapshot(account)
        try:
            saved = accounts.save_account(
                account,
                name=form.name.data,
                kind=form.kind.data,
                api_key=form.api_key.data or "",
                username=form.username.data or "",
                password=form.password.data or "",
                senders=form.senders.data,
                base_url=form.base_url.data,
                requests_per_second=form.requests_per_second.data,
                price_per_part=form.price_per_part.data or 0,
                is_default=form.is_default.data,
            )
        except accounts.AccountError as error:
            db.session.rollback()
            if error.field:
                form[error.field].errors.append(str(error))
            else:
                flash(str(error), "error")
        else:
            typed = [name for name in ("api_key", "username", "password") if form[name].data]
            record_audit(
                "provider.edit" if account else "provider.add",
                saved.name,
                provider_change(before, saved, typed),
            )
            db.session.commit()
            flash(_("The account “%(name)s” is saved.", name=saved.name), "success")
            return redirect(url_for("settings.providers"))
    return render_template("settings/provider.html", form=form, account=account)


@bp.post("/providers/<int:account_id>/test")
def test_provider(account_id: int):
    account = db.get_or_404(ProviderAccount, account_id)
    credit, error = accounts.check_credit(account)
    record_audit("provider.test", account.name, provider_test(account, credit))
    db.session.commit()
    if error:
        flash(
            _("Connecting to “%(name)s” failed: %(reason)s", name=account.shown_name, reason=error),
            "error",
        )
    else:
        flash(
            _(
                "Connected to “%(name)s”. Credit: %(credit)s Rials.",
                name=account.shown_name,
                credit=show_number(credit),
            ),
            "success",
        )
    return redirect(url_for("settings.providers"))


@bp.route("/sending", methods=["GET", "POST"])
def sending():
    policy = load_policy()
    form = SendingPolicyForm(
        data={
            "window_start": policy.window_start.strftime("%H:%M"),
            "window_end": policy.window_end.strftime("%H:%M"),
            "quiet_weekdays": list(policy.quiet_weekdays),
            "quiet_dates": "، ".join(jalali_date(day) for day in policy.quiet_dates),
            "daily_cap": policy.daily_cap,
            "frequency_cap_days": policy.frequency_cap_days,
            "optout_line": policy.optout_line,
            "optout_text": policy.optout_text,
        }
        if request.method == "GET"
        else None
    )
    if form.validate_on_submit():
        try:
            start, end = parse_clock(form.window_start.data), parse_clock(form.window_end.data)
        except ValueError:
            flash(_("Write the times like 08:00 and 22:00."), "error")
        else:
            quiet_weekdays, quiet_dates = form.quiet_days
            rules = SendingPolicy(
                window_start=start,
                window_end=end,
                quiet_weekdays=quiet_weekdays,
                quiet_dates=quiet_dates,
                daily_cap=form.daily_cap.data or 0,  # empty: no cap
                frequency_cap_days=form.frequency_cap_days.data,
                optout_line=form.optout_line.data,
                optout_text=(form.optout_text.data or "").strip()
                or deployment_policy().optout_text,
            )
            save_policy(rules)
            record_audit("sending_rules.edit", detail=sending_rules(rules))
            db.session.commit()
            flash(_("The sending rules are saved."), "success")
            return redirect(url_for("settings.sending"))
    return render_template("settings/sending.html", form=form)


@bp.route("/api-tokens", methods=["GET", "POST"])
def api_tokens():
    """Make, list and revoke API tokens; a new token's secret is shown on this page once.

    The secret goes straight into the page, never into a flash message: flashes live in
    the session cookie, which is signed but readable.
    """
    form = ApiTokenForm()
    if request.method == "POST" and "revoke" in request.form:
        token = revoke_token(request.form.get("revoke", type=int) or 0)
        if token is None:
            abort(404)
        if inspect(token).attrs.revoked_at.history.added:  # revoked now, not before
            record_audit("api_token.revoke", token.name, {"id": token.id})
        db.session.commit()
        flash(
            _(
                "The token “%(name)s” is revoked; requests made with it are refused.",
                name=token.name,
            ),
            "success",
        )
        return redirect(url_for("settings.api_tokens"))
    created = secret = None
    if form.validate_on_submit():
        try:
            created, secret = create_token(form.name.data)
        except TokenError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            record_audit("api_token.create", created.name, {"id": created.id})
            db.session.commit()
            form = ApiTokenForm(formdata=None)
    page = render_template(
        "settings/api_tokens.html",
        form=form,
        tokens=all_tokens(),
        created=created,
        secret=secret,
        openapi_url=url_for("api.openapi", _external=True),
    )
    return page, {"Cache-Control": "no-store"}
