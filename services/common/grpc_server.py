"""gRPC server bootstrap shared by every service: interceptors, mutual TLS, health, reflection,
shutdown."""

import ipaddress
import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping
from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.common import errors, heap, identity, rpc_permissions, telemetry
from services.common.metrics import grpc_metrics
from services.common.settings import Mode, ServiceSettings, TlsFiles

log = logging.getLogger(__name__)

# Methods anyone may call without an identity: probes and tooling.
_PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


class ServiceInterceptor(grpc.ServerInterceptor):
    """Binds the caller, checks the RPC's declared permission (rpc_permissions.py), records RED
    metrics and maps domain errors to gRPC status."""

    def __init__(
        self,
        service: str,
        *,
        authenticate: Callable[[Any], identity.Caller],
        permissions: Mapping[str, str],
        audit: Any = None,
        peer_services: frozenset[str] | None = None,
    ) -> None:
        self._metrics = grpc_metrics(service)
        self._audit = audit
        self._authenticate = authenticate
        self._permissions = permissions
        # Set when the server runs mutual TLS: the names a peer certificate may carry for a
        # service's own token to be accepted.
        self._peer_services = peer_services

    def _check_peer(
        self, caller: identity.Caller, context: grpc.ServicerContext, platform: frozenset[str]
    ) -> None:
        """Trace which platform service's certificate the call came over; refuse a service's own
        token over any other certificate (a stolen client secret is not enough)."""
        names = peer_names(context)
        service = next((n for n in names if n in platform), "")
        if service:
            telemetry.set_attributes(peer_service=service)
        elif caller.kind == "service":
            log.warning(
                "refused a service token over a certificate naming no platform service",
                extra={"peer": ",".join(names)[:200], "caller": caller.id},
            )
            raise errors.PermissionDenied(
                "a service's token is accepted only over a platform service's certificate"
            )

    def _authorize(self, method: str, caller: identity.Caller) -> None:
        """PermissionDenied unless the caller holds the method's permission; undeclared is refused."""
        required = self._permissions.get(method)
        if required is None:
            raise errors.PermissionDenied(f"{method} declares no permission, so nobody may call it")
        if required and not caller.can(required):
            raise errors.PermissionDenied(f"this needs the {required} permission")

    def _record_denial(self, method: str, request: Any, exc: errors.DomainError) -> None:
        """Refusals are audited too, and so are a person's or partner's NotFound answers: an
        out-of-scope record answers NotFound, so they are probes (repeated denials are a warning
        sign). Best effort."""
        caller = identity.current()
        if self._audit is None or (exc.code == grpc.StatusCode.NOT_FOUND and caller.kind == "service"):
            return
        customer_id = getattr(request, "customer_id", "")
        try:
            self._audit.record(
                caller=caller,
                action=_denial_action(method),
                target=f"customer:{customer_id}"[:200] if customer_id else method[:200],
                outcome="denied",
                details={"reason": exc.message[:200], "status": exc.code.name.lower()},
            )
        except errors.DomainError:
            log.warning("could not audit a refusal of %s", method)

    def intercept_service(self, continuation: Callable[..., Any], details: Any) -> Any:
        handler = continuation(details)
        method: str = details.method
        if handler is None or handler.unary_unary is None:
            return handler
        declared = self._permissions.get(method)
        public = method.startswith(_PUBLIC_PREFIXES) or declared == rpc_permissions.PUBLIC
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
                    if self._peer_services is not None:
                        self._check_peer(caller, context, self._peer_services)
                    self._authorize(method, caller)
                return behaviour(request, context)
            except errors.DomainError as exc:
                code = exc.code
                if code in _AUDITED_REFUSALS and token is not None:
                    self._record_denial(method, request, exc)
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


_AUDITED_REFUSALS = (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND)


def peer_names(context: grpc.ServicerContext) -> list[str]:
    """The names in the peer's verified certificate (common name, then subject alternative names);
    empty over plaintext."""
    auth = context.auth_context()
    return [
        value.decode(errors="replace")
        for key in ("x509_common_name", "x509_subject_alternative_name")
        for value in auth.get(key, ())
    ]


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
        # A plaintext server answering only this health service (CRM_GRPC_HEALTH_PORT): the
        # kubelet's gRPC probes cannot do TLS. `serve` starts and stops it with the service.
        self.probe_server: grpc.Server | None = None
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


