"""audit event customers: which customers each audited read returned, searchable by customer

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_event_customers",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("customer_id", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["seq"], ["audit_events.seq"]),
        sa.PrimaryKeyConstraint("seq", "customer_id"),
    )
    with op.batch_alter_table("audit_event_customers", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_customers_customer_seq", ["customer_id", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_event_customers", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_customers_customer_seq")
    op.drop_table("audit_event_customers")
