"""Admin-defined, typed custom fields of customers."""

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.errors import AlreadyExists, PermissionDenied
from services.common.identity import Caller
from services.profile import schemas, service
from services.profile.models import CustomField


def to_dict(row: CustomField) -> dict[str, Any]:
    """A custom field definition in API form."""
    return {
        "key": row.key,
        "label": row.label,
        "type": row.type,
        "options": list(row.options),
        "required": row.required,
        "max_length": row.max_length,
        "created_at": service.iso(row.created_at),
    }


def list_all(*, session: Session) -> list[CustomField]:
    """Every custom field definition, by key."""
    return list(session.scalars(select(CustomField).order_by(CustomField.key)))


def create(
    *, session: Session, caller: Caller, data: dict[str, Any], at: datetime | None = None
) -> CustomField:
    """Define a new custom field (admins only); keys are unique and never reused."""
    if "admin" not in caller.roles:
        raise PermissionDenied("only administrators define custom fields")
    parsed = schemas.parse(schemas.CustomFieldInput, data)
    if session.get(CustomField, parsed.key) is not None:
        raise AlreadyExists(f"custom field {parsed.key} already exists")
    row = CustomField(**parsed.model_dump(), created_at=at or service.now())
    session.add(row)
    session.flush()
    return row
