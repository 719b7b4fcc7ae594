"""backfill last order time from existing orders

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE customers SET last_order_at = "
        "(SELECT max(orders.ordered_at) FROM orders WHERE orders.customer_id = customers.id)"
    )


def downgrade() -> None:
    pass
