"""The central audit log: append-only events from every service, chained by SHA-256.

Each event's hash covers its fields, its seq and the previous event's hash, so altering,
removing or reordering a stored event breaks the chain at that event; `verify` finds the first
break. Seqs come from one row-locked chain head, updated first in the recording transaction:
recorders are serialised, seqs are gap-free and in commit order. Events recorded for other
services go through `AuditWriter` (audit_writer.py), which commits many calls' events at once.
"""

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.auth import alerts
from services.auth.models import ApiClient, AuditEvent, AuditHead
from services.auth.service import require_admin
from services.common.errors import FieldViolation, InvalidArgument, PermissionDenied
from services.common.identity import Caller

GENESIS = "0" * 64
HEAD = "audit"
OUTCOMES = ("success", "denied", "failed")
ACTOR_KINDS = ("user", "client", "service", "anonymous")
MAX_EVENTS_PER_CALL = 100
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50
MAX_FIELDS = 100
MAX_DETAILS_BYTES = 4096
# Rows read per round trip while verifying; bounds verify's memory whatever the log's size.
VERIFY_BATCH = 1000

HASH_MISMATCH = "hash_mismatch"
MISSING_EVENT = "missing_event"
BROKEN_CHAIN = "broken_chain"

ACTION = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")
_TRACE_ID = re.compile(r"^([0-9a-f]{32})?$")
_LIMITS = {"actor": 128, "source": 128, "action": 64, "target": 200}


@dataclass(frozen=True)
class NewEvent:
    """An event as a service reports it; the log adds seq, time, service and hashes."""

    actor: str
    actor_kind: str
    action: str
    target: str = ""
    source: str = ""
    fields: tuple[str, ...] = ()
    outcome: str = "success"
    trace_id: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verification:
    """The result of walking the chain: ok, events checked, and the first break if any."""

    ok: bool
    checked: int
    first_bad_seq: int = 0
    reason: str = ""
    message: str = ""


# --- who may -------------------------------------------------------------------------------


def require_writer(*, caller: Caller, dev_identity: bool) -> None:
    """PermissionDenied unless the caller may record events (audit:write, or a dev service)."""
    if caller.can("audit:write") or (caller.kind == "service" and dev_identity):
        return
    raise PermissionDenied("recording audit events needs the audit:write permission")


def require_reader(*, session: Session, caller: Caller) -> None:
    """PermissionDenied unless the caller may read and verify the log (audit:read, or admin)."""
    if caller.can("audit:read"):
        return
    try:
        require_admin(session=session, caller=caller)
    except PermissionDenied:
        raise PermissionDenied("reading the audit log needs the audit:read permission") from None


# --- hashing -------------------------------------------------------------------------------


