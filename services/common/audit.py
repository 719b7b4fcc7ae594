"""Recording audit events in the auth service's central log, for every service.

An audited action must not complete unless its event is recorded: `AuditRecorder.record`
calls the log synchronously and raises `AuditUnavailable` when it cannot, so the caller's unit
of work rolls back and the client sees UNAVAILABLE.
"""

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import grpc

from crm.auth.v1 import auth_pb2, auth_pb2_grpc
from services.common import grpc_client, telemetry
from services.common.errors import DomainError
from services.common.identity import Caller
from services.common.settings import ServiceSettings

log = logging.getLogger(__name__)


class AuditUnavailable(DomainError):
    """The audit log could not record an event, so the audited action must not go ahead."""

    code = grpc.StatusCode.UNAVAILABLE


class AuditRecorder:
    """Records events in the central audit log with this service's own credentials.

    `metadata` returns the call metadata proving who this service is, e.g.
    `ServiceCredentials(settings, service="profile", scopes=["audit:write", ...]).metadata`;
    `settings` give the channel's transport (mutual TLS in production) and default to the
    environment's.
    """

    def __init__(
        self,
        address: str,
        *,
        metadata: Callable[[], Sequence[tuple[str, Any]]],
        deadline_seconds: float = 2.0,
        source: str = "",
        settings: ServiceSettings | None = None,
    ) -> None:
        self._channel = grpc_client.channel(address, settings or ServiceSettings())
        self._stub = auth_pb2_grpc.AuthServiceStub(self._channel)
        self._metadata = metadata
        self._deadline = deadline_seconds
        self._source = source

    def event(
        self,
        *,
        caller: Caller,
        action: str,
        target: str,
        fields: Sequence[str] = (),
        outcome: str = "success",
        details: Mapping[str, Any] | None = None,
        source: str = "",
        customers: Sequence[str] = (),
    ) -> auth_pb2.AuditEvent:
        """The event of the caller's action, as the central log takes it; `customers` are those a
        read returned (a list page, search hits, segment members: at most 5,000)."""
        return auth_pb2.AuditEvent(
            actor=caller.id,
            actor_kind=caller.kind,
            source=source or caller.source or self._source,
            action=action,
            target=target,
            fields=list(fields),
            outcome=outcome,
            trace_id=telemetry.current_trace_id(),
            details_json=json.dumps(dict(details), separators=(",", ":"), ensure_ascii=False)
            if details
            else "",
            customer_ids=list(customers),
        )

    def record(self, **event: Any) -> int:
        """Record one event (the arguments of `event`) and return its seq; AuditUnavailable if not."""
        return self.ship([self.event(**event)])[0]

    def start(self, **event: Any) -> Callable[[], int]:
        """Start recording one event and go on working: the call returned gives its seq once
        recorded, or raises AuditUnavailable. Answer only after calling it."""
        events = [self.event(**event)]
        try:
            pending = self._stub.RecordAuditEvents.future(
                auth_pb2.RecordAuditEventsRequest(events=events),
                metadata=list(self._metadata()),
                timeout=self._deadline,
            )
        except DomainError as exc:
            raise _unavailable(events, exc) from exc

        def recorded() -> int:
            try:
                return int(pending.result().seqs[0])
            except grpc.RpcError as exc:
                raise _unavailable(events, exc) from exc

        return recorded

    def ship(self, events: Sequence[auth_pb2.AuditEvent]) -> list[int]:
        """Record events in order, all or none; their seqs, or AuditUnavailable."""
        try:
            reply = self._stub.RecordAuditEvents(
                auth_pb2.RecordAuditEventsRequest(events=list(events)),
                metadata=list(self._metadata()),
                timeout=self._deadline,
            )
        except (grpc.RpcError, DomainError) as exc:
            raise _unavailable(events, exc) from exc
        return [int(seq) for seq in reply.seqs]

    def close(self) -> None:
        """Close the channel to the auth service."""
        self._channel.close()


def _unavailable(events: Sequence[auth_pb2.AuditEvent], exc: Exception) -> AuditUnavailable:
    code = exc.code if isinstance(exc, DomainError) else getattr(exc, "code", lambda: None)()
    actions = sorted({e.action for e in events})
    log.error("audit events not recorded", extra={"actions": actions, "code": getattr(code, "name", code)})
    return AuditUnavailable(f"the audit log is unavailable, so {', '.join(actions)} was not done")
