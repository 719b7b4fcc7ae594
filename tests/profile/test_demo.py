"""Demo data: valid through the domain's own validation, realistic, deterministic, tiers consistent."""

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from faker import Faker
from sqlalchemy import func, select

from services.common.db import Database
from services.common.keys import LocalKeyProvider
from services.profile import demo, migrate, schemas, service
from services.profile.keyring import Keyring, keystore_url, open_archive
from services.profile.models import Consent, Contract, Customer, Order
from services.profile.settings import ProfileSettings

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
SETTINGS = ProfileSettings()


def fresh_db(path: Path) -> Database:
    url = f"sqlite:///{path / 'profile.db'}"
    migrate.upgrade(url)
    ring = Keyring(LocalKeyProvider(path / "keys" / "keyfile.json"), keystore_url("", path))
    return open_archive(url, ring)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """300 demo customers, seeded once for the module."""
    db = fresh_db(tmp_path_factory.mktemp("demo"))
    assert demo.seed(db, customers=300, seed=7, batch=120, now=NOW) == 300
    yield db
    db.dispose()


def customers(db: Database) -> list[dict[str, Any]]:
    """Every stored customer in API form, oldest ID first."""
    with db.session_scope(readonly=True) as session:
        rows = session.scalars(select(Customer).order_by(Customer.id))
        return [service.customer_to_dict(row) for row in rows]


def as_input(data: dict[str, Any]) -> dict[str, Any]:
    """A stored customer in the shape CustomerInput accepts."""
    payload = {k: v for k, v in data.items() if k in schemas.CustomerInput.model_fields and v is not None}
    payload["contacts"] = [
        {k: v for k, v in c.items() if k not in ("id", "created_at") and v is not None}
        for c in data["contacts"]
    ]
    return payload


def test_seeds_that_many_valid_customers(tmp_path: Path) -> None:
    db = fresh_db(tmp_path)
    assert demo.seed(db, customers=60, seed=1, batch=25) == 60
    rows = customers(db)
    assert len(rows) == 60
    for row in rows:
        schemas.CustomerInput.model_validate(as_input(row))
        assert sum(c["is_primary"] for c in row["contacts"]) == 1
        assert 1 <= len(row["contacts"]) <= 3
        if row["kind"] == "company":
            assert row["gender"] is None and row["birthday"] is None
        assert (row["status"] == "churned") == (row["stage"] == "churned")
        if row["status"] == "deal":
            assert row["stage"] in ("deal", "repeat", "loyal")
    db.dispose()


def test_same_seed_gives_same_customers(tmp_path: Path) -> None:
    names = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        db = fresh_db(tmp_path / run)
        demo.seed(db, customers=40, seed=3, now=NOW)
        names.append(
            [
                (c["id"], c["name"], c["region_code"], sorted(x["name"] for x in c["contacts"]))
                for c in customers(db)
            ]
        )
        db.dispose()
    assert names[0] == names[1]
    other = [demo.customer_payload(random.Random(f"crm-demo:4:{i}"), faker=Faker("zh_CN")) for i in range(40)]
    assert [n for _, n, _, _ in names[0]] != [p["name"] for p in other]


def test_seed_only_if_empty_skips_a_filled_archive(seeded: Database) -> None:
    assert demo.seed(seeded, customers=5, only_if_empty=True) == 0
    assert len(customers(seeded)) == 300


def test_every_seeded_customer_is_valid_with_one_primary_contact(seeded: Database) -> None:
    rows = customers(seeded)
    assert len(rows) == 300
    for row in rows:
        schemas.CustomerInput.model_validate(as_input(row))
        assert sum(c["is_primary"] for c in row["contacts"]) == 1
    created = sorted(datetime.fromisoformat(r["created_at"]) for r in rows)
    assert created[-1] <= NOW
    assert (created[-1] - created[0]).days > 365  # spread over the past two years


def test_some_customers_consent_to_marketing_with_evidence(seeded: Database) -> None:
    everyone = customers(seeded)
    marketing = [c for c in everyone if "marketing" in c["consented_purposes"]]
    assert 0.3 < len(marketing) / len(everyone) < 0.6
    with seeded.session_scope(readonly=True) as session:
        consents = session.scalars(select(Consent)).all()
        assert all(c.evidence and c.given_at <= NOW for c in consents)
        assert {c.customer_id for c in consents if c.purpose == "marketing"} == {c["id"] for c in marketing}


def test_tiers_follow_the_orders(seeded: Database) -> None:
    with seeded.session_scope(readonly=True) as session:
        tiers = []
        for row in session.scalars(select(Customer)):
            amount = service.deal_amount_12m(session, row.id, NOW)
            assert row.deal_amount_12m_fen == amount
            assert row.tier == service.tier_for(amount, SETTINGS)
            tiers.append(row.tier)
        latest = session.scalar(select(func.max(Order.ordered_at)))
        contracts = session.scalar(select(func.count()).select_from(Contract))
    assert tiers.count("A") >= 1 and tiers.count("B") >= 1
    assert latest is not None and latest <= NOW
    assert contracts


def test_payloads_are_varied_and_realistic() -> None:
    faker = Faker("zh_CN")
    payloads = [demo.customer_payload(random.Random(f"names:{i}"), faker=faker) for i in range(2000)]
    names = [p["name"] for p in payloads]
    assert len(set(names)) / len(names) > 0.95
    companies = [p for p in payloads if p["kind"] == "company"]
    assert 0.7 < len(companies) / len(payloads) < 0.9
    assert all(p["name"].endswith(("公司", "分公司")) for p in companies)
    individuals = [p for p in payloads if p["kind"] == "individual"]
    assert all(2 <= len(p["name"]) <= 4 for p in individuals)
    provinces = [p["region_code"][:2] for p in payloads]
    assert provinces.count("44") > provinces.count("62")  # 广东 outweighs 甘肃
    for p in payloads[:300]:
        schemas.CustomerInput.model_validate(p)
        region = service.codes.region_ancestors(p["region_code"])
        if "address" in p:
            assert p["address"].startswith(region[0].name) and region[-1].name in p["address"]
        for contact in p["contacts"]:
            for phone in contact["phones"]:
                assert len(phone) == 11 and phone[:2] in ("13", "15", "16", "17", "18", "19")


def test_related_payloads_are_valid_and_in_the_past() -> None:
    rng = random.Random(11)
    created = datetime(2024, 6, 1, tzinfo=UTC)
    faker = Faker("zh_CN")
    for _ in range(200):
        customer = demo.customer_payload(rng, faker=faker)
        data = demo.related_payloads(rng, created, NOW, customer=customer)
        for order in data["orders"]:
            parsed = schemas.OrderInput.model_validate(order)
            assert created <= parsed.ordered_at <= NOW and len(order["amount"].split(".")[1]) == 2
        for item in data["interactions"]:
            assert schemas.InteractionInput.model_validate(item).occurred_at <= NOW
        for item in data["contracts"]:
            schemas.ContractInput.model_validate(item)
        for item in data["service_records"]:
            schemas.ServiceRecordInput.model_validate(item)
        assert len(data["orders"]) <= 8 and len(data["interactions"]) <= 10
        assert len(data["contracts"]) <= 2 and len(data["service_records"]) <= 3
