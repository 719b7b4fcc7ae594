"""member consents: the purposes each customer consents to, for purpose-bound exports

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 15:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consents", sa.String(length=200), server_default=",", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("consents")
