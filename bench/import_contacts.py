"""Benchmark: import a messy contacts file the way the panel's worker does; print speed and memory.

    PYTHONPATH=. .venv/bin/python bench/import_contacts.py [ROWS ...]
        [--format cp1256|utf8|xlsx] [--database-url URL] [--no-tracemalloc] [--repeat N]
        [--no-bare]

The file is what a shop's old software exports: every mobile form people type (+98,
0098, spaces, dashes, Persian digits where the encoding has them), Arabic ي/ك, Jalali
birth dates in several forms (some that do not exist, like 1403/07/31), genders as
مرد/زن/آقا/خانم/1/2, tags, a few opt-outs, bad numbers and repeated numbers. As CSV it is
Windows-1256 (or UTF-8); as XLSX some mobiles are numbers and some birth dates are
Excel date cells. Files are generated once into bench/out/ and reused.

Each size is imported into a fresh database through the real path: save_upload (the
upload), start_import with the guessed mapping (the confirm button), then run_imports
slice after slice (the worker job) until the job is done. It is timed, with peak RSS
(ru_maxrss, the whole process; the reader child's VmHWM, sampled); then
imported again into another fresh database under tracemalloc for the Python heap's
peak (tracemalloc slows Python down, so that run is not timed).

Beside it, in the same run, the floor: the sqlite3 command-line shell's bare ``.import``
of the same file into a plain table (no validation, no indexes). The machine's load
changes from minute to minute, so only the ratio of the two, measured side by side, means
something; with ``--repeat`` the pair is timed several times (alternating) and every
ratio printed. Bytes written to disk come from /proc/self/io (write_bytes: what reached
the storage layer, so the database's WAL and checkpoints and the scratch index count).
"""

import argparse
import csv
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import text

from app import create_app
from app.contacts import importing
from app.contacts.importing import sandbox
from app.contacts.models import ImportJob
from app.extensions import db

OUT = Path(__file__).resolve().parent / "out"
FIRST = ["علي", "محمد", "زهرا", "فاطمه", "رضا", "مريم", "حسين", "سارا", "كيان", "نگار", "امير"]
LAST = ["رضايي", "محمدی", "حسيني", "کريمي", "احمدی", "موسوی", "جعفری", "صادقی", "كاظمي"]
CITIES = ["تهران", "مشهد", "اصفهان", "شيراز", "تبريز", "كرج", ""]
GENDERS = ["مرد", "زن", "آقا", "خانم", "1", "2", "", "", "نامعلوم"]
TAGS = ["", "", "vip", "وفادار", "vip,عمده", "شعبه ونک"]
HEADER = ["نام", "موبايل", "تاريخ تولد", "جنسيت", "شهر", "برچسب", "لغو"]
PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
# Windows-1256 has no Persian ی and ک: old software wrote the Arabic letters.
ARABIC = str.maketrans("یک", "يك")


def mobile(number: int, rng: random.Random, persian_digits: bool) -> str:
    national = f"9{number:09d}"
    form = rng.randrange(7 if persian_digits else 6)
    if form == 0:
        return "0" + national
    if form == 1:
        return "+98" + national
    if form == 2:
        return "0098" + national
    if form == 3:
        return f"0{national[:3]} {national[3:6]} {national[6:]}"
    if form == 4:
        return f"98-{national[:3]}-{national[3:]}"
    if form == 5:
        return national
    return ("0" + national).translate(PERSIAN)


def birth(i: int, rng: random.Random) -> str:
    if i % 3:
        return ""
    year, month, day = rng.randrange(1330, 1395), rng.randrange(1, 13), rng.randrange(1, 32)
    if i % 333 == 0:
        return "1403/07/31"  # Mehr has 30 days
    form = rng.randrange(4)
    if form == 0:
        return f"{year}/{month}/{day}"
    if form == 1:
        return f"{year}-{month:02d}-{day:02d}"
    if form == 2:
        return f"{year}.{month:02d}.{day:02d}"
    return f"{year}{month:02d}{day:02d}"


