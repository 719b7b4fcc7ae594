"""Tagging fixtures: a migrated tagging database (SQLite, then PostgreSQL) and a fixed dataset
fed in through the read model exactly as the profile change feed would."""

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.common.db import Database
from services.common.identity import Caller
from services.tagging import migrate, readmodel
from tests.conftest import PG_HOST, PG_PORT, PG_USER, _create_pg_database, _drop_pg_database

NOW = datetime.now(UTC).replace(microsecond=0)
ADMIN = Caller(id="u-admin", roles=("admin",), scope="all", permissions=("*",))
MARKETER = Caller(
    id="M1001",
    roles=("marketing",),
    scope="org",
    hidden_fields=("financial",),
    permissions=("tag:read", "tag:write", "tag:assign", "tag_rule:write", "segment:read", "segment:write"),
)
REP = Caller(
    id="S1001", roles=("sales",), scope="own", permissions=("tag:read", "tag:assign", "segment:read")
)
_positions = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgresql"])
def tagging_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated tagging database URL: SQLite and PostgreSQL in turn."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tagging.db'}"
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
def tdb(tagging_url: str) -> Iterator[Database]:
    """A Database over a fresh tagging schema."""
    database = Database(tagging_url, service="tagging")
    yield database
    database.dispose()


def ago(days: float) -> str:
    """An RFC 3339 time `days` before now."""
    return (NOW - timedelta(days=days)).isoformat()


def snapshot(customer_id: str, **fields: Any) -> dict[str, Any]:
    """A profile feed snapshot (proto JSON names) with defaults."""
    data: dict[str, Any] = {
        "id": customer_id,
        "name": f"客户{customer_id}",
        "kind": "company",
        "industry_code": "3411",
        "region_code": "310115",
        "tier": "C",
        "deal_amount_12m": "0.00",
        "status": "potential",
        "stage": "lead",
        "owner_id": "S1001",
        "source_channel": "manual",
        "created_at": ago(400),
        "updated_at": ago(1),
    }
    data.update(fields)
    return data


def interaction(n: int, days: float, channel: str = "phone", summary: str = "回访") -> dict[str, Any]:
    """An interaction as profile lists it."""
    return {"id": f"i-{n}", "channel": channel, "type": "other", "occurred_at": ago(days), "summary": summary}


def order(n: int, days: float, amount: str, product: str = "产品X") -> dict[str, Any]:
    """An order as profile lists it."""
    return {"id": f"o-{n}", "product": product, "amount": amount, "ordered_at": ago(days), "quantity": "1"}


def feed(
    db: Database,
    changes: list[tuple[str, str, dict[str, Any]]],
    behaviour: dict[str, readmodel.Behaviour] | None = None,
) -> None:
    """Apply (customer id, action, snapshot) changes as one feed batch."""
    entries = [readmodel.FeedEntry(next(_positions), cid, action, snap) for cid, action, snap in changes]
    with db.session_scope() as session:
        readmodel.apply(
            session,
            entries=entries,
            behaviour=behaviour or {},
            head=entries[-1].position,
            at=datetime.now(UTC),
        )


# The fixed dataset; expectations in the tests are worked out by hand from this table.
#   id  tier industry region  owner  deal(CNY) status    interactions                  orders (90 d)
#   C1  A    3411(C)  310115  S1001  600000    deal      phone 120 d ago               100000+50000 产品X
#   C2  B    6511(I)  330106  S1002  200000     deal     phone 10 d ago                   -
#   C3  A    1311(C)  440305  S1001  800000     deal     web 产品X ×3 within 30 d         -
#   C4  C    5211(F)  310104  S1002  1000       potential web 产品X ×2 within 30 d, 1 at 40 d -
#   C5  B    3411(C)  110105  -      150000     deal     none                             -
#   C6  C    6511(I)  330106  S1001  0          churned  none                             -
DATASET: list[tuple[str, dict[str, Any], readmodel.Behaviour]] = [
    (
        "C1",
        {"tier": "A", "deal_amount_12m": "600000.00", "status": "deal"},
        readmodel.Behaviour([interaction(1, 120)], [order(1, 20, "100000.00"), order(2, 60, "50000.00")]),
    ),
    (
        "C2",
        {
            "tier": "B",
            "industry_code": "6511",
            "region_code": "330106",
            "owner_id": "S1002",
            "deal_amount_12m": "200000.00",
            "status": "deal",
        },
        readmodel.Behaviour([interaction(2, 10)], []),
    ),
    (
        "C3",
        {
            "tier": "A",
            "industry_code": "1311",
            "region_code": "440305",
            "deal_amount_12m": "800000.00",
            "status": "deal",
        },
        readmodel.Behaviour([interaction(n, n * 5, "web", "浏览产品X页面") for n in (3, 4, 5)], []),
    ),
    (
        "C4",
        {"industry_code": "5211", "region_code": "310104", "owner_id": "S1002", "deal_amount_12m": "1000.00"},
        readmodel.Behaviour(
            [
                interaction(6, 3, "web", "产品X 详情"),
                interaction(7, 9, "web", "产品X 价格"),
                interaction(8, 40, "web", "产品X"),
            ],
            [],
        ),
    ),
    (
        "C5",
        {
            "tier": "B",
            "region_code": "110105",
            "owner_id": "",
            "deal_amount_12m": "150000.00",
            "status": "deal",
        },
        readmodel.Behaviour([], []),
    ),
    (
        "C6",
        {"industry_code": "6511", "region_code": "330106", "status": "churned"},
        readmodel.Behaviour([], []),
    ),
]


def load_dataset(db: Database) -> None:
    """Feed the fixed dataset in: creations, then the interactions and orders."""
    feed(db, [(cid, "customer.created", snapshot(cid, **fields)) for cid, fields, _ in DATASET])
    feed(
        db,
        [(cid, "interaction.created", snapshot(cid, **fields)) for cid, fields, _ in DATASET],
        {cid: b for cid, _, b in DATASET},
    )
