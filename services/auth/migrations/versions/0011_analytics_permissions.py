"""analytics permission for the built-in roles (the analytics views)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import services.common.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# role -> permissions added (admin holds "*" already). Each view is still limited to the role's
# record scope, and amount-based figures to those who may see financial data.
GRANTS = {
    "manager": ["analytics:read"],
    "marketing": ["analytics:read"],
    "sales": ["analytics:read"],
    "service": ["analytics:read"],
}

roles = sa.table(
    "roles",
    sa.column("name", sa.String),
    sa.column("permissions", sa.JSON),
    sa.column("builtin", sa.Boolean),
    sa.column("updated_at", services.common.db.UTCDateTime),
)


def _change(add: bool) -> None:
    bind = op.get_bind()
    now = datetime.now(UTC)
    for name, granted in GRANTS.items():
        row = bind.execute(
            sa.select(roles.c.permissions).where(roles.c.name == name, roles.c.builtin.is_(True))
        ).first()
        if row is None:
            continue
        current = list(row[0] or [])
        if add:
            updated = current + [p for p in granted if p not in current]
        else:
            updated = [p for p in current if p not in granted]
        bind.execute(roles.update().where(roles.c.name == name).values(permissions=updated, updated_at=now))


def upgrade() -> None:
    _change(add=True)


def downgrade() -> None:
    _change(add=False)
