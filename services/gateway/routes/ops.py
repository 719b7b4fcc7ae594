"""Probes and metrics for operators."""

import html

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.gateway import problems

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


@router.get("/problems/{name}", operation_id="getProblemType", response_class=HTMLResponse)
async def problem_type(name: str) -> HTMLResponse:
    """The page a problem document's `type` resolves to: what the error means and what to do."""
    found = problems.TYPES.get(name)
    if found is None:
        raise HTTPException(404, f"no problem type {name!r}; see /problems")
    return HTMLResponse(
        _page(found.title, f"<p>HTTP {found.status}</p><p>{html.escape(found.description)}</p>")
    )


@router.get("/problems", operation_id="listProblemTypes", response_class=HTMLResponse)
async def problem_types() -> HTMLResponse:
    """Every problem type the API answers with."""
    rows = "".join(
        f'<tr><td><a href="{p.uri}">{p.name}</a></td><td>{p.status}</td><td>{html.escape(p.title)}</td></tr>'
        for p in problems.TYPES.values()
    )
    return HTMLResponse(_page("Problem types", f"<table>{rows}</table>"))


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
