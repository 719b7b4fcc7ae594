"""Follows the profile service's change feed into the analytics read model (as tagging's
follower does): resumes after the stored position, applies each batch in one transaction, then
moves on. A restarted service catches up from where it stopped."""

import logging
import threading
from collections.abc import Callable
from datetime import UTC

import grpc
from google.protobuf import json_format

from crm.profile.v1 import profile_pb2 as pb
from crm.profile.v1 import profile_pb2_grpc
from services.analytics import metrics, readmodel
from services.common.db import Database

log = logging.getLogger(__name__)

# What the analytics service asks of the profile and auth services.
SCOPES = ("feed:read", "audit:write")


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
            metrics.FEED_LAG.set(0)
            return 0
        entries = [
            readmodel.FeedEntry(
                position=c.position,
                customer_id=c.customer_id,
                action=c.action,
                at=c.at.ToDatetime(tzinfo=UTC) if c.HasField("at") else None,
                snapshot=json_format.MessageToDict(c.customer, preserving_proto_field_name=True),
            )
            for c in reply.changes
        ]
        with self._db.session_scope() as session:
            if not readmodel.claim(session, after=after):
                return 0
            readmodel.apply(session, entries=entries, head=entries[-1].position)
        metrics.FEED_APPLIED.inc(len(entries))
        metrics.FEED_LAG.set(max(reply.head_position - entries[-1].position, 0))
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
