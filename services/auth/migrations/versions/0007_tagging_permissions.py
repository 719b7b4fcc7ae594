"""tagging permissions for the built-in roles (tags, tag rules, segments)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import services.common.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# role -> permissions added (admin holds "*" already). Frozen here; later changes are new revisions.
GRANTS = {
    "manager": [
        "tag:read",
        "tag:write",
        "tag:assign",
        "tag_rule:write",
        "segment:read",
        "segment:write",
        "segment:export",
    ],
    "marketing": [
        "tag:read",
        "tag:write",
        "tag:assign",
        "tag_rule:write",
        "segment:read",
        "segment:write",
        "segment:export",
    ],
    "sales": ["tag:read", "tag:assign", "segment:read"],
    "service": ["tag:read", "tag:assign", "segment:read"],
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
