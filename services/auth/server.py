"""Builds and runs the auth service's gRPC server."""

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import grpc

from crm.auth.v1 import auth_pb2, auth_pb2_grpc
from services.auth import keys
from services.auth.audit_writer import AuditWriter
from services.auth.servicer import PUBLIC_METHODS, AuthServicer
from services.auth.settings import AuthSettings
from services.common import authn, grpc_server, identity
from services.common.db import Database
from services.common.tokens import TokenVerifier

log = logging.getLogger(__name__)
SERVICE = "auth"
SERVICE_NAME = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name


def authenticator(settings: AuthSettings, db: Database) -> Callable[[Any], identity.Caller]:
    """Callers from access tokens checked against this service's own keys (no round trip to
    itself); the development identity only where the embedded mode enables it."""

    def own_jwks() -> dict[str, Any]:
        with db.session_scope(readonly=True) as session:
            return keys.jwks(session=session, settings=settings, now=datetime.now(UTC))

    return authn.authenticator(settings, TokenVerifier(own_jwks, issuer=settings.issuer))


def create_server(
    settings: AuthSettings, db: Database
) -> tuple[grpc.Server, int, grpc_server.Readiness, AuditWriter]:
    """The auth gRPC server, not yet started, the port it is bound to, and its audit writer."""
    writer = AuditWriter(db, clock=lambda: datetime.now(UTC))
    server, port, readiness = grpc_server.create_server(
        service=SERVICE,
        address=settings.listen_address,
        register=lambda server: auth_pb2_grpc.add_AuthServiceServicer_to_server(
            AuthServicer(db, settings, writer), server
        ),
        service_names=[SERVICE_NAME],
        ready_check=db.ping,
        authenticate=authenticator(settings, db),
        public_methods=PUBLIC_METHODS,
    )
    return server, port, readiness, writer


def serve(settings: AuthSettings, db: Database) -> None:
    """Run the server until SIGTERM."""
    server, port, readiness, writer = create_server(settings, db)
    log.info("auth service listening", extra={"port": port})
    try:
        grpc_server.serve(server, readiness, settings)
    finally:
        writer.close()
