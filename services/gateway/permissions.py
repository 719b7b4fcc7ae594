"""Which roles hold which permissions, checked by a dependency visible on every route.

Roles and permissions become data of the auth service; until then this table is the policy,
and services check the caller's scope again on their side.
"""

from collections.abc import Awaitable, Callable

from fastapi import Depends, HTTPException

from services.common.identity import Caller
from services.gateway.deps import current_caller

_ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"*"}),
    "manager": frozenset(
        {
            "customer:read",
            "customer:write",
            "customer:delete",
            "customer:history",
            "related:read",
            "related:write",
        }
    ),
    "sales": frozenset(
        {"customer:read", "customer:write", "customer:history", "related:read", "related:write"}
    ),
    "service": frozenset({"customer:read", "related:read", "related:write"}),
    "marketing": frozenset({"customer:read", "related:read"}),
}


def allowed(caller: Caller, permission: str) -> bool:
    """Whether any of the caller's roles grants the permission."""
    for role in caller.roles:
        granted = _ROLE_PERMISSIONS.get(role, frozenset())
        if "*" in granted or permission in granted:
            return True
    return False


def require(permission: str) -> Callable[..., Awaitable[Caller]]:
    """A route dependency: the caller, if they hold the permission; 403 otherwise."""

    async def check(caller: Caller = Depends(current_caller)) -> Caller:
        if not allowed(caller, permission):
            raise HTTPException(403, f"your roles do not grant {permission}")
        return caller

    return check
