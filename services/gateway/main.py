"""The REST gateway: FastAPI app factory and lifespan."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from services.common import authn, heap, telemetry
from services.common.audit import AuditRecorder
from services.gateway import errors
from services.gateway.clients import AuthClient, ProfileClient, SearchClient, TaggingClient
from services.gateway.middleware import RequestContextMiddleware
from services.gateway.ratelimit import MemoryRateLimiter, RedisRateLimiter
from services.gateway.routes import (
    admin,
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
        app.state.profile = ProfileClient(settings.profile_addr, settings.rpc_deadline_seconds)
        app.state.search = SearchClient(settings.search_addr, settings.rpc_deadline_seconds)
        app.state.auth = AuthClient(settings.auth_addr, settings.rpc_deadline_seconds)
        app.state.tagging = TaggingClient(settings.tagging_addr, settings.rpc_deadline_seconds)
        heap.freeze_startup_heap()
        try:
            yield
        finally:
            await app.state.profile.close()
            await app.state.search.close()
            await app.state.auth.close()
            await app.state.tagging.close()

    app = FastAPI(
        title="Customer information platform API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.verifier = authn.verifier(settings)
    app.state.audit = AuditRecorder(
        settings.auth_addr,
        metadata=authn.ServiceCredentials(settings, service="gateway", scopes=("audit:write",)).metadata,
        deadline_seconds=settings.rpc_deadline_seconds,
        source="gateway",
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
        admin,
        identities,
        audit,
        security,
        ops,
    ):
        app.include_router(module.router)
    if telemetry.enabled():
        # The per-message ASGI send/receive spans say nothing an operator needs and cost time.
        FastAPIInstrumentor.instrument_app(
            app, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"]
        )
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    return app
