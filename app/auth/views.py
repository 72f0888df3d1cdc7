import math
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.auth import bp, throttle
from app.auth.forms import ChangePasswordForm, LoginForm, SetupForm
from app.auth.models import User
from app.auth.service import (
    MIN_PASSWORD_LENGTH,
    UserError,
    WrongPassword,
    authenticate,
    change_password,
    create_user,
    end_sessions,
    find_user,
    has_users,
)
from app.extensions import db
from app.persian import show_number


def _safe_next(target: str | None) -> str:
    """Only follow ?next= to a path on this site.

    Browsers read any run of slashes after the first as the start of a host name
    (``///evil.example`` goes to evil.example), so a path must not begin with two.
    """
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not urlsplit(target).netloc
        and "\\" not in target
    ):
        return target
    return url_for("index")


def _wait_message(wait: timedelta) -> str:
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    return ngettext(
        "Too many failed attempts to log in. Try again in %(count)s minute.",
        "Too many failed attempts to log in. Try again in %(count)s minutes.",
        minutes,
        count=show_number(minutes),
    )


# A browser that has logged into an account keeps a signed note of it (the "device
# cookie" of OWASP's advice on lockouts): the account's lock does not apply to it, so an
# attacker who keeps failing on the owner's e-mail cannot keep the owner out. Its
# address's limit still applies, and it names the session version, so a password
# change or "log out everywhere else" withdraws it from every other browser.
DEVICE_COOKIE = "vafa_device"
DEVICE_DAYS = 90


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="vafa-login-device")


def _device_account() -> str | None:
    """The "<id>:<version>" this browser logged in as, if its cookie is genuine and fresh."""
    token = request.cookies.get(DEVICE_COOKIE)
    if not token:
        return None
    try:
        return _device_serializer().loads(token, max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        return None


def _remember_device(response: Response, user: User) -> Response:
    response.set_cookie(
        DEVICE_COOKIE,
        _device_serializer().dumps(user.get_id()),
        max_age=DEVICE_DAYS * 86400,
        path=url_for("auth.login"),
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in; failures are throttled per account and per address (app.auth.throttle).

    A known and an unknown e-mail get the same work and the same answer.
    """
    if not has_users():
        return redirect(url_for("auth.setup"))
    form = LoginForm()
    if form.validate_on_submit():
        account = throttle.account_key(form.email.data)
        address = throttle.address_key(request.remote_addr)
        known = find_user(form.email.data)
        device = _device_account()
        keys = [address] if known and device == known.get_id() else [account, address]
        if wait := throttle.wait_time(keys):
            flash(_wait_message(wait), "error")
            return render_template("auth/login.html", form=form), 429
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            throttle.forget(account)
            db.session.commit()
            login_user(user, remember=True)
            return _remember_device(redirect(_safe_next(request.args.get("next"))), user)
        throttle.record_failure(account, throttle.ACCOUNT)
        throttle.record_failure(address, throttle.ADDRESS)
        db.session.commit()
        if wait := throttle.wait_time(keys):
            flash(_wait_message(wait), "error")
            return render_template("auth/login.html", form=form), 429
        flash(_("The email or password is wrong."), "error")
    return render_template("auth/login.html", form=form)


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    """First run: create the owner account. Closed once any user exists."""
    if has_users():
        abort(404)
    form = SetupForm()
    if form.validate_on_submit():
        try:
            user = create_user(form.email.data, form.password.data, role="owner")
        except UserError as error:
            flash(str(error), "error")
        else:
            db.session.commit()
            login_user(user, remember=True)
            flash(_("Welcome to Vafa! Start by importing your contacts."), "success")
            return _remember_device(redirect(url_for("contacts.import_contacts")), user)
    return render_template("auth/setup.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("auth.login"))


@bp.get("/account")
@login_required
def account():
    """The user's own page: change the password, log out on every other device."""
    return _account_page(ChangePasswordForm())


def _account_page(form: ChangePasswordForm) -> str:
    return render_template("auth/account.html", form=form, min_password_length=MIN_PASSWORD_LENGTH)


@bp.post("/account/password")
@login_required
def password():
    """Change one's own password. Wrong current passwords count as failed logins of the
    account, so someone who found a logged-in browser cannot guess it here instead.

    Only the guesses made here hold this page up, not the account's lock: a stranger
    failing at the login page with the owner's e-mail must not keep the owner, logged
    in, from changing the password — the very thing to do when that happens.
    """
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        account = throttle.account_key(user.email)
        guesses = throttle.password_change_key(user.id)
        if wait := throttle.wait_time([guesses]):
            flash(_wait_message(wait), "error")
            return _account_page(form), 429
        try:
            change_password(user, form.current.data, form.password.data)
        except WrongPassword as error:
            throttle.record_failure(guesses, throttle.ACCOUNT)
            throttle.record_failure(account, throttle.ACCOUNT)
            db.session.commit()
            flash(str(error), "error")
        except UserError as error:
            flash(str(error), "error")
        else:
            throttle.forget(guesses)
            throttle.forget(account)
            db.session.commit()
            # The change ended every session; this browser stays logged in.
            login_user(user, remember=True)
            flash(_("Your password is changed. Every other device is logged out."), "success")
            return _remember_device(redirect(url_for("auth.account")), user)
    return _account_page(form)


@bp.post("/account/sessions")
@login_required
def end_other_sessions():
    """Log out everywhere else: every other session and remember cookie stops working."""
    user = current_user._get_current_object()
    end_sessions(user)
    db.session.commit()
    login_user(user, remember=True)
    flash(_("Every other device is logged out."), "success")
    return _remember_device(redirect(url_for("auth.account")), user)
