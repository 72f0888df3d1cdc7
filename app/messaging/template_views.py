"""The template library's pages: list, add, edit, delete, and «use this template»."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from app.contacts.service import own_field_names
from app.extensions import db
from app.messaging import bp, library
from app.messaging.forms import DeleteTemplateForm, TemplateForm
from app.messaging.models import MessageTemplate
from app.messaging.text import PLACEHOLDERS


@bp.get("/templates")
def templates():
    items = library.all_templates()
    db.session.commit()  # the built-ins, on first use
    # Opened from the automation editor («Start from a template»): a template goes back
    # there, to a new automation or to the one being edited.
    automation = request.args.get("automation", "")
    if automation != "new" and not (automation.isascii() and automation.isdigit()):
        automation = ""
    return render_template("messaging/templates.html", templates=items, automation=automation[:10])


@bp.route("/templates/new", methods=["GET", "POST"])
def new_template():
    form = TemplateForm()
    if form.validate_on_submit():
        library.ensure_builtin_templates()  # a built-in's name is taken before the owner's
        try:
            library.create_template(form.name.data, form.body.data)
        except library.TemplateError as error:
            getattr(form, error.field).errors.append(error.message)
        else:
            db.session.commit()
            flash(_("The template is saved."), "success")
            return redirect(url_for("messaging.templates"))
    return render_template("messaging/template.html", form=form, template=None, **_chips())


@bp.route("/templates/<int:template_id>", methods=["GET", "POST"])
def edit_template(template_id: int):
    template = db.get_or_404(MessageTemplate, template_id)
    form = TemplateForm(obj=template)
    if form.validate_on_submit():
        try:
            library.update_template(template, form.name.data, form.body.data)
        except library.TemplateError as error:
            db.session.rollback()
            getattr(form, error.field).errors.append(error.message)
        else:
            db.session.commit()
            flash(_("The template is saved."), "success")
            return redirect(url_for("messaging.templates"))
    return render_template(
        "messaging/template.html",
        form=form,
        template=template,
        delete_form=DeleteTemplateForm(),
        **_chips(),
    )


@bp.post("/templates/<int:template_id>/delete")
def delete_template(template_id: int):
    template = db.get_or_404(MessageTemplate, template_id)
    if DeleteTemplateForm().validate_on_submit():
        try:
            library.delete_template(template)
        except library.TemplateError as error:
            flash(error.message, "error")
            return redirect(url_for("messaging.edit_template", template_id=template_id))
        db.session.commit()
        flash(_("The template is deleted."), "success")
    return redirect(url_for("messaging.templates"))


def placeholder_chips() -> list[str]:
    """The placeholders an editor offers: Vafa's, named in the page's language ({نام} in
    Persian, {first_name} in English), then the shop's own fields — but for one named
    like Vafa's, which that name shows (Vafa's names come first)."""
    persian = get_locale().language == "fa"
    names = [name for name in PLACEHOLDERS if name.isascii() != persian]
    return names + [name for name in own_field_names() if name not in PLACEHOLDERS]


def _chips() -> dict:
    return {"placeholders": placeholder_chips()}
