"""Imports run in the worker, a slice at a time, with their progress on the job's row."""

from datetime import timedelta

import pytest
from import_support import (
    confirm,
    import_file,
    job_id_of,
    last_job,
    rejected_csv,
    stats,
    stored,
    upload,
)
from integration_support import as_int, page_text, row_text
from sqlalchemy import update

from app.contacts import importing
from app.contacts.importing import jobs
from app.contacts.importing.files import SeenIndex
from app.contacts.models import ImportJob
from app.extensions import db
from app.jobs import WORKER_JOBS, Worker, run_all_once
from app.types import utcnow

FIVE_ROWS = (
    "نام,موبایل\nعلی,09121234567\nسارا,09351112233\nبد,0912\nنیما,09011112233\nمریم,09191112233\n"
)


def status(client, job_id: int) -> dict:
    response = client.get(f"/contacts/import/{job_id}/status")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def started(client, content=FIVE_ROWS, **fields) -> int:
    job_id = job_id_of(upload(client, content))
    assert confirm(client, job_id, **fields).status_code == 302
    return job_id


def test_the_progress_json_through_a_jobs_life(english, app):
    app.config["VAFA_IMPORT_CHUNK"] = 2
    job_id = started(english)
    waiting = status(english, job_id)
    assert waiting["status"] == "pending" and not waiting["finished"]
    assert (waiting["rows"], waiting["total_rows"], waiting["percent"]) == (0, None, 0)
    assert waiting["status_label"] == "Waiting to start"
    assert waiting["shown"]["total_rows"] == "…"

    # One chunk of two rows, as a worker's slice that ran out of time would leave it.
    assert importing.run_imports(max_chunks=1) == 2
    going = status(english, job_id)
    assert going["status"] == "pending"  # between slices: any worker may take the next
    assert going["status_label"] == "Importing…"
    assert (going["rows"], going["total_rows"], going["percent"]) == (2, 5, 40)
    assert (going["created"], going["invalid"]) == (2, 0)
    assert going["rejected_url"] is None
    page = english.get(f"/contacts/import/{job_id}")
    assert 'data-finished="false"' in page.text
    assert 'aria-valuenow="40"' in page.text
    assert "Rows read: 2 / 5" in page_text(page)

    run_all_once(app)
    done = status(english, job_id)
    assert done["status"] == "done" and done["finished"]
    assert (done["rows"], done["total_rows"], done["percent"]) == (5, 5, 100)
    counts = [done[name] for name in ("created", "updated", "duplicates", "invalid")]
    assert counts == [4, 0, 0, 1]
    assert done["rejected_url"] == f"/contacts/import/{job_id}/rejected.csv"
    assert done["status_label"] == "Finished"


def test_the_json_shows_numbers_as_the_persian_page_does(logged_in, app):
    job_id = started(logged_in)
    run_all_once(app)
    shown = status(logged_in, job_id)["shown"]
    assert (shown["rows"], shown["created"], shown["percent"]) == ("۵", "۴", "۱۰۰")


def test_a_worker_goes_round_again_at_once_while_an_import_has_work(logged_in, app):
    app.config["VAFA_IMPORT_CHUNK"] = 1
    assert any(job.id == "run_imports" and job.continues for job in WORKER_JOBS)
    job_id = started(logged_in)
    worker = Worker(app)
    passes = 0
    try:
        while worker.run_once():
            passes += 1
            assert passes < 50
    finally:
        worker.dispatcher.close()
    assert passes >= 1
    assert db.session.get(ImportJob, job_id).status == "done"
    assert len(stored()) == 4


def test_a_slice_ends_at_its_deadline_and_the_next_one_goes_on(logged_in, app):
    app.config["VAFA_IMPORT_CHUNK"] = 2
    job_id = started(logged_in)
    assert importing.run_imports(max_seconds=0) == 2  # one chunk, then the time is up
    assert importing.run_imports(max_seconds=0) == 2
    job = last_job()
    assert (job.status, job.rows) == ("pending", 4)
    importing.run_imports(max_seconds=0)
    assert (last_job().status, last_job().rows) == ("done", 5)
    assert importing.run_imports() == 0  # nothing left to do
    assert job.id == job_id


def test_a_job_left_running_by_a_dead_worker_resumes_after_its_last_chunk(english, app):
    """The worker died in the middle of its second chunk: the first is committed, the
    second's rejected rows and seen numbers were half written. After the claim timeout
    another worker goes on from the first chunk's end, and every row counts once."""
    app.config["VAFA_IMPORT_CHUNK"] = 2
    content = FIVE_ROWS.replace("نیما,09011112233", "نیما,0912") + "علی,09121234567\n"
    job_id = started(english, content)
    importing.run_imports(max_chunks=1)
    job = last_job()
    resume = job.options["resume"]
    # What the dying worker had written for lines 4-5 before it could commit them:
    with open(importing.rejected_path(job), "a", encoding="utf-8") as handle:
        handle.write("بد,0912,half-written reason\r\n")
    seen = SeenIndex(importing.upload_path(job).with_name(f"{job.stored_as[:-4]}-seen.sqlite"))
    seen.add([("+989191112233", 6)])
    seen.close()
    importing.close_open_import()  # its process is gone with its open file
    an_hour_ago = (utcnow() - timedelta(hours=1)).isoformat()
    db.session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id)
        .values(status="running", options={**job.options, "resume": {**resume, "at": an_hour_ago}})
    )
    db.session.commit()

    run_all_once(app)
    counts = stats(english.get(f"/contacts/import/{job_id}"))
    assert counts == {"rows": 6, "created": 3, "updated": 0, "duplicates": 1, "invalid": 2}
    _data, rows = rejected_csv(english, job_id)
    assert [row[-1] for row in rows[1:]] == [
        "Line 4, column “موبایل”: “0912”: A mobile number has 11 digits, like 09121234567.",
        "Line 5, column “موبایل”: “0912”: A mobile number has 11 digits, like 09121234567.",
        "Line 7: Same number as line 2.",
    ]
    assert "+989191112233" in stored()  # line 6 was not taken for a repeat of itself


