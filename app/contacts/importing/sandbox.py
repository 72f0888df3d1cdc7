"""The second wall: files are read in a child process whose address space is capped.

The inspection (app.contacts.importing.inspecting) refuses the files it knows to be
hostile; a reader bug it does not know of must still cost one refused import, never the
panel, the CLI, the scheduler or a worker. So the panel never opens an uploaded file
itself: ``open_sheet`` starts a fresh interpreter (never a fork: the panel runs threads,
and a forked copy of a threaded process may hold locks no thread will release), which
caps its own address space (RLIMIT_AS, setting VAFA_IMPORT_MEMORY_MB) before it loads a
reader, inspects the file, and streams its rows back over a pipe. A reader that asks for
more memory than that dies alone (calamine aborts the process it runs in when an
allocation fails), and the import is refused with a message that names the limit.

The child loads only this package's reading modules: stand-in package modules keep
``app/__init__.py`` (Flask, SQLAlchemy, every blueprint: 0.7 s and 60 MB) out of it, so
it starts in some 50 ms and the memory cap is spent on the file.

The pipe carries frames: four bytes of length, then JSON. Rows travel as JSON lists
(dates as {"$d": "1991-08-03"} and the like), a few hundred kilobytes a frame; the
child blocks while the parent does not read, so neither side holds more than a frame.
JSON rather than pickle or marshal: the parent decodes what a possibly subverted child
sends, and JSON decoding cannot run code or crash the interpreter.

Only ``child`` and what it calls run in the child; the parent-side code imports Flask
things inside its functions.
"""

import contextlib
import fcntl
import gc
import json
import os
import signal
import subprocess
import sys
import traceback
from datetime import date, datetime, time, timedelta
from itertools import islice
from pathlib import Path

from app.contacts.importing.limits import MB, MESSAGES, Limits, Refused
from app.contacts.importing.reading import Row, Sheet, cell_text

# The most a frame may carry beyond its rows' text, and bytes per character of JSON text
# at worst (a control character is written \u00XX): a frame longer than one widest row
# of the longest cells can hold is not something a reader sends, and is not decoded.
_FRAME_OVERHEAD = 1 * MB
_JSON_BYTES_PER_CHAR = 6
_FRAME_BYTES = 256 * 1024
_FRAME_ROWS = 1000
# What the pipe holds (at most /proc/sys/fs/pipe-max-size, 1 MB unless raised).
_PIPE_BYTES = 1024 * 1024
# How a reader ends when an allocation fails under the cap: Rust aborts, the kernel
# kills, C code may dereference the NULL it got.
_OUT_OF_MEMORY = (-signal.SIGABRT, -signal.SIGKILL, -signal.SIGSEGV)
_ROOT = str(Path(__file__).resolve().parents[3])
_BOOT = """\
import resource, sys, types
limit, cpu = (int(value) for value in sys.argv[2].split(","))
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
if cpu:
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
for name in ("app", "app.contacts", "app.contacts.importing"):
    module = types.ModuleType(name)
    module.__path__ = [sys.argv[1] + "/" + name.replace(".", "/")]
    sys.modules[name] = module
from app.contacts.importing.sandbox import child
child(sys.argv[3])
"""


