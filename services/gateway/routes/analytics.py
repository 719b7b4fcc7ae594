"""Customer analytics (客户分析): distribution, growth, funnel and portrait, each within the
caller's record scope and the optional `filter` (the segment condition language, as JSON)."""

import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import AwareDatetime, BeforeValidator, ValidationError

from crm.analytics.v1 import analytics_pb2 as pb
from crm.common.v1 import common_pb2
from services.common.identity import Caller
from services.gateway import schemas
from services.gateway import schemas_analytics as s
from services.gateway.clients import AnalyticsClient
from services.gateway.convert import to_json
from services.gateway.deps import metadata
from services.gateway.permissions import require
from services.gateway.routes.tags import condition

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": schemas.Problem},
    422: {"model": schemas.Problem, "description": "Invalid filter or period, listed in errors"},
}
MAX_FILTER = 8000
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2})$")
# `filter` is a condition as JSON in the query string; the document declares its schema (the
# one segments take), so the route reads it from the query itself rather than as a plain string.
_FILTER = {
    "parameters": [
        {
            "name": "filter",
            "in": "query",
            "required": False,
            "description": 'A condition as segments take it, e.g. {"field":"stage","any_of":["deal"]}',
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/AnalyticsConditionIn"}}
            },
        }
    ]
}


def _rfc3339(value: object) -> object:
    """Only RFC 3339 text is a time here (not the numbers pydantic would also take)."""
    if isinstance(value, str) and not RFC3339.match(value):
        raise ValueError("give an RFC 3339 time, e.g. 2026-11-01T00:00:00+08:00")
    return value


Time = Annotated[AwareDatetime, BeforeValidator(_rfc3339)] | None


def analytics(request: Request) -> AnalyticsClient:
    """The analytics service client."""
    return request.app.state.analytics  # type: ignore[no-any-return]


def _filter(request: Request) -> common_pb2.Condition | None:
    """The `filter` query parameter as a condition (see _parse)."""
    node = _parse(request)
    request.state.analytics_filter = node.model_dump(by_alias=True, exclude_none=True) if node else None
    return condition(node) if node else None  # type: ignore[arg-type]  # the same shape, fewer fields


def _parse(request: Request) -> s.AnalyticsConditionIn | None:
    """The `filter` query parameter as a condition; 422 naming the bad part."""
    raw = request.query_params.get("filter")
    if not raw:
        return None
    if len(raw) > MAX_FILTER:
        raise RequestValidationError(
            [{"loc": ("query", "filter"), "msg": f"at most {MAX_FILTER} characters", "type": "value_error"}]
        )
    try:
        return s.AnalyticsConditionIn.model_validate(json.loads(raw))
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"loc": ("query", "filter"), "msg": f"not JSON: {exc.msg}", "type": "value_error"}]
        ) from None
    except RecursionError:
        raise RequestValidationError(
            [{"loc": ("query", "filter"), "msg": "nested too deep", "type": "value_error"}]
        ) from None
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("query", "filter", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None


def _stamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def _view(request: Request, reply: Any) -> dict[str, Any]:
    data = to_json(reply)
    data.setdefault("withheld", [])
    data["filter"] = getattr(request.state, "analytics_filter", None)
    return data


@router.get(
    "/distribution",
    response_model=s.DistributionRead,
    operation_id="getAnalyticsDistribution",
    responses=_ERRORS,
)
async def get_distribution(
    request: Request,
    caller: Caller = Depends(require("analytics:read")),
    client: AnalyticsClient = Depends(analytics),
) -> Any:
    """Your customers counted by industry, province and city, tier, status, scale, source channel
    and lifecycle stage."""
    req = pb.GetDistributionRequest(condition=_filter(request))
    return _view(request, await client.get_distribution(metadata(request, caller), req))


@router.get(
    "/growth",
    response_model=s.GrowthRead,
    operation_id="getAnalyticsGrowth",
    responses=_ERRORS,
    openapi_extra=_FILTER,
)
async def get_growth(
    request: Request,
    period: Literal["day", "week", "month", "quarter"] = "month",
    start: Annotated[Time, Query(description="From the period holding this time")] = None,
    end: Annotated[Time, Query(description="To the period holding this time (default now)")] = None,
    caller: Caller = Depends(require("analytics:read")),
    client: AnalyticsClient = Depends(analytics),
) -> Any:
    """New, churned, net and total customers per day, week, month or quarter (UTC)."""
    if start is not None and end is not None and start > end:
        raise RequestValidationError(
            [{"loc": ("query", "start"), "msg": "end must be after start", "type": "value_error"}]
        )
    req = pb.GetGrowthRequest(condition=_filter(request), period=period, start=_stamp(start), end=_stamp(end))
    return _view(request, await client.get_growth(metadata(request, caller), req))


@router.get(
    "/funnel",
    response_model=s.FunnelRead,
    operation_id="getAnalyticsFunnel",
    responses=_ERRORS,
    openapi_extra=_FILTER,
)
async def get_funnel(
    request: Request,
    caller: Caller = Depends(require("analytics:read")),
    client: AnalyticsClient = Depends(analytics),
) -> Any:
    """Customers that reached lead, intent, proposal and deal, with each step's conversion, the
    overall conversion and the weakest step."""
    req = pb.GetFunnelRequest(condition=_filter(request))
    data = _view(request, await client.get_funnel(metadata(request, caller), req))
    for stage in data.get("stages", []):
        stage.setdefault("count", 0)
        stage.setdefault("conversion_percent", 0.0)
        stage.setdefault("weakest", False)
    data.setdefault("overall_conversion_percent", 0.0)
    return data


@router.get(
    "/portrait",
    response_model=s.PortraitRead,
    operation_id="getAnalyticsPortrait",
    responses=_ERRORS,
    openapi_extra=_FILTER,
)
async def get_portrait(
    request: Request,
    caller: Caller = Depends(require("analytics:read")),
    client: AnalyticsClient = Depends(analytics),
) -> Any:
    """The portrait of your customers: province split, top-5 industries, scale, kind and tier
    split, mean 12-month deal amount (the last two withheld without financial visibility)."""
    req = pb.GetPortraitRequest(condition=_filter(request))
    data = _view(request, await client.get_portrait(metadata(request, caller), req))
    data["average_deal_amount_12m"] = data.get("average_deal_amount_12m") or None
    return data
