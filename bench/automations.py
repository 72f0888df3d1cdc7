"""Benchmark: the calendar's planned automatic sends over a year, at a million contacts.

    .venv/bin/python bench/automations.py [--contacts 1000000] [--runs 3]
    tests/with-postgres.sh sh -c \\
      'VAFA_BENCH_DATABASE_URL=$VAFA_TEST_DATABASE_URL .venv/bin/python bench/automations.py'

Uses the database of bench/segments.py (built once, reused): contacts with birthdays
(60%), purchases over three years (70% have bought). Makes one active automation of
each kind and prints, as the median of ``--runs`` runs, in ms:

- ``planned_counts`` over the coming 365 days for each automation alone (what the
  calendar page adds up: counts by SQL, no text rendered), and for all together;
- ``plan`` of the birthday automation over the next 30 days (texts rendered);
- one tick of the engine (``run_automations``) with nothing due.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import datetime, timedelta
from datetime import time as clock
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from segments import prepare  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.occasions import automations  # noqa: E402
from app.occasions.engine import run_automations  # noqa: E402
from app.occasions.models import Automation  # noqa: E402
from app.persian import TEHRAN, to_tehran  # noqa: E402
from app.types import utcnow  # noqa: E402

KINDS = (
    ("تولد", "birthday", {}),
    ("سالگرد خرید", "anniversary", {"counts_from": "first_purchase"}),
    ("سالگرد عضویت", "anniversary", {"counts_from": "signup"}),
    ("یلدا", "occasion", {"occasion_key": "yalda"}),
    ("دلتنگی", "winback", {"days_after": 60}),
    ("پیگیری", "followup", {"days_after": 3}),
    ("خوش‌آمد", "welcome", {"delay_minutes": 30, "counts_from": "signup"}),
)


def median_ms(work, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append((time.perf_counter() - started) * 1000)
        db.session.rollback()
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    url = os.environ.get("VAFA_BENCH_DATABASE_URL")
    if not url:
        folder = ROOT / "instance" / "bench"
        folder.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{folder / f'segments-{args.contacts}.db'}"
    prepare(url, args.contacts, rebuild=False)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        db.session.execute(db.delete(Automation))
        made = []
        for name, kind, extra in KINDS:
            fields = automations.AutomationFields(
                name=name, kind=kind, body="{نام} عزیز، سلام", send_time=clock(10), **extra
            )
            made.append(automations.save_automation(fields))
        db.session.commit()
        today = to_tehran(utcnow()).date()
        end = today + timedelta(days=364)
        print(f"{'':32} {'ms':>8} {'days':>5} {'sends':>10}")
        for automation in made:
            for other in made:
                other.active = other is automation
            db.session.commit()
            ms, counts = median_ms(lambda: automations.planned_counts(today, end), args.runs)
            sends = sum(n for items in counts.values() for _a, n in items)
            print(f"planned_counts {automation.name:17} {ms:8.0f} {len(counts):5} {sends:10}")
        for automation in made:
            automation.active = True
        db.session.commit()
        ms, counts = median_ms(lambda: automations.planned_counts(today, end), args.runs)
        sends = sum(n for items in counts.values() for _a, n in items)
        print(f"{'planned_counts, all together':32} {ms:8.0f} {len(counts):5} {sends:10}")
        birthday = made[0]
        ms, planned = median_ms(
            lambda: automations.plan(birthday, today, today + timedelta(days=29)), args.runs
        )
        print(f"{'plan, birthdays, 30 days':32} {ms:8.0f} {'':5} {len(planned):10}")
        # A tick with nothing due: the runs of the day are looked at, none is made.
        for automation in made:
            automation.send_time = clock(23, 59)
        db.session.commit()
        noon = datetime.combine(today, clock(12), tzinfo=TEHRAN)
        ms, _ = median_ms(lambda: run_automations(noon), args.runs)
        print(f"{'engine tick, nothing due':32} {ms:8.0f}")
        db.session.execute(db.delete(Automation))
        db.session.commit()


if __name__ == "__main__":
    main()
