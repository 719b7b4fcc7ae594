"""sealed personal data, blind-index lookups, consents

Personal fields move into one encrypted `sealed` column per row. The plaintext columns stay,
nullable, until `seal_legacy_rows` (run by `python -m services.profile migrate`) has sealed
and emptied every row written before this revision; a later revision drops them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 15:10:00
"""

from alembic import op
import sqlalchemy as sa
import services.common.db


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('consented_purposes', sa.JSON(), server_default='[]', nullable=False))
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed', sa.Text(), nullable=True))
        batch_op.alter_column('name', existing_type=sa.String(length=100), nullable=True)
        batch_op.alter_column('phones', existing_type=sa.JSON(), nullable=True)
        batch_op.alter_column('emails', existing_type=sa.JSON(), nullable=True)
    with op.batch_alter_table('revisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed', sa.Text(), nullable=True))
        batch_op.alter_column('changes', existing_type=sa.JSON(), nullable=True)
        batch_op.alter_column('snapshot', existing_type=sa.JSON(), nullable=True)
    op.create_table(
        'pii_lookups',
        sa.Column('customer_id', sa.String(length=20), nullable=False),
        sa.Column('purpose', sa.String(length=16), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id']),
        sa.PrimaryKeyConstraint('customer_id', 'purpose', 'digest'),
    )
    op.create_index('ix_pii_lookups_digest', 'pii_lookups', ['purpose', 'digest'], unique=False)
    op.create_table(
        'consents',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('customer_id', sa.String(length=20), nullable=False),
        sa.Column('purpose', sa.String(length=32), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('given_at', services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('recorded_by', sa.String(length=64), nullable=False),
        sa.Column('withdrawn_at', services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('withdrawn_by', sa.String(length=64), nullable=True),
        sa.Column('sealed', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_consents_customer_id'), 'consents', ['customer_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_consents_customer_id'), table_name='consents')
    op.drop_table('consents')
    op.drop_index('ix_pii_lookups_digest', table_name='pii_lookups')
    op.drop_table('pii_lookups')
    with op.batch_alter_table('revisions', schema=None) as batch_op:
        batch_op.drop_column('sealed')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('sealed')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('consented_purposes')
        batch_op.drop_column('sealed')
