"""Fixtures of the auth tests: a migrated auth database, cheap hashing, a clock we move."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pyotp
import pytest

from services.auth import migrate, service
from services.auth.settings import AuthSettings
from services.common.db import Database
from tests.conftest import PG_HOST, PG_PORT, PG_USER, _create_pg_database, _drop_pg_database

T = TypeVar("T")
# argon2id at its cheapest: the tests exercise the flow, not the cost.
FAST_HASHING = {
    "CRM_AUTH_ARGON2_TIME_COST": "1",
    "CRM_AUTH_ARGON2_MEMORY_KIB": "1024",
    "CRM_AUTH_ARGON2_PARALLELISM": "1",
}


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AuthSettings:
    """Auth settings with cheap hashing and a private data folder."""
    for name, value in FAST_HASHING.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path))
    return AuthSettings()


@pytest.fixture(params=["sqlite", "postgresql"])
def auth_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A freshly migrated auth database: SQLite and PostgreSQL in turn."""
    name, admin = "", ""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'auth.db'}"
    else:
        admin = request.getfixturevalue("pg_admin_url")
        name = _create_pg_database(admin)
        url = f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    migrate.upgrade(url)
    database = Database(url, service="auth")
    yield database
    database.dispose()
    if name:
        _drop_pg_database(admin, name)


@dataclass
class Clock:
    """A settable now, at the start of a TOTP period so codes stay put until we move it."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> Clock:
    """A clock starting now, aligned to a 30 s TOTP step."""
    start = int(datetime.now(UTC).timestamp()) // 30 * 30
    return Clock(datetime.fromtimestamp(start, UTC))


def call(db: Database, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """Run a domain function in its own unit of work, like the servicer, raising refusals after commit."""
    with db.session_scope() as session:
        result = fn(session=session, **kwargs)
    if isinstance(result, service.Denied):
        raise result.error
    return result


def code_at(secret: str, now: datetime) -> str:
    """The TOTP code of a secret at a time."""
    return pyotp.TOTP(secret).at(now)


@dataclass
class Enrolled:
    """A user through the first-login steps: password, TOTP secret, recovery codes."""

    employee_id: str
    password: str
    totp_secret: str
    recovery_codes: list[str]


NEW_PASSWORD = "Harbour-Lantern-42"


def enrol(
    db: Database,
    settings: AuthSettings,
    clock: Clock,
    employee_id: str,
    roles: list[str],
    org_unit_id: str = "",
) -> Enrolled:
    """Create a user and take them through password change and TOTP enrolment."""
    _, initial = call(
        db,
        service.create_user,
        settings=settings,
        employee_id=employee_id,
        display_name=f"User {employee_id}",
        org_unit_id=org_unit_id,
        roles=roles,
        now=clock(),
    )
    first = call(db, service.login, settings=settings, employee_id=employee_id, password=initial, now=clock())
    challenge = call(
        db,
        service.change_password,
        settings=settings,
        setup_token=first.setup_token,
        current_password=initial,
        new_password=NEW_PASSWORD,
        now=clock(),
    )
    codes, _ = call(
        db,
        service.verify_totp,
        settings=settings,
        setup_token=challenge.setup_token,
        totp_code=code_at(challenge.totp_secret, clock()),
        now=clock(),
    )
    clock.advance(30)  # the enrolment code is used up
    return Enrolled(employee_id, NEW_PASSWORD, challenge.totp_secret, codes)
