"""Shared fixtures: real databases, callers, and the platform's processes."""

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from scripts.stack import Stack
from services.common.db import Database
from services.common.identity import Caller
from services.common.keys import LocalKeyProvider
from services.profile import migrate
from services.profile.keyring import Keyring, keystore_url, open_archive

PG_HOST = os.environ.get("CRM_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CRM_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("CRM_TEST_PG_USER", "postgres")
REDIS_HOST = os.environ.get("CRM_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("CRM_TEST_REDIS_PORT", "6379"))
IN_CI = os.environ.get("CI", "").lower() == "true"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need_server(name: str, host: str, port: int) -> None:
    """Skip when a server is absent on a laptop; under CI a missing server is a failure."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: servers are required)")
    pytest.skip(f"{message}; `make services` starts it (as root on Debian)")


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """Connection string of the PostgreSQL server's maintenance database."""
    need_server("PostgreSQL", PG_HOST, PG_PORT)
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/postgres"


def _create_pg_database(admin_url: str) -> str:
    name = f"crm_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    return name


def _drop_pg_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated database URL: SQLite and PostgreSQL in turn."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'profile.db'}"
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
def keyring(tmp_path: Path) -> Iterator[Keyring]:
    """Customers' data keys under a fresh local key file, in a private key store."""
    ring = Keyring(LocalKeyProvider(tmp_path / "keys" / "keyfile.json"), keystore_url("", tmp_path))
    yield ring
    ring.dispose()


@pytest.fixture
def db(db_url: str, keyring: Keyring) -> Iterator[Database]:
    """The archive's Database over a fresh migrated schema, sealing with `keyring`."""
    database = open_archive(db_url, keyring)
    yield database
    database.dispose()


@pytest.fixture
def admin() -> Caller:
    """A caller who may reach every record."""
    return Caller(id="u-admin", roles=("admin",), scope="all", permissions=("*",))


@pytest.fixture
def rep() -> Caller:
    """A sales rep who may reach only their own customers."""
    return Caller(id="S1001", roles=("sales",), scope="own")


@pytest.fixture
def other_rep() -> Caller:
    """Another sales rep."""
    return Caller(id="S1002", roles=("sales",), scope="own")


def customer_data(**overrides: object) -> dict[str, object]:
    """A valid new customer payload."""
    data: dict[str, object] = {
        "name": "上海明辉精密机械有限公司",
        "kind": "company",
        "industry_code": "3411",
        "region_code": "310115",
        "scale": "medium",
        "contacts": [
            {
                "name": "张伟",
                "title": "采购经理",
                "phones": ["13812345678"],
                "emails": ["zhangwei@minghui.cn"],
            }
        ],
    }
    data.update(overrides)
    return data


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The profile service and gateway running on free ports over SQLite, then PostgreSQL."""
    data_dir = tmp_path_factory.mktemp("stack")
    url, admin, name = "", "", ""
    if request.param == "postgresql":
        admin = request.getfixturevalue("pg_admin_url")
        name = _create_pg_database(admin)
        url = f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    env = request.module.__dict__.get("STACK_ENV", {})
    with Stack(data_dir=Path(data_dir), database_url=url, env=dict(env)) as running:
        yield running
    if name:
        _drop_pg_database(admin, name)


@pytest.fixture
def api(stack: Stack) -> Iterator[httpx.Client]:
    """An HTTP client for the gateway."""
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as client:
        yield client
