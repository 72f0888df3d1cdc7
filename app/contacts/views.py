from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from app.contacts import bp
from app.contacts import service as contacts
from app.contacts.forms import ListForm, MembershipForm
from app.contacts.models import ContactList
from app.extensions import db
from app.persian import show_digits


def _list_choices(blank: str | None = None) -> list[tuple[int, str]]:
    choices = [(item.id, item.name) for item, _count in contacts.all_lists()]
    return [(0, blank), *choices] if blank else choices


def _selected_ids() -> list[int]:
    return [int(value) for value in request.form.getlist("contact_ids") if value.isdigit()]


@bp.get("/")
def index():
    query = request.args.get("q", "").strip()
    list_id = request.args.get("list", type=int)
    before = request.args.get("before", type=int)
    per_page = current_app.config["VAFA_CONTACTS_PER_PAGE"]
    page, next_before = contacts.search_contacts(query, list_id, before, per_page)
    membership = MembershipForm()
    membership.list_id.choices = _list_choices()
    return render_template(
        "contacts/index.html",
        contacts=page,
        next_before=next_before,
        total=contacts.count_contacts(query, list_id),
        query=query,
        current_list=db.session.get(ContactList, list_id) if list_id else None,
        membership=membership,
    )


@bp.post("/add-to-list")
def add_to_list():
    form = MembershipForm()
    form.list_id.choices = _list_choices()
    ids = _selected_ids()
    if not form.validate_on_submit() or not ids:
        flash(_("Select some contacts and a list first."), "error")
        return redirect(request.referrer or url_for("contacts.index"))
    added = contacts.add_to_list(form.list_id.data, ids)
    db.session.commit()
    flash(
        show_digits(
            ngettext(
                "%(num)s contact added to the list.",
                "%(num)s contacts added to the list.",
                added,
            )
        ),
        "success",
    )
    return redirect(url_for("contacts.index", list=form.list_id.data))


@bp.post("/lists/<int:list_id>/remove")
def remove_from_list(list_id: int):
    contact_list = db.get_or_404(ContactList, list_id)
    ids = _selected_ids()
    contacts.remove_from_list(contact_list.id, ids)
    db.session.commit()
    flash(
        show_digits(
            ngettext(
                "%(num)s contact removed from the list.",
                "%(num)s contacts removed from the list.",
                len(ids),
            )
        ),
        "success",
    )
    return redirect(url_for("contacts.index", list=list_id))


@bp.route("/lists", methods=["GET", "POST"])
def lists():
    form = ListForm()
    if form.validate_on_submit():
        contact_list = contacts.find_or_create_list(form.name.data)
        db.session.commit()
        flash(_("The list “%(name)s” is ready.", name=contact_list.name), "success")
        return redirect(url_for("contacts.lists"))
    return render_template("contacts/lists.html", lists=contacts.all_lists(), form=form)
