"""Builds and runs the auth service's gRPC server."""

import logging

import grpc

from crm.auth.v1 import auth_pb2, auth_pb2_grpc
from services.auth.servicer import PUBLIC_METHODS, AuthServicer
from services.auth.settings import AuthSettings
from services.common import grpc_server
from services.common.db import Database

log = logging.getLogger(__name__)
SERVICE = "auth"
SERVICE_NAME = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name


def create_server(settings: AuthSettings, db: Database) -> tuple[grpc.Server, int, grpc_server.Readiness]:
    """The auth gRPC server, not yet started, and the port it is bound to."""
    servicer = AuthServicer(db, settings)
    return grpc_server.create_server(
        service=SERVICE,
        address=settings.listen_address,
        register=lambda server: auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, server),
        service_names=[SERVICE_NAME],
        ready_check=db.ping,
        public_methods=PUBLIC_METHODS,
    )


def serve(settings: AuthSettings, db: Database) -> None:
    """Run the server until SIGTERM."""
    server, port, readiness = create_server(settings, db)
    log.info("auth service listening", extra={"port": port})
    grpc_server.serve(server, readiness, settings)
