"""Group commit for the audit log: one thread records the events of many concurrent calls at once.

Every append holds the chain head's lock until it commits, so concurrent recorders queue on it
(SQLite makes them poll for it, sleeping up to 100 ms between tries). Instead, each call hands
its events to this process's writer and waits; the writer records whatever calls are waiting
in one transaction and answers each only after the commit. An action is still never reported
done before its event is durable, and one commit serves many events.
"""

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

import grpc
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from prometheus_client import Histogram

from services.auth import alerts, audit
from services.auth.settings import AuthSettings
from services.common.db import Database
from services.common.errors import DomainError
from services.common.identity import Caller

log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)

# Events per transaction: large enough to absorb a burst, small enough to keep commits short.
MAX_EVENTS_PER_COMMIT = 1000
# Customer rows per transaction (reads list the customers they returned): a commit takes more
# calls only while it holds fewer.
MAX_CUSTOMERS_PER_COMMIT = 20_000
# Far beyond any caller's deadline: only a writer that stopped working makes a call wait this long.
WAIT_SECONDS = 30.0


class WriterStalled(DomainError):
    """The writer did not commit in time; the events may or may not be recorded."""

    code = grpc.StatusCode.UNAVAILABLE


COMMIT_EVENTS = Histogram(
    "crm_auth_audit_commit_events",
    "Audit events recorded per group commit.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)


@dataclass
class _Call:
    recorder: Caller
    events: list[audit.NewEvent]
    # The caller's span: the commit's span links to every call it served.
    context: trace.SpanContext
    seqs: "Future[list[int]]" = field(default_factory=Future)


class AuditWriter:
    """Records other services' events through one writer thread; `record` blocks until committed.

    `rules` are the anomaly rules the events are checked against; without them, those of the
    environment's AuthSettings.
    """

    def __init__(
        self, db: Database, clock: Callable[[], datetime], rules: alerts.Rules | None = None
    ) -> None:
        self._db = db
        self._clock = clock
        self._rules = rules or alerts.Rules.from_settings(AuthSettings())
        self._queue: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def record(self, *, recorder: Caller, events: list[audit.NewEvent]) -> list[int]:
        """The events' seqs once they are committed; InvalidArgument (nothing queued) if invalid."""
        audit.check(events)
        call = _Call(recorder, events, trace.get_current_span().get_span_context())
        self._queue.put(call)
        try:
            return call.seqs.result(timeout=WAIT_SECONDS)
        except TimeoutError:
            log.error("the audit writer did not answer in %.0f s", WAIT_SECONDS)
            raise WriterStalled("the audit log did not record the events in time") from None

    def close(self) -> None:
        """Record what is queued, then stop the writer."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch, count, customers = [first], len(first.events), _customers(first)
            while count < MAX_EVENTS_PER_COMMIT and customers < MAX_CUSTOMERS_PER_COMMIT:
                try:
                    call = self._queue.get_nowait()
                except queue.Empty:
                    break
                if call is None:
                    stopping = True
                    break
                batch.append(call)
                count += len(call.events)
                customers += _customers(call)
            self._commit(batch)

    def _commit(self, batch: list[_Call]) -> None:
        links = [trace.Link(c.context) for c in batch if c.context.is_valid]
        try:
            # One span per commit; its SQL statements are not traced one by one (they cost more
            # than the statements).
            with (
                _tracer.start_as_current_span("audit.commit", links=links),
                suppress_instrumentation(),
                self._db.session_scope() as session,
            ):
                seqs = audit.record_checked(
                    session=session,
                    calls=[(c.recorder, c.events) for c in batch],
                    clock=self._clock,
                    rules=self._rules,
                )
        except Exception as exc:  # noqa: BLE001 - the callers get the error
            if len(batch) > 1:
                # One call's failure must not fail the others: record them one by one.
                for call in batch:
                    self._commit([call])
                return
            log.error("audit events not recorded", exc_info=exc)
            batch[0].seqs.set_exception(exc)
            return
        COMMIT_EVENTS.observe(sum(len(c.events) for c in batch))
        for call, call_seqs in zip(batch, seqs, strict=True):
            call.seqs.set_result(call_seqs)


def _customers(call: _Call) -> int:
    return sum(len(e.customers) for e in call.events)
