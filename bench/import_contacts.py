"""Benchmark: import a messy CSV of contacts and print rows/second and peak memory.

    .venv/bin/python bench/import_contacts.py [ROWS] [--database-url URL]

The file mixes every mobile form people type (Persian digits, +98, 0098, spaces), Arabic
letters, Jalali birth dates, some invalid rows and repeated numbers, like a real export.
It is imported through the same service the web form uses, into a fresh database.
"""

import argparse
import random
import resource
import tempfile
import time
from pathlib import Path

from flask_migrate import upgrade

from app import create_app
from app.contacts.service import import_contacts
from app.extensions import db

FIRST = ["علي", "محمد", "زهرا", "فاطمه", "رضا", "مريم", "حسين", "سارا", "كيان", "نگار"]
LAST = ["رضايي", "محمدی", "حسيني", "کريمي", "احمدی", "موسوی", "جعفری", "صادقی"]
PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def mobile_forms(number: int, rng: random.Random) -> str:
    national = f"9{number:09d}"
    form = rng.randrange(6)
    if form == 0:
        return "0" + national
    if form == 1:
        return "+98" + national
    if form == 2:
        return "0098" + national
    if form == 3:
        return f"0{national[:3]} {national[3:6]} {national[6:]}"
    if form == 4:
        return ("0" + national).translate(PERSIAN)
    return f"98-{national[:3]}-{national[3:]}"


def messy_csv(rows: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    lines = ["نام,موبایل,تاریخ تولد"]
    for i in range(rows):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        if i % 50 == 0:
            mobile = "021-8877"  # invalid
        elif i % 97 == 0 and i:
            mobile = mobile_forms(120000000 + i - 1, rng)  # repeat of the previous row
        else:
            mobile = mobile_forms(120000000 + i, rng)
        birth = ""
        if i % 3 == 0:
            birth = f"13{rng.randrange(40, 85)}/{rng.randrange(1, 13)}/{rng.randrange(1, 30)}"
        lines.append(f"{name},{mobile},{birth}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rows", type=int, nargs="?", default=10_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        app = create_app({"SQLALCHEMY_DATABASE_URI": url})
        data = messy_csv(args.rows)
        with app.app_context():
            upgrade()
            started = time.perf_counter()
            result = import_contacts(data, None)
            db.session.commit()
            elapsed = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"database       {url.split(':')[0]}")
        print(f"rows           {result.rows}")
        print(f"created        {result.created}")
        print(f"duplicates     {len(result.duplicates)}")
        print(f"invalid        {len(result.invalid)}")
        print(f"seconds        {elapsed:.2f}")
        print(f"rows/second    {result.rows / elapsed:,.0f}")
        print(f"peak RSS (MB)  {peak_mb:.0f}")


if __name__ == "__main__":
    main()
