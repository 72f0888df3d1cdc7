"""campaign audience: lists, tags and segments to send to or keep away from

A campaign went to everyone or to one list (``campaigns.list_id``, with ``list_name``
kept for its page once the list is deleted). Its audience is now rows of
``campaign_audience``: each a list, tag or segment, included or excluded, with the name
it had. Every campaign to a list gets one row for it, a deleted list included (its name
kept, its id NULL: the campaign still goes to nobody).

``campaigns.list_id`` and ``list_name`` stay in the table, emptied: SQLite cannot drop a
column a foreign key uses without copying the table, and copying ``campaigns`` would
drop the old one, whose ON DELETE would empty the messages' campaign. The downgrade
fills them again from the first list each campaign was sent to.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 13:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "campaign_audience",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=True),
        sa.Column("tag_id", sa.Integer(), nullable=True),
        sa.Column("segment_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_audience_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["contact_lists.id"],
            name=op.f("fk_campaign_audience_list_id_contact_lists"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["tags.id"],
            name=op.f("fk_campaign_audience_tag_id_tags"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_campaign_audience_segment_id_segments"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_audience")),
    )
    op.create_index("ix_campaign_audience_campaign_id", "campaign_audience", ["campaign_id"])
    op.create_index("ix_campaign_audience_list_id", "campaign_audience", ["list_id"])
    op.create_index("ix_campaign_audience_tag_id", "campaign_audience", ["tag_id"])
    op.create_index("ix_campaign_audience_segment_id", "campaign_audience", ["segment_id"])
    op.execute(
        sa.text(
            "INSERT INTO campaign_audience (campaign_id, kind, excluded, list_id, name)"
            " SELECT campaigns.id, 'list', :no, campaigns.list_id,"
            " COALESCE(contact_lists.name, campaigns.list_name, '')"
            " FROM campaigns LEFT JOIN contact_lists ON contact_lists.id = campaigns.list_id"
            " WHERE campaigns.to_everyone = :no ORDER BY campaigns.id"
        ).bindparams(sa.bindparam("no", False, sa.Boolean()))
    )
    op.execute(sa.text("UPDATE campaigns SET list_id = NULL, list_name = NULL"))


def downgrade():
    op.execute(
        sa.text(
            "UPDATE campaigns SET"
            " list_id = (SELECT list_id FROM campaign_audience AS entry"
            "  WHERE entry.campaign_id = campaigns.id AND entry.kind = 'list'"
            "  AND entry.excluded = :no ORDER BY entry.id LIMIT 1),"
            " list_name = (SELECT name FROM campaign_audience AS entry"
            "  WHERE entry.campaign_id = campaigns.id AND entry.kind = 'list'"
            "  AND entry.excluded = :no ORDER BY entry.id LIMIT 1)"
        ).bindparams(sa.bindparam("no", False, sa.Boolean()))
    )
    op.drop_table("campaign_audience")
