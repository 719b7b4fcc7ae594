"""The permission check visible on every route, as a FastAPI dependency."""

from collections.abc import Awaitable, Callable

from fastapi import Depends, HTTPException

from services.common.identity import Caller
from services.gateway.deps import current_caller


def require(permission: str) -> Callable[..., Awaitable[Caller]]:
    """A route dependency: the caller, if they hold the permission; 403 otherwise."""

    async def check(caller: Caller = Depends(current_caller)) -> Caller:
        if not caller.can(permission):
            raise HTTPException(403, f"your roles do not grant {permission}")
        return caller

    return check
