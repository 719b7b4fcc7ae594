"""Builds and runs the search service's gRPC server (and its indexer)."""

import logging

import grpc

from crm.profile.v1 import profile_pb2_grpc
from crm.search.v1 import search_pb2, search_pb2_grpc
from crm.tagging.v1 import tagging_pb2_grpc
from services.common import authn, grpc_client, grpc_server, page_tokens
from services.common.audit import AuditRecorder
from services.search.backend import SearchBackend
from services.search.indexer import SCOPES, Indexer
from services.search.servicer import PERMISSIONS, LiveIndex, SearchServicer
from services.search.settings import SearchSettings

log = logging.getLogger(__name__)
SERVICE = "search"
SERVICE_NAME = search_pb2.DESCRIPTOR.services_by_name["SearchService"].full_name


def create_server(
    settings: SearchSettings, backend: SearchBackend
) -> tuple[grpc.Server, int, grpc_server.Readiness, Indexer | None]:
    """The search gRPC server and, when this replica indexes, its indexer (not started)."""
    live = LiveIndex(backend)
    credentials = authn.ServiceCredentials(settings, service=SERVICE, scopes=SCOPES)
    audit = AuditRecorder(
        settings.auth_addr,
        metadata=credentials.metadata,
        deadline_seconds=settings.rpc_deadline_seconds,
        source=SERVICE,
        settings=settings,
    )
    indexer = None
    if settings.run_indexer:
        channel = grpc_client.channel(settings.profile_addr, settings)
        tagging = None
        if settings.tagging_addr:
            tagging_channel = grpc_client.channel(settings.tagging_addr, settings)
            tagging = tagging_pb2_grpc.TaggingServiceStub(tagging_channel)
        indexer = Indexer(
            lambda: live.backend,
            profile_pb2_grpc.ProfileServiceStub(channel),
            batch=settings.feed_batch,
            poll_seconds=settings.feed_poll_seconds,
            deadline=settings.rpc_deadline_seconds,
            credentials=credentials.metadata,
            tagging=tagging,
        )
    servicer = SearchServicer(live, indexer, audit, page_tokens.from_settings(settings))
    server, port, readiness = grpc_server.create_server(
        service=SERVICE,
        address=settings.listen_address,
        settings=settings,
        register=lambda s: search_pb2_grpc.add_SearchServiceServicer_to_server(servicer, s),
        service_names=[SERVICE_NAME],
        ready_check=lambda: _answers(live),
        authenticate=authn.authenticator(settings),
        permissions=PERMISSIONS,
        audit=audit,
    )
    return server, port, readiness, indexer


def _answers(live: LiveIndex) -> bool:
    try:
        live.backend.count()
    except Exception:  # noqa: BLE001 - readiness only reports
        return False
    return True


def serve(settings: SearchSettings, backend: SearchBackend) -> None:
    """Run the server (and indexer) until SIGTERM."""
    server, port, readiness, indexer = create_server(settings, backend)
    if indexer is not None:
        indexer.start()
    log.info("search service listening", extra={"port": port, "backend": backend.name})
    try:
        grpc_server.serve(server, readiness, settings)
    finally:
        if indexer is not None:
            indexer.stop()
        backend.close()
