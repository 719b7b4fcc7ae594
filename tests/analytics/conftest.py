"""Analytics fixtures: a migrated analytics database (SQLite, then PostgreSQL) and a helper that
feeds customers in through the read model exactly as the profile change feed would."""

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.analytics import migrate, readmodel
from services.common.db import Database
from tests.conftest import PG_HOST, PG_PORT, PG_USER, _create_pg_database, _drop_pg_database

_positions = itertools.count(1)
_ids = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgresql"])
def analytics_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated analytics database URL: SQLite and PostgreSQL in turn."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'analytics.db'}"
        migrate.upgrade(url)
        yield url
        return
    admin = request.getfixturevalue("pg_admin_url")
    name = _create_pg_database(admin)
    url = f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    migrate.upgrade(url)
    yield url
    _drop_pg_database(admin, name)


@pytest.fixture
def adb(analytics_url: str) -> Iterator[Database]:
    """A Database over a fresh analytics schema."""
    database = Database(analytics_url, service="analytics")
    yield database
    database.dispose()


def snapshot(**fields: Any) -> dict[str, Any]:
    """A customer as the feed carries it (JSON form), with defaults."""
    data: dict[str, Any] = {
        "id": f"C2024{next(_ids):08d}",
        "kind": "company",
        "industry_code": "3411",
        "region_code": "310115",
        "scale": "medium",
        "tier": "C",
        "deal_amount_12m": "0",
        "status": "potential",
        "stage": "lead",
        "owner_id": "S1001",
        "source_channel": "web_form",
        "created_at": "2026-11-02T08:00:00Z",
        "updated_at": "2026-11-02T08:00:00Z",
    }
    data.update(fields)
    return data


def feed(
    db: Database, *snapshots: dict[str, Any], action: str = "customer.updated", at: datetime | None = None
) -> None:
    """Apply snapshots to the read model as one feed batch."""
    entries = [
        readmodel.FeedEntry(
            position=next(_positions),
            customer_id=s["id"],
            action=action,
            at=at or datetime(2026, 11, 2, tzinfo=UTC),
            snapshot=s,
        )
        for s in snapshots
    ]
    with db.session_scope() as session:
        readmodel.apply(session, entries=entries, head=entries[-1].position)
