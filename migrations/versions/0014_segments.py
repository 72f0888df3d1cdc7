"""segments: saved rules over contacts, their daily counts, and the built-in ones

- ``segments``: a segment's rules as JSON (app/audience/rules.py); ``key`` names the
  built-in ones (new, active, at_risk, lost, never_bought, birthday_week), which are
  stored here so a fresh install has them. Their rules are the owner's to edit.
- ``segment_counts``: one count per segment per Tehran day, for the segment's history.
- ``ix_contacts_first_purchase_at``: "first purchase in the last 30 days" (``new``)
  reads a range of it instead of every contact.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 13:30:00

"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _rule(field, op_, value=None):
    return {"field": field, "op": op_, "value": value}


# A copy of app.audience.service.BUILTINS as it was when this revision was written.
BUILTINS = (
    (
        "new",
        "مشتریان تازه",
        "اولین خریدشان در ۳۰ روز گذشته بوده است؛ وقت خوش‌آمدگویی و دعوت به خرید دوم.",
        [_rule("first_purchase", "within_last", 30)],
    ),
    (
        "active",
        "مشتریان فعال",
        "در ۹۰ روز گذشته دست‌کم یک بار خرید کرده‌اند.",
        [_rule("last_purchase", "within_last", 90)],
    ),
    (
        "at_risk",
        "در خطر ریزش",
        "آخرین خریدشان ۹۰ تا ۱۷۹ روز پیش بوده است؛ پیش از آنکه از دست بروند یادشان کنید.",
        [_rule("last_purchase", "at_least", 90), _rule("last_purchase", "within_last", 180)],
    ),
    (
        "lost",
        "از دست رفته",
        "شش ماه است خرید نکرده‌اند (آخرین خرید ۱۸۰ روز پیش یا پیش‌تر)؛ "
        "مخاطبان پیام «دلمون برات تنگ شده».",
        [_rule("last_purchase", "at_least", 180)],
    ),
    (
        "never_bought",
        "هنوز خرید نکرده",
        "مخاطبانی که هنوز هیچ خریدی برایشان ثبت نشده است.",
        [_rule("purchases", "never")],
    ),
    (
        "birthday_week",
        "تولد این هفته",
        "تولدشان از امروز تا ۶ روز آینده است (سال نو و ۳۰ اسفند هم حساب می‌شود)؛ "
        "برای تبریک تولد.",
        [_rule("birthday", "within_next", 6)],
    ),
)


def upgrade():
    segments = op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("key", name=op.f("uq_segments_key")),
        sa.UniqueConstraint("name", name=op.f("uq_segments_name")),
    )
    op.create_table(
        "segment_counts",
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("counted_on", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_segment_counts_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("segment_id", "counted_on", name=op.f("pk_segment_counts")),
    )
    op.create_index("ix_contacts_first_purchase_at", "contacts", ["first_purchase_at"])
    # As the app stores moments: naive UTC in SQLite, aware in PostgreSQL.
    now = datetime.now(UTC).replace(microsecond=0)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    op.bulk_insert(
        segments,
        [
            {
                "key": key,
                "name": name,
                "description": description,
                "rules": {"match": "all", "rules": rules},
                "builtin": True,
                "created_at": now,
                "updated_at": now,
            }
            for key, name, description, rules in BUILTINS
        ],
    )


def downgrade():
    op.drop_index("ix_contacts_first_purchase_at", table_name="contacts")
    op.drop_table("segment_counts")
    op.drop_table("segments")
