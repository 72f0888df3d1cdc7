"""The one importer of contacts and purchases, for the panel, the command line and the API.

One module per job:

- ``limits``: every limit a file is held to, in one place;
- ``reading``: rows out of CSV and Excel files;
- ``columns``: guessing what each column holds, checking the owner's mapping;
- ``rows``: validating a row's cells into a contact or a purchase;
- ``storing``: the one way rows become contacts and purchases (the API uses it too);
- ``files``: an import's files on disk (the upload, rejected rows, numbers seen);
- ``jobs``: starting an import and running it in a worker.

Callers use the names this package exports.

How a file goes in:

1. ``save_upload`` keeps the file in the imports folder (instance/imports/) and makes an
   ImportJob in the "mapping" state, with a guess of what each column holds.
2. The owner sees the first rows (``preview``), corrects the guess and confirms:
   ``start_import`` checks the mapping and marks the job "pending".
3. ``run_imports``, a worker job (app.jobs), reads the file in chunks of a few thousand
   rows. A chunk is written with bulk statements; chunks are committed together every
   few seconds and at the end of a slice, with the job's progress, so a page can show it
   and a restarted worker resumes after the last commit. A slice of a few seconds at a
   time, so the same worker keeps sending.

Every row is accounted for: rows = created + updated + duplicates + invalid. The
rejected rows (invalid ones and duplicates) are written, with their original cells and a
reason, to a CSV beside the upload that the owner can fix and import again as it is.

Memory stays flat at a million rows: rows are streamed (reading), only one
chunk is held at a time, and the numbers seen so far (to name the earlier line of a
repeat) are kept in a scratch SQLite file beside the upload, not in a dict.

This module commits: a chunk is the unit of work, and progress must be visible while the
import runs. Everything else in the contacts domain leaves commits to its caller.
"""

from app.contacts.importing.columns import KINDS, ON_DUPLICATE, MappingError
from app.contacts.importing.files import imports_folder, preview, rejected_path, upload_path
from app.contacts.importing.jobs import (
    close_open_import,
    discard_import,
    import_file,
    recent_imports,
    rejected_preview,
    rejected_rows,
    run_imports,
    run_to_end,
    save_upload,
    start_import,
)
from app.contacts.importing.limits import MAX_COLUMNS, PREVIEW_ROWS
from app.contacts.importing.reading import UnreadableFile, cell_text
from app.contacts.importing.rows import (
    ContactRow,
    PurchaseRow,
    RowError,
    parse_date,
    parse_gender,
    parse_mobile,
    parse_moment,
    split_tags,
)
from app.contacts.importing.storing import store_contacts, store_purchases

__all__ = [
    "KINDS",
    "MAX_COLUMNS",
    "ON_DUPLICATE",
    "PREVIEW_ROWS",
    "ContactRow",
    "MappingError",
    "PurchaseRow",
    "RowError",
    "UnreadableFile",
    "cell_text",
    "close_open_import",
    "discard_import",
    "import_file",
    "imports_folder",
    "parse_date",
    "parse_gender",
    "parse_mobile",
    "parse_moment",
    "preview",
    "recent_imports",
    "rejected_path",
    "rejected_preview",
    "rejected_rows",
    "run_imports",
    "run_to_end",
    "save_upload",
    "split_tags",
    "start_import",
    "store_contacts",
    "store_purchases",
    "upload_path",
]