class SandboxedSheet(Sheet):
    """A file's rows as a child process reads them; the same interface as every Sheet.

    The child inspects the file (unless ``facts`` from an earlier inspection are given)
    and reports what it is before the first row; ``rows()`` may be read once per child,
    and starts another child when read again.
    """

    def __init__(self, path: Path | str, limits: Limits, facts: dict | None = None, skip=0):
        self.path = Path(path)
        self.limits = limits
        self.skip = skip
        self.process: subprocess.Popen | None = None
        self.fresh = False
        header = self._start(facts)
        self.facts = header["facts"]
        self.kind = self.facts["kind"]
        self.encoding = header.get("encoding")
        self.delimiter = header.get("delimiter")
        self.total = header["rows"]

    def _start(self, facts: dict | None) -> dict:
        self.close()
        open(self.path, "rb").close()  # a missing file is the caller's error, not a refusal
        request = {
            "path": str(self.path),
            "limits": self.limits.as_dict(),
            "facts": facts,
            "skip": self.skip,
        }
        memory = self.limits.memory_mb * MB if self.limits.memory_mb > 0 else 0
        caps = f"{memory},{max(self.limits.cpu_seconds, 0)}"
        self.max_frame = (
            self.limits.max_columns * self.limits.max_cell_chars * _JSON_BYTES_PER_CHAR
            + _FRAME_OVERHEAD
        )
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT, _ROOT, caps, json.dumps(request)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            close_fds=True,
            # Nothing of the panel's environment (its secret key, its database's
            # password) is the reader's business.
            env={"PATH": os.environ.get("PATH", ""), "RUST_BACKTRACE": "0"},
        )
        _widen(self.process.stdout)
        header = self._message()
        if header.get("t") != "open":
            self._fail()
        self.fresh = True
        return header

    def _frame(self) -> bytes | None:
        stream = self.process.stdout
        size = stream.read(4)
        if len(size) < 4:
            return None
        length = int.from_bytes(size, "big")
        if length > self.max_frame:
            self._stopped()
        payload = stream.read(length)
        return payload if len(payload) == length else None

    def _stopped(self):
        """The child sent what no reader sends: it is stopped, the file refused."""
        self._stop()
        raise shown(Refused("reader_stopped"))

    def _decoded(self, payload: bytes):
        try:
            return json.loads(payload, object_hook=_decode)
        except (ValueError, TypeError, OverflowError, RecursionError):
            self._stopped()

    def _message(self) -> dict:
        payload = self._frame()
        if payload is None:
            self._fail()
        message = self._decoded(payload)
        if not isinstance(message, dict):
            self._stopped()
        if message.get("t") == "refused":
            self._refused(message)
        return message

    def _refused(self, message: dict):
        self._stop()
        code, params = message.get("code"), message.get("params")
        if code not in MESSAGES or not isinstance(params, dict):
            raise shown(Refused("reader_stopped"))
        try:
            refusal = Refused(code, **params)
        except (KeyError, TypeError, ValueError):  # parameters its message does not take
            refusal = Refused("reader_stopped")
        raise shown(refusal)

    def _rows_of(self, batch) -> list[Row]:
        """The rows of one frame, each checked for the shape the child writes."""
        width = self.limits.max_columns + 1
        if not isinstance(batch, list):
            self._stopped()
        rows = []
        for item in batch:
            if not (
                type(item) is list
                and len(item) == 3
                and type(item[0]) is int
                and type(item[1]) is list
                and len(item[1]) <= width
                and (item[2] is None or type(item[2]) is str)
            ):
                self._stopped()
            rows.append(Row(*item))
        return rows

    def _fail(self):
        """The child ended without a word: killed at its memory limit, or crashed."""
        code = self.process.wait()
        self.process.stdout.close()
        self.process = None
        if self.limits.cpu_seconds > 0 and code == -signal.SIGXCPU:
            raise shown(Refused("cpu", max=self.limits.cpu_seconds))
        if self.limits.memory_mb > 0 and code in (
            -signal.SIGABRT,
            -signal.SIGKILL,
            -signal.SIGSEGV,
        ):
            raise shown(Refused("memory", max=self.limits.memory_mb))
        raise shown(Refused("reader_stopped"))

    def rows(self):
        if not self.fresh:
            self._start(self.facts)
        self.fresh = False
        while True:
            payload = self._frame()
            if payload is None:
                self._fail()
            decoded = self._decoded(payload)
            if payload[:1] == b"[":
                yield from self._rows_of(decoded)
                continue
            if not isinstance(decoded, dict):
                self._stopped()
            if decoded.get("t") == "end":
                self._stop()
                return
            if decoded.get("t") == "refused":
                self._refused(decoded)
            self._fail()

    def count_rows(self) -> int:
        return self.total

    def _stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.stdout.close()
            self.process.wait()
            self.process = None

    def close(self) -> None:
        self._stop()

    def __del__(self):
        self._stop()


def _widen(pipe) -> None:
    """Let the child read ahead while the parent stores a chunk (Linux; else as it was).

    A pipe holds 64 KB by default, a quarter of a frame: the child waited for the
    parent to read, the parent for the child to parse. With room for a few frames
    (``_PIPE_BYTES``) the child parses the next rows while the parent checks and stores
    these; it still blocks when the pipe is full, so memory stays bounded.
    """
    with contextlib.suppress(AttributeError, OSError):
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)


