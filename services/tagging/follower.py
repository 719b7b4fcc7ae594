"""Follows the profile service's change feed into the tagging read model (as search's indexer
does): resumes after the stored position, applies each batch in one transaction, then moves on."""

import logging
import threading
from collections.abc import Callable

import grpc
from google.protobuf import json_format
from prometheus_client import Counter, Gauge

from crm.profile.v1 import profile_pb2 as pb
from crm.profile.v1 import profile_pb2_grpc
from services.common.db import Database
from services.tagging import readmodel, service

log = logging.getLogger(__name__)

APPLIED = Counter("crm_tagging_feed_changes_total", "Profile change-feed entries applied to the read model.")
LAG = Gauge("crm_tagging_feed_lag_changes", "Changes in the profile feed not yet in the read model.")

# What the tagging service asks of the profile and auth services.
SCOPES = ("feed:read", "customer:read", "related:read", "audit:write")


class Follower:
    """Reads the profile feed and applies it to the read model, batch by batch."""

    def __init__(
        self,
        db: Database,
        profile: profile_pb2_grpc.ProfileServiceStub,
        *,
        batch: int,
        poll_seconds: float,
        deadline: float,
        credentials: Callable[[], list[tuple[str, str]]],
    ) -> None:
        self._db = db
        self._profile = profile
        self._batch = batch
        self._poll = poll_seconds
        self._deadline = deadline
        self._credentials = credentials
        self._stop = threading.Event()
        self.head_position = 0

    def _pages(self, rpc: Callable[..., object], field: str, customer_id: str) -> list[dict[str, object]]:
        """Every record of one related kind of a customer."""
        items: list[dict[str, object]] = []
        token = ""
        while True:
            reply = rpc(
                pb.ListRelatedRequest(customer_id=customer_id, page={"page_size": 200, "page_token": token}),
                metadata=self._credentials(),
                timeout=self._deadline,
            )
            items += [
                json_format.MessageToDict(m, preserving_proto_field_name=True) for m in getattr(reply, field)
            ]
            token = reply.page.next_page_token  # type: ignore[attr-defined]
            if not token:
                return items

    def behaviour(self, customer_id: str) -> readmodel.Behaviour | None:
        """A customer's interactions and orders; None when the customer is gone meanwhile."""
        try:
            return readmodel.Behaviour(
                interactions=self._pages(self._profile.ListInteractions, "interactions", customer_id),
                orders=self._pages(self._profile.ListOrders, "orders", customer_id),
            )
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    def step(self) -> int:
        """Apply the next batch of changes; returns how many feed entries were applied."""
        with self._db.session_scope(readonly=True) as session:
            after = readmodel.position(session)
        reply = self._profile.ReadChanges(
            pb.ReadChangesRequest(after_position=after, limit=self._batch),
            metadata=self._credentials(),
            timeout=self._deadline,
        )
        self.head_position = reply.head_position
        if not reply.changes:
            LAG.set(0)
            return 0
        entries = [
            readmodel.FeedEntry(
                position=c.position,
                customer_id=c.customer_id,
                action=c.action,
                snapshot=json_format.MessageToDict(c.customer, preserving_proto_field_name=True),
            )
            for c in reply.changes
        ]
        latest = {e.customer_id: e for e in entries}
        wanted = {e.customer_id for e in entries if readmodel.needs_behaviour(e)}
        behaviour = {}
        for customer_id in sorted(wanted):
            if not readmodel.needs_behaviour(latest[customer_id]):
                continue
            found = self.behaviour(customer_id)
            if found is not None:
                behaviour[customer_id] = found
        with self._db.session_scope() as session:
            if not readmodel.claim(session, after=after):
                return 0
            readmodel.apply(
                session, entries=entries, behaviour=behaviour, head=entries[-1].position, at=service.now()
            )
        APPLIED.inc(len(entries))
        LAG.set(max(reply.head_position - entries[-1].position, 0))
        return len(entries)

    def run(self) -> None:
        """Follow the feed until stop(); a missing profile service only delays catching up."""
        backoff = self._poll
        while not self._stop.is_set():
            try:
                applied = self.step()
                backoff = self._poll
            except grpc.RpcError as exc:
                log.warning("profile change feed unavailable: %s; retrying in %.1fs", exc.code(), backoff)
                applied = 0
                backoff = min(backoff * 2, 5.0)
            except Exception:
                log.exception("could not apply a batch of the profile feed; retrying")
                applied = 0
                backoff = min(backoff * 2, 5.0)
            if not applied:
                self._stop.wait(backoff)

    def start(self) -> threading.Thread:
        """Run in a daemon thread."""
        thread = threading.Thread(target=self.run, name="profile-feed", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """Stop after the current batch."""
        self._stop.set()
