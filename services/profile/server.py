"""Builds and runs the profile service's gRPC server."""

import logging

import grpc

from crm.profile.v1 import profile_pb2, profile_pb2_grpc
from services.common import authn, grpc_server, page_tokens
from services.common.audit import AuditRecorder
from services.common.db import Database
from services.profile.keyring import Keyring
from services.profile.outbox import Outbox
from services.profile.servicer import PERMISSIONS, ProfileServicer
from services.profile.settings import ProfileSettings

log = logging.getLogger(__name__)
SERVICE = "profile"
# What the profile service asks of others: recording audit events.
SCOPES = ("audit:write",)
SERVICE_NAME = profile_pb2.DESCRIPTOR.services_by_name["ProfileService"].full_name


def audit_recorder(settings: ProfileSettings) -> AuditRecorder:
    """The recorder of this service's audit events, calling the auth service as itself."""
    credentials = authn.ServiceCredentials(settings, service=SERVICE, scopes=SCOPES)
    return AuditRecorder(
        settings.auth_addr,
        metadata=credentials.metadata,
        deadline_seconds=settings.rpc_deadline_seconds,
        source=SERVICE,
        settings=settings,
    )


def create_server(
    settings: ProfileSettings, db: Database, keyring: Keyring
) -> tuple[grpc.Server, int, grpc_server.Readiness, Outbox]:
    """The profile gRPC server, not yet started, the port it is bound to, and its audit outbox."""
    audit = audit_recorder(settings)
    outbox = Outbox(db, audit)
    servicer = ProfileServicer(db, settings, audit, keyring, outbox, page_tokens.from_settings(settings))
    server, port, readiness = grpc_server.create_server(
        service=SERVICE,
        address=settings.listen_address,
        settings=settings,
        register=lambda server: profile_pb2_grpc.add_ProfileServiceServicer_to_server(servicer, server),
        service_names=[SERVICE_NAME],
        ready_check=lambda: db.ping() and keyring.ping(),
        authenticate=authn.authenticator(settings),
        permissions=PERMISSIONS,
        audit=audit,
    )
    return server, port, readiness, outbox


def serve(settings: ProfileSettings, db: Database, keyring: Keyring) -> None:
    """Run the server until SIGTERM."""
    server, port, readiness, outbox = create_server(settings, db, keyring)
    log.info("profile service listening", extra={"port": port})
    outbox.start()
    try:
        grpc_server.serve(server, readiness, settings)
    finally:
        outbox.stop()
