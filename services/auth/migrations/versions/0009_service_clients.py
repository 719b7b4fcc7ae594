"""the platform services' own API clients (made by `service-client`) become service clients

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

clients = sa.table(
    "api_clients",
    sa.column("name", sa.String),
    sa.column("kind", sa.String),
    sa.column("created_by", sa.String),
)
# Who `python -m services.auth service-client` names as the creator of the clients it makes.
EMBEDDED_SETUP = "ops:embedded-setup"


def upgrade() -> None:
    op.get_bind().execute(
        clients.update()
        .where(clients.c.created_by == EMBEDDED_SETUP, clients.c.name.like("svc-%"))
        .values(kind="service")
    )


def downgrade() -> None:
    op.get_bind().execute(clients.update().values(kind="partner"))
