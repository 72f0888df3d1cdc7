"""Driving an import through the panel as the owner does: upload, map, wait, read the result."""

import csv
import io
import re
from html import unescape

from integration_support import as_int, page_text, text_of
from sqlalchemy import select

from app.contacts.models import Contact, ImportJob
from app.extensions import db
from app.jobs import run_all_once


def upload(client, content: str | bytes, filename="contacts.csv", kind="contacts"):
    """Post a file to the upload form; returns the response (a redirect when it was taken)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    return client.post(
        "/contacts/import",
        data={"kind": kind, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def job_id_of(response) -> int:
    assert response.status_code == 302, page_text(response)
    match = re.search(r"/contacts/import/(\d+)$", response.location)
    assert match, response.location
    return int(match.group(1))


def guessed_columns(page) -> dict[str, str]:
    """The mapping page's column selects as the browser would submit them untouched."""
    columns = {}
    for name, body in re.findall(
        r'<select name="(column-\d+)"[^>]*>(.*?)</select>', page.text, flags=re.S
    ):
        chosen = re.search(r'<option value="([^"]+)" selected>', body)
        columns[name] = chosen.group(1) if chosen else "ignore"
    return columns


def header_checked(page) -> bool:
    tag = re.search(r'<input[^>]*name="header"[^>]*>', page.text)
    return bool(tag) and "checked" in tag.group(0)


def confirm(client, job_id: int, columns: dict[int, str] | None = None, **fields):
    """Submit the mapping page, keeping Vafa's guesses except the columns given."""
    page = client.get(f"/contacts/import/{job_id}")
    assert page.status_code == 200
    form = guessed_columns(page)
    for index, name in (columns or {}).items():
        form[f"column-{index}"] = name
    data = {"on_duplicate": "skip", "list_id": "0", "new_list": "", **form}
    if header_checked(page):
        data["header"] = "y"
    for name, value in fields.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "y" if value is True else value
    return client.post(f"/contacts/import/{job_id}", data=data)


def import_file(client, content, filename="contacts.csv", kind="contacts", columns=None, **fields):
    """Upload, confirm the mapping, let the worker import it; returns the result page."""
    job_id = job_id_of(upload(client, content, filename, kind))
    response = confirm(client, job_id, columns, **fields)
    assert response.status_code == 302, page_text(response)
    run_all_once(client.application)
    return client.get(f"/contacts/import/{job_id}")


def stats(response) -> dict[str, int]:
    found = dict(re.findall(r'data-stat="(\w+)">([^<]*)<', response.text))
    assert found, page_text(response)
    return {name: as_int(value) for name, value in found.items()}


def adds_up(counts: dict[str, int]) -> bool:
    parts = ("created", "updated", "duplicates", "invalid")
    return counts["rows"] == sum(counts.get(name, 0) for name in parts)


def rejected(response) -> dict[int, str]:
    """Line → reason, from the result page's table of rows not imported."""
    table = re.search(r'<table[^>]*id="rejected".*?</table>', response.text, flags=re.S)
    if not table:
        return {}
    reasons = [
        text_of(cell) for cell in re.findall(r'<td class="reason">(.*?)</td>', table.group(0))
    ]
    found = {}
    for reason in reasons:
        match = re.match(r"\w+ ([0-9۰-۹]+)", reason)
        assert match, reason
        found[as_int(match.group(1))] = reason
    return found


def rejected_csv(client, job_id: int) -> tuple[bytes, list[list[str]]]:
    response = client.get(f"/contacts/import/{job_id}/rejected.csv")
    assert response.status_code == 200, response.status_code
    data = response.get_data()
    return data, list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def last_job() -> ImportJob:
    db.session.expire_all()
    return db.session.scalars(select(ImportJob).order_by(ImportJob.id.desc())).first()


def stored() -> dict[str, Contact]:
    db.session.expire_all()
    return {c.mobile: c for c in db.session.scalars(select(Contact))}


def flashed_error(response) -> str:
    found = re.search(r'class="flash flash-error"[^>]*>(.*?)</div>', response.text, flags=re.S)
    return unescape(text_of(found.group(1))) if found else ""