def open_sheet(path: Path | str, limits: Limits, facts: dict | None = None, skip: int = 0):
    """A file's rows, read in a child process; raises UnreadableFile (translated) when refused.

    ``skip`` rows are read but not sent (an import that resumes).
    """
    return SandboxedSheet(path, limits, facts, skip)


def shown(error: Refused) -> Refused:
    """The refusal with its message in the owner's language (numbers in their digits)."""
    from flask_babel import lazy_gettext

    from app.persian import show_number

    shown = {k: show_number(v) if isinstance(v, int) else v for k, v in error.params.items()}
    error.reason = lazy_gettext(MESSAGES[error.code], **shown)
    error.args = (error.reason,)
    return error


def _decode(value: dict):
    if len(value) == 1:
        ((key, item),) = value.items()
        if key == "$d":
            return date.fromisoformat(item)
        if key == "$dt":
            return datetime.fromisoformat(item)
        if key == "$t":
            return time.fromisoformat(item)
        if key == "$td":
            return timedelta(seconds=item)
    return value


# The child ------------------------------------------------------------------------


def _encode(value):
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    if isinstance(value, time):
        return {"$t": value.isoformat()}
    if isinstance(value, timedelta):
        return {"$td": value.total_seconds()}
    raise TypeError(type(value).__name__)


def child(request_json: str) -> None:
    """Inspect and read one file; write its frames to stdout (the pipe) and exit."""
    from app.contacts.importing.reading import open_sheet as open_here

    # The rows are freed by their reference counts: the cycle collector need not walk
    # them every 700 objects (see jobs.IMPORT_GC_THRESHOLD).
    gc.set_threshold(50_000, *gc.get_threshold()[1:])
    pipe = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to the log, not into the pipe

    def send(payload: bytes) -> None:
        pipe.write(len(payload).to_bytes(4, "big"))
        pipe.write(payload)

    def say(message: dict) -> None:
        send(json.dumps(message).encode())
        pipe.flush()

    request = json.loads(request_json)
    limits = Limits(**request["limits"])
    width = limits.max_columns
    dumps = json.JSONEncoder(ensure_ascii=False, default=_encode, separators=(",", ":")).encode
    facts = request["facts"]
    try:
        if facts and facts.get("bytes") != os.stat(request["path"]).st_size:
            facts = None  # not the file that was inspected: inspect it again
        sheet = open_here(request["path"], limits=limits, facts=facts)
        say(
            {
                "t": "open",
                "facts": sheet.facts,
                "encoding": sheet.encoding,
                "delimiter": sheet.delimiter,
                "rows": sheet.count_rows(),
            }
        )
        batch: list[list] = []
        # Rows a frame: fewer when rows are long, so a frame stays near _FRAME_BYTES.
        per_frame = _FRAME_ROWS
        # Blank rows are not sent (the importer has nothing to do with them, and calamine
        # gives every blank row between two rows); ``skip`` counts the rows that are.
        rows = (row for row in sheet.rows() if row.cells.count("") != len(row.cells) or row.error)
        for row in islice(rows, request["skip"], None):
            cells = row.cells
            if len(cells) > width:
                # One cell past the limit, if any has a value: the importer names the
                # row too wide without receiving all of it.
                extra = next((cell for cell in cells[width:] if cell_text(cell).strip()), None)
                cells = cells[:width] + ([] if extra is None else [extra])
            batch.append([row.line, cells, row.error])
            if len(batch) >= per_frame:
                frame = dumps(batch).encode()
                send(frame)
                batch = []
                if len(frame) > 2 * _FRAME_BYTES:
                    per_frame = max(1, per_frame // 2)
                elif len(frame) < _FRAME_BYTES // 2 and per_frame < _FRAME_ROWS:
                    per_frame *= 2
        if batch:
            send(dumps(batch).encode())
        say({"t": "end"})
    except Refused as error:
        say({"t": "refused", "code": error.code, "params": error.params})
    except MemoryError:
        say({"t": "refused", "code": "memory", "params": {"max": limits.memory_mb}})
    except BrokenPipeError:
        pass  # the parent has read enough (a preview) or stopped
    except Exception:
        traceback.print_exc()
        say({"t": "refused", "code": "reader_stopped", "params": {}})
    with contextlib.suppress(BrokenPipeError):
        pipe.close()
