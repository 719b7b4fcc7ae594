"""Anomaly alerts raised from the audit stream, for the security team."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from crm.auth.v1 import auth_pb2 as pb
from services.common.identity import Caller
from services.gateway import schemas
from services.gateway.clients import AuthClient
from services.gateway.convert import to_json
from services.gateway.deps import auth, metadata
from services.gateway.permissions import require

router = APIRouter(prefix="/api/v1/security", tags=["audit"])


def _alert(alert: pb.SecurityAlert) -> dict[str, Any]:
    data = to_json(alert)
    data["acknowledged_by"] = data.get("acknowledged_by") or None
    return data


@router.get(
    "/alerts",
    response_model=schemas.SecurityAlertList,
    operation_id="listSecurityAlerts",
    responses={403: {"model": schemas.Problem}},
)
async def list_alerts(
    request: Request,
    status: Annotated[str | None, Query(pattern="^(open|acknowledged)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    caller: Caller = Depends(require("audit:read")),
    client: AuthClient = Depends(auth),
) -> Any:
    """Failed-login bursts, repeated refusals, mass viewing and off-hours access, newest first."""
    reply = await client.list_security_alerts(
        metadata(request, caller), pb.ListSecurityAlertsRequest(status=status or "", limit=limit)
    )
    return {"items": [_alert(a) for a in reply.alerts]}


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response_model=schemas.SecurityAlertRead,
    operation_id="acknowledgeSecurityAlert",
    responses={403: {"model": schemas.Problem}, 404: {"model": schemas.Problem}},
)
async def acknowledge_alert(
    request: Request,
    alert_id: Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")],
    caller: Caller = Depends(require("audit:read")),
    client: AuthClient = Depends(auth),
) -> Any:
    """Mark an alert as seen (who and when are kept, and audited)."""
    reply = await client.acknowledge_security_alert(
        metadata(request, caller), pb.AcknowledgeSecurityAlertRequest(alert_id=alert_id)
    )
    return _alert(reply.alert)
