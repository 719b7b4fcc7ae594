"""seed the built-in roles (the gateway's former policy table)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import services.common.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ALL_VISIBLE = {"contact": "visible", "financial": "visible", "purchase": "visible"}
_NO_FINANCIAL = {"contact": "visible", "financial": "hidden", "purchase": "visible"}

# Reproduces services/gateway/policy.py as it stood; frozen here, later changes are new revisions.
ROLES = [
    ("admin", "Administrator: everything, every record", ["*"], "all", _ALL_VISIBLE),
    (
        "manager",
        "Team manager: the team's customers, including deletion",
        [
            "customer:read",
            "customer:write",
            "customer:delete",
            "customer:history",
            "related:read",
            "related:write",
        ],
        "team",
        _ALL_VISIBLE,
    ),
    (
        "sales",
        "Sales representative: own customers",
        ["customer:read", "customer:write", "customer:history", "related:read", "related:write"],
        "own",
        _ALL_VISIBLE,
    ),
    (
        "service",
        "Service agent: every customer, no financial data",
        ["customer:read", "related:read", "related:write"],
        "org",
        _NO_FINANCIAL,
    ),
    (
        "marketing",
        "Marketer: every customer read-only, no financial data",
        ["customer:read", "related:read"],
        "org",
        _NO_FINANCIAL,
    ),
]

roles = sa.table(
    "roles",
    sa.column("name", sa.String),
    sa.column("description", sa.String),
    sa.column("permissions", sa.JSON),
    sa.column("scope", sa.String),
    sa.column("field_rules", sa.JSON),
    sa.column("builtin", sa.Boolean),
    sa.column("created_at", services.common.db.UTCDateTime),
    sa.column("updated_at", services.common.db.UTCDateTime),
)


def upgrade() -> None:
    now = datetime.now(UTC)
    op.bulk_insert(
        roles,
        [
            {
                "name": name,
                "description": description,
                "permissions": permissions,
                "scope": scope,
                "field_rules": rules,
                "builtin": True,
                "created_at": now,
                "updated_at": now,
            }
            for name, description, permissions, scope, rules in ROLES
        ],
    )


def downgrade() -> None:
    op.execute(roles.delete().where(roles.c.builtin.is_(True)))