def rows(count: int, seed: int, persian_digits: bool):
    """The messy rows, one at a time (a million rows are never all in memory here either)."""
    rng = random.Random(seed)
    for i in range(count):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        if i % 50 == 0:
            number = "021-8877"  # a landline: invalid
        elif i % 97 == 0 and i:
            number = mobile(120000000 + i - 1, rng, persian_digits)  # the previous row again
        else:
            number = mobile(120000000 + i, rng, persian_digits)
        yield [
            name,
            number,
            birth(i, rng),
            rng.choice(GENDERS),
            rng.choice(CITIES),
            rng.choice(TAGS),
            "بله" if i % 200 == 7 else "",
        ]


def make_file(count: int, kind: str, seed: int = 7) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"contacts-{count}-{kind}.{'xlsx' if kind == 'xlsx' else 'csv'}"
    if path.exists():
        return path
    partial = path.with_suffix(".partial" + path.suffix)
    started = time.perf_counter()
    if kind == "xlsx":
        import xlsxwriter

        book = xlsxwriter.Workbook(str(partial), {"constant_memory": True})
        sheet = book.add_worksheet()
        day_format = book.add_format({"num_format": "yyyy-mm-dd"})
        sheet.write_row(0, 0, HEADER)
        for i, row in enumerate(rows(count, seed, persian_digits=True), start=1):
            sheet.write_row(i, 0, row)
            if i % 4 == 1 and row[1].isdigit():
                sheet.write_number(i, 1, int(row[1]))  # Excel made it a number: 9121234567
            if i % 9 == 0:
                born = date(1960, 1, 1) + timedelta(days=i % 15000)
                sheet.write_datetime(i, 2, born, day_format)  # an Excel date cell
        book.close()
    else:
        encoding = "cp1256" if kind == "cp1256" else "utf-8"
        with open(partial, "w", encoding=encoding, newline="") as handle:
            writer = csv.writer(handle)
            arabic = kind == "cp1256"
            writer.writerow([cell.translate(ARABIC) if arabic else cell for cell in HEADER])
            for row in rows(count, seed, persian_digits=not arabic):
                writer.writerow([cell.translate(ARABIC) for cell in row] if arabic else row)
    partial.rename(path)
    print(f"(generated {path.name} in {time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return path


def fresh_app(url: str | None, folder: Path):
    url = url or f"sqlite:///{folder / 'bench.db'}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "VAFA_IMPORT_FOLDER": str(folder / "imports"),
        }
    )
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
    return app


def bare_import(path: Path, folder: Path) -> tuple[float, float] | None:
    """The floor: sqlite3's own ``.import`` of the file into a plain table (seconds, CPU)."""
    shell = shutil.which("sqlite3")
    if shell is None:
        return None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [shell, str(folder / "bare.db"), ".mode csv", f".import '{path}' contacts"], check=True
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return elapsed, cpu


def written_bytes() -> int | None:
    """Bytes this process has caused to be written to storage (Linux), None elsewhere."""
    try:
        with open("/proc/self/io") as handle:
            for line in handle:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def database_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.glob("bench.db*") if path.is_file())


def import_as_the_worker_does(app, path: Path) -> tuple[ImportJob, float]:
    with app.app_context():
        started = time.perf_counter()
        job = importing.save_upload(path, path.name, "contacts")
        mapping = {int(i): name for i, name in job.mapping.items()}
        importing.start_import(job, mapping, job.options["header"], on_duplicate="skip")
        db.session.commit()
        job_id = job.id
        while importing.run_imports():
            pass
        elapsed = time.perf_counter() - started
        db.session.expire_all()
        job = db.session.get(ImportJob, job_id)
        db.session.expunge(job)
        db.engine.dispose()
    return job, elapsed


