"""financial fields

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 13:29:32.973290
"""

from alembic import op
import sqlalchemy as sa
import services.common.db


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('credit_limit_fen', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('outstanding_fen', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('loyalty_points', sa.BigInteger(), nullable=False, server_default='0'))



def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('loyalty_points')
        batch_op.drop_column('outstanding_fen')
        batch_op.drop_column('credit_limit_fen')

