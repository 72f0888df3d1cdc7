from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required, login_user, logout_user

from app.auth import bp
from app.auth.forms import LoginForm, SetupForm
from app.auth.service import UserError, authenticate, create_user, has_users
from app.extensions import db


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


@bp.route("/login", methods=["GET", "POST"])
def login():
    if not has_users():
        return redirect(url_for("auth.setup"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is None:
            flash(_("The email or password is wrong."), "error")
        else:
            login_user(user, remember=True)
            return redirect(_safe_next(request.args.get("next")))
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
            return redirect(url_for("contacts.import_contacts"))
    return render_template("auth/setup.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("auth.login"))
