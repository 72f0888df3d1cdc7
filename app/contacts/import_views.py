"""Importing a file of contacts or purchases: upload, map the columns, watch it go in.

The work is done by app.contacts.importing in a worker; these pages start it and show
its progress, which lives on the ImportJob row (so the owner can leave and come back).
"""

from pathlib import Path
from urllib.parse import quote

from flask import (
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from app.contacts import bp, importing
from app.contacts import service as contacts
from app.contacts.forms import MappingForm, UploadForm
from app.contacts.models import ContactList, ImportJob
from app.exports import csv_chunks
from app.extensions import db
from app.persian import show_number

ENCODINGS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 (BOM)",
    "utf-16": "UTF-16",
    "cp1256": "Windows-1256",
}


@bp.route("/import", methods=["GET", "POST"])
def import_contacts():
    """Choose a file (the endpoint keeps its name: the contacts page and setup link here)."""
    form = UploadForm()
    if request.method == "GET" and request.args.get("kind") in importing.KINDS:
        form.kind.data = request.args["kind"]
    if form.validate_on_submit():
        upload = form.file.data
        try:
            job = importing.save_upload(
                upload.stream, upload.filename, form.kind.data, current_user.id
            )
        except importing.UnreadableFile as error:
            db.session.rollback()
            flash(str(error.reason), "error")
        else:
            db.session.commit()
            return redirect(url_for("contacts.import_job", job_id=job.id))
    return render_template(
        "contacts/import.html",
        form=form,
        jobs=importing.recent_imports(),
        status_label=status_label,
    )


def _mapping_from(form_data, width: int) -> dict[int, str]:
    return {index: form_data.get(f"column-{index}", "ignore") for index in range(width)}


@bp.route("/import/<int:job_id>", methods=["GET", "POST"])
def import_job(job_id: int):
    """The mapping step while the job waits for it; its progress and result afterwards."""
    job = db.get_or_404(ImportJob, job_id)
    if job.status != "mapping":
        header, rejected = (
            importing.rejected_preview(job, limit=30) if job.status == "done" else ([], [])
        )
        return render_template(
            "contacts/import_progress.html",
            job=job,
            progress=job_status(job),
            contact_list=_job_list(job),
            rejected_header=header,
            rejected_rows=rejected,
        )
    try:
        found = importing.preview(job)
    except importing.UnreadableFile as error:
        flash(str(error.reason), "error")
        importing.discard_import(job)
        db.session.commit()
        return redirect(url_for("contacts.import_contacts"))
    form = MappingForm()
    form.list_id.choices = [(0, _("— no list —"))] + [
        (item.id, item.name) for item, _count in contacts.all_lists()
    ]
    if request.method == "GET":
        form.header.data = job.options.get("header", True)
        form.toman.data = job.options.get("toman", False)
        mapping = {int(i): name for i, name in job.mapping.items()}
    else:
        mapping = _mapping_from(request.form, found.width)
    if form.validate_on_submit():
        list_id = form.list_id.data or None
        try:
            if job.kind == "contacts" and form.new_list.data and form.new_list.data.strip():
                list_id = contacts.find_or_create_list(form.new_list.data).id
            importing.start_import(
                job,
                mapping,
                form.header.data,
                on_duplicate=form.on_duplicate.data,
                list_id=list_id if job.kind == "contacts" else None,
                toman=form.toman.data,
                create_contacts=form.create_contacts.data,
                locale=str(get_locale()),
            )
        except importing.MappingError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            db.session.commit()
            return redirect(url_for("contacts.import_job", job_id=job.id))
    job = db.session.get(ImportJob, job_id)
    return render_template(
        "contacts/import_mapping.html",
        job=job,
        form=form,
        preview=found,
        rows=[[importing.cell_text(cell) for cell in row] for row in found.rows],
        mapping={i: name.partition(":")[0] for i, name in mapping.items()},
        fields=importing.KINDS[job.kind],
        encoding=ENCODINGS.get(found.encoding or "", found.encoding),
    )


@bp.post("/import/<int:job_id>/discard")
def discard_import(job_id: int):
    job = db.get_or_404(ImportJob, job_id)
    if job.status != "mapping":
        abort(409)
    importing.discard_import(job)
    db.session.commit()
    flash(_("The file was not imported."), "success")
    return redirect(url_for("contacts.import_contacts"))


@bp.get("/import/<int:job_id>/status")
def import_status(job_id: int):
    """The job's progress as JSON, polled by the progress page."""
    return jsonify(job_status(db.get_or_404(ImportJob, job_id)))


@bp.get("/import/<int:job_id>/rejected.csv")
def import_rejected(job_id: int):
    """The rejected rows with their reasons, to fix and import again."""
    job = db.get_or_404(ImportJob, job_id)
    if job.status != "done" or not importing.rejected_path(job).exists():
        abort(404)
    # The reasons are worded now, in the language of whoever downloads the file.
    rows = importing.rejected_rows(job)
    name = quote(f"{Path(job.filename).stem}-rejected.csv")
    return Response(
        stream_with_context(csv_chunks(next(rows, []), rows)),
        mimetype="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f"attachment; filename=rejected.csv; filename*=UTF-8''{name}",
            "Cache-Control": "no-cache",
        },
    )


def status_label(job: ImportJob) -> str:
    if job.status == "mapping":
        return _("Waiting for you to map the columns")
    if job.status in ("pending", "running"):
        return _("Importing…") if job.rows or job.status == "running" else _("Waiting to start")
    if job.status == "done":
        return _("Finished")
    return _("Stopped")


def job_status(job: ImportJob) -> dict:
    """Everything the progress page shows, in numbers and as the page shows them."""
    finished = job.status in ("done", "failed")
    total = job.total_rows
    if job.status == "done":
        percent = 100
    elif total:
        percent = min(99, job.rows * 100 // total)
    else:
        percent = 0
    counts = {
        name: getattr(job, name) for name in ("rows", "created", "updated", "duplicates", "invalid")
    }
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "status_label": status_label(job),
        "finished": finished,
        "percent": percent,
        "total_rows": total,
        **counts,
        "shown": {
            **{name: show_number(value) for name, value in counts.items()},
            "total_rows": show_number(total) if total is not None else "…",
            "percent": show_number(percent),
        },
        "error": job.error,
        "rejected_url": (
            url_for("contacts.import_rejected", job_id=job.id)
            if job.status == "done" and job.duplicates + job.invalid
            else None
        ),
    }


def _job_list(job: ImportJob) -> ContactList | None:
    list_id = job.options.get("list_id")
    return db.session.get(ContactList, list_id) if list_id else None
