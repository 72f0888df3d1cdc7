"""Import jobs: starting one (upload, mapping) and running it, chunk by chunk, in a worker."""

import contextlib
import csv
import gc
import itertools
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from app.contacts import service
from app.contacts.importing import reasons, sandbox
from app.contacts.importing.columns import (
    KINDS,
    ON_DUPLICATE,
    MappingError,
    check_mapping,
    guess_mapping,
)
from app.contacts.importing.files import (
    WRONG_EXTENSION,
    RejectedFile,
    SeenIndex,
    extension_allowed,
    import_limits,
    imports_folder,
    preview,
    read_upload_preview,
    reasons_path,
    rejected_path,
    seen_path,
    upload_path,
)
from app.contacts.importing.limits import MB, Limits, Refused
from app.contacts.importing.reading import (
    Cell,
    Row,
    UnreadableFile,
    cell_text,
    is_blank,
)
from app.contacts.importing.rows import (
    ContactRow,
    PurchaseRow,
    RowError,
    contact_parser,
    purchase_row,
)
from app.contacts.importing.storing import store_contacts, store_purchases
from app.contacts.models import ImportJob
from app.extensions import db
from app.persian import digits_shown, normalize_text, show_digits
from app.types import utcnow

log = logging.getLogger("vafa.import")

# Rows read, checked and stored together (one statement per table for them all).
CHUNK_ROWS = 5000
# Chunks are committed together until this long has passed (and at a slice's end): each
# commit rewrites every index page the rows touched (12 indexes on contacts), so
# committing every 2,000 rows wrote 19 GB for a 320 MB database. A restarted worker
# resumes after the last commit.
COMMIT_SECONDS = 5.0
# A worker gives an import this long at a time, then sends messages, then comes back.
SLICE_SECONDS = 3.0
# SQLite's page cache (KiB) for the import's connection while it imports, so the index
# pages a chunk touches are read once; back to SQLite's default (2 MB) after a slice.
IMPORT_CACHE_KIB = 64 * 1024
DEFAULT_CACHE_KIB = 2000


# Python's cycle collector runs after every 700 new container objects (gen0). A chunk
# makes some ten per row, all freed by their reference counts when it is stored, and
# each collection walks what is alive, the chunk's rows and, every so often, the whole
# app: a sixth of an import's time. While a worker imports, it runs after this many.
IMPORT_GC_THRESHOLD = 50_000
_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, ...] = ()


@contextlib.contextmanager
def _fewer_collections():
    """The cycle collector less often while this (and any other) import works."""
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(IMPORT_GC_THRESHOLD, _gc_saved[0]), *_gc_saved[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)


def _blank(cells: list[Cell]) -> bool:
    """is_blank, in one step for the usual row of text cells."""
    try:
        return not "".join(cells).strip()
    except TypeError:  # numbers, dates (Excel)
        return is_blank(cells)


def _sqlite_cache(kib: int) -> None:
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(f"PRAGMA cache_size=-{kib}")


# Starting an import ----------------------------------------------------------------


def save_upload(source, filename: str, kind: str, user_id: int | None = None) -> ImportJob:
    """Keep an uploaded file and make its job, with the mapping guessed; the caller commits.

    ``source`` is a path or a file object (the upload). Raises UnreadableFile (and keeps
    nothing) when the file cannot be imported at all.
    """
    if kind not in KINDS:
        raise ValueError(kind)
    if not extension_allowed(filename):
        raise UnreadableFile(WRONG_EXTENSION)
    extension = Path(filename).suffix.lower()
    stored_as = f"{uuid.uuid4().hex}{extension}"
    path = imports_folder() / stored_as
    limits = import_limits()
    try:
        _keep(source, path, limits)
        found = read_upload_preview(path)
        if not found.rows:
            raise UnreadableFile(_l("The file has no rows."))
        if found.width > limits.max_columns:
            raise UnreadableFile(
                _l(
                    "The file has %(count)s columns; Vafa reads at most %(max)s. "
                    "Is it the right file?",
                    count=show_digits(str(found.width)),
                    max=show_digits(str(limits.max_columns)),
                )
            )
        guess = guess_mapping(found.rows, kind)
        if guess.header and len(found.rows) == 1:
            raise UnreadableFile(_l("The file has column names but no rows under them."))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    job = ImportJob(
        kind=kind,
        filename=Path(filename).name[:255],
        stored_as=stored_as,
        mapping={str(i): name for i, name in guess.mapping.items()},
        options={
            "header": guess.header,
            "toman": guess.toman,
            "encoding": found.encoding,
            "delimiter": found.delimiter,
            "inspected": found.facts,
        },
        status="mapping",
        created_by_id=user_id,
    )
    db.session.add(job)
    db.session.flush()
    return job


