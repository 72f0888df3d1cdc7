"""The customer record's pages: a contact, its form, purchases, opt-out, deletion, settings."""

from datetime import date, datetime

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.contacts import bp, preferences, record
from app.contacts.models import Contact, ContactList
from app.contacts.record_forms import (
    BLANK_FIELD_ROWS,
    GENDER_LABELS,
    ConfirmForm,
    ContactForm,
    ContactSettingsForm,
    NoteForm,
    PurchaseForm,
    split_tags,
)
from app.extensions import db
from app.persian import TEHRAN, normalize_text, show_date, show_mobile, to_tehran
from app.types import utcnow


def _contact_form(contact: Contact | None) -> ContactForm:
    """The form, filled from the contact on GET, from the request on POST."""
    if request.method == "POST":
        form = ContactForm()
    else:
        data = {}
        if contact is not None:
            data.update(
                fields=[{"key": k, "value": v} for k, v in (contact.fields or {}).items()],
                first_name=contact.first_name,
                last_name=contact.last_name,
                mobile=show_mobile(contact.mobile),
                gender=contact.gender or "",
                birth_date=show_date(contact.birth_date),
                anniversary=show_date(contact.anniversary),
                city=contact.city,
                tags="، ".join(tag.name for tag in contact.tags),
                list_ids=[item.id for item in contact.lists],
            )
        form = ContactForm(data=data)
        for _row in range(BLANK_FIELD_ROWS):
            form.fields.append_entry()
    form.list_ids.choices = [
        (item.id, item.name)
        for item in db.session.scalars(select(ContactList).order_by(ContactList.name))
    ]
    form.anniversary.label.text = _("%(label)s (Jalali)", label=preferences.anniversary_label())
    return form


def _details(form: ContactForm) -> record.ContactDetails:
    return record.ContactDetails(
        mobile=form.mobile.canonical,
        first_name=form.first_name.data or "",
        last_name=form.last_name.data or "",
        gender=form.gender.data or None,
        birth_date=form.birth_date.parsed,
        anniversary=form.anniversary.parsed,
        city=form.city.data or "",
        tags=split_tags(form.tags.data),
        fields=form.custom_fields(),
        list_ids=form.list_ids.data or [],
    )


def _save(form: ContactForm, contact: Contact | None) -> Contact | None:
    """Create or update from a valid form; None (with the error on the field) if refused."""
    try:
        if contact is None:
            contact = record.create_contact(_details(form))
        else:
            record.update_contact(contact, _details(form))
        db.session.commit()
    except record.MobileTaken as taken:
        db.session.rollback()
        form.mobile.errors.append(_mobile_taken(taken.other))
        return None
    except IntegrityError:
        # Another request stored the same number a moment ago.
        db.session.rollback()
        other = record.contact_with_mobile(form.mobile.canonical)
        if other is None:
            raise
        form.mobile.errors.append(_mobile_taken(other))
        return None
    return contact


def _mobile_taken(other: Contact) -> str:
    if other.full_name:
        return _("This number belongs to “%(name)s” already.", name=other.full_name)
    return _("Another contact has this number already.")


@bp.route("/new", methods=["GET", "POST"])
def new_contact():
    form = _contact_form(None)
    if form.validate_on_submit():
        contact = _save(form, None)
        if contact is not None:
            flash(_("The contact is saved."), "success")
            return redirect(url_for("contacts.contact", contact_id=contact.id))
    return render_template("contacts/edit.html", form=form, contact=None, taken=_taken(form))


@bp.route("/<int:contact_id>/edit", methods=["GET", "POST"])
def edit_contact(contact_id: int):
    contact = db.get_or_404(Contact, contact_id)
    form = _contact_form(contact)
    if form.validate_on_submit():
        if _save(form, contact) is not None:
            flash(_("The contact is saved."), "success")
            return redirect(url_for("contacts.contact", contact_id=contact.id))
        contact = db.get_or_404(Contact, contact_id)
    return render_template("contacts/edit.html", form=form, contact=contact, taken=_taken(form))


def _taken(form: ContactForm) -> Contact | None:
    """The contact that has the number typed, when that was the error (to link to it)."""
    if form.mobile.errors and form.mobile.canonical:
        return record.contact_with_mobile(form.mobile.canonical)
    return None


@bp.get("/<int:contact_id>")
def contact(contact_id: int):
    contact = db.get_or_404(Contact, contact_id)
    # The purchase form starts at today's date, ready to be changed.
    purchase_form = PurchaseForm(formdata=None, data={"purchased_on": show_date(_today())})
    return _contact_page(contact, purchase_form)


