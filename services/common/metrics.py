"""Prometheus metrics helpers: RED metrics per gRPC method, DB pool gauges, /metrics server."""

from collections.abc import Iterator
from functools import cache

from prometheus_client import Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy.engine import Engine

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@cache
def grpc_metrics(service: str) -> "GrpcMetrics":
    """The process's one set of gRPC metrics for a service."""
    return GrpcMetrics(service)


class GrpcMetrics:
    """Rate, errors and duration of every gRPC method a service serves."""

    def __init__(self, service: str) -> None:
        self.requests = Counter(
            f"crm_{service}_grpc_requests_total",
            "gRPC calls served, by method and status code.",
            ["method", "code"],
        )
        self.duration = Histogram(
            f"crm_{service}_grpc_request_duration_seconds",
            "Time to serve a gRPC call, by method.",
            ["method"],
            buckets=LATENCY_BUCKETS,
        )


class PoolCollector(Collector):
    """Reads the SQLAlchemy connection pool's state at scrape time."""

    def __init__(self, service: str, engine: Engine) -> None:
        self._name = f"crm_{service}_db_pool_connections"
        self._engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Yield connections by state: checked_out, idle, overflow."""
        pool = self._engine.pool
        family = GaugeMetricFamily(self._name, "Database pool connections by state.", labels=["state"])
        for state in ("checkedout", "checkedin", "overflow"):
            reader = getattr(pool, state, None)
            if reader is not None:
                family.add_metric([_STATE_NAMES[state]], float(reader()))
        yield family


_STATE_NAMES = {"checkedout": "checked_out", "checkedin": "idle", "overflow": "overflow"}


_pools: dict[str, PoolCollector] = {}


def register_pool(service: str, engine: Engine) -> None:
    """Export the engine's pool gauges on this process's registry (the latest engine wins)."""
    if service in _pools:
        _pools[service]._engine = engine
        return
    _pools[service] = PoolCollector(service, engine)
    REGISTRY.register(_pools[service])


def serve_metrics(port: int, host: str) -> None:
    """Serve /metrics on host:port (port 0 = do nothing)."""
    if port:
        start_http_server(port, addr=host)