def _keep(source, path: Path, limits: Limits) -> None:
    """Copy the file into the imports folder, stopping as soon as it is over the size limit."""
    most = limits.max_file_mb * MB
    with open(path, "wb") as target:
        if isinstance(source, str | Path):
            if Path(source).stat().st_size > most:
                raise sandbox.shown(Refused("file_mb", max=limits.max_file_mb))
            source = open(source, "rb")  # noqa: SIM115 (closed below)
            closing = source
        else:
            closing = None
        try:
            copied = 0
            while piece := source.read(1 << 20):
                copied += len(piece)
                if copied > most:
                    raise sandbox.shown(Refused("file_mb", max=limits.max_file_mb))
                target.write(piece)
        finally:
            if closing is not None:
                closing.close()


def start_import(
    job: ImportJob,
    mapping: dict[int, str],
    header: bool,
    *,
    on_duplicate: str = "skip",
    list_id: int | None = None,
    toman: bool = False,
    create_contacts: bool = False,
    locale: str = "fa",
    status: str = "pending",
) -> None:
    """Check the owner's mapping and queue the job; the caller commits.

    A column mapped to "custom" is saved under its header (or «column N» without one).
    """
    found = preview(job)
    headers = [normalize_text(cell_text(cell)) for cell in found.rows[0]] if header else []
    named: dict[int, str] = {}
    for index, name in mapping.items():
        if name == "ignore" or not 0 <= index < import_limits().max_columns:
            continue
        if name == "custom":
            label = headers[index] if index < len(headers) and headers[index] else ""
            name = f"custom:{(label or _('Column %(number)s', number=index + 1))[:50]}"
        named[index] = name
    check_mapping(named, job.kind)
    own = {
        name.removeprefix("custom:"): "" for name in named.values() if name.startswith("custom:")
    }
    if own:
        # Too many distinct own fields is refused here, before a row is read.
        try:
            service.check_own_fields(own)
        except service.OwnFieldError as error:
            raise MappingError(str(error)) from None
    if on_duplicate not in ON_DUPLICATE:
        raise MappingError(_("Choose whether to skip or update contacts already stored."))
    job.mapping = {str(i): name for i, name in sorted(named.items())}
    job.options = {
        **job.options,
        "header": header,
        "headers": headers,
        "width": found.width,
        "on_duplicate": on_duplicate,
        "list_id": list_id,
        "toman": toman,
        "create_contacts": create_contacts,
        "locale": locale,
    }
    job.status = status


def discard_import(job: ImportJob) -> None:
    """Forget a job that was never started, and its file; the caller commits."""
    upload_path(job).unlink(missing_ok=True)
    db.session.delete(job)


def import_file(
    path: Path | str,
    kind: str = "contacts",
    *,
    mapping: list[str] | None = None,
    header: bool | None = None,
    on_duplicate: str = "skip",
    list_id: int | None = None,
    toman: bool | None = None,
    create_contacts: bool = False,
    locale: str = "fa",
    user_id: int | None = None,
) -> ImportJob:
    """Import a file synchronously with the same importer; the mapping is guessed unless given.

    ``mapping`` names each column's field in order ("full_name", "mobile", "ignore",
    "custom" or "custom:Name"). Raises UnreadableFile or MappingError.
    """
    path = Path(path)
    job = save_upload(path, path.name, kind, user_id)
    chosen = (
        {i: name for i, name in enumerate(mapping)}
        if mapping is not None
        else {int(i): name for i, name in job.mapping.items()}
    )
    try:
        start_import(
            job,
            chosen,
            job.options["header"] if header is None else header,
            on_duplicate=on_duplicate,
            list_id=list_id,
            toman=job.options.get("toman", False) if toman is None else toman,
            create_contacts=create_contacts,
            locale=locale,
            status="running",
        )
    except MappingError:
        discard_import(job)
        db.session.commit()
        raise
    return run_to_end(job)