def _contact_page(contact: Contact, purchase_form: PurchaseForm):
    messages, next_before = record.messages_to(contact, request.args.get("before", type=int))
    return render_template(
        "contacts/contact.html",
        contact=contact,
        **_record_context(contact),
        messages=messages,
        campaign_names=record.campaign_names(messages),
        next_before=next_before,
        purchase_form=purchase_form,
    )


def _record_context(contact: Contact) -> dict:
    # Imported here, not at the top: app.sending imports app.contacts (phones), whose
    # package imports its views, which import this module.
    from app.sending.models import STATUS_LABELS

    last_event = record.last_opt_out_event(contact) if contact.opted_out_at else None
    return {
        "purchases": record.purchases_of(contact),
        "message_count": record.message_count(contact),
        "opt_out_event": last_event,
        "opt_out_source": record.OPT_OUT_SOURCE_LABELS.get(last_event.source, last_event.source)
        if last_event
        else "",
        "source_label": record.SOURCE_LABELS.get(contact.source, contact.source),
        "gender_label": GENDER_LABELS.get(contact.gender or "", ""),
        "anniversary_label": preferences.anniversary_label(),
        "status_labels": STATUS_LABELS,
    }


@bp.post("/<int:contact_id>/purchases")
def add_purchase(contact_id: int):
    contact = db.get_or_404(Contact, contact_id)
    form = PurchaseForm()
    if form.validate_on_submit():
        day = form.purchased_on.parsed
        # A purchase entered by hand has a day, not a moment: noon in Tehran keeps it
        # on that day whatever the time zone it is shown in.
        moment = datetime(day.year, day.month, day.day, 12, tzinfo=TEHRAN)
        try:
            record.add_purchase(contact, moment, form.rials, form.reference.data or "")
        except record.ReferenceTaken:
            db.session.rollback()
            form.reference.errors.append(
                _("A purchase with this invoice number is recorded already.")
            )
        else:
            db.session.commit()
            flash(_("The purchase is recorded."), "success")
            return redirect(url_for("contacts.contact", contact_id=contact.id) + "#purchases")
    return _contact_page(contact, form), 400


@bp.route("/<int:contact_id>/opt-out", methods=["GET", "POST"])
def opt_out(contact_id: int):
    return _opt(contact_id, opted_out=True)


@bp.route("/<int:contact_id>/opt-in", methods=["GET", "POST"])
def opt_in(contact_id: int):
    return _opt(contact_id, opted_out=False)


def _opt(contact_id: int, opted_out: bool):
    contact = db.get_or_404(Contact, contact_id)
    if (contact.opted_out_at is not None) == opted_out and request.method == "GET":
        return redirect(url_for("contacts.contact", contact_id=contact.id))
    form = NoteForm()
    if form.validate_on_submit():
        changed = record.opt_out_by_hand(contact, opted_out, form.note.data or "")
        db.session.commit()
        if changed:
            flash(
                _("The contact will not receive marketing messages.")
                if opted_out
                else _("The contact will receive marketing messages again."),
                "success",
            )
        return redirect(url_for("contacts.contact", contact_id=contact.id))
    return render_template("contacts/opt_out.html", contact=contact, form=form, opted_out=opted_out)


@bp.route("/<int:contact_id>/delete", methods=["GET", "POST"])
def delete_contact(contact_id: int):
    contact = db.get_or_404(Contact, contact_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        name = contact.full_name
        record.delete_contacts([contact.id])
        db.session.commit()
        flash(
            _(
                "“%(name)s” is deleted; the messages sent to them stay in the delivery log.",
                name=name,
            )
            if name
            else _("The contact is deleted; the messages sent to them stay in the delivery log."),
            "success",
        )
        return redirect(url_for("contacts.index"))
    return render_template(
        "contacts/delete.html",
        contact=contact,
        form=form,
        message_count=record.message_count(contact),
    )


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    form = ContactSettingsForm(
        data={
            "anniversary_kind": preferences.anniversary_kind(),
            "business_name": preferences.business_name(),
        }
        if request.method == "GET"
        else None
    )
    if form.validate_on_submit():
        preferences.save_anniversary_kind(form.anniversary_kind.data)
        preferences.save_business_name(normalize_text(form.business_name.data))
        db.session.commit()
        flash(_("The settings are saved."), "success")
        return redirect(url_for("contacts.settings"))
    return render_template("contacts/settings.html", form=form)


def _today() -> date:
    return to_tehran(utcnow()).date()
