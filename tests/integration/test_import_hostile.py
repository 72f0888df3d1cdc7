"""Hostile files: each is refused with a message naming the limit, nothing is written,
and the process that was handed the file goes on working.

Every file is built here, as an attacker would build it: a zip written by hand around
hand-written XML. The large ones cost little to build: a block of repeated XML is
deflated once, ended with a full flush (which forgets the history), and that block is
repeated, so "400 MB of shared strings" is a megabyte of bytes and no time.

Each file goes in three ways: the upload page, `vafa contacts import`, and the import
worker (a job whose file is swapped after it was inspected, as a file changed on disk
would be: the reader inspects it again).
"""

import io
import re
import struct
import zlib
from functools import cache

import pytest
from import_support import flashed_error, job_id_of, last_job, upload
from sqlalchemy import func, select

from app.cli import main as vafa
from app.contacts import importing
from app.contacts.models import Contact, ImportJob
from app.extensions import db
from app.jobs import run_all_once

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
GOOD_CSV = "نام,موبایل\nعلی,09121234567\nسارا,09351112233\n"


# Building zips by hand -------------------------------------------------------------


def deflated(data: bytes) -> tuple[bytes, int, int]:
    """Raw deflate of ``data``: (compressed, crc, size)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush(), zlib.crc32(data), len(data)


def repeated(unit: bytes, times: int, head: bytes = b"", tail: bytes = b""):
    """head + unit × times + tail, deflated without deflating it all: (compressed, crc, size)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = packer.compress(head) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(unit) + packer.flush(zlib.Z_FULL_FLUSH)
    end = packer.compress(tail) + packer.flush()
    crc = zlib.crc32(head)
    for _ in range(times):
        crc = zlib.crc32(unit, crc)
    crc = zlib.crc32(tail, crc)
    return start + block * times + end, crc, len(head) + len(unit) * times + len(tail)


def zip_of(parts: dict[str, bytes | tuple[bytes, int, int]], claimed: dict | None = None) -> bytes:
    """A zip of deflated parts; ``claimed`` overrides the sizes a part's headers state."""
    out, directory = io.BytesIO(), io.BytesIO()
    for name, part in parts.items():
        packed, crc, size = deflated(part) if isinstance(part, bytes) else part
        stated = (claimed or {}).get(name, size)
        offset = out.tell()
        raw = name.encode()
        out.write(
            struct.pack(
                "<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(packed), stated, len(raw), 0
            )
        )
        out.write(raw + packed)
        directory.write(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, len(packed), stated,
                len(raw), 0, 0, 0, 0, 0, offset,
            )
            + raw
        )  # fmt: skip
    start, listing = out.tell(), directory.getvalue()
    out.write(listing)
    count = len(parts)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(listing), start, 0))
    return out.getvalue()


def workbook(sheet, strings=None, claimed=None, extra: dict | None = None) -> bytes:
    """An .xlsx: the workbook, its first sheet (XML, or a deflated tuple) and its strings."""
    relationships = (
        f'<Relationship Id="rId1" Type="{DOC}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{DOC}/sharedStrings" Target="sharedStrings.xml"/>'
    )
    parts = {
        "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.'
        b'openxmlformats.org/package/2006/content-types"><Default Extension="xml" '
        b'ContentType="application/xml"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="{RELS}"><Relationship Id="rId1" '
        f'Type="{DOC}/officeDocument" Target="xl/workbook.xml"/></Relationships>'.encode(),
        "xl/workbook.xml": f'<workbook xmlns="{MAIN}" xmlns:r="{DOC}"><sheets>'
        f'<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'.encode(),
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{RELS}">{relationships}'
        f"</Relationships>".encode(),
        "xl/worksheets/sheet1.xml": sheet,
    }
    if strings is not None:
        parts["xl/sharedStrings.xml"] = strings
    return zip_of({**parts, **(extra or {})}, claimed)


def sheet_xml(rows: str, dimension: str = "") -> bytes:
    dimension = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        f'<worksheet xmlns="{MAIN}">{dimension}<sheetData>{rows}</sheetData></worksheet>'.encode()
    )


def cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


SHEET_HEAD = f'<worksheet xmlns="{MAIN}"><sheetData>'.encode()
SHEET_TAIL = b"</sheetData></worksheet>"
STRINGS_HEAD = f'<sst xmlns="{MAIN}">'.encode()


# The attacks ---------------------------------------------------------------------


@cache
def far_corner() -> bytes:
    """1.6 KB: cells at A1 and XFD1048576 (calamine would ask for some 512 GiB)."""
    rows = f'<row r="1">{cell("A1", "09121234567")}</row>'
    rows += f'<row r="1048576">{cell("XFD1048576", "x")}</row>'
    return workbook(sheet_xml(rows, "A1:XFD1048576"))


@cache
def row_two_billion() -> bytes:
    rows = f'<row r="1">{cell("A1", "09121234567")}</row>'
    rows += f'<row r="2000000000">{cell("A2000000000", "09351112233")}</row>'
    return workbook(sheet_xml(rows))


@cache
def shared_strings_bomb() -> bytes:
    """About 1 MB whose shared strings unpack to 400 MB."""
    unit = b"<si><t>09121234567</t></si>" * 40_000  # a megabyte of strings
    strings = repeated(unit, 400, STRINGS_HEAD, b"</sst>")
    sheet = sheet_xml('<row r="1"><c r="A1" t="s"><v>0</v></c></row>')
    return workbook(sheet, strings)


@cache
def lying_shared_strings() -> bytes:
    """The same bomb, whose headers claim its strings unpack to one kilobyte."""
    unit = b"<si><t>09121234567</t></si>" * 40_000  # a megabyte of strings
    strings = repeated(unit, 400, STRINGS_HEAD, b"</sst>")
    sheet = sheet_xml('<row r="1"><c r="A1" t="s"><v>0</v></c></row>')
    return workbook(sheet, strings, claimed={"xl/sharedStrings.xml": 1024})


@cache
def padded_with_far_rows() -> bytes:
    """73 KB: a few real rows, padded with rows numbered up to four billion."""
    rows = "".join(
        f'<row r="{n * 1_300_000}">{cell(f"A{n * 1_300_000}", "09121234567")}</row>'
        for n in range(1, 3001)
    )
    return workbook(sheet_xml(f'<row r="1">{cell("A1", "09121234567")}</row>' + rows))


@cache
def gigabyte_of_empty_rows() -> bytes:
    """1.5 MB holding a gigabyte of empty rows."""
    unit = b"<row/>" * 170_000
    return workbook(repeated(unit, 1000, SHEET_HEAD, SHEET_TAIL))


@cache
def many_parts() -> bytes:
    extra = {f"xl/media/p{i}.xml": b"<p/>" for i in range(1_001)}
    return workbook(sheet_xml(f'<row r="1">{cell("A1", "09121234567")}</row>'), extra=extra)


@cache
def endless_line() -> bytes:
    return b"name,mobile\n" + b"a" * 1_200_000 + b",09121234567\n"


ATTACKS = {
    "far_corner": (far_corner, "VAFA_IMPORT_MAX_COLUMNS", ["XFD", "۱۶٬۳۸۴", "۶۰"]),
    "row_two_billion": (row_two_billion, "VAFA_IMPORT_MAX_ROWS", ["۲٬۰۰۰٬۰۰۰٬۰۰۰"]),
    "shared_strings_bomb": (shared_strings_bomb, "VAFA_IMPORT_MAX_SHARED_STRINGS_MB", ["۲۵۶"]),
    "lying_shared_strings": (lying_shared_strings, "VAFA_IMPORT_MAX_ZIP_RATIO", ["۱۰۰"]),
    "padded_with_far_rows": (padded_with_far_rows, "VAFA_IMPORT_MAX_ROWS", ["۲٬۶۰۰٬۰۰۰"]),
    "gigabyte_of_empty_rows": (gigabyte_of_empty_rows, "VAFA_IMPORT_MAX_ROWS", ["۲٬۰۰۰٬۰۰۰"]),
    "many_parts": (many_parts, "VAFA_IMPORT_MAX_ZIP_PARTS", ["۱٬۰۰۰"]),
    "endless_line": (endless_line, "VAFA_IMPORT_MAX_LINE_CHARS", ["۱٬۰۴۸٬۵۷۶"]),
}


