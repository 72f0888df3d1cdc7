"""coupons: a unique discount code per recipient, redeemable once

A campaign may carry coupon settings (a prefix and the length of the random part); each
message of a text with {کد تخفیف} carries its own code, kept in ``coupons`` with the
campaign, message and contact it went to, and when and by whom it was redeemed.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 13:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE: nullable columns, no copy of the campaigns table.
    op.add_column("campaigns", sa.Column("coupon_prefix", sa.String(length=8), nullable=True))
    op.add_column("campaigns", sa.Column("coupon_length", sa.SmallInteger(), nullable=True))
    op.create_table(
        "coupons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("redeemed_by", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_coupons_campaign_id_campaigns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_coupons_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_coupons_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
        sa.UniqueConstraint("code", name=op.f("uq_coupons_code")),
        sa.UniqueConstraint("message_id", name=op.f("uq_coupons_message_id")),
    )
    op.create_index("ix_coupons_campaign_id_id", "coupons", ["campaign_id", "id"], unique=False)
    op.create_index("ix_coupons_contact_id", "coupons", ["contact_id"], unique=False)


def downgrade():
    op.drop_index("ix_coupons_contact_id", table_name="coupons")
    op.drop_index("ix_coupons_campaign_id_id", table_name="coupons")
    op.drop_table("coupons")
    op.drop_column("campaigns", "coupon_length")
    op.drop_column("campaigns", "coupon_prefix")
