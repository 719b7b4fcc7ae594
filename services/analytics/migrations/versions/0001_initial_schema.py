"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-12-07 12:55:00
"""

import sqlalchemy as sa
from alembic import op

import services.common.db

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("industry_code", sa.String(length=5), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("scale", sa.String(length=10), nullable=False),
        sa.Column("tier", sa.String(length=1), nullable=False),
        sa.Column("deal_amount_12m_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("furthest_stage", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("source_channel", sa.String(length=20), nullable=False),
        sa.Column("created_at", services.common.db.UTCDateTime(), nullable=True),
        sa.Column("churned_at", services.common.db.UTCDateTime(), nullable=True),
        sa.Column("feed_position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_customers_industry_code", "customers", ["industry_code"])
    op.create_index("ix_customers_region_code", "customers", ["region_code"])
    op.create_index("ix_customers_owner_id", "customers", ["owner_id"])
    op.create_index("ix_customers_created_at", "customers", ["created_at"])


def downgrade() -> None:
    op.drop_table("customers")
    op.drop_table("counters")
