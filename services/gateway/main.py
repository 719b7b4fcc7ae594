"""The REST gateway: FastAPI app factory and lifespan."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from services.common import authn, heap, telemetry
from services.common.audit import AuditRecorder
from services.gateway import errors, openapi
from services.gateway.clients import AnalyticsClient, AuthClient, ProfileClient, SearchClient, TaggingClient
from services.gateway.idempotency import IdempotencyMiddleware, idempotency_store
from services.gateway.middleware import RequestContextMiddleware, redact_span_query
from services.gateway.ratelimit import MemoryRateLimiter, RedisRateLimiter
from services.gateway.routes import (
    admin,
    analytics,
    audit,
    auth,
    customers,
    identities,
    ops,
    privacy,
    related,
    search,
    security,
    segments,
    tags,
)
from services.gateway.settings import GatewaySettings

DESCRIPTION = """
The customer information platform's public API. Errors are `application/problem+json`
(RFC 9457) with a field-level `errors` list for invalid input. Lists use cursor pagination:
pass `next_page_token` back as `page_token`. Changes need `If-Match` with the version you read.
"""


def create_app(settings: GatewaySettings) -> FastAPI:
    """Build the gateway application for the given settings."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        telemetry.instrument_grpc_aio_client()
        app.state.profile = ProfileClient(settings.profile_addr, settings)
        app.state.search = SearchClient(settings.search_addr, settings)
        app.state.auth = AuthClient(settings.auth_addr, settings)
        app.state.tagging = TaggingClient(settings.tagging_addr, settings)
        app.state.analytics = AnalyticsClient(settings.analytics_addr, settings)
        heap.freeze_startup_heap()
        try:
            yield
        finally:
            await app.state.profile.close()
            await app.state.search.close()
            await app.state.auth.close()
            await app.state.tagging.close()
            await app.state.analytics.close()

    app = FastAPI(
        title="Customer information platform API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.verifier = authn.verifier(settings)
    # The gateway's own identity: records audit events, and vouches for the client addresses it
    # passes to the auth service's public login steps.
    app.state.credentials = authn.ServiceCredentials(settings, service="gateway", scopes=("audit:write",))
    app.state.audit = AuditRecorder(
        settings.auth_addr,
        metadata=app.state.credentials.metadata,
        deadline_seconds=settings.rpc_deadline_seconds,
        source="gateway",
        settings=settings,
    )
    app.state.rate_limiter = (
        RedisRateLimiter(settings.redis_url) if settings.redis_url else MemoryRateLimiter()
    )
    errors.install(app)
    for module in (
        auth,
        customers,
        related,
        privacy,
        search,
        tags,
        segments,
        analytics,
        admin,
        identities,
        audit,
        security,
        ops,
    ):
        app.include_router(module.router)
    openapi.install(app)
    if telemetry.enabled():
        # The per-message ASGI send/receive spans say nothing an operator needs and cost time.
        # Query strings hold what people search for (names, phone fragments): traces keep their
        # parameter names only.
        FastAPIInstrumentor.instrument_app(
            app,
            excluded_urls="healthz,readyz,metrics",
            exclude_spans=["receive", "send"],
            server_request_hook=redact_span_query,
        )
    # Inside the request context (request id, client address, body limit), in front of the routes.
    app.add_middleware(IdempotencyMiddleware, store=idempotency_store(settings.redis_url))
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        trusted_proxies=settings.trusted_proxy_list(),
    )
    return app
