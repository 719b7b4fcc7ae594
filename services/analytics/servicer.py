"""AnalyticsService: translates between protobuf messages and the analytics views; one read-only
unit of work and one audit event per call."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from crm.analytics.v1 import analytics_pb2 as pb
from crm.analytics.v1 import analytics_pb2_grpc
from services.analytics import metrics, service
from services.analytics.service import Bucket, View
from services.common import identity, rpc_permissions
from services.common.audit import AuditRecorder
from services.common.db import Database

PERMISSIONS = rpc_permissions.declare(
    pb.DESCRIPTOR.services_by_name["AnalyticsService"],
    {
        "GetDistribution": "analytics:read",
        "GetGrowth": "analytics:read",
        "GetFunnel": "analytics:read",
        "GetPortrait": "analytics:read",
    },
)


def _ts(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def _time(stamp: Timestamp, has: bool) -> datetime | None:
    return stamp.ToDatetime(tzinfo=UTC) if has else None


def _buckets(items: list[Bucket]) -> list[pb.Bucket]:
    return [pb.Bucket(key=b.key, name=b.name, count=b.count, parent=b.parent) for b in items]


class AnalyticsServicer(analytics_pb2_grpc.AnalyticsServiceServicer):
    """The gRPC face of the analytics views."""

    def __init__(self, db: Database, audit: AuditRecorder) -> None:
        self._db = db
        self._audit = audit

    def _view(self, name: str, compute: Callable[..., View], **kwargs: Any) -> tuple[View, datetime]:
        """Compute a view for the current caller in one read-only unit of work, and audit it."""
        caller = identity.current()
        at = service.now()
        with metrics.VIEW_SECONDS.labels(name).time(), self._db.session_scope(readonly=True) as session:
            view = compute(session=session, caller=caller, **kwargs)
        details: dict[str, Any] = {"view": name, "withheld": view.withheld}
        if "total" in view.data:
            details["total"] = view.data["total"]
        self._audit.record(caller=caller, action=f"analytics.{name}", target="customers", details=details)
        return view, at

    @staticmethod
    def _cond(request: Any) -> Any:
        return request.condition if request.HasField("condition") else None

    def GetDistribution(self, request: pb.GetDistributionRequest, context: Any) -> pb.GetDistributionResponse:
        view, at = self._view("distribution", service.distribution, cond=self._cond(request))
        dims = [pb.Dimension(name=k, buckets=_buckets(v)) for k, v in view.data["dimensions"].items()]
        return pb.GetDistributionResponse(
            total=view.data["total"], dimensions=dims, withheld=view.withheld, as_of=_ts(at)
        )

    def GetGrowth(self, request: pb.GetGrowthRequest, context: Any) -> pb.GetGrowthResponse:
        view, at = self._view(
            "growth",
            service.growth,
            cond=self._cond(request),
            period=request.period or "month",
            start=_time(request.start, request.HasField("start")),
            end=_time(request.end, request.HasField("end")),
            at=service.now(),
        )
        return pb.GetGrowthResponse(
            period=view.data["period"],
            points=[pb.GrowthPoint(**p) for p in view.data["points"]],
            withheld=view.withheld,
            as_of=_ts(at),
        )

    def GetFunnel(self, request: pb.GetFunnelRequest, context: Any) -> pb.GetFunnelResponse:
        view, at = self._view("funnel", service.funnel, cond=self._cond(request))
        return pb.GetFunnelResponse(
            stages=[pb.FunnelStage(**s) for s in view.data["stages"]],
            overall_conversion_percent=view.data["overall_conversion_percent"],
            withheld=view.withheld,
            as_of=_ts(at),
        )

    def GetPortrait(self, request: pb.GetPortraitRequest, context: Any) -> pb.GetPortraitResponse:
        view, at = self._view("portrait", service.portrait, cond=self._cond(request))
        data = view.data
        return pb.GetPortraitResponse(
            total=data["total"],
            provinces=_buckets(data["provinces"]),
            top_industries=_buckets(data["top_industries"]),
            scales=_buckets(data["scales"]),
            kinds=_buckets(data["kinds"]),
            tiers=_buckets(data.get("tiers", [])),
            average_deal_amount_12m=data.get("average_deal_amount_12m", ""),
            withheld=view.withheld,
            as_of=_ts(at),
        )
