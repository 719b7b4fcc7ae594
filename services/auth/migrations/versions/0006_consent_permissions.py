"""consent permissions for the built-in roles

Staff who talk to customers record their consents (consent:write); marketers see them.
Exporting and erasing a person's data (privacy:export, privacy:erase) stay with administrators
(and custom roles an administrator makes, e.g. a data-protection officer).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import services.common.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

GRANTS = {
    "manager": ["consent:read", "consent:write"],
    "sales": ["consent:read", "consent:write"],
    "service": ["consent:read", "consent:write"],
    "marketing": ["consent:read"],
}

roles = sa.table(
    "roles",
    sa.column("name", sa.String),
    sa.column("permissions", sa.JSON),
    sa.column("builtin", sa.Boolean),
    sa.column("updated_at", services.common.db.UTCDateTime),
)


def _change(add: bool) -> None:
    conn = op.get_bind()
    for name, grants in GRANTS.items():
        row = conn.execute(
            sa.select(roles.c.permissions).where(roles.c.name == name, roles.c.builtin.is_(True))
        ).first()
        if row is None:
            continue
        current = list(row.permissions or [])
        updated = sorted(set(current) | set(grants)) if add else [p for p in current if p not in grants]
        conn.execute(
            roles.update()
            .where(roles.c.name == name)
            .values(permissions=updated, updated_at=datetime.now(UTC))
        )


def upgrade() -> None:
    _change(add=True)


def downgrade() -> None:
    _change(add=False)
