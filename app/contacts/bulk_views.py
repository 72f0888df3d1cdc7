"""Acting on a whole search result: bulk actions (with a confirmation) and exports."""

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

from app.auth.audit import record_audit, search_detail
from app.contacts import bp, bulk, export_jobs, search
from app.contacts import export as contact_export
from app.contacts import service as contacts
from app.contacts.models import ContactList, Tag
from app.contacts.record_forms import BulkForm
from app.contacts.search import ContactFilter
from app.exports import XLSX
from app.extensions import db
from app.persian import show_number


def _describe(contact_filter: ContactFilter) -> dict:
    """The list and tag a filter names, for the page to say what the search is."""
    return {
        "current_list": db.session.get(ContactList, contact_filter.list_id)
        if contact_filter.list_id
        else None,
        "current_tag": db.session.get(Tag, contact_filter.tag_id)
        if contact_filter.tag_id
        else None,
    }


def _bulk_form() -> BulkForm:
    form = BulkForm(request.form if request.method == "POST" else request.args)
    form.action.choices = list(bulk.BULK_ACTIONS.items())
    form.list_id.choices = [(0, _("— choose a list —")), *contacts.all_list_names()]
    return form


@bp.route("/bulk", methods=["GET", "POST"])
def bulk_action():
    """GET: how many contacts the action will change, and its details; POST: do it."""
    source = request.form if request.method == "POST" else request.args
    contact_filter = ContactFilter.from_mapping(source)
    form = _bulk_form()
    action = form.action.data
    if action not in bulk.BULK_ACTIONS:
        flash(_("Choose what to do with the contacts."), "error")
        return redirect(url_for("contacts.index", **contact_filter.as_args()))
    if request.method == "POST" and form.validate_on_submit() and _action_details_valid(form):
        upto = request.form.get("upto", type=int)
        done = _run(action, form, contact_filter, upto)
        flash(_done_message(action, done, form), "success")
        return redirect(url_for("contacts.index", **contact_filter.as_args()))
    count = search.count_matching(contact_filter)
    return render_template(
        "contacts/bulk.html",
        form=form,
        action=action,
        action_label=bulk.BULK_ACTIONS[action],
        contact_filter=contact_filter,
        filter_args=contact_filter.as_args(),
        count=count.value,
        upto=search.newest_id(contact_filter),
        tags=contacts.all_tag_names(),
        **_describe(contact_filter),
    )


def _action_details_valid(form: BulkForm) -> bool:
    if form.action.data == "tag" and not (form.tag.data or "").strip():
        form.tag.errors.append(_("Write the tag to add."))
        return False
    if form.action.data == "list" and not (form.list_id.data or (form.new_list.data or "").strip()):
        form.list_id.errors.append(_("Choose a list, or name a new one."))
        return False
    return True


def _run(action: str, form: BulkForm, contact_filter: ContactFilter, upto: int | None) -> int:
    """Run the action chunk by chunk, committing each; return how many contacts changed."""
    if action == "tag":
        [tag] = contacts.find_or_create_tags([form.tag.data])
        db.session.commit()
        form.tag.data = tag.name
        chunks = bulk.tag_matching(contact_filter, tag.id, upto)
    elif action == "list":
        list_id = form.list_id.data
        if not list_id:
            list_id = contacts.find_or_create_list(form.new_list.data).id
            db.session.commit()
        form.list_id.data = list_id
        chunks = bulk.add_matching_to_list(contact_filter, list_id, upto)
    elif action == "opt_out":
        chunks = bulk.opt_out_matching(contact_filter, upto, (form.note.data or "").strip())
    else:
        chunks = bulk.delete_matching(contact_filter, upto)
    done = 0
    for changed in chunks:
        db.session.commit()
        done += changed
    if action == "delete":
        record_audit(
            "contacts.bulk_delete", detail={"count": done, **search_detail(contact_filter)}
        )
        db.session.commit()
    return done


def _done_message(action: str, done: int, form: BulkForm) -> str:
    # %(count)s, not ngettext's %(num)s: the count is shown in the page's digits, while
    # the names in the message (a tag called «VIP2») keep theirs.
    count = show_number(done)
    if action == "tag":
        return ngettext(
            "The tag “%(tag)s” was added to %(count)s contact.",
            "The tag “%(tag)s” was added to %(count)s contacts.",
            done,
            count=count,
            tag=form.tag.data,
        )
    if action == "list":
        contact_list = db.session.get(ContactList, form.list_id.data)
        return ngettext(
            "%(count)s contact was added to the list “%(list)s”.",
            "%(count)s contacts were added to the list “%(list)s”.",
            done,
            count=count,
            list=contact_list.name,
        )
    if action == "opt_out":
        return ngettext(
            "%(count)s contact was opted out of marketing messages.",
            "%(count)s contacts were opted out of marketing messages.",
            done,
            count=count,
        )
    return ngettext(
        "%(count)s contact was deleted; the delivery log keeps their messages.",
        "%(count)s contacts were deleted; the delivery log keeps their messages.",
        done,
        count=count,
    )


@bp.get("/export.csv")
def export_csv():
    contact_filter = ContactFilter.from_mapping(request.args)
    _audit_export("csv", contact_filter)
    return Response(
        stream_with_context(contact_export.export_csv(contact_filter)),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=vafa-contacts.csv"},
    )


@bp.get("/export.xlsx")
def export_xlsx():
    """The workbook at once, or — for many contacts — written in the background."""
    contact_filter = ContactFilter.from_mapping(request.args)
    _audit_export("xlsx", contact_filter)
    threshold = current_app.config["VAFA_EXPORT_BACKGROUND_OVER"]
    if search.count_matching(contact_filter, cap=threshold).more:
        token = export_jobs.start_xlsx_export(
            current_app._get_current_object(), contact_filter, get_locale().language
        )
        return redirect(url_for("contacts.export_status", token=token))
    return send_file(
        contact_export.export_xlsx(contact_filter, rtl=get_locale().text_direction == "rtl"),
        mimetype=XLSX,
        as_attachment=True,
        download_name="vafa-contacts.xlsx",
    )


def _audit_export(kind: str, contact_filter: ContactFilter) -> None:
    """Note who took the contacts away, before the file is written."""
    record_audit("contacts.export", detail={"format": kind, **search_detail(contact_filter)})
    db.session.commit()


@bp.get("/exports/<token>")
def export_status(token: str):
    state = export_jobs.export_state(current_app, token)
    if state.status == "unknown":
        abort(404)
    return render_template(
        "_export.html",
        state=state,
        token=token,
        room="contacts",
        heading=_("Excel export"),
        back=(url_for("contacts.index"), _("Back to the contacts")),
    )


@bp.get("/exports/<token>/file")
def export_file(token: str):
    return export_jobs.send_export(current_app, token, "vafa-contacts.xlsx")
