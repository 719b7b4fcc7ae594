"""gRPC server bootstrap shared by every service: interceptors, health, reflection, shutdown."""

import logging
import signal
import threading
import time
from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.common import errors, heap, identity, telemetry
from services.common.metrics import grpc_metrics
from services.common.settings import ServiceSettings

log = logging.getLogger(__name__)

# Methods anyone may call without an identity: probes and tooling.
_PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


class ServiceInterceptor(grpc.ServerInterceptor):
    """Binds the caller, records RED metrics and maps domain errors to gRPC status."""

    def __init__(
        self,
        service: str,
        *,
        authenticate: Callable[[Any], identity.Caller],
        public_methods: frozenset[str] = frozenset(),
        audit: Any = None,
    ) -> None:
        self._metrics = grpc_metrics(service)
        self._audit = audit
        self._authenticate = authenticate
        self._public_methods = public_methods

    def _record_denial(self, method: str, exc: errors.DomainError) -> None:
        """Refusals are audited too (repeated denials are a warning sign); best effort."""
        if self._audit is None:
            return
        try:
            self._audit.record(
                caller=identity.current(),
                action=_denial_action(method),
                target=method[:200],
                outcome="denied",
                details={"reason": exc.message[:200]},
            )
        except errors.DomainError:
            log.warning("could not audit a refusal of %s", method)

    def intercept_service(self, continuation: Callable[..., Any], details: Any) -> Any:
        handler = continuation(details)
        method: str = details.method
        if handler is None or handler.unary_unary is None:
            return handler
        public = method.startswith(_PUBLIC_PREFIXES) or method in self._public_methods
        behaviour = handler.unary_unary

        def serve(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            token = None
            try:
                if not public:
                    metadata = context.invocation_metadata()
                    caller = identity.with_source(self._authenticate(metadata), metadata)
                    token = identity.bind(caller)
                    telemetry.set_attributes(caller_id=caller.id)
                return behaviour(request, context)
            except errors.DomainError as exc:
                code = exc.code
                if code == grpc.StatusCode.PERMISSION_DENIED and token is not None:
                    self._record_denial(method, exc)
                context.abort_with_status(errors.to_status(exc))
            except Exception as exc:
                if isinstance(exc, grpc.RpcError) or context.code() not in (None, grpc.StatusCode.OK):
                    code = context.code() or grpc.StatusCode.UNKNOWN
                    raise
                code = grpc.StatusCode.INTERNAL
                log.exception("unhandled error in %s", method)
                context.abort(
                    grpc.StatusCode.INTERNAL,
                    f"internal error; trace id {telemetry.current_trace_id() or 'none'}",
                )
            finally:
                if token is not None:
                    identity.reset(token)
                self._metrics.requests.labels(method, code.name).inc()
                self._metrics.duration.labels(method).observe(time.perf_counter() - started)

        return grpc.unary_unary_rpc_method_handler(
            serve,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _denial_action(method: str) -> str:
    """/crm.profile.v1.ProfileService/GetCustomer -> rpc.get_customer."""
    name = method.rsplit("/", 1)[-1]
    return "rpc." + "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


# Health name that answers SERVING while the process serves at all (liveness probes), unlike
# "" and the service names, which follow the dependencies (readiness).
LIVENESS = "liveness"


class Readiness:
    """Keeps the standard health service in step with a dependency check."""

    def __init__(self, service_names: list[str], check: Callable[[], bool]) -> None:
        self.servicer = health.HealthServicer()
        self._names = ["", *service_names]
        self._check = check
        self._stop = threading.Event()
        self._set(health_pb2.HealthCheckResponse.NOT_SERVING)
        self.servicer.set(LIVENESS, health_pb2.HealthCheckResponse.SERVING)

    def _set(self, status: int) -> None:
        for name in self._names:
            self.servicer.set(name, status)

    def start(self, interval: float = 5.0) -> None:
        """Check now, then every interval seconds, in a daemon thread."""

        def watch() -> None:
            while True:
                ok = self._check()
                self._set(
                    health_pb2.HealthCheckResponse.SERVING
                    if ok
                    else health_pb2.HealthCheckResponse.NOT_SERVING
                )
                if self._stop.wait(interval if ok else 0.5):
                    return

        threading.Thread(target=watch, name="readiness", daemon=True).start()

    def stop(self) -> None:
        """Report NOT_SERVING from now on (shutdown begins)."""
        self._stop.set()
        self._set(health_pb2.HealthCheckResponse.NOT_SERVING)


def create_server(
    *,
    service: str,
    address: str,
    register: Callable[[grpc.Server], None],
    service_names: list[str],
    ready_check: Callable[[], bool],
    max_workers: int = 16,
    authenticate: Callable[[Any], identity.Caller],
    public_methods: frozenset[str] = frozenset(),
    audit: Any = None,
) -> tuple[grpc.Server, int, Readiness]:
    """Build a server with our interceptor, health and reflection; returns it and its port.

    `authenticate` turns call metadata into the caller (or raises Unauthenticated);
    `public_methods` (full names, "/pkg.Service/Method") are served without a caller.
    """
    telemetry.instrument_grpc_server()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=service),
        interceptors=[
            ServiceInterceptor(service, authenticate=authenticate, public_methods=public_methods, audit=audit)
        ],
        options=[
            ("grpc.max_receive_message_length", 8 * 1024 * 1024),
            # Clients reconnect now and then, so they find new replicas behind a headless Service.
            ("grpc.max_connection_age_ms", 5 * 60 * 1000),
            ("grpc.max_connection_age_grace_ms", 30 * 1000),
        ],
    )
    register(server)
    readiness = Readiness(service_names, ready_check)
    health_pb2_grpc.add_HealthServicer_to_server(readiness.servicer, server)
    reflection.enable_server_reflection(
        [*service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
        server,
    )
    port = server.add_insecure_port(address)
    if port == 0:
        raise RuntimeError(f"cannot listen on {address}")
    return server, port, readiness


def serve(server: grpc.Server, readiness: Readiness, settings: ServiceSettings) -> None:
    """Start, report readiness, and on SIGTERM/SIGINT drain in-flight calls and stop."""
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    heap.freeze_startup_heap()
    server.start()
    readiness.start()
    stopping.wait()
    log.info("shutting down; draining for up to %ss", settings.shutdown_grace_seconds)
    readiness.stop()
    server.stop(settings.shutdown_grace_seconds).wait()
