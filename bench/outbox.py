"""Benchmark: a campaign's start — the estimate, then writing its outbox — at scale.

    .venv/bin/python bench/outbox.py [CONTACTS]        (default 100,000; e.g. 1000000)
    VAFA_BENCH_DATABASE_URL=postgresql+psycopg://… .venv/bin/python bench/outbox.py

Builds the contacts database of bench/contacts_pages.py (SQLite in a temporary folder,
or the empty PostgreSQL database VAFA_BENCH_DATABASE_URL names; its tables are dropped
first): names drawn from a few dozen first and last names, 3 % opted out. Then, for
each of three campaigns to everyone through the console account, times what the owner
and the scheduler set off:

- the estimate the review page shows (``estimate``),
- the confirm button (``confirm_campaign``: the estimate again, and the credit check),
- the start (``start_due_campaigns``: one outbox row per contact),

and prints seconds, µs per contact (wall clock, and this process's CPU: on a busy
machine the steadier figure; the PostgreSQL server's CPU is not in it) and the
process's peak memory (VmHWM) after each.
The campaigns: one text for everyone; «سلام {نام}» with the shop's names; and «سلام
{نام}» once every contact has a name of its own (as bench/send.py's contacts do), where
no two texts are alike. Each campaign's messages are deleted before the next.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import String, delete, func, select, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.contacts.models import Contact  # noqa: E402
from app.extensions import db  # noqa: E402
from app.messaging import service as campaigns  # noqa: E402
from app.sending.models import Message  # noqa: E402
from app.sending.service import default_account  # noqa: E402
from bench.contacts_pages import build, memory_mib  # noqa: E402

CAMPAIGNS = (
    ("same text", "تخفیف ویژهٔ یلدا برای همهٔ مشتریان ما تا پایان هفته", False),
    ("{نام}, shop's names", "سلام {نام}، تخفیف ویژهٔ یلدا برای شما", False),
    ("{نام}, all different", "سلام {نام}، تخفیف ویژهٔ یلدا برای شما", True),
)


def timed(what: str, contacts: int, step) -> None:
    started, cpu = time.perf_counter(), time.process_time()
    step()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"  {what:9} {seconds:7.2f} s  {seconds / contacts * 1e6:6.1f} µs per contact"
        f"  (CPU {cpu / contacts * 1e6:5.1f} µs)  peak memory {memory_mib('VmHWM'):.0f} MiB",
        flush=True,
    )


def run(url: str) -> None:
    """Time the campaigns (in a process of its own: its peak memory is theirs alone)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        contacts = db.session.scalar(select(func.count(Contact.id)))
        account = default_account()
        db.session.commit()
        for title, body, unique_names in CAMPAIGNS:
            if unique_names:
                unique = Contact.first_name + "-" + Contact.id.cast(String)
                db.session.execute(update(Contact).values(first_name=unique))
                db.session.commit()
            campaign = campaigns.create_campaign(
                name=title,
                body=body,
                list_id=None,
                provider_id=account.id,
                sender=account.sender_lines[0],
                scheduled_at=None,
                created_by_id=None,
            )
            db.session.commit()
            print(f"{title}: «{body}»", flush=True)
            timed("estimate", contacts, lambda c=campaign: campaigns.estimate(c))
            timed("confirm", contacts, lambda c=campaign: campaigns.confirm_campaign(c))
            db.session.commit()
            timed("start", contacts, campaigns.start_due_campaigns)
            written = db.session.scalar(
                select(func.count(Message.id)).where(Message.campaign_id == campaign.id)
            )
            assert written == contacts, (written, contacts)
            db.session.execute(delete(Message).where(Message.campaign_id == campaign.id))
            db.session.commit()
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("contacts", type=int, nargs="?", default=100_000)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run(args.run)
        return
    folder = tempfile.mkdtemp(prefix="vafa-bench-")
    url = os.environ.get("VAFA_BENCH_DATABASE_URL") or f"sqlite:///{Path(folder) / 'outbox.db'}"
    try:
        build(url, args.contacts)
        subprocess.run([sys.executable, __file__, "--run", url], check=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