def _at_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compute_hash(row: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of an event's fields, seq and prev_hash included."""
    body = {
        "seq": row["seq"],
        "at": _at_text(row["at"]),
        "actor": row["actor"],
        "actor_kind": row["actor_kind"],
        "source": row["source"],
        "service": row["service"],
        "action": row["action"],
        "target": row["target"],
        "fields": list(row["fields"]),
        "outcome": row["outcome"],
        "trace_id": row["trace_id"],
        "details": row["details"],
        "prev_hash": row["prev_hash"],
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- recording -----------------------------------------------------------------------------


def _text_problems(path: str, value: str, limit: int, required: bool) -> list[FieldViolation]:
    if required and not value:
        return [FieldViolation(path, "is required")]
    if len(value) > limit:
        return [FieldViolation(path, f"must be at most {limit} characters")]
    if "\x00" in value:
        return [FieldViolation(path, "must not contain NUL characters")]
    return []


def _event_problems(i: int, event: NewEvent) -> list[FieldViolation]:
    at = f"events.{i}"
    problems: list[FieldViolation] = []
    for name, limit in _LIMITS.items():
        problems += _text_problems(f"{at}.{name}", getattr(event, name), limit, name in ("actor", "action"))
    if event.action and not ACTION.match(event.action):
        problems.append(FieldViolation(f"{at}.action", "write an action as noun.verb, e.g. customer.read"))
    if event.actor_kind not in ACTOR_KINDS:
        problems.append(FieldViolation(f"{at}.actor_kind", f"must be one of {', '.join(ACTOR_KINDS)}"))
    if event.outcome not in OUTCOMES:
        problems.append(FieldViolation(f"{at}.outcome", f"must be one of {', '.join(OUTCOMES)}"))
    if not _TRACE_ID.match(event.trace_id):
        problems.append(FieldViolation(f"{at}.trace_id", "must be 32 lowercase hex digits or empty"))
    if len(event.fields) > MAX_FIELDS:
        problems.append(FieldViolation(f"{at}.fields", f"name at most {MAX_FIELDS} fields"))
    for j, name in enumerate(event.fields):
        problems += _text_problems(f"{at}.fields.{j}", name, 64, True)
    if not isinstance(event.details, dict):
        problems.append(FieldViolation(f"{at}.details", "must be a JSON object"))
    else:
        try:
            size = len(json.dumps(event.details, ensure_ascii=False, allow_nan=False).encode("utf-8"))
        except (TypeError, ValueError):
            problems.append(FieldViolation(f"{at}.details", "must be plain JSON"))
        else:
            if size > MAX_DETAILS_BYTES or "\\u0000" in json.dumps(event.details):
                problems.append(
                    FieldViolation(f"{at}.details", f"must be at most {MAX_DETAILS_BYTES} bytes, without NUL")
                )
    return problems


def parse_details(text: str, *, path: str) -> dict[str, Any]:
    """A details object from JSON text ("" is {}); InvalidArgument when it is not an object."""
    if not text:
        return {}

    def _refuse(constant: str) -> Any:
        raise ValueError(constant)

    try:
        value = json.loads(text, parse_constant=_refuse)
    except ValueError:
        raise InvalidArgument("the event is invalid", [FieldViolation(path, "is not valid JSON")]) from None
    if not isinstance(value, dict):
        raise InvalidArgument("the event is invalid", [FieldViolation(path, "must be a JSON object")])
    return value


def recorder_name(*, session: Session, caller: Caller) -> str:
    """How the log names the recording service: its API client's name, else its caller id."""
    if caller.kind == "client":
        name = session.scalar(select(ApiClient.name).where(ApiClient.client_id == caller.id))
        if name:
            return f"{name} ({caller.id})"[:100]
    return caller.id[:100]


def _advance_head(session: Session, count: int) -> tuple[int, str]:
    """Move the head `count` seqs on, holding its row lock until commit; the previous seq and hash."""
    dialect = session.get_bind().dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(AuditHead).values(name=HEAD, seq=0, hash=GENESIS).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(AuditHead).values(name=HEAD, seq=0, hash=GENESIS).on_conflict_do_nothing()
    else:
        stmt = insert(AuditHead).values(name=HEAD, seq=0, hash=GENESIS)
    session.execute(stmt)
    last, prev_hash = session.execute(
        update(AuditHead)
        .where(AuditHead.name == HEAD)
        .values(seq=AuditHead.seq + count)
        .returning(AuditHead.seq, AuditHead.hash)
    ).one()
    return last - count, prev_hash


def check(events: list[NewEvent]) -> None:
    """InvalidArgument naming every problem, unless the events may be recorded as they are."""
    problems: list[FieldViolation] = []
    if not events:
        problems.append(FieldViolation("events", "send at least one event"))
    if len(events) > MAX_EVENTS_PER_CALL:
        problems.append(FieldViolation("events", f"send at most {MAX_EVENTS_PER_CALL} events per call"))
    for i, event in enumerate(events[:MAX_EVENTS_PER_CALL]):
        problems += _event_problems(i, event)
    if problems:
        raise InvalidArgument("the audit events are invalid", problems)


def record(
    *,
    session: Session,
    recorder: Caller,
    events: list[NewEvent],
    clock: Callable[[], datetime],
) -> list[int]:
    """Append events in order and return their seqs; all or none are recorded.

    Takes a clock rather than a time: the time is read after the head lock is held, so times
    never go backwards along the chain.
    """
    check(events)
    return record_checked(session=session, calls=[(recorder, events)], clock=clock)[0]


def record_checked(
    *,
    session: Session,
    calls: list[tuple[Caller, list[NewEvent]]],
    clock: Callable[[], datetime],
) -> list[list[int]]:
    """Append the already checked events of several calls, in order, under one lock of the head;
    each call's seqs. All or none are recorded."""
    names: dict[tuple[str, str], str] = {}
    for recorder, _ in calls:
        if (recorder.kind, recorder.id) not in names:
            names[recorder.kind, recorder.id] = recorder_name(session=session, caller=recorder)
    seq, prev_hash = _advance_head(session, sum(len(events) for _, events in calls))
    at = clock()
    rows = []
    seqs: list[list[int]] = []
    for recorder, events in calls:
        seqs.append([])
        for event in events:
            seq += 1
            row: dict[str, Any] = {
                "seq": seq,
                "at": at,
                "actor": event.actor,
                "actor_kind": event.actor_kind,
                "source": event.source,
                "service": names[recorder.kind, recorder.id],
                "action": event.action,
                "target": event.target,
                "fields": list(event.fields),
                "outcome": event.outcome,
                "trace_id": event.trace_id,
                "details": event.details,
                "prev_hash": prev_hash,
            }
            row["hash"] = prev_hash = compute_hash(row)
            rows.append(row)
            seqs[-1].append(seq)
    session.execute(insert(AuditEvent), rows)
    session.execute(update(AuditHead).where(AuditHead.name == HEAD).values(hash=prev_hash))
    session.flush()
    alerts.evaluate(session, rows)
    return seqs


# --- reading -------------------------------------------------------------------------------


def list_events(
    *,
    session: Session,
    page_size: int = 0,
    page_token: str = "",
    actor: str = "",
    action: str = "",
    target: str = "",
    outcome: str = "",
    start_time: datetime | None = None,
    end_time: datetime | None = None,
) -> tuple[list[AuditEvent], str]:
    """A page of events, newest first, matching every filter given; and the next page token."""
    problems = []
    if page_size < 0:
        problems.append(FieldViolation("page.page_size", "must not be negative"))
    if outcome and outcome not in OUTCOMES:
        problems.append(FieldViolation("outcome", f"must be one of {', '.join(OUTCOMES)}"))
    if start_time and end_time and end_time <= start_time:
        problems.append(FieldViolation("end_time", "must be after start_time"))
    before = None
    if page_token:
        try:
            before = int(base64.urlsafe_b64decode(page_token.encode("ascii")).decode("ascii"))
        except (ValueError, UnicodeError):
            problems.append(FieldViolation("page.page_token", "not a token we gave"))
    if problems:
        raise InvalidArgument("the audit query is invalid", problems)
    size = DEFAULT_PAGE_SIZE if page_size == 0 else min(page_size, MAX_PAGE_SIZE)
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(size + 1)
    if before is not None:
        query = query.where(AuditEvent.seq < before)
    for column, value in (
        (AuditEvent.actor, actor),
        (AuditEvent.action, action),
        (AuditEvent.target, target),
        (AuditEvent.outcome, outcome),
    ):
        if value:
            query = query.where(column == value)
    if start_time is not None:
        query = query.where(AuditEvent.at >= start_time)
    if end_time is not None:
        query = query.where(AuditEvent.at < end_time)
    rows = list(session.scalars(query))
    if len(rows) <= size:
        return rows, ""
    rows = rows[:size]
    return rows, base64.urlsafe_b64encode(str(rows[-1].seq).encode("ascii")).decode("ascii")


def _rows(session: Session, last_seq: int) -> Iterator[dict[str, Any]]:
    """Every event up to last_seq in seq order, read in batches as plain rows (no identity map)."""
    table = AuditEvent.__table__
    after = 0
    while True:
        batch = list(
            session.execute(
                select(table)
                .where(table.c.seq > after, table.c.seq <= last_seq)
                .order_by(table.c.seq)
                .limit(VERIFY_BATCH)
            ).mappings()
        )
        yield from batch
        if len(batch) < VERIFY_BATCH:
            return
        after = batch[-1]["seq"]


def verify(*, session: Session) -> Verification:
    """Walk the whole chain in seq order; the first altered, missing or unlinked event, if any."""
    head = session.get(AuditHead, HEAD)
    if head is not None:
        last_seq = head.seq
    else:
        last_seq = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) or 0
    expected, prev_hash, checked = 1, GENESIS, 0
    for row in _rows(session, last_seq):
        if row["seq"] != expected:
            return Verification(
                False,
                checked,
                expected,
                MISSING_EVENT,
                f"event {expected} is missing; the next is {row['seq']}",
            )
        if compute_hash(dict(row)) != row["hash"]:
            return Verification(
                False, checked, expected, HASH_MISMATCH, f"event {expected} does not match its hash"
            )
        if row["prev_hash"] != prev_hash:
            return Verification(
                False,
                checked,
                expected,
                BROKEN_CHAIN,
                f"event {expected} does not chain to event {expected - 1}",
            )
        prev_hash = row["hash"]
        checked += 1
        expected += 1
    if expected <= last_seq:
        return Verification(False, checked, expected, MISSING_EVENT, f"event {expected} is missing")
    if head is not None and head.hash != prev_hash:
        return Verification(
            False, checked, last_seq, BROKEN_CHAIN, f"the chain head does not match event {last_seq}"
        )
    return Verification(True, checked)
