"""The permission check visible on every route, as a FastAPI dependency."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fastapi import Depends, HTTPException, Request

from services.common.errors import DomainError
from services.common.identity import Caller
from services.gateway.deps import client_address, current_caller

log = logging.getLogger(__name__)


async def _record_refusal(request: Request, caller: Caller, permission: str) -> None:
    """Refusals are audited (repeated ones raise an alert); best effort, the refusal stands anyway."""
    recorder = request.app.state.audit
    route = getattr(request.scope.get("route"), "path", request.url.path)
    address = client_address(request)
    try:
        await asyncio.to_thread(
            recorder.record,
            caller=caller,
            action="gateway.refused",
            target=f"{request.method} {route}"[:200],
            outcome="denied",
            details={"permission": permission},
            source=address,
        )
    except DomainError:
        log.warning("could not audit a refusal of %s %s", request.method, route)


def require(permission: str) -> Callable[..., Awaitable[Caller]]:
    """A route dependency: the caller, if they hold the permission; 403 otherwise."""

    async def check(request: Request, caller: Caller = Depends(current_caller)) -> Caller:
        if not caller.can(permission):
            await _record_refusal(request, caller, permission)
            raise HTTPException(403, f"your roles do not grant {permission}")
        return caller

    check.permission = permission  # type: ignore[attr-defined]  # read by the authorization matrix
    return check
