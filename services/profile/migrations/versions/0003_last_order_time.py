"""last order time

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 13:34:14.525932
"""

from alembic import op
import sqlalchemy as sa
import services.common.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_order_at', services.common.db.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('last_order_at')

