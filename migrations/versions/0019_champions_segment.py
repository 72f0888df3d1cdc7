"""champions segment: the built-in segment of the RFM group "champions"

Its rule is "RFM group is one of [champions]" (app/audience/rules.py), read from the
nightly scores of ``contact_scores``. Stored here for existing installs and fresh ones
alike, as 0014 stored the first built-ins. Should the owner already have a segment of
that name, this one is named with "(RFM)" after it.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 14:40:00

"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# A copy of the champions entry of app.audience.service.BUILTINS as this revision wrote it.
KEY = "champions"
NAME = "مشتریان قهرمان"
DESCRIPTION = (
    "از امتیازدهی شبانهٔ RFM: مشتریانی که جزو یک‌پنجمِ تازه‌ترین خریداران‌اند و از نظر "
    "تعداد خرید هم در دو پنجمِ بالای مشتریان قرار دارند. امتیازها هر شب پس از ساعت ۳ "
    "بامداد دوباره حساب می‌شوند؛ خرید امروز از فردا صبح اینجا به حساب می‌آید."
)
RULES = {"match": "all", "rules": [{"field": "rfm", "op": "in", "value": ["champions"]}]}

segments = sa.table(
    "segments",
    sa.column("id", sa.Integer()),
    sa.column("key", sa.String()),
    sa.column("name", sa.String()),
    sa.column("description", sa.Text()),
    sa.column("rules", sa.JSON()),
    sa.column("builtin", sa.Boolean()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def upgrade():
    bind = op.get_bind()
    if bind.scalar(sa.select(segments.c.id).where(segments.c.key == KEY)) is not None:
        return
    name = NAME
    if bind.scalar(sa.select(segments.c.id).where(segments.c.name == NAME)) is not None:
        name = f"{NAME} (RFM)"
    # As the app stores moments: naive UTC in SQLite, aware in PostgreSQL.
    now = datetime.now(UTC).replace(microsecond=0)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    op.bulk_insert(
        segments,
        [
            {
                "key": KEY,
                "name": name,
                "description": DESCRIPTION,
                "rules": RULES,
                "builtin": True,
                "created_at": now,
                "updated_at": now,
            }
        ],
    )


def downgrade():
    # SQLite may not enforce the counts' ON DELETE CASCADE: they go first.
    built = sa.select(segments.c.id).where(segments.c.key == KEY)
    counts = sa.table("segment_counts", sa.column("segment_id", sa.Integer()))
    op.execute(sa.delete(counts).where(counts.c.segment_id.in_(built)))
    op.execute(sa.delete(segments).where(segments.c.key == KEY))