class ReaderWatch:
    """The peak RSS of the reader children (Linux): each one's VmHWM, read while it lives.

    ru_maxrss of children is no use here: it counts the parent's pages a child held
    between fork and exec.
    """

    def __init__(self):
        self.pids: set[int] = set()
        self.peak_kib = 0
        start = sandbox.SandboxedSheet._start

        def watched(sheet, facts):
            try:
                return start(sheet, facts)
            finally:
                if sheet.process is not None:
                    self.pids.add(sheet.process.pid)

        sandbox.SandboxedSheet._start = watched
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self):
        while True:
            for pid in list(self.pids):
                try:
                    with open(f"/proc/{pid}/status") as handle:
                        for line in handle:
                            if line.startswith("VmHWM:"):
                                self.peak_kib = max(self.peak_kib, int(line.split()[1]))
                except OSError:
                    self.pids.discard(pid)
            time.sleep(0.02)


READERS = ReaderWatch()


def mb(count: float) -> str:
    return f"{count / 1024 / 1024:,.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int, nargs="*", default=[100_000])
    parser.add_argument("--format", choices=("cp1256", "utf8", "xlsx"), default="cp1256")
    parser.add_argument("--database-url", help="PostgreSQL, say (its schema is dropped!)")
    parser.add_argument("--no-tracemalloc", action="store_true")
    parser.add_argument("--no-bare", action="store_true", help="skip sqlite3's .import")
    parser.add_argument("--repeat", type=int, default=1, help="time the pair N times")
    args = parser.parse_args()

    for count in args.rows:
        path = make_file(count, args.format)
        pairs = []
        for _round in range(args.repeat):
            bare = None
            with tempfile.TemporaryDirectory(prefix="vafa-bench-") as folder:
                if not args.no_bare and args.format != "xlsx":
                    bare = bare_import(path, Path(folder))
                app = fresh_app(args.database_url, Path(folder))
                cpu_before, written_before = time.process_time(), written_bytes()
                job, elapsed = import_as_the_worker_does(app, path)
                cpu = time.process_time() - cpu_before
                written = written_bytes()
                if written is not None and written_before is not None:
                    written -= written_before
                size = database_bytes(Path(folder))
            pairs.append((elapsed, cpu, bare))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        python_peak = None
        if not args.no_tracemalloc:
            with tempfile.TemporaryDirectory(prefix="vafa-bench-") as folder:
                app = fresh_app(args.database_url, Path(folder))
                tracemalloc.start()
                import_as_the_worker_does(app, path)
                python_peak = tracemalloc.get_traced_memory()[1] / 1024 / 1024
                tracemalloc.stop()
        assert job.rows == job.created + job.updated + job.duplicates + job.invalid
        print(f"file              {path.name} ({path.stat().st_size / 1024 / 1024:.1f} MB)")
        print(f"database          {(args.database_url or 'sqlite').split(':')[0]}")
        print(f"status            {job.status} {job.error or ''}")
        print(f"rows              {job.rows:,}")
        print(f"created           {job.created:,}")
        print(f"duplicates        {job.duplicates:,}")
        print(f"invalid           {job.invalid:,}")
        for elapsed, cpu, bare in pairs:
            line = f"vafa import       {elapsed:6.2f} s  (CPU {cpu:5.2f} s)"
            if bare is not None:
                line += (
                    f"   sqlite3 .import {bare[0]:5.2f} s  (CPU {bare[1]:4.2f} s)"
                    f"   ratio {elapsed / bare[0]:4.1f}x  (CPU {cpu / max(bare[1], 1e-3):4.1f}x)"
                )
            print(line)
        best = min(elapsed for elapsed, _cpu, _bare in pairs)
        print(f"rows/second       {job.rows / best:,.0f}   (best of {len(pairs)})")
        print(f"peak RSS (MB)     {rss:.0f}   (process so far, ru_maxrss)")
        if READERS.peak_kib:
            print(f"reader RSS (MB)   {READERS.peak_kib / 1024:.0f}   (the reader child's VmHWM)")
        if written is not None:
            print(f"written to disk   {mb(written)}   (the last import, /proc/self/io write_bytes)")
        if not args.database_url:
            print(f"database size     {mb(size)}   (bench.db with its WAL)")
        if python_peak is not None:
            print(f"tracemalloc (MB)  {python_peak:.1f}   (Python heap peak during the import)")
        print()


if __name__ == "__main__":
    main()
