"""Builds and runs the auth service's gRPC server."""

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import grpc

from crm.auth.v1 import auth_pb2, auth_pb2_grpc
from services.auth import keys, service
from services.auth.audit_writer import AuditWriter
from services.auth.servicer import AuthServicer
from services.auth.settings import AuthSettings
from services.common import authn, grpc_server, identity, rpc_permissions
from services.common.db import Database
from services.common.tokens import Revocations, TokenVerifier

log = logging.getLogger(__name__)
SERVICE = "auth"
SERVICE_NAME = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name
# What each RPC needs; the server interceptor checks it before the servicer runs.
PERMISSIONS = rpc_permissions.declare(
    auth_pb2.DESCRIPTOR.services_by_name["AuthService"],
    {
        **dict.fromkeys(
            ("Login", "ChangePassword", "EnrollTotp", "VerifyTotp", "Refresh", "Logout"),
            rpc_permissions.PUBLIC,
        ),
        "IssueClientToken": rpc_permissions.PUBLIC,
        "GetJwks": rpc_permissions.PUBLIC,
        # Subjects and token families only, which every verifier polls before it has a token.
        "ListRevocations": rpc_permissions.PUBLIC,
        "RotateSigningKey": "admin:keys",
        "CreateUser": "admin:users",
        "ListUsers": "admin:users",
        "UpdateUser": "admin:users",
        "ResetPassword": "admin:users",
        "UnlockUser": "admin:users",
        "CreateRole": "admin:roles",
        "ListRoles": "admin:roles",
        "UpdateRole": "admin:roles",
        "CreateOrgUnit": "admin:org-units",
        "ListOrgUnits": "admin:org-units",
        "CreateApiClient": "admin:api-clients",
        "ListApiClients": "admin:api-clients",
        "RotateApiClientSecret": "admin:api-clients",
        "DisableApiClient": "admin:api-clients",
        "RecordAuditEvents": "audit:write",
        "ListAuditEvents": "audit:read",
        "VerifyAuditLog": "audit:read",
        "ListSecurityAlerts": "audit:read",
        "AcknowledgeSecurityAlert": "audit:read",
    },
)


def authenticator(settings: AuthSettings, db: Database) -> Callable[[Any], identity.Caller]:
    """Callers from access tokens checked against this service's own keys (no round trip to
    itself); the development identity only where the embedded mode enables it."""

    def own_jwks() -> dict[str, Any]:
        with db.session_scope(readonly=True) as session:
            return keys.jwks(session=session, settings=settings, now=datetime.now(UTC))

    def own_revocations() -> Revocations:
        with db.session_scope(readonly=True) as session:
            subjects, sessions = service.list_revocations(
                session=session, settings=settings, now=datetime.now(UTC)
            )
            return Revocations(
                versions={(r.kind, r.subject): r.version for r in subjects}, sessions=frozenset(sessions)
            )

    verifier = TokenVerifier(own_jwks, issuer=settings.issuer, fetch_revocations=own_revocations)
    return authn.authenticator(settings, verifier)


def create_server(
    settings: AuthSettings, db: Database
) -> tuple[grpc.Server, int, grpc_server.Readiness, AuditWriter]:
    """The auth gRPC server, not yet started, the port it is bound to, and its audit writer."""
    writer = AuditWriter(db, clock=lambda: datetime.now(UTC))
    authenticate = authenticator(settings, db)
    server, port, readiness = grpc_server.create_server(
        service=SERVICE,
        address=settings.listen_address,
        settings=settings,
        register=lambda server: auth_pb2_grpc.add_AuthServiceServicer_to_server(
            AuthServicer(db, settings, writer, authenticate=authenticate), server
        ),
        service_names=[SERVICE_NAME],
        ready_check=db.ping,
        authenticate=authenticate,
        permissions=PERMISSIONS,
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
