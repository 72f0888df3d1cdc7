"""The shop's own fields at import: the cap on distinct names, the cap on a value's length,
and the rejected-rows file that no spreadsheet reads as formulas."""

from import_support import (
    confirm,
    flashed_error,
    import_file,
    job_id_of,
    last_job,
    rejected,
    rejected_csv,
    stats,
    stored,
    upload,
)

from app.cli import main as vafa
from app.contacts.service import OWN_FIELD_VALUE_MAX
from app.extensions import db

FORMULA = '=HYPERLINK("http://x","y")'


def test_too_many_own_fields_are_refused_at_the_mapping_step(logged_in, app):
    app.config["VAFA_MAX_OWN_FIELDS"] = 3
    data = "موبایل,کد اشتراک,شعبه,سایز,رنگ\n09121234567,A1,ونک,L,آبی\n"
    job_id = job_id_of(upload(logged_in, data))
    response = confirm(logged_in, job_id)
    assert response.status_code == 200  # the mapping page again
    message = flashed_error(response)
    # The first new name in order is named: «رنگ».
    assert "۳" in message and "«رنگ»" in message, message
    job = last_job()
    assert (job.id, job.status) == (job_id, "mapping")
    assert stored() == {}
    # Three own columns are within the limit: the same file without one imports.
    trimmed = "موبایل,کد اشتراک,شعبه,سایز\n09121234567,A1,ونک,L\n"
    page = import_file(logged_in, trimmed)
    assert stats(page)["created"] == 1
    assert stored()["+989121234567"].fields == {"کد اشتراک": "A1", "شعبه": "ونک", "سایز": "L"}


def test_too_many_own_fields_are_refused_on_the_command_line(app, tmp_path):
    app.config["VAFA_MAX_OWN_FIELDS"] = 1
    path = tmp_path / "customers.csv"
    path.write_text("موبایل,کد اشتراک,شعبه\n09121234567,A1,ونک\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(vafa, ["contacts", "import", str(path)])
    db.session.rollback()
    assert result.exit_code != 0
    assert "شعبه" in result.output or "کد اشتراک" in result.output
    assert stored() == {}


def test_a_value_over_the_limit_is_a_rejected_row_not_a_cut_one(english):
    long = "x" * (OWN_FIELD_VALUE_MAX + 1)
    data = f"mobile,note\n09121234567,{long}\n09351112233,short\n"
    page = import_file(english, data)
    counts = stats(page)
    assert (counts["created"], counts["invalid"]) == (1, 1)
    reason = rejected(page)[2]
    assert "“note”" in reason and f"more than {OWN_FIELD_VALUE_MAX} characters" in reason
    contacts = stored()
    assert "+989121234567" not in contacts
    assert contacts["+989351112233"].fields == {"note": "short"}


def test_the_rejected_rows_file_holds_no_formula(logged_in):
    quoted = '"' + FORMULA.replace('"', '""') + '"'
    data = f"موبایل,{quoted}\n0912,{quoted}\n"
    page = import_file(logged_in, data)
    assert stats(page)["invalid"] == 1
    raw, rows = rejected_csv(logged_in, last_job().id)
    header, row = rows[0], rows[1]
    assert header[1] == "'" + FORMULA  # the own field's name, as a header
    assert row[1] == "'" + FORMULA  # the cell of the rejected row
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in header + row)
    assert b"\r\n=" not in raw and b",=" not in raw
