"""Large Excel exports, written in the background to a file the owner then downloads.

A CSV streams as it is read, whatever its size. An .xlsx cannot: it is a zip that is
complete only when its last row is written — about a minute for a million contacts —
and a request that long is cut by proxies and by gunicorn's default 30-second timeout.
So above a threshold the workbook is written by a thread into instance/exports/, and a
page waits for it. Everything a page needs to know lives in that folder, so any web
process can answer for a file another one is writing:

    <token>.part   being written (its age tells a stalled export: the process died)
    <token>.xlsx   ready
    <token>.error  failed, with the reason

Files are kept a day.
"""

import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask_babel import force_locale

from app.contacts.search import ContactFilter

KEEP_SECONDS = 24 * 3600
# A .part file untouched for this long belongs to an export whose process died.
STALLED_SECONDS = 600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def exports_folder(app: Flask) -> Path:
    folder = Path(app.config.get("VAFA_EXPORTS_FOLDER") or Path(app.instance_path) / "exports")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass(frozen=True)
class ExportState:
    status: str  # "running" | "ready" | "failed" | "unknown"
    path: Path | None = None
    error: str = ""


def start_xlsx_export(app: Flask, contact_filter: ContactFilter, lang: str) -> str:
    """Start writing the workbook in a thread; return the token that names it."""
    folder = exports_folder(app)
    _remove_old(folder)
    token = secrets.token_urlsafe(18)
    part = folder / f"{token}.part"
    part.touch()
    thread = threading.Thread(
        target=_write, args=(app, contact_filter, lang, folder, token), daemon=True
    )
    thread.name = f"vafa-export-{token[:6]}"
    thread.start()
    return token


def _write(app: Flask, contact_filter: ContactFilter, lang: str, folder: Path, token: str):
    from app.contacts.export import write_contacts_xlsx
    from app.extensions import db

    part = folder / f"{token}.part"
    try:
        with app.app_context(), force_locale(lang):
            try:
                # xlsxwriter writes the zip at the end; until then the rows go to its
                # own temporary file, and the .part file's time shows it is alive.
                write_contacts_xlsx(part, contact_filter, rtl=lang == "fa", progress=part.touch)
            finally:
                db.session.remove()
        os.replace(part, folder / f"{token}.xlsx")
    except Exception as error:  # noqa: BLE001 - reported to the owner, and logged
        app.logger.exception("export %s failed", token)
        (folder / f"{token}.error").write_text(str(error) or type(error).__name__)
        part.unlink(missing_ok=True)


def export_state(app: Flask, token: str) -> ExportState:
    if not _TOKEN.match(token or ""):
        return ExportState("unknown")
    folder = exports_folder(app)
    ready = folder / f"{token}.xlsx"
    if ready.exists():
        return ExportState("ready", ready)
    failed = folder / f"{token}.error"
    if failed.exists():
        return ExportState("failed", error=failed.read_text())
    part = folder / f"{token}.part"
    if part.exists():
        if time.time() - part.stat().st_mtime > STALLED_SECONDS:
            return ExportState("failed", error="stalled")
        return ExportState("running")
    return ExportState("unknown")


def _remove_old(folder: Path) -> None:
    limit = time.time() - KEEP_SECONDS
    for path in folder.iterdir():
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except FileNotFoundError:
            pass