def recent_imports(limit: int = 10) -> list[ImportJob]:
    return db.session.scalars(select(ImportJob).order_by(ImportJob.id.desc()).limit(limit)).all()


def rejected_preview(job: ImportJob, limit: int = 50) -> tuple[list[str], list[list[str]]]:
    """The header and first rows of the rejected-rows file, for the result page."""
    rows = rejected_rows(job)
    header = next(rows, [])
    return header, list(itertools.islice(rows, limit))


def rejected_rows(job: ImportJob) -> Iterator[list[str]]:
    """The rejected-rows file, header first, each reason worded in the page's language
    from the untranslated one kept beside it (a file without it is shown as written)."""
    path = rejected_path(job)
    if not path.exists():
        return
    digits = digits_shown()
    kept = reasons_path(path)
    with (
        open(path, encoding="utf-8-sig", newline="") as handle,
        open(kept if kept.exists() else os.devnull, encoding="utf-8") as stored,
    ):
        rows = csv.reader(handle)
        header = next(rows, None)
        if header is None:
            return
        yield [*header[:-1], _("Reason")]
        for row in rows:
            line = stored.readline()
            again = reasons.shown(line, digits) if line and row else None
            yield [*row[:-1], again] if again is not None else row


# Running ----------------------------------------------------------------------------


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    invalid: int = 0
    rejected: list[tuple[Row | ContactRow | PurchaseRow, str]] = field(default_factory=list)

    def reject(self, row, reason: str, duplicate: bool = False) -> None:
        if duplicate:
            self.duplicates += 1
        else:
            self.invalid += 1
        self.rejected.append((row, reason))


# "Same number as line 2.": a repeat in the file, by what makes its rows unique.
_SAME = {
    "contacts": lambda line: _l("Same number as line %(line)s.", line=line),
    "purchases": lambda line: _l("Same reference as line %(line)s.", line=line),
}


