"""Probes and metrics for operators."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["ops"])


@router.get("/healthz", operation_id="healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", operation_id="readyz", responses={503: {"description": "A dependency is down"}})
async def readyz(request: Request) -> JSONResponse:
    """Every dependency answers."""
    checks = {
        "profile": await request.app.state.profile.ready(),
        "search": await request.app.state.search.ready(),
        "auth": await request.app.state.auth.ready(),
        "tagging": await request.app.state.tagging.ready(),
    }
    # Without search or tagging the archive still works: the gateway stays in rotation, degraded.
    ok = checks["profile"] and checks["auth"]
    status = "unavailable" if not ok else "ok" if all(checks.values()) else "degraded"
    return JSONResponse(
        {"status": status, "checks": {k: "ok" if v else "down" for k, v in checks.items()}},
        status_code=200 if ok else 503,
    )


@router.get("/metrics", operation_id="metrics", include_in_schema=False)
async def metrics() -> Response:
    """Prometheus metrics of this gateway process."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
