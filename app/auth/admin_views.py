"""The owner's pages about people: users and the audit trail.

Only the owner reaches them (app/auth/policy.py: USERS, AUDIT).
"""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import audit, bp, users
from app.auth.forms import ActiveForm, AddUserForm, ResetPasswordForm, RoleForm
from app.auth.models import User
from app.auth.policy import USERS, can
from app.auth.service import MIN_PASSWORD_LENGTH, UserError
from app.extensions import db


@bp.route("/users", methods=["GET", "POST"], endpoint="users")
def users_page():
    form = AddUserForm()
    if form.validate_on_submit():
        try:
            user = users.add_user(form.email.data, form.password.data, form.role.data)
        except UserError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            db.session.commit()
            flash(
                _(
                    "%(email)s can now log in as %(role)s. Tell them their password in person.",
                    email=user.email,
                    role=users.ROLE_LABELS[user.role],
                ),
                "success",
            )
            return redirect(url_for("auth.users"))
    return render_template(
        "auth/users.html",
        form=form,
        users=users.all_users(),
        roles=users.ROLE_LABELS,
        min_password_length=MIN_PASSWORD_LENGTH,
    )


@bp.get("/users/<int:user_id>")
def user(user_id: int):
    person = db.get_or_404(User, user_id)
    return _user_page(person)


def _user_page(person: User, role_form=None, password_form=None):
    return render_template(
        "auth/user.html",
        person=person,
        role_form=role_form or RoleForm(formdata=None, data={"role": person.role}),
        password_form=password_form or ResetPasswordForm(formdata=None),
        active_form=ActiveForm(formdata=None),
        roles=users.ROLE_LABELS,
        min_password_length=MIN_PASSWORD_LENGTH,
    )


@bp.post("/users/<int:user_id>/role")
def user_role(user_id: int):
    person = db.get_or_404(User, user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        return _user_page(person, role_form=form), 400
    try:
        changed = users.change_role(person, form.role.data)
    except UserError as error:
        db.session.rollback()
        flash(str(error), "error")
        # The refused role is not kept in the form: it shows the role the user still has.
        return _user_page(person), 409
    db.session.commit()
    if changed:
        flash(
            _(
                "%(email)s is now %(role)s.",
                email=person.email,
                role=users.ROLE_LABELS[person.role],
            ),
            "success",
        )
    if not can(USERS):  # the owner made themselves staff: this page is no longer theirs
        return redirect(url_for("index"))
    return redirect(url_for("auth.user", user_id=person.id))


@bp.post("/users/<int:user_id>/password")
def user_password(user_id: int):
    person = db.get_or_404(User, user_id)
    if person.id == current_user.id:
        # One's own password is changed on the account page, with the current one typed:
        # set here, it would also end this very session and log the owner out.
        flash(_("Change your own password on your account page."), "error")
        return redirect(url_for("auth.account"))
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            users.reset_password(person, form.password.data)
        except UserError as error:
            db.session.rollback()
            form.password.errors.append(str(error))
        else:
            db.session.commit()
            flash(
                _("The password of %(email)s is changed.", email=person.email),
                "success",
            )
            return redirect(url_for("auth.user", user_id=person.id))
    return _user_page(person, password_form=form), 400


@bp.post("/users/<int:user_id>/active")
def user_active(user_id: int):
    person = db.get_or_404(User, user_id)
    form = ActiveForm()
    active = request.form.get("active") == "1"
    if form.validate_on_submit():
        try:
            users.set_active(person, active)
        except UserError as error:
            db.session.rollback()
            flash(str(error), "error")
            return _user_page(person), 409
        db.session.commit()
        if active:
            flash(_("%(email)s can log in again.", email=person.email), "success")
        else:
            flash(
                _(
                    "%(email)s is deactivated: they cannot log in, and their open sessions"
                    " have ended.",
                    email=person.email,
                ),
                "success",
            )
    return redirect(url_for("auth.user", user_id=person.id))


@bp.get("/audit", endpoint="audit")
def audit_page():
    before = request.args.get("before", type=int)  # None beyond an id's range: app.limits
    entries, next_before = audit.entries_page(before)
    return render_template(
        "auth/audit.html",
        entries=[(entry, audit.describe(entry)) for entry in entries],
        actions=audit.ACTIONS,
        next_before=next_before,
        first_page=before is None,
    )
