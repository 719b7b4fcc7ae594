"""Builds and runs the tagging service's gRPC server (and its profile feed follower)."""

import logging

import grpc

from crm.profile.v1 import profile_pb2_grpc
from crm.tagging.v1 import tagging_pb2, tagging_pb2_grpc
from services.common import authn, grpc_client, grpc_server, page_tokens
from services.common.audit import AuditRecorder
from services.common.db import Database
from services.tagging.follower import SCOPES, Follower
from services.tagging.servicer import PERMISSIONS, TaggingServicer
from services.tagging.settings import TaggingSettings

log = logging.getLogger(__name__)
SERVICE = "tagging"
SERVICE_NAME = tagging_pb2.DESCRIPTOR.services_by_name["TaggingService"].full_name


def create_server(
    settings: TaggingSettings, db: Database
) -> tuple[grpc.Server, int, grpc_server.Readiness, Follower | None]:
    """The tagging gRPC server and, when this replica follows the profile feed, its follower."""
    credentials = authn.ServiceCredentials(settings, service=SERVICE, scopes=SCOPES)
    audit = AuditRecorder(
        settings.auth_addr,
        metadata=credentials.metadata,
        deadline_seconds=settings.rpc_deadline_seconds,
        source=SERVICE,
        settings=settings,
    )
    follower = None
    if settings.run_follower:
        channel = grpc_client.channel(settings.profile_addr, settings)
        follower = Follower(
            db,
            profile_pb2_grpc.ProfileServiceStub(channel),
            batch=settings.feed_batch,
            poll_seconds=settings.feed_poll_seconds,
            deadline=settings.rpc_deadline_seconds,
            credentials=credentials.metadata,
        )
    servicer = TaggingServicer(db, audit, page_tokens.from_settings(settings))
    server, port, readiness = grpc_server.create_server(
        service=SERVICE,
        address=settings.listen_address,
        settings=settings,
        register=lambda s: tagging_pb2_grpc.add_TaggingServiceServicer_to_server(servicer, s),
        service_names=[SERVICE_NAME],
        ready_check=db.ping,
        authenticate=authn.authenticator(settings),
        permissions=PERMISSIONS,
        audit=audit,
    )
    return server, port, readiness, follower


def serve(settings: TaggingSettings, db: Database) -> None:
    """Run the server (and follower) until SIGTERM."""
    server, port, readiness, follower = create_server(settings, db)
    if follower is not None:
        follower.start()
    log.info("tagging service listening", extra={"port": port})
    try:
        grpc_server.serve(server, readiness, settings)
    finally:
        if follower is not None:
            follower.stop()
