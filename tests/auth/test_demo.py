"""Demo identities: a private credentials file whose users can log in with their TOTP secret."""

import json
import stat
from pathlib import Path

import pytest

from services.auth import demo, service
from services.auth.settings import AuthSettings
from services.common.db import Database
from services.common.errors import FailedPrecondition
from tests.auth.conftest import Clock, call, code_at


def test_seed_demo_writes_a_private_file_of_working_credentials(
    auth_db: Database, settings: AuthSettings, clock: Clock, tmp_path: Path
) -> None:
    output = tmp_path / "var" / "demo-users.json"
    created = demo.seed(auth_db, settings=settings, output=output, now=clock())
    assert created == [u[0] for u in demo.USERS]
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    entries = json.loads(output.read_text(encoding="utf-8"))
    assert {e["role"] for e in entries} == {"admin", "manager", "sales", "service", "marketing"}
    for entry in entries:
        assert set(entry) == {"employee_id", "role", "password", "totp_secret", "org_unit"}
        tokens = call(
            auth_db,
            service.login,
            settings=settings,
            employee_id=entry["employee_id"],
            password=entry["password"],
            totp_code=code_at(entry["totp_secret"], clock()),
            now=clock(),
        )
        assert isinstance(tokens, service.Tokens), entry["employee_id"]
    before = output.read_bytes()
    assert demo.seed(auth_db, settings=settings, output=output, now=clock()) == []
    assert output.read_bytes() == before


def test_seed_demo_refuses_production(
    auth_db: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CRM_MODE", "production")
    with pytest.raises(FailedPrecondition, match="embedded mode only"):
        demo.seed(auth_db, settings=AuthSettings(), output=tmp_path / "x.json", now=clock())
    assert not (tmp_path / "x.json").exists()
