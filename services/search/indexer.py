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
from crm.tagging.v1 import tagging_pb2 as tg
from crm.tagging.v1 import tagging_pb2_grpc
from services.search import documents
from services.search.backend import BackendUnavailable, SearchBackend

# The feed's action for a privacy erasure (see proto ReadChanges): the customer is gone for good.
ERASED = "customer.erased"

log = logging.getLogger(__name__)

APPLIED = Counter("crm_search_feed_changes_total", "Change-feed entries applied to the index.")
LAG = Gauge("crm_search_feed_lag_changes", "Changes in the profile feed not yet in the index.")
TAGS_APPLIED = Counter("crm_search_tag_changes_total", "Tag change-feed entries applied to the index.")
TAGS_FALLBACK = Counter(
    "crm_search_tags_from_index_total", "Batches indexed with the indexed tags while tagging was unreachable."
)

# What the search service asks of the profile and tagging services.
SCOPES = ("feed:read", "customer:read", "tag:read", "audit:write")
TAG_FEED = "tags"


def snapshot(customer: pb.Customer) -> dict[str, Any]:
    """A Customer message as the snapshot dict documents are built from."""
    return json_format.MessageToDict(customer, preserving_proto_field_name=True)


def batch_of(
    changes: list[pb.Change], tags: Callable[[list[str]], dict[str, list[str]]] | None = None
) -> tuple[list[dict[str, Any]], list[str], dict[str, int]]:
    """Documents to write, ids to remove, and each one's feed position; the latest change wins.

    `tags` gives the current tag names of customers (from the tagging service), when it is used.
    """
    latest: dict[str, pb.Change] = {}
    for change in changes:
        latest[change.customer_id] = change
    gone = {
        c for c, change in latest.items() if change.action == ERASED or change.customer.HasField("deleted_at")
    }
    names = tags([c for c in latest if c not in gone]) if tags is not None else {}
    upserts, deletes = [], []
    for customer_id, change in latest.items():
        # Soft-deleted customers leave the index; erased ones arrive as a tombstone with no data.
        if customer_id in gone:
            deletes.append(customer_id)
        else:
            upserts.append(documents.build(snapshot(change.customer), names.get(customer_id)))
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
        tagging: tagging_pb2_grpc.TaggingServiceStub | None = None,
    ) -> None:
        self._credentials = credentials
        self._tagging = tagging
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

    def tags(self, customer_ids: list[str]) -> dict[str, list[str]]:
        """The current tag names of customers, from the tagging service."""
        if self._tagging is None or not customer_ids:
            return {}
        found: dict[str, list[str]] = {}
        for start in range(0, len(customer_ids), 1000):
            reply = self._tagging.ListCustomerTags(
                tg.ListCustomerTagsRequest(customer_ids=customer_ids[start : start + 1000]),
                metadata=self._credentials(),
                timeout=self._deadline,
            )
            found.update({c.customer_id: [t.name for t in c.tags] for c in reply.customers})
        return found

    def step(self) -> int:
        """Apply the next batch of profile changes, then of tag changes; returns how many."""
        with self.lock:
            backend = self._backend()
            reply = self.read(backend.position(), self._batch)
            self.head_position = reply.head_position
            applied = 0
            if reply.changes:
                tags = self._tags_or_indexed(backend) if self._tagging is not None else None
                upserts, deletes, versions = batch_of(list(reply.changes), tags)
                backend.apply(upserts, deletes, reply.changes[-1].position, versions)
                APPLIED.inc(len(reply.changes))
                applied = len(reply.changes)
            LAG.set(max(reply.head_position - reply.changes[-1].position, 0) if reply.changes else 0)
            if self._tagging is not None:
                try:
                    applied += self.step_tags(backend)
                except grpc.RpcError as exc:
                    log.warning("tag feed unavailable: %s; indexing customers' changes meanwhile", exc.code())
            return applied

    def _tags_or_indexed(self, backend: SearchBackend) -> Callable[[list[str]], dict[str, list[str]]]:
        """Current tags from the tagging service; while it is unreachable, the tags the index
        already holds, so customers' own changes still become searchable. The tag feed, which
        resumes from its stored position, brings the tags up to date afterwards."""

        def lookup(customer_ids: list[str]) -> dict[str, list[str]]:
            try:
                return self.tags(customer_ids)
            except grpc.RpcError as exc:
                log.warning("tagging unavailable: %s; keeping the indexed tags", exc.code())
                TAGS_FALLBACK.inc()
                return {cid: list(d.get("tags") or []) for cid, d in backend.sources(customer_ids).items()}

        return lookup

    def step_tags(self, backend: SearchBackend) -> int:
        """Apply the next batch of the tagging service's feed: each changed customer's document
        is rebuilt from its stored display with its new tags (absent customers are skipped: their
        document is written from the profile feed with the tags current then)."""
        assert self._tagging is not None
        after = backend.feed_position(TAG_FEED)
        reply = self._tagging.ReadTagChanges(
            tg.ReadTagChangesRequest(after_position=after, limit=self._batch),
            metadata=self._credentials(),
            timeout=self._deadline,
        )
        if not reply.changes:
            return 0
        latest = {c.customer_id: list(c.tags) for c in reply.changes}
        shown = backend.sources(list(latest))
        upserts = [documents.build(display, latest[customer_id]) for customer_id, display in shown.items()]
        if upserts:
            backend.apply(upserts, [], backend.position())
        backend.set_feed_position(TAG_FEED, reply.changes[-1].position)
        TAGS_APPLIED.inc(len(reply.changes))
        return len(reply.changes)

    def run(self) -> None:
        """Follow the feed until stop(); a missing profile service or engine only delays catching up.

        A failed step records nothing, so the next one starts again from the last position the
        index holds: changes made meanwhile are read from the feed, none is skipped.
        """
        backoff = self._poll
        while not self._stop.is_set():
            try:
                applied = self.step()
            except grpc.RpcError as exc:
                log.warning("change feed unavailable: %s; retrying in %.1fs", exc.code(), backoff)
            except BackendUnavailable as exc:
                log.warning("search index unavailable: %s; retrying in %.1fs", exc, backoff)
            except Exception:  # noqa: BLE001 - a dead indexer thread would stop indexing silently
                log.exception("indexing a batch failed; retrying in %.1fs", backoff)
            else:
                backoff = self._poll
                if not applied:
                    self._stop.wait(backoff)
                continue
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 5.0)

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
        tag_head = 0
        if self._tagging is not None:
            tag_head = self._tagging.ReadTagChanges(
                tg.ReadTagChangesRequest(after_position=0, limit=1),
                metadata=self._credentials(),
                timeout=self._deadline,
            ).head_position
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
            names = self.tags([c.id for c in page.customers])
            docs = [documents.build(snapshot(c), names.get(c.id)) for c in page.customers]
            fresh.apply(docs, [], 0)
            done += len(docs)
            progress(done)
            token = page.page.next_page_token
            if not token:
                break
        # Changes made during the copy are replayed from the head read before it began.
        fresh.apply([], [], head)
        fresh.set_feed_position(TAG_FEED, tag_head)
        with self.lock:
            tags = self.tags if self._tagging is not None else None
            while True:
                reply = self.read(fresh.position(), self._batch)
                if not reply.changes:
                    break
                upserts, deletes, versions = batch_of(list(reply.changes), tags)
                fresh.apply(upserts, deletes, reply.changes[-1].position, versions)
            while self._tagging is not None and self.step_tags(fresh):
                pass
            swap(fresh)
        live.finish_rebuild(fresh)
