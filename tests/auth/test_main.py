"""The command line: create-admin generates a one-time password that must be changed."""

import os
import subprocess
import sys
from pathlib import Path

from services.auth import service
from services.auth.settings import AuthSettings
from services.common.db import Database
from tests.auth.conftest import FAST_HASHING, Clock, call

ROOT = Path(__file__).resolve().parents[2]


def test_create_admin_prints_a_generated_password_once(
    tmp_path: Path, settings: AuthSettings, clock: Clock
) -> None:
    env = {
        **os.environ,
        **FAST_HASHING,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}",
        "CRM_DATA_DIR": str(tmp_path),
    }
    command = [
        sys.executable,
        "-m",
        "services.auth",
        "create-admin",
        "--employee-id",
        "A0009",
        "--name",
        "Root",
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    password = done.stdout.split("one-time password: ")[1].split()[0]
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert again.returncode != 0 and "already exists" in again.stderr
    db = Database(f"sqlite:///{tmp_path / 'auth.db'}", service="auth")
    try:
        first = call(
            db, service.login, settings=settings, employee_id="A0009", password=password, now=clock()
        )
        assert first.kind == "password_change_required"
    finally:
        db.dispose()
