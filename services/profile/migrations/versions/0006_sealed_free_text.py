"""sealed free text: customer notes, interaction summaries, service-record descriptions

As in 0005, the plaintext columns stay, nullable, until `seal_legacy_rows` has moved their
values into the rows' sealed envelopes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 15:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed', sa.Text(), nullable=True))
        batch_op.alter_column('summary', existing_type=sa.Text(), nullable=True)
    with op.batch_alter_table('service_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('service_records', schema=None) as batch_op:
        batch_op.drop_column('sealed')
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_column('sealed')