class ServerCertificates:
    """The server side of mutual TLS from the settings' files, read again when they change
    (cert-manager renews them in place), so a renewed certificate needs no restart."""

    def __init__(self, tls: TlsFiles) -> None:
        self._tls = tls
        self._lock = threading.Lock()
        self._stamp = tls.stamp()
        self._initial = self._configuration()

    def _configuration(self) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration(
            [(self._tls.key.read_bytes(), self._tls.cert.read_bytes())],
            root_certificates=self._tls.ca.read_bytes(),
        )

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """Called by gRPC before each handshake: the files again if they changed, else None."""
        with self._lock:
            try:
                stamp = self._tls.stamp()
                if stamp == self._stamp:
                    return None
                configuration = self._configuration()
            except OSError:
                return None  # mid-update: keep the current certificate, try at the next handshake
            self._stamp = stamp
        log.info("reloaded the gRPC server certificate", extra={"cert": str(self._tls.cert)})
        return configuration

    def credentials(self) -> grpc.ServerCredentials:
        """Server credentials that demand and verify a client certificate from the CA."""
        return grpc.dynamic_ssl_server_credentials(
            self._initial, self._fetch, require_client_authentication=True
        )


def _loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_server(
    *,
    service: str,
    address: str,
    settings: ServiceSettings,
    register: Callable[[grpc.Server], None],
    service_names: list[str],
    ready_check: Callable[[], bool],
    max_workers: int = 16,
    authenticate: Callable[[Any], identity.Caller],
    permissions: Mapping[str, str],
    audit: Any = None,
) -> tuple[grpc.Server, int, Readiness]:
    """Build a server with our interceptor, health and (where the settings allow) reflection,
    listening with mutual TLS when the settings give certificates; returns it and its port.

    `authenticate` turns call metadata into the caller (or raises Unauthenticated);
    `permissions` maps each method (full names, "/pkg.Service/Method") to the permission it
    needs (rpc_permissions.declare); PUBLIC ones are served without a caller.
    """
    tls = settings.grpc_tls()  # production without certificates (or the opt-out) stops here
    if tls is None and settings.mode == Mode.PRODUCTION:
        log.warning(
            "CRM_GRPC_PLAINTEXT=true: serving gRPC WITHOUT TLS; only a service mesh that does "
            "mutual TLS for every connection makes this safe",
            extra={"address": address},
        )
    elif tls is None and not _loopback(address):
        log.warning("serving gRPC in plaintext on a non-loopback address", extra={"address": address})
    telemetry.instrument_grpc_server()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=service),
        interceptors=[
            ServiceInterceptor(
                service,
                authenticate=authenticate,
                permissions=permissions,
                audit=audit,
                peer_services=settings.peer_services() if tls else None,
            )
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
    if settings.reflection_enabled():
        reflection.enable_server_reflection(
            [
                *service_names,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            server,
        )
    if tls is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, ServerCertificates(tls).credentials())
    if port == 0:
        raise RuntimeError(f"cannot listen on {address}")
    if settings.grpc_health_port:
        probes = grpc.server(futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"{service}-probe"))
        health_pb2_grpc.add_HealthServicer_to_server(readiness.servicer, probes)
        probe_address = f"{address.rsplit(':', 1)[0]}:{settings.grpc_health_port}"
        if probes.add_insecure_port(probe_address) == 0:
            raise RuntimeError(f"cannot listen on {probe_address}")
        readiness.probe_server = probes
    return server, port, readiness


def serve(server: grpc.Server, readiness: Readiness, settings: ServiceSettings) -> None:
    """Start, report readiness, and on SIGTERM/SIGINT drain in-flight calls and stop."""
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    heap.freeze_startup_heap()
    server.start()
    if readiness.probe_server is not None:
        readiness.probe_server.start()
    readiness.start()
    stopping.wait()
    log.info("shutting down; draining for up to %ss", settings.shutdown_grace_seconds)
    readiness.stop()
    server.stop(settings.shutdown_grace_seconds).wait()
    if readiness.probe_server is not None:
        readiness.probe_server.stop(0).wait()