class ImportRun:
    """An import in progress in this process: the open file, where it is, what it wrote.

    Kept between a worker's slices so a large file is opened once; rebuilt from the
    job's saved position when another process (or a restart) takes the job over.
    """

    def __init__(self, job: ImportJob):
        self.job_id = job.id
        self.kind = job.kind
        self.filename = job.filename
        self.options = dict(job.options)
        self.mapping = {int(i): name for i, name in job.mapping.items()}
        self.headers: list[str] = self.options.get("headers") or []
        resume = self.options.get("resume") or {}
        self.records = resume.get("records", 0)
        # Read in a child process; the rows already imported are skipped there.
        limits = import_limits()
        self.max_columns = limits.max_columns
        self.sheet = sandbox.open_sheet(
            upload_path(job), limits, self.options.get("inspected"), skip=self.records
        )
        self.rows: Iterator[Row] = self.sheet.rows()
        self.header_done = self.records > 0 or not self.options.get("header")
        self.seen = SeenIndex(seen_path(job))
        self.seen.forget_after(resume.get("line", 0))
        header = self._rejected_header()
        self.width = len(header) - 1
        # An import interrupted before reasons were kept apart has none to keep.
        keep = (resume.get("rejected_bytes", 0), resume.get("reasons_bytes", 0))
        self.rejected = RejectedFile(rejected_path(job), header, keep)
        # What the chunks since the last commit did: rows, their counts, the last line.
        self.uncommitted = Counts()
        self.uncommitted_rows = 0
        self.last_line = resume.get("line", 0)

    def matches(self, job: ImportJob) -> bool:
        return (
            self.job_id == job.id
            and (job.options.get("resume") or {}).get("records", 0) == self.records
        )

    def close(self) -> None:
        for thing in (self.rejected, self.seen, self.sheet):
            try:
                thing.close()
            except Exception:  # closing after a failure must not hide it
                log.exception("closing import %s", self.job_id)

    def _rejected_header(self) -> list[str]:
        width = max(self.options.get("width") or 0, max(self.mapping, default=-1) + 1)
        if self.headers:
            header = list(self.headers) + [""] * (width - len(self.headers))
        else:
            # Name each column by its field, so the fixed file maps itself the same way.
            header = [
                self.mapping.get(i, "").removeprefix("custom:") if i in self.mapping else ""
                for i in range(width)
            ]
        return [*header, _("Reason")]

    def _reason(self, line: int, reason, column: int | None = None):
        """Line, column (by name) and why, as a lazy message (see reasons.py)."""
        if column is None:
            why = _l("Line %(line)s: %(reason)s", line=line, reason=reason)
        elif column < len(self.headers) and self.headers[column]:
            why = _l(
                "Line %(line)s, column “%(column)s”: %(reason)s",
                line=line,
                column=self.headers[column],
                reason=reason,
            )
        else:
            why = _l(
                "Line %(line)s, column %(number)s: %(reason)s",
                line=line,
                number=column + 1,
                reason=reason,
            )
        return why

    def _aligned(self, cells: list[Cell]) -> list[Cell]:
        """The cells padded (or their empty tail cut) to the header, so reasons line up."""
        cells = list(cells)
        while len(cells) > self.width and not cell_text(cells[-1]).strip():
            cells.pop()
        return cells + [""] * (self.width - len(cells))

    def _next_chunk(self, size: int) -> list[Row]:
        chunk: list[Row] = []
        for row in self.rows:
            self.records += 1
            # A row whose first cell has text is not blank: the usual row, in one step.
            first = row.cells[0] if row.cells else ""
            if (
                row.error is None
                and not (type(first) is str and first.strip())
                and _blank(row.cells)
            ):
                continue
            if not self.header_done:
                self.header_done = True
                continue
            chunk.append(row)
            if len(chunk) == size:
                break
        return chunk

    def work(
        self, job: ImportJob, deadline: float | None, max_chunks: int | None, size: int
    ) -> tuple[int, bool]:
        """Import chunks until the deadline; return (rows done, finished).

        Chunks are committed together every ``COMMIT_SECONDS`` (and at the slice's end).
        """
        # Looked up once per slice: the locale lookup costs more than the digits.
        self.digits = digits_shown()
        if self.kind == "contacts":
            self.parse = contact_parser(self.mapping)
        else:
            toman = bool(self.options.get("toman"))
            self.parse = lambda row: purchase_row(row, self.mapping, toman)
        commit_seconds = current_app.config.get("VAFA_IMPORT_COMMIT_SECONDS", COMMIT_SECONDS)
        with _fewer_collections():
            result = self._work(job, deadline, max_chunks, size, commit_seconds)
        _sqlite_cache(DEFAULT_CACHE_KIB)
        db.session.commit()
        return result

    def _work(self, job, deadline, max_chunks, size, commit_seconds) -> tuple[int, bool]:
        done = chunks = 0
        committed_at = time.monotonic()
        while True:
            chunk = self._next_chunk(size)
            if not chunk:
                self._commit(job)
                return done, True
            _sqlite_cache(IMPORT_CACHE_KIB)
            self._chunk(chunk)
            done += len(chunk)
            chunks += 1
            now = time.monotonic()
            finished = len(chunk) < size  # the file ended inside this chunk
            stop = (deadline is not None and now >= deadline) or (
                max_chunks is not None and chunks >= max_chunks
            )
            if finished or stop or now - committed_at >= commit_seconds:
                self._commit(job)
                committed_at = now
            if finished:
                return done, True
            if stop:
                return done, False

    def _chunk(self, chunk: list[Row]) -> None:
        """Check and store a chunk, write its rejected rows; committed later (``_commit``)."""
        counts = Counts()
        parsed = []
        for row in chunk:
            if row.error is not None:
                counts.reject(row, self._reason(row.line, _l("This line cannot be read.")))
                continue
            if len(row.cells) > self.max_columns and any(
                cell_text(c).strip() for c in row.cells[self.max_columns :]
            ):
                counts.reject(
                    row,
                    self._reason(
                        row.line,
                        _l("The row has more than %(max)s columns.", max=self.max_columns),
                    ),
                )
                continue
            try:
                parsed.append(self.parse(row))
            except RowError as error:
                counts.reject(row, self._reason(row.line, error.reason, error.column))
        unique = self._first_of_each(parsed, counts)
        if self.kind == "contacts":
            self._store_contacts(unique, counts)
        else:
            self._store_purchases(unique, counts)
        for row, reason in sorted(counts.rejected, key=lambda item: item[0].line):
            self.rejected.write(self._aligned(row.cells), reason, self.digits)
        self.seen.add([(key, row.line) for key, row in self._keys(unique)])
        pending = self.uncommitted
        pending.created += counts.created
        pending.updated += counts.updated
        pending.duplicates += counts.duplicates
        pending.invalid += counts.invalid
        self.uncommitted_rows += len(chunk)
        self.last_line = chunk[-1].line

    def _commit(self, job: ImportJob) -> None:
        """Commit the chunks stored since the last commit, with the job's progress.

        The numbers seen are committed first: should this process die between the two,
        the resumed import forgets what the seen index holds past the job's last line.
        """
        pending = self.uncommitted
        rejected_bytes, reasons_bytes = self.rejected.size()
        self.seen.commit()
        job.rows += self.uncommitted_rows
        job.created += pending.created
        job.updated += pending.updated
        job.duplicates += pending.duplicates
        job.invalid += pending.invalid
        job.options = {
            **job.options,
            "resume": {
                "records": self.records,
                "line": self.last_line,
                "rejected_bytes": rejected_bytes,
                "reasons_bytes": reasons_bytes,
                "at": utcnow().isoformat(),
            },
        }
        db.session.commit()
        self.uncommitted = Counts()
        self.uncommitted_rows = 0

    def _keys(self, rows) -> Iterator[tuple[str, ContactRow | PurchaseRow]]:
        for row in rows:
            key = row.mobile if self.kind == "contacts" else row.reference
            if key:
                yield key, row

    def _first_of_each(self, rows, counts: Counts) -> list:
        """Rows whose number (or reference) has not come earlier in the file."""
        earlier = self.seen.lines([key for key, _row in self._keys(rows)])
        unique = []
        for row in rows:
            key = row.mobile if self.kind == "contacts" else row.reference
            if key and key in earlier:
                reason = _SAME[self.kind](line=earlier[key])
                counts.reject(row, self._reason(row.line, reason), duplicate=True)
                continue
            if key:
                earlier[key] = row.line
            unique.append(row)
        return unique

    # Storing

    def _rejecter(self, counts: Counts):
        """The ``rejected`` callback of the store functions: a reason in the rejects file."""

        def rejected(row, reason, duplicate: bool = False) -> None:
            counts.reject(row, self._reason(row.line, reason), duplicate=duplicate)

        return rejected

    def _store_contacts(self, rows: list[ContactRow], counts: Counts) -> None:
        stored = store_contacts(
            rows,
            on_duplicate=self.options.get("on_duplicate") or "skip",
            list_id=self.options.get("list_id"),
            source="import",
            opt_out_text=self.filename,
            rejected=self._rejecter(counts),
        )
        counts.created += stored.created
        counts.updated += stored.updated

    def _store_purchases(self, rows: list[PurchaseRow], counts: Counts) -> None:
        stored = store_purchases(
            rows,
            create_contacts=bool(self.options.get("create_contacts")),
            rejected=self._rejecter(counts),
        )
        counts.created += stored.created
        # Recorded by someone else between our check and our insert: still a duplicate.
        counts.duplicates += stored.late_duplicates


