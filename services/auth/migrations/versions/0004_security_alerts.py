"""security alerts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 14:43:30.152680
"""

import sqlalchemy as sa
from alembic import op

import services.common.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "security_alerts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("summary", sa.String(length=300), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("raised_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=128), nullable=True),
        sa.Column("acknowledged_at", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("security_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_security_alerts_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_security_alerts_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_security_alerts_raised_at"), ["raised_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_security_alerts_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("security_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_alerts_status"))
        batch_op.drop_index(batch_op.f("ix_security_alerts_raised_at"))
        batch_op.drop_index(batch_op.f("ix_security_alerts_kind"))
        batch_op.drop_index(batch_op.f("ix_security_alerts_actor"))

    op.drop_table("security_alerts")
