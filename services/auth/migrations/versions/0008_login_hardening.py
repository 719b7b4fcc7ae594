"""decaying login failures per context, familiar login addresses, session versions, client kinds

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

import services.common.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Consecutive-failure counters that never decayed; the new scores start from nothing.
    op.drop_table("login_throttles")
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(length=140), nullable=False),
        sa.Column("context", sa.String(length=140), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("updated_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", "context"),
    )
    op.create_table(
        "login_contexts",
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("last_success_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("employee_id", "source"),
    )
    op.create_table(
        "subject_versions",
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "subject"),
    )
    with op.batch_alter_table("subject_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subject_versions_changed_at"), ["changed_at"], unique=False)
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refresh_tokens_revoked_at"), ["revoked_at"], unique=False)
    with op.batch_alter_table("api_clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=10), nullable=False, server_default="partner"))


def downgrade() -> None:
    with op.batch_alter_table("api_clients", schema=None) as batch_op:
        batch_op.drop_column("kind")
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_revoked_at"))
    op.drop_table("subject_versions")
    op.drop_table("login_contexts")
    op.drop_table("login_failures")
    op.create_table(
        "login_throttles",
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_failed_at", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("employee_id"),
    )