def test_chunks_are_committed_together_and_a_failure_takes_back_only_the_uncommitted(
    english, app, monkeypatch
):
    """Chunks go into one commit until the commit interval passes (or the slice ends):
    when the third chunk fails, the two before it, not yet committed, are taken back
    with it, and the job's counts still add up to what is stored."""
    app.config["VAFA_IMPORT_CHUNK"] = 1
    app.config["VAFA_IMPORT_COMMIT_SECONDS"] = 3600
    started(english)
    assert importing.run_imports(max_chunks=1) == 1  # a slice's end commits
    assert (last_job().rows, len(stored())) == (1, 1)

    calls = []
    real_store = jobs.store_contacts

    def store_then_fail(rows, **options):
        calls.append(rows)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real_store(rows, **options)

    monkeypatch.setattr(jobs, "store_contacts", store_then_fail)
    importing.run_imports()
    job = last_job()
    assert job.status == "failed" and "disk full" in job.error
    assert (job.rows, job.created) == (1, 1)
    assert list(stored()) == ["+989121234567"]


def test_a_running_job_is_not_taken_from_a_live_worker(logged_in, app):
    job_id = started(logged_in)
    db.session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id)
        .values(status="running", options={"resume": {"at": utcnow().isoformat()}})
    )
    db.session.commit()
    assert importing.run_imports() == 0
    assert last_job().status == "running"


def test_a_job_whose_file_is_gone_fails_with_the_reason(english, app):
    job_id = started(english)
    importing.upload_path(last_job()).unlink()
    run_all_once(app)
    job = last_job()
    assert job.status == "failed" and job.finished_at is not None
    assert "The import stopped" in job.error
    answer = status(english, job_id)
    assert answer["finished"] and answer["status_label"] == "Stopped"
    page = english.get(f"/contacts/import/{job_id}")
    assert "The import stopped" in page_text(page)
    assert 'data-finished="true"' in page.text


def test_the_import_page_lists_recent_imports(english, app):
    import_file(english, FIVE_ROWS, filename="آذر.csv")
    job_id_of(upload(english, FIVE_ROWS, filename="دی.csv"))  # waiting for its mapping
    page = english.get("/contacts/import")
    done = row_text(page, "آذر.csv")
    assert "Finished" in done
    assert [as_int(n) for n in done.split()[-3:]] == [5, 4, 1]  # rows, imported, not imported
    assert "Waiting for you to map the columns" in row_text(page, "دی.csv")


def test_an_english_owners_rejected_rows_are_in_english(english):
    job_id = started(english)
    run_all_once(english.application)
    _data, rows = rejected_csv(english, job_id)
    assert rows[0][-1] == "Reason"
    assert rows[1][-1].startswith("Line 4, column")


def test_the_result_page_names_the_list_and_shows_the_rejected_rows(english, app):
    response = import_file(english, FIVE_ROWS, new_list="Yalda")
    shown = page_text(response)
    assert "Every accepted number is in the list «Yalda»." in shown
    assert "Download the rejected rows (CSV)" in shown
    table = response.text[response.text.index('id="rejected"') :]
    assert "0912" in table and "A mobile number has 11 digits" in table


def test_new_contacts_get_their_own_ids_when_sqlite_picks_ids_at_random(app):
    """SQLite gives a new row a random id once the largest is 2**63-1: ids are looked up."""
    from sqlalchemy import select, text

    from app.contacts.importing.rows import ContactRow
    from app.contacts.importing.storing import store_contacts
    from app.contacts.models import Contact, Tag

    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL ids come from a sequence")
    db.session.execute(
        text(
            "INSERT INTO contacts (id, mobile, first_name, last_name, city, fields, source,"
            " purchase_count, total_spent, created_at) VALUES (9223372036854775807,"
            " '+989120000000', '', '', '', '{}', 'manual', 0, 0, '2026-01-01 00:00:00')"
        )
    )
    rows = [
        ContactRow(line, [], f"+98912000000{line}", {"first_name": f"n{line}"}, {}, ["vip"], False)
        for line in range(1, 6)
    ]
    stored = store_contacts(rows, on_duplicate="skip")
    db.session.commit()

    assert stored.created == 5
    for row, contact_id in zip(rows, stored.contact_ids, strict=True):
        contact = db.session.get(Contact, contact_id)
        assert (contact.mobile, contact.first_name) == (row.mobile, row.values["first_name"])
        assert [tag.name for tag in contact.tags] == ["vip"]
    assert db.session.scalar(select(Tag.name)) == "vip"
