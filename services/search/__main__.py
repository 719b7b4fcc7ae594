"""Entry point: `python -m services.search [serve|rebuild|status]`."""

import argparse
import json
import sys

from crm.search.v1 import search_pb2, search_pb2_grpc
from services.common import grpc_client, identity, metrics, telemetry
from services.common import logging as crm_logging
from services.search import server
from services.search.backend import open_backend
from services.search.settings import SearchSettings

ADMIN = identity.Caller(
    id="ops:search-cli", kind="service", scope="all", permissions=("search:rebuild", "search:status")
)


def main() -> None:
    """Serve, or ask a running search service to rebuild / report its index."""
    parser = argparse.ArgumentParser(prog="python -m services.search")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "rebuild", "status"])
    args = parser.parse_args()
    settings = SearchSettings()
    crm_logging.setup(server.SERVICE, settings.log_level)
    if args.command == "serve":
        telemetry.setup(server.SERVICE)
        metrics.serve_metrics(settings.metrics_port, settings.metrics_host())
        server.serve(settings, open_backend(settings))
        return
    with grpc_client.channel(settings.listen_address, settings) as channel:
        stub = search_pb2_grpc.SearchServiceStub(channel)
        md = ADMIN.to_metadata()
        if args.command == "rebuild":
            stub.RebuildIndex(search_pb2.RebuildIndexRequest(), metadata=md, timeout=10)
        status = stub.GetIndexStatus(search_pb2.GetIndexStatusRequest(), metadata=md, timeout=10)
        report = {
            "backend": status.backend,
            "documents": status.documents,
            "position": status.position,
            "head_position": status.head_position,
            "rebuilding": status.rebuilding,
            "rebuilt_documents": status.rebuilt_documents,
        }
        sys.stdout.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    main()