def test_the_attacks_are_the_files_the_issue_describes():
    assert len(far_corner()) < 2_000
    assert len(shared_strings_bomb()) < 1_500_000
    assert len(padded_with_far_rows()) < 80_000
    assert len(gigabyte_of_empty_rows()) < 1_600_000


# Entry points ----------------------------------------------------------------------


def counts() -> tuple[int, int]:
    db.session.expire_all()
    return (
        db.session.scalar(select(func.count()).select_from(Contact)),
        db.session.scalar(select(func.count()).select_from(ImportJob)),
    )


def files_kept() -> set:
    return set(importing.imports_folder().iterdir())


def is_persian(text: str) -> bool:
    return bool(re.search("[\u0627-\u06cc]{3}", text))


def refused_as_expected(message: str, setting: str, numbers: list[str]) -> None:
    assert is_persian(message), message
    assert setting in message, message
    for number in numbers:
        assert number in message, message


def name_for(data: bytes) -> str:
    return "customers.xlsx" if data.startswith(b"PK") else "customers.csv"


def post_file(client, data: bytes, filename: str):
    """The upload form's request, encoded here: werkzeug's test client spools a body over
    500 KB to a temporary file it never closes (a ResourceWarning, an error here)."""
    boundary = "vafa-hostile-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\ncontacts\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.post(
        "/contacts/import",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def through_the_page(client, data: bytes) -> str:
    """Upload through the page; the refusal is flashed and no job is kept."""
    before, kept = counts(), files_kept()
    response = post_file(client, data, name_for(data))
    assert response.status_code == 200  # the form again, not the mapping step
    assert counts() == before
    assert files_kept() == kept
    # The panel goes on working: a good file is taken at once.
    assert job_id_of(upload(client, GOOD_CSV)) > 0
    return flashed_error(response)


def through_the_command_line(app, tmp_path, data: bytes) -> str:
    path = tmp_path / name_for(data)
    path.write_bytes(data)
    before, kept = counts(), files_kept()
    result = app.test_cli_runner().invoke(vafa, ["contacts", "import", str(path)])
    db.session.rollback()
    assert result.exit_code != 0
    assert counts() == before
    assert files_kept() == kept
    return result.output


def through_the_worker(client, app, data: bytes) -> str:
    """A job started on a good file whose file is then swapped for the hostile one."""
    job_id = job_id_of(upload(client, GOOD_CSV))
    job = db.session.get(ImportJob, job_id)
    importing.start_import(job, {0: "full_name", 1: "mobile"}, True)
    db.session.commit()
    importing.upload_path(job).write_bytes(data)
    before = counts()
    run_all_once(app)
    job = last_job()
    assert job.status == "failed" and job.finished_at is not None
    assert (job.rows, job.created) == (0, 0)
    assert counts() == before
    # The worker goes on: the next job imports.
    job_id_of(upload(client, GOOD_CSV))
    later = last_job()
    importing.start_import(later, {0: "full_name", 1: "mobile"}, True)
    db.session.commit()
    run_all_once(app)
    assert last_job().status == "done" and last_job().created == 2
    return job.error


@pytest.mark.parametrize("attack", ATTACKS)
def test_the_upload_page_refuses(logged_in, attack):
    build, setting, numbers = ATTACKS[attack]
    refused_as_expected(through_the_page(logged_in, build()), setting, numbers)


@pytest.mark.parametrize("attack", ATTACKS)
def test_the_command_line_refuses(app, tmp_path, attack):
    build, setting, numbers = ATTACKS[attack]
    refused_as_expected(through_the_command_line(app, tmp_path, build()), setting, numbers)


