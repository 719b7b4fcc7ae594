"""SearchService: translates between protobuf messages and the search domain."""

import threading
from typing import Any

from google.protobuf import json_format

from crm.search.v1 import search_pb2 as pb
from crm.search.v1 import search_pb2_grpc
from services.common import identity, rpc_permissions
from services.common.audit import AuditRecorder
from services.common.errors import FailedPrecondition
from services.common.page_tokens import PageTokens
from services.search import service
from services.search.backend import SearchBackend
from services.search.indexer import Indexer

# What each RPC needs; the server interceptor checks it before the servicer runs.
PERMISSIONS = rpc_permissions.declare(
    pb.DESCRIPTOR.services_by_name["SearchService"],
    {
        "SearchCustomers": "customer:read",
        "SuggestCustomers": "customer:read",
        "RebuildIndex": "search:rebuild",
        # Counts and feed positions: operational, but the count of every customer is no rep's business.
        "GetIndexStatus": "search:status",
    },
)


class LiveIndex:
    """The backend searches use now; a finished rebuild swaps it atomically."""

    def __init__(self, backend: SearchBackend) -> None:
        self.backend = backend
        self.rebuilding = False
        self.rebuilt = 0

    def swap(self, backend: SearchBackend) -> None:
        """Serve from another backend from now on."""
        self.backend = backend


_HIT_TEXT = tuple(
    f.name for f in pb.CustomerHit.DESCRIPTOR.fields if f.type == f.TYPE_STRING and not f.is_repeated
)
_HIT_TIMES = ("last_order_at", "last_follow_up_at", "created_at")


def _hit(data: dict[str, Any]) -> pb.CustomerHit:
    """A shaped hit as its message, field by field (json_format took longer than the search)."""
    hit = pb.CustomerHit(
        **{name: data[name] for name in _HIT_TEXT if data.get(name)},
        contacts=[
            pb.ContactHit(name=c["name"], phones=c.get("phones") or [], emails=c.get("emails") or [])
            for c in data.get("contacts") or []
        ],
        tags=data.get("tags") or [],
        score=data.get("score") or 0.0,
        highlights=data.get("highlights") or {},
    )
    for name in _HIT_TIMES:
        if data.get(name):
            getattr(hit, name).FromJsonString(data[name])
    return hit


class SearchServicer(search_pb2_grpc.SearchServiceServicer):
    """The gRPC face of search."""

    def __init__(
        self, live: LiveIndex, indexer: Indexer | None, audit: AuditRecorder, tokens: PageTokens
    ) -> None:
        self._live = live
        self._indexer = indexer
        self._audit = audit
        self._tokens = tokens

    def SearchCustomers(self, request: pb.SearchCustomersRequest, context: Any) -> pb.SearchCustomersResponse:
        caller = identity.current()
        query = ["search", request.query, json_format.MessageToDict(request.filter), request.sort]
        prepared = service.prepare(
            caller=caller,
            text=request.query,
            cond=request.filter if request.HasField("filter") else None,
            sort=request.sort,
            size=request.page_size,
            token=self._tokens.open(request.page_token, caller=caller, query=query),
            facets=list(request.facets),
        )
        page = service.run(self._live.backend, prepared)
        # Recorded with the customers it found, before anything is answered. The query text
        # itself may hold personal data (a phone number): only its shape is kept.
        self._audit.record(
            caller=identity.current(),
            action="customer.search",
            target="customers",
            details={
                "query_length": len(request.query),
                "filtered": request.HasField("filter"),
                "sort": request.sort,
                "page_size": prepared.size,
                "facets": list(request.facets),
            },
            customers=[h["id"] for h in page.hits],
        )
        return pb.SearchCustomersResponse(
            hits=[_hit(h) for h in page.hits],
            total=page.total,
            next_page_token=self._tokens.seal(page.next_token, caller=caller, query=query),
            facets=[
                pb.Facet(name=name, buckets=[pb.FacetBucket(value=v, count=c) for v, c in buckets])
                for name, buckets in _facet_names(page.facets).items()
            ],
        )

    def SuggestCustomers(
        self, request: pb.SuggestCustomersRequest, context: Any
    ) -> pb.SuggestCustomersResponse:
        found = service.suggest(
            backend=self._live.backend, caller=identity.current(), prefix=request.prefix, limit=request.limit
        )
        self._audit.record(
            caller=identity.current(),
            action="customer.suggest",
            target="customers",
            details={"query_length": len(request.prefix)},
            customers=[s["customer_id"] for s in found],
        )
        return pb.SuggestCustomersResponse(suggestions=[pb.Suggestion(**s) for s in found])

    def RebuildIndex(self, request: pb.RebuildIndexRequest, context: Any) -> pb.RebuildIndexResponse:
        if self._indexer is None:
            raise FailedPrecondition("this replica does not run the indexer")
        if self._live.rebuilding:
            return pb.RebuildIndexResponse(started=False)
        self._live.rebuilding, self._live.rebuilt = True, 0

        def run() -> None:
            try:
                assert self._indexer is not None
                self._indexer.rebuild(self._live.backend, self._live.swap, self._progress)
            finally:
                self._live.rebuilding = False

        threading.Thread(target=run, name="rebuild", daemon=True).start()
        return pb.RebuildIndexResponse(started=True)

    def _progress(self, done: int) -> None:
        self._live.rebuilt = done

    def GetIndexStatus(self, request: pb.GetIndexStatusRequest, context: Any) -> pb.GetIndexStatusResponse:
        backend = self._live.backend
        return pb.GetIndexStatusResponse(
            backend=backend.name,
            documents=backend.count(),
            position=backend.position(),
            head_position=self._indexer.head_position if self._indexer else 0,
            rebuilding=self._live.rebuilding,
            rebuilt_documents=self._live.rebuilt,
        )


def _facet_names(facets: dict[str, list[tuple[str, int]]]) -> dict[str, list[tuple[str, int]]]:
    names = {index_field: name for name, index_field in service.q.FACETS.items()}
    return {names[f]: buckets for f, buckets in facets.items()}
