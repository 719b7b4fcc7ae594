"""Keeps the index current from the profile service's change feed, and rebuilds it."""

import logging
import threading
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import json_format
from prometheus_client import Counter, Gauge

from crm.common.v1 import common_pb2
from crm.profile.v1 import profile_pb2 as pb
from crm.profile.v1 import profile_pb2_grpc
from services.search import documents
from services.search.backend import SearchBackend

# The feed's action for a privacy erasure (see proto ReadChanges): the customer is gone for good.
ERASED = "customer.erased"

log = logging.getLogger(__name__)

APPLIED = Counter("crm_search_feed_changes_total", "Change-feed entries applied to the index.")
LAG = Gauge("crm_search_feed_lag_changes", "Changes in the profile feed not yet in the index.")

# What the search service asks of the profile service.
SCOPES = ("feed:read", "customer:read", "audit:write")


def snapshot(customer: pb.Customer) -> dict[str, Any]:
    """A Customer message as the snapshot dict documents are built from."""
    return json_format.MessageToDict(customer, preserving_proto_field_name=True)


def batch_of(changes: list[pb.Change]) -> tuple[list[dict[str, Any]], list[str], dict[str, int]]:
    """Documents to write, ids to remove, and each one's feed position; the latest change wins."""
    latest: dict[str, pb.Change] = {}
    for change in changes:
        latest[change.customer_id] = change
    upserts, deletes = [], []
    for customer_id, change in latest.items():
        # Soft-deleted customers leave the index; erased ones arrive as a tombstone with no data.
        if change.action == ERASED or change.customer.HasField("deleted_at"):
            deletes.append(customer_id)
        else:
            upserts.append(documents.build(snapshot(change.customer)))
    return upserts, deletes, {customer_id: c.position for customer_id, c in latest.items()}


class Indexer:
    """Follows the feed from the backend's stored position; applies changes in order."""

    def __init__(
        self,
        backend: Callable[[], SearchBackend],
        profile: profile_pb2_grpc.ProfileServiceStub,
        *,
        batch: int,
        poll_seconds: float,
        deadline: float,
        credentials: Callable[[], list[tuple[str, str]]],
    ) -> None:
        self._credentials = credentials
        self._backend = backend
        self._profile = profile
        self._batch = batch
        self._poll = poll_seconds
        self._deadline = deadline
        self._stop = threading.Event()
        self.head_position = 0
        # Held while applying a batch, so a rebuild can swap the backend between batches.
        self.lock = threading.Lock()

    def read(self, after: int, limit: int) -> pb.ReadChangesResponse:
        """One page of the feed."""
        return self._profile.ReadChanges(
            pb.ReadChangesRequest(after_position=after, limit=limit),
            metadata=self._credentials(),
            timeout=self._deadline,
        )

    def step(self) -> int:
        """Apply the next batch of changes; returns how many were applied."""
        with self.lock:
            backend = self._backend()
            reply = self.read(backend.position(), self._batch)
            self.head_position = reply.head_position
            if not reply.changes:
                LAG.set(0)
                return 0
            upserts, deletes, versions = batch_of(list(reply.changes))
            backend.apply(upserts, deletes, reply.changes[-1].position, versions)
            APPLIED.inc(len(reply.changes))
            LAG.set(max(reply.head_position - reply.changes[-1].position, 0))
            return len(reply.changes)

    def run(self) -> None:
        """Follow the feed until stop(); a missing profile service only delays catching up."""
        backoff = self._poll
        while not self._stop.is_set():
            try:
                applied = self.step()
                backoff = self._poll
            except grpc.RpcError as exc:
                log.warning("change feed unavailable: %s; retrying in %.1fs", exc.code(), backoff)
                applied = 0
                backoff = min(backoff * 2, 5.0)
            if not applied:
                self._stop.wait(backoff)

    def start(self) -> threading.Thread:
        """Run in a daemon thread."""
        thread = threading.Thread(target=self.run, name="indexer", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """Stop after the current batch."""
        self._stop.set()

    def rebuild(
        self,
        live: SearchBackend,
        swap: Callable[[SearchBackend], None],
        progress: Callable[[int], None],
    ) -> None:
        """Fill a fresh index from the archive, catch it up with the feed, then swap it in."""
        fresh = live.begin_rebuild()
        head = self.read(0, 1).head_position
        token, done = "", 0
        while True:
            page = self._profile.ListCustomers(
                pb.ListCustomersRequest(
                    order_by="created_at",
                    page=common_pb2.PageRequest(page_size=200, page_token=token),
                ),
                metadata=self._credentials(),
                timeout=self._deadline,
            )
            docs = [documents.build(snapshot(c)) for c in page.customers]
            fresh.apply(docs, [], 0)
            done += len(docs)
            progress(done)
            token = page.page.next_page_token
            if not token:
                break
        # Changes made during the copy are replayed from the head read before it began.
        fresh.apply([], [], head)
        with self.lock:
            while True:
                reply = self.read(fresh.position(), self._batch)
                if not reply.changes:
                    break
                upserts, deletes, versions = batch_of(list(reply.changes))
                fresh.apply(upserts, deletes, reply.changes[-1].position, versions)
            swap(fresh)
        live.finish_rebuild(fresh)