@pytest.mark.parametrize("attack", ATTACKS)
def test_the_worker_refuses(logged_in, app, attack):
    build, setting, numbers = ATTACKS[attack]
    refused_as_expected(through_the_worker(logged_in, app, build()), setting, numbers)


# Limits that only a setting brings within reach of a test ------------------------


def test_a_file_over_the_size_limit_is_not_even_kept(logged_in, app, tmp_path):
    app.config["VAFA_IMPORT_MAX_FILE_MB"] = 1
    data = ("نام,موبایل\n" + "علی,09121234567\n" * 80_000).encode()
    assert len(data) > 1024 * 1024
    message = through_the_page(logged_in, data)
    refused_as_expected(message, "VAFA_IMPORT_MAX_FILE_MB", ["۱"])
    message = through_the_command_line(app, tmp_path, data)
    refused_as_expected(message, "VAFA_IMPORT_MAX_FILE_MB", ["۱"])


def test_a_csv_over_the_row_limit(logged_in, app):
    app.config["VAFA_IMPORT_MAX_ROWS"] = 100
    data = ("نام,موبایل\n" + "".join(f"n,0912{i:07d}\n" for i in range(101))).encode()
    refused_as_expected(through_the_page(logged_in, data), "VAFA_IMPORT_MAX_ROWS", ["۱۰۰"])
    data = ("نام,موبایل\n" + "".join(f"n,0912{i:07d}\n" for i in range(100))).encode()
    assert job_id_of(upload(logged_in, data)) > 0  # the limit itself is allowed


# The second wall: a file the inspection lets through, but reading it needs more
# memory than the reader may have. Calamine aborts the process it runs in when an
# allocation fails: here that is the child, and the import is refused.


@cache
def many_strings() -> bytes:
    strings = STRINGS_HEAD + b"".join(b"<si><t>%07d</t></si>" % i for i in range(1_500_000))
    rows = '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
    rows += '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c></row>'
    return workbook(sheet_xml(rows, "A1:B2"), strings + b"</sst>")


MEMORY = ("VAFA_IMPORT_MEMORY_MB", ["۶۴"])


def test_a_reader_that_runs_out_of_memory_costs_one_refused_upload(logged_in, app, tmp_path):
    app.config["VAFA_IMPORT_MEMORY_MB"] = 64
    refused_as_expected(through_the_page(logged_in, many_strings()), *MEMORY)
    refused_as_expected(through_the_command_line(app, tmp_path, many_strings()), *MEMORY)


def test_a_reader_that_runs_out_of_memory_costs_one_failed_job(logged_in, app):
    app.config["VAFA_IMPORT_MEMORY_MB"] = 64
    refused_as_expected(through_the_worker(logged_in, app, many_strings()), *MEMORY)


def test_the_same_file_imports_with_the_default_memory(logged_in):
    job_id = job_id_of(post_file(logged_in, many_strings(), "strings.xlsx"))
    assert last_job().id == job_id


# What a real file may be ---------------------------------------------------------


def test_far_apart_rows_within_the_limits_import_without_filling_the_gaps(logged_in, app):
    """Rows 1 to 1,000,000, one in every 500: the reader never makes the blank ones."""
    rows = '<row r="1">' + cell("A1", "موبایل") + "</row>"
    rows += "".join(
        f'<row r="{n * 500}">{cell(f"A{n * 500}", f"0912{n:07d}")}</row>' for n in range(1, 2001)
    )
    job_id = job_id_of(upload(logged_in, workbook(sheet_xml(rows)), "far.xlsx"))
    importing.start_import(db.session.get(ImportJob, job_id), {0: "mobile"}, True)
    db.session.commit()
    run_all_once(app)
    job = last_job()
    assert (job.status, job.rows, job.created) == ("done", 2000, 2000)


def test_a_message_in_english_names_the_limit_too(english):
    message = flashed_error(upload(english, far_corner(), "corner.xlsx"))
    assert "column XFD (column 16,384)" in message
    assert "at most 60 columns (setting VAFA_IMPORT_MAX_COLUMNS)" in message
