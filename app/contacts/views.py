from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from app.auth.audit import record_audit
from app.contacts import bp, search
from app.contacts import service as contacts
from app.contacts.bulk import BULK_ACTIONS
from app.contacts.forms import ListForm, MembershipForm
from app.contacts.models import ContactList, Tag
from app.contacts.record_forms import ConfirmForm, TagForm
from app.contacts.search import ContactFilter
from app.extensions import db
from app.persian import show_digits


def _list_choices() -> list[tuple[int, str]]:
    # Names only: a menu of lists has no room for their counts.
    return contacts.all_list_names()


def _selected_ids() -> list[int]:
    return [int(value) for value in request.form.getlist("contact_ids") if value.isdigit()]


@bp.get("/")
def index():
    contact_filter = ContactFilter.from_mapping(request.args)
    before = request.args.get("before", type=int)
    per_page = current_app.config["VAFA_CONTACTS_PER_PAGE"]
    page, next_before = search.search_page(contact_filter, before, per_page)
    exact = request.args.get("count") == "exact"
    cap = None if exact else current_app.config["VAFA_CONTACTS_COUNT_CAP"]
    membership = MembershipForm()
    membership.list_id.choices = _list_choices()
    return render_template(
        "contacts/index.html",
        contacts=page,
        next_before=next_before,
        total=search.count_matching(contact_filter, cap),
        query=contact_filter.query,
        contact_filter=contact_filter,
        filter_args=contact_filter.as_args(),
        current_list=db.session.get(ContactList, contact_filter.list_id)
        if contact_filter.list_id
        else None,
        current_tag=db.session.get(Tag, contact_filter.tag_id) if contact_filter.tag_id else None,
        lists=_list_choices(),
        tags=contacts.all_tag_names(),
        membership=membership,
        bulk_actions=BULK_ACTIONS,
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


def _renamed(item: ContactList | Tag, form: ListForm | TagForm, taken: str) -> bool:
    """Give a list or a tag the name the form was sent with; False (the form says why,
    if it was sent) when it keeps its name."""
    if not form.validate_on_submit():
        return False
    try:
        contacts.rename(item, form.name.data)
    except contacts.NameTaken:
        db.session.rollback()
        form.name.errors.append(taken)
        return False
    db.session.commit()
    return True


@bp.route("/lists/<int:list_id>/edit", methods=["GET", "POST"])
def edit_list(list_id: int):
    """Rename a list; the page also offers to delete it."""
    contact_list = db.get_or_404(ContactList, list_id)
    form = ListForm(data={"name": contact_list.name} if request.method == "GET" else None)
    if _renamed(contact_list, form, _("Another list has this name.")):
        flash(_("The list is now called “%(name)s”.", name=contact_list.name), "success")
        return redirect(url_for("contacts.lists"))
    return render_template(
        "contacts/list.html",
        contact_list=contact_list,
        form=form,
        confirm=ConfirmForm(),
        waiting=contacts.campaigns_waiting_for(contact_list),
    )


@bp.post("/lists/<int:list_id>/delete")
def delete_list(list_id: int):
    contact_list = db.get_or_404(ContactList, list_id)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("contacts.edit_list", list_id=list_id))
    waiting = contacts.campaigns_waiting_for(contact_list)
    if waiting:
        flash(
            _(
                "Not now: the campaign “%(name)s” has yet to go out to this list."
                " Cancel it, or wait until it is sent.",
                name=waiting[0],
            ),
            "error",
        )
        return redirect(url_for("contacts.edit_list", list_id=list_id))
    from app.occasions.automations import automation_waits, automations_waiting_for

    automations = automations_waiting_for("list", contact_list.id)
    if automations:
        flash(automation_waits(automations[0], "list"), "error")
        return redirect(url_for("contacts.edit_list", list_id=list_id))
    name, members = contact_list.name, contact_list.member_count
    contacts.delete_list(contact_list.id)
    record_audit("list.delete", name, {"count": members})
    db.session.commit()
    flash(_("The list “%(name)s” is deleted; its contacts stay.", name=name), "success")
    return redirect(url_for("contacts.lists"))


# Tags -------------------------------------------------------------------------------


@bp.get("/tags")
def tags():
    """Every tag with its number of contacts; a new tag is made by tagging contacts."""
    return render_template("contacts/tags.html", tags=contacts.all_tags())


@bp.route("/tags/<int:tag_id>", methods=["GET", "POST"])
def rename_tag(tag_id: int):
    tag = db.get_or_404(Tag, tag_id)
    form = TagForm(data={"name": tag.name} if request.method == "GET" else None)
    if _renamed(tag, form, _("Another tag has this name.")):
        flash(_("The tag is now called “%(name)s”.", name=tag.name), "success")
        return redirect(url_for("contacts.tags"))
    return render_template(
        "contacts/tag.html",
        tag=tag,
        form=form,
        confirm=ConfirmForm(),
        waiting=contacts.campaigns_waiting_for(tag),
    )


@bp.post("/tags/<int:tag_id>/delete")
def delete_tag(tag_id: int):
    tag = db.get_or_404(Tag, tag_id)
    waiting = contacts.campaigns_waiting_for(tag)
    if waiting:
        flash(
            _(
                "Not now: the campaign “%(name)s” has yet to go out to this tag."
                " Cancel it, or wait until it is sent.",
                name=waiting[0],
            ),
            "error",
        )
        return redirect(url_for("contacts.rename_tag", tag_id=tag_id))
    from app.occasions.automations import automation_waits, automations_waiting_for

    automations = automations_waiting_for("tag", tag.id)
    if automations:
        flash(automation_waits(automations[0], "tag"), "error")
        return redirect(url_for("contacts.rename_tag", tag_id=tag_id))
    if ConfirmForm().validate_on_submit():
        name = tag.name
        contacts.delete_tag(tag.id)
        db.session.commit()
        flash(_("The tag “%(name)s” is deleted; its contacts stay.", name=name), "success")
    return redirect(url_for("contacts.tags"))
