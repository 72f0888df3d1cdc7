"""The parent's side of the second wall: a reader child that misbehaves — spins, or sends
what no reader sends — costs one refused file, never the parent's memory or its time.

The child here is the real one's start (the same address-space and CPU caps, set the
same way) followed by a hostile tail in place of the reader: what a reader subverted by
a crafted file could do.
"""

import json
import time

import pytest

from app.contacts.importing import sandbox
from app.contacts.importing.limits import Limits, Refused

READER = "from app.contacts.importing.sandbox import child\nchild(sys.argv[3])\n"
OPEN = {"t": "open", "facts": {"kind": "csv"}, "encoding": "utf-8", "delimiter": ",", "rows": 1}


def hostile_child(monkeypatch, tail: str) -> None:
    assert READER in sandbox._BOOT
    monkeypatch.setattr(sandbox, "_BOOT", sandbox._BOOT.replace(READER, tail))


def saying(*frames) -> str:
    """A child that writes these frames (bytes as they are, else JSON), then waits."""
    payloads = [f if isinstance(f, bytes) else json.dumps(f).encode() for f in frames]
    return (
        "import time\nout = sys.stdout.buffer\n"
        f"for payload in {payloads!r}:\n"
        "    out.write(len(payload).to_bytes(4, 'big') + payload)\n"
        "out.flush()\ntime.sleep(60)\n"
    )


@pytest.fixture
def upload_file(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("name,mobile\nعلی,09121234567\n")
    return path


def test_a_reader_stuck_in_a_loop_is_stopped_at_its_cpu_limit(app, monkeypatch, upload_file):
    hostile_child(monkeypatch, "while True:\n    pass\n")
    started = time.monotonic()
    with pytest.raises(Refused) as refused:
        sandbox.open_sheet(upload_file, Limits(cpu_seconds=1))
    assert refused.value.code == "cpu"
    assert "VAFA_IMPORT_CPU_SECONDS" in str(refused.value.reason)
    assert time.monotonic() - started < 30  # not the 60 s the parent would otherwise wait


def test_a_frame_longer_than_any_row_is_not_read(app, monkeypatch, upload_file):
    # 2 GB announced: the parent refuses on the length alone, before reading a byte of it.
    hostile_child(monkeypatch, saying(OPEN, (2**31 - 1).to_bytes(4, "big")))
    sheet = sandbox.open_sheet(upload_file, Limits())
    with pytest.raises(Refused) as refused:
        list(sheet.rows())
    assert refused.value.code == "reader_stopped"


@pytest.mark.parametrize(
    "frame",
    [
        b'[[1, ["x"], null',  # cut short
        b'[[1, ["x"]]]',  # a row of two items
        b'[["1", ["x"], null]]',  # a line that is not a number
        b'[[1, {"a": 1}, null]]',  # cells that are not a list
        b'[[1, [{"$td": 1e308}], null]]',  # a duration no timedelta holds
        b'[[1, [{"$d": "not a date"}], null]]',
        b"[[1, [" + b'"x",' * 70 + b'"x"], null]]',  # wider than any row may be
        b'{"t": "refused", "code": "no such code", "params": {}}',
        b'{"t": "refused", "code": "memory", "params": {"nothing": 1}}',
        b"17",
    ],
    ids=[
        "cut_short",
        "two_items",
        "text_line",
        "cells_object",
        "huge_duration",
        "bad_date",
        "too_wide",
        "unknown_refusal",
        "refusal_without_its_numbers",
        "a_number",
    ],
)
def test_what_no_reader_sends_refuses_the_file(app, monkeypatch, upload_file, frame):
    hostile_child(monkeypatch, saying(OPEN, frame))
    sheet = sandbox.open_sheet(upload_file, Limits())
    with pytest.raises(Refused) as refused:
        list(sheet.rows())
    assert refused.value.code == "reader_stopped"
    assert sheet.process is None  # the child is stopped, not left waiting


def test_a_reader_that_opens_with_garbage_refuses_the_file(app, monkeypatch, upload_file):
    hostile_child(monkeypatch, saying(b"[1, 2, 3]"))
    with pytest.raises(Refused) as refused:
        sandbox.open_sheet(upload_file, Limits())
    assert refused.value.code == "reader_stopped"


def test_the_real_reader_still_reads(app, upload_file):
    with sandbox.open_sheet(upload_file, Limits(cpu_seconds=5)) as sheet:
        rows = [row.cells for row in sheet.rows()]
    assert rows == [["name", "mobile"], ["علی", "09121234567"]]
