"""Demo identities for the embedded mode: a small org tree and one user per built-in role."""

import json
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pyotp

from services.auth import passwords
from services.auth.models import OrgUnit, User
from services.auth.settings import AuthSettings
from services.common.db import Database
from services.common.errors import FailedPrecondition
from services.common.settings import Mode

log = logging.getLogger(__name__)

# (id, name, parent, kind)
ORG_UNITS = (
    ("ou-hq", "公司", None, "company"),
    ("ou-east", "华东区", "ou-hq", "region"),
    ("ou-south", "华南区", "ou-hq", "region"),
    ("ou-east-sales", "华东销售一组", "ou-east", "team"),
    ("ou-south-service", "华南客服组", "ou-south", "team"),
)
# (employee id, display name, role, org unit); S1001 owns customers in the profile demo data.
USERS = (
    ("A0001", "系统管理员", "admin", "ou-hq"),
    ("M1001", "王经理", "manager", "ou-east-sales"),
    ("S1001", "张伟", "sales", "ou-east-sales"),
    ("V1001", "李娜", "service", "ou-south-service"),
    ("K1001", "赵敏", "marketing", "ou-hq"),
)


def _write_private(path: Path, entries: list[dict[str, Any]]) -> None:
    """Write the file readable by its owner only, never briefly readable by others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(entries, out, ensure_ascii=False, indent=2)
    os.chmod(path, 0o600)


def seed(db: Database, *, settings: AuthSettings, output: Path, now: datetime) -> list[str]:
    """Create the demo org tree and users that are missing; returns the employee ids created.

    Their passwords and TOTP secrets go to `output` (0600). Existing users are left alone, and
    the file is rewritten only when a user was created.
    """
    if settings.mode == Mode.PRODUCTION:
        raise FailedPrecondition("demo users are for the embedded mode only; refusing in production")
    entries: list[dict[str, Any]] = json.loads(output.read_text(encoding="utf-8")) if output.exists() else []
    created = []
    with db.session_scope() as session:
        for unit_id, name, parent, kind in ORG_UNITS:
            if session.get(OrgUnit, unit_id) is None:
                session.add(OrgUnit(id=unit_id, name=name, parent_id=parent, kind=kind, created_at=now))
                session.flush()
        for employee_id, name, role, unit_id in USERS:
            if session.get(User, employee_id) is not None:
                continue
            password = passwords.generate(employee_id=employee_id)
            secret = pyotp.random_base32()
            session.add(
                User(
                    employee_id=employee_id,
                    display_name=name,
                    org_unit_id=unit_id,
                    roles=[role],
                    status="active",
                    password_hash=passwords.hash_secret(password, settings=settings),
                    must_change_password=False,
                    totp_secret=secret,
                    totp_enrolled=True,
                    created_at=now,
                    updated_at=now,
                )
            )
            entries = [e for e in entries if e.get("employee_id") != employee_id]
            entries.append(
                {
                    "employee_id": employee_id,
                    "role": role,
                    "password": password,
                    "totp_secret": secret,
                    "org_unit": unit_id,
                }
            )
            created.append(employee_id)
        if created:
            # Written inside the unit of work: a failed write leaves no user without credentials.
            _write_private(output, entries)
    log.info("demo identities seeded", extra={"employee_ids": created, "output": str(output)})
    return created
