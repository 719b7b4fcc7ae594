"""Audit events of archive changes: written in the change's own transaction, shipped afterwards.

A change and its audit event commit together or not at all, so no change is ever left
unaudited and no event describes a change that rolled back. The transaction holds the
archive's write lock (and the journal's counter) only for database work, never across a call
to the auth service; a shipper thread sends the stored events to the central log in order, in
batches, and deletes them once recorded. When the log is unreachable, changes still succeed
and the events wait here (`crm_profile_audit_outbox_*` metrics) until it is back. An event
recorded centrally just before a crash may be sent again: the log can hold a duplicate, never
a gap. Each event carries `occurred_at`, the time of the change, in its details.

Reads are not changes: they stay audited synchronously before the data is returned.
"""

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from opentelemetry.instrumentation.utils import suppress_instrumentation
from prometheus_client import Gauge
from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import Session

from crm.auth.v1 import auth_pb2
from services.common.audit import AuditRecorder
from services.common.db import Database
from services.profile.models import OutboxEvent

log = logging.getLogger(__name__)

# The central log's limit of events per call.
BATCH = 100
MAX_BACKOFF_SECONDS = 30.0
# The metrics are refreshed at most this often: under load a batch is shipped after every commit.
MEASURE_SECONDS = 1.0

PENDING = Gauge("crm_profile_audit_outbox_pending", "Audit events of changes not yet in the central log.")
OLDEST = Gauge(
    "crm_profile_audit_outbox_oldest_seconds", "Age of the oldest audit event waiting to be shipped."
)


class Outbox:
    """Adds change events to units of work and ships them to the central log from one thread."""

    def __init__(self, db: Database, recorder: AuditRecorder, poll_seconds: float = 1.0) -> None:
        self._db = db
        self._recorder = recorder
        self._poll = poll_seconds
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._measured = float("-inf")
        self._thread = threading.Thread(target=self._run, name="audit-outbox", daemon=True)

    def add(self, session: Session, **fields: Any) -> None:
        """Add the event (AuditRecorder.event's arguments) to the session's unit of work."""
        now = datetime.now(UTC)
        details = dict(fields.pop("details", None) or {})
        details["occurred_at"] = now.isoformat().replace("+00:00", "Z")
        message = self._recorder.event(details=details, **fields)
        session.add(OutboxEvent(event=message.SerializeToString(), created_at=now))
        if not event.contains(session, "after_commit", self._after_commit):
            event.listen(session, "after_commit", self._after_commit)

    def _after_commit(self, session: Session) -> None:
        self._wake.set()

    def start(self) -> None:
        """Ship in the background from now on."""
        self._thread.start()

    def stop(self) -> None:
        """Stop shipping after one last attempt; what is left is shipped at the next start."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()

    def ship_once(self) -> int:
        """Send the oldest waiting events (at most BATCH) and delete them; how many were sent."""
        if self._db.engine.dialect.name == "postgresql":
            # Replicas each take rows no other replica holds; the row locks block no change.
            with self._db.session_scope() as session:
                rows = list(session.scalars(_oldest().with_for_update(skip_locked=True)))
                self._send(session, rows)
            return len(rows)
        # SQLite has one writer process, and a transaction here would hold the archive's only
        # write lock across the call: read, send, then delete.
        with self._db.session_scope(readonly=True) as session:
            rows = list(session.scalars(_oldest()))
        if rows:
            with self._db.session_scope() as session:
                self._send(session, rows)
        return len(rows)

    def _send(self, session: Session, rows: list[OutboxEvent]) -> None:
        if not rows:
            return
        events = [auth_pb2.AuditEvent.FromString(r.event) for r in rows]
        self._recorder.ship(events)
        session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_([r.id for r in rows])))

    def _measure(self) -> None:
        if time.monotonic() - self._measured < MEASURE_SECONDS:
            return
        self._measured = time.monotonic()
        try:
            with self._db.session_scope(readonly=True) as session:
                count, oldest = session.execute(select(func.count(), func.min(OutboxEvent.created_at))).one()
        except Exception:  # noqa: BLE001 - metrics only; the archive's own errors surface elsewhere
            log.warning("audit outbox not measured", exc_info=True)
            return
        PENDING.set(count)
        OLDEST.set((datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0)

    def _run(self) -> None:
        # Background work of no request: its statements would each start a trace of their own.
        with suppress_instrumentation():
            self._loop()

    def _loop(self) -> None:
        backoff = self._poll
        while True:
            self._wake.clear()
            try:
                sent = self.ship_once()
            except Exception:  # noqa: BLE001 - the log may be down; the events wait here
                log.warning("audit events not shipped yet; retrying in %.1f s", backoff, exc_info=True)
                self._measure()
                if self._stopping.wait(backoff):
                    return
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            backoff = self._poll
            if self._stopping.is_set():
                return
            if sent < BATCH:
                self._measure()
                self._wake.wait(self._poll)


def _oldest() -> Any:
    return select(OutboxEvent).order_by(OutboxEvent.id).limit(BATCH)