# A running job without a committed chunk for this long lost its worker (a slice commits
# every VAFA_IMPORT_COMMIT_SECONDS).
STALE_AFTER = timedelta(minutes=5)

# The run this process has open, between a worker's slices.
_current: ImportRun | None = None
_current_lock = threading.Lock()


def _chunk_rows() -> int:
    return current_app.config.get("VAFA_IMPORT_CHUNK", CHUNK_ROWS)


def _release_stale() -> None:
    """Put back jobs whose worker died mid-slice (no chunk committed for a long while)."""
    for job in db.session.scalars(select(ImportJob).where(ImportJob.status == "running")):
        at = (job.options.get("resume") or {}).get("at")
        if at and datetime.fromisoformat(at) < utcnow() - STALE_AFTER:
            log.warning("import %s: no progress since %s; putting it back", job.id, at)
            db.session.execute(
                update(ImportJob)
                .where(ImportJob.id == job.id, ImportJob.status == "running")
                .values(status="pending")
            )
    db.session.commit()


def _claim() -> ImportJob | None:
    """Take the oldest waiting job for one slice; None when there is none (or another took it)."""
    job = db.session.scalar(
        select(ImportJob).where(ImportJob.status == "pending").order_by(ImportJob.id).limit(1)
    )
    if job is None:
        return None
    options = {
        **job.options,
        "resume": {**(job.options.get("resume") or {}), "at": utcnow().isoformat()},
    }
    claimed = db.session.execute(
        update(ImportJob)
        .where(ImportJob.id == job.id, ImportJob.status == "pending")
        .values(status="running", options=options)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if claimed != 1:
        return None
    db.session.refresh(job)
    return job


def run_imports(max_seconds: float | None = SLICE_SECONDS, max_chunks: int | None = None) -> int:
    """Worker job: give the oldest waiting import one slice; return the rows it imported.

    The worker runs again at once while this returns more than nothing, so an import
    goes on slice after slice, with the outbox dispatched between slices.
    """
    _release_stale()
    job = _claim()
    if job is None:
        return 0
    return _run_slice(job, max_seconds, max_chunks)


def _run_slice(job: ImportJob, max_seconds: float | None, max_chunks: int | None) -> int:
    global _current
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    with _current_lock, force_locale(job.options.get("locale") or "fa"):
        try:
            if _current is not None and not _current.matches(job):
                _current.close()
                _current = None
            if _current is None:
                _current = ImportRun(job)
            run = _current
            if job.total_rows is None:
                job.total_rows = max(
                    run.sheet.count_rows() - (1 if job.options.get("header") else 0), 0
                )
                db.session.commit()
            done, finished = run.work(job, deadline, max_chunks, _chunk_rows())
            if finished:
                _finish(job, run)
                _current = None
            elif job.status == "running" and max_seconds is not None:
                job.status = "pending"  # the next slice may be taken by any worker
                db.session.commit()
            return max(done, 1)
        except Exception as error:
            db.session.rollback()
            log.exception("import %s failed", job.id)
            if _current is not None:
                _current.close()
                _current = None
            job = db.session.get(ImportJob, job.id)
            job.status = "failed"
            job.error = (
                str(error.reason)
                if isinstance(error, UnreadableFile)
                else _("The import stopped: %(error)s", error=str(error)[:300])
            )
            job.finished_at = utcnow()
            db.session.commit()
            return 1


def close_open_import() -> None:
    """Close the file of an import this process had open (a worker that stops calls it).

    Its job resumes from its last committed chunk in whichever worker takes it next.
    """
    global _current
    with _current_lock:
        if _current is not None:
            _current.close()
            _current = None


def _finish(job: ImportJob, run: ImportRun) -> None:
    run.close()
    job.status = "done"
    job.total_rows = job.rows
    job.finished_at = utcnow()
    if job.duplicates + job.invalid == 0:
        rejected_path(job).unlink(missing_ok=True)
        reasons_path(rejected_path(job)).unlink(missing_ok=True)
    db.session.commit()
    # The rows are in; the rejected ones are in their own file.
    for path in (upload_path(job), seen_path(job)):
        path.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{seen_path(job)}{suffix}").unlink(missing_ok=True)


def run_to_end(job: ImportJob) -> ImportJob:
    """Import a started job here and now, in this process (the command line, the bench)."""
    job.status = "running"
    job.options = {**job.options, "resume": {"at": utcnow().isoformat()}}
    db.session.commit()
    _run_slice(job, None, None)
    db.session.refresh(job)
    return job
