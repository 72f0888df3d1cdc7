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
    <token>.count  rows written so far and the rows to write ("1200 50000"), where the
                   export says (the delivery log's does), for a progress bar

Files are kept a day. Any export may use this: ``start_export`` takes the function that
writes the workbook (the contacts' and the delivery log's).
"""

import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, abort, send_file
from flask_babel import force_locale

from app.contacts.search import ContactFilter
from app.exports import XLSX

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
    done: int | None = None  # rows written, while running, where the export says
    total: int | None = None

    @property
    def percent(self) -> int | None:
        if self.done is None or not self.total:
            return None
        return min(100, self.done * 100 // self.total)


# write(target, progress): writes the workbook at target in the page's locale, calling
# progress() (or progress(done, total)) as it goes.
Writer = Callable[[Path, Callable[..., None]], None]


def start_xlsx_export(app: Flask, contact_filter: ContactFilter, lang: str) -> str:
    """Start writing the contacts' workbook in a thread; return the token that names it."""

    def write(target: Path, progress) -> None:
        from app.contacts.export import write_contacts_xlsx

        write_contacts_xlsx(target, contact_filter, rtl=lang == "fa", progress=progress)

    return start_export(app, write, lang)


def start_export(app: Flask, write: Writer, lang: str) -> str:
    """Start ``write`` in a thread, in an app context and ``lang``; return its token."""
    folder = exports_folder(app)
    _remove_old(folder)
    token = secrets.token_urlsafe(18)
    part = folder / f"{token}.part"
    part.touch()
    thread = threading.Thread(target=_write, args=(app, write, lang, folder, token), daemon=True)
    thread.name = f"vafa-export-{token[:6]}"
    thread.start()
    return token


def _write(app: Flask, write: Writer, lang: str, folder: Path, token: str):
    from app.extensions import db

    part = folder / f"{token}.part"
    count = folder / f"{token}.count"

    def progress(done: int | None = None, total: int | None = None) -> None:
        part.touch()
        if done is not None:
            count.write_text(f"{done} {total or 0}")

    try:
        with app.app_context(), force_locale(lang):
            try:
                # xlsxwriter writes the zip at the end; until then the rows go to its
                # own temporary file, and the .part file's time shows it is alive.
                write(part, progress)
            finally:
                db.session.remove()
        os.replace(part, folder / f"{token}.xlsx")
    except Exception as error:  # noqa: BLE001 - reported to the owner, and logged
        app.logger.exception("export %s failed", token)
        (folder / f"{token}.error").write_text(str(error) or type(error).__name__)
        part.unlink(missing_ok=True)
    finally:
        count.unlink(missing_ok=True)


def send_export(app: Flask, token: str, download_name: str):
    """The finished export's file as a download; 404 while it is not ready (or unknown)."""
    state = export_state(app, token)
    if state.status != "ready":
        abort(404)
    return send_file(state.path, mimetype=XLSX, as_attachment=True, download_name=download_name)


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
        done, total = _counted(folder / f"{token}.count")
        return ExportState("running", done=done, total=total)
    return ExportState("unknown")


def _counted(path: Path) -> tuple[int | None, int | None]:
    try:
        done, total = (int(word) for word in path.read_text().split())
    except (OSError, ValueError):  # not written yet, gone, or caught half-written
        return None, None
    return done, total


def _remove_old(folder: Path) -> None:
    limit = time.time() - KEEP_SECONDS
    for path in folder.iterdir():
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except FileNotFoundError:
            pass
