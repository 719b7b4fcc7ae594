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

from sqlalchemy import func, insert, select, tuple_, union, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.auth import alerts
from services.auth.models import ApiClient, AuditEvent, AuditEventCustomer, AuditHead
from services.auth.service import require_admin
from services.common.errors import FieldViolation, InvalidArgument, PermissionDenied
from services.common.identity import Caller

GENESIS = "0" * 64
HEAD = "audit"
OUTCOMES = ("success", "denied", "failed")
ACTOR_KINDS = ("user", "client", "service", "anonymous")
MAX_EVENTS_PER_CALL = 100
MAX_PAGE_SIZE = 500
# Customer IDs a page of events carries at most: a page ends early rather than exceed it (one
# event of a 5,000-member export page holds half of it).
MAX_PAGE_CUSTOMERS = 10_000
DEFAULT_PAGE_SIZE = 50
MAX_FIELDS = 100
MAX_DETAILS_BYTES = 4096
# The customers one event may list (a segment export page holds 5,000), and one call all told:
# each becomes a row of audit_event_customers in the recording transaction.
MAX_CUSTOMERS = 5000
MAX_CUSTOMERS_PER_CALL = 20_000
# Malformed customer IDs named in one refusal; the rest are left unsaid.
MAX_CUSTOMER_PROBLEMS = 10
# Rows read per round trip while verifying; bounds verify's memory whatever the log's size.
VERIFY_BATCH = 1000

HASH_MISMATCH = "hash_mismatch"
MISSING_EVENT = "missing_event"
BROKEN_CHAIN = "broken_chain"

ACTION = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")
_TRACE_ID = re.compile(r"^([0-9a-f]{32})?$")
CUSTOMER_ID = re.compile(r"C[0-9]{11,16}")
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
    # The customers the action (a read) returned.
    customers: tuple[str, ...] = ()


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


def require_own_actions(*, caller: Caller, events: list[NewEvent]) -> None:
    """PermissionDenied unless every event's actor is the caller, or the caller is a platform
    service (kind "service"), which records on behalf of the people and clients it serves."""
    if caller.kind == "service":
        return
    for i, event in enumerate(events):
        if (event.actor, event.actor_kind) != (caller.id, caller.kind):
            raise PermissionDenied(
                f"events.{i}: only platform services record events on behalf of others; "
                f"record your own actions as actor {caller.id!r}, actor_kind {caller.kind!r}"
            )


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
    """SHA-256 (hex) of the canonical JSON of an event's fields, seq and prev_hash included.

    `customers` (the customers a read returned, without duplicates, in ID order) is hashed only
    when there are some, so events recorded before the log kept them hash as they always did.
    """
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
    if row.get("customers"):
        body["customers"] = sorted(row["customers"])
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
    if len(event.customers) > MAX_CUSTOMERS:
        problems.append(
            FieldViolation(f"{at}.customer_ids", f"name at most {MAX_CUSTOMERS:,} customers per event")
        )
    else:
        bad = [j for j, customer in enumerate(event.customers) if not CUSTOMER_ID.fullmatch(customer)]
        problems += [
            FieldViolation(f"{at}.customer_ids.{j}", "must be a customer ID, e.g. C20240501001")
            for j in bad[:MAX_CUSTOMER_PROBLEMS]
        ]
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
    if caller.kind in ("client", "service"):
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
    if sum(len(e.customers) for e in events) > MAX_CUSTOMERS_PER_CALL:
        problems.append(
            FieldViolation("events", f"name at most {MAX_CUSTOMERS_PER_CALL:,} customers per call, all told")
        )
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
    rules: alerts.Rules = alerts.DEFAULT_RULES,
) -> list[int]:
    """Append events in order and return their seqs; all or none are recorded.

    Takes a clock rather than a time: the time is read after the head lock is held, so times
    never go backwards along the chain.
    """
    check(events)
    return record_checked(session=session, calls=[(recorder, events)], clock=clock, rules=rules)[0]


def record_checked(
    *,
    session: Session,
    calls: list[tuple[Caller, list[NewEvent]]],
    clock: Callable[[], datetime],
    rules: alerts.Rules = alerts.DEFAULT_RULES,
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
    customers: list[dict[str, Any]] = []
    seqs: list[list[int]] = []
    for recorder, events in calls:
        seqs.append([])
        for event in events:
            seq += 1
            listed = sorted(set(event.customers))
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
            row["hash"] = prev_hash = compute_hash(row | {"customers": listed})
            rows.append(row)
            customers += ({"seq": seq, "customer_id": customer} for customer in listed)
            seqs[-1].append(seq)
    session.execute(insert(AuditEvent), rows)
    if customers:
        session.execute(insert(AuditEventCustomer), customers)
    session.execute(update(AuditHead).where(AuditHead.name == HEAD).values(hash=prev_hash))
    session.flush()
    alerts.evaluate(session, rows, rules=rules, listing={c["seq"] for c in customers})
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
    customer_id: str = "",
    with_customers: bool = True,
) -> tuple[list[AuditEvent], str]:
    """A page of events, newest first, matching every filter given; and the next page token.

    `customer_id` matches the events about that customer: its target is customer:<id>, or the
    customer is among those the event's read returned. With `with_customers` (for
    `customers_of`), the page ends before the customers its events list pass MAX_PAGE_CUSTOMERS.
    """
    problems = []
    if page_size < 0:
        problems.append(FieldViolation("page.page_size", "must not be negative"))
    if outcome and outcome not in OUTCOMES:
        problems.append(FieldViolation("outcome", f"must be one of {', '.join(OUTCOMES)}"))
    if start_time and end_time and end_time <= start_time:
        problems.append(FieldViolation("end_time", "must be after start_time"))
    if customer_id and not CUSTOMER_ID.fullmatch(customer_id):
        problems.append(FieldViolation("customer_id", "must be a customer ID, e.g. C20240501001"))
    before = None
    if page_token:
        try:
            before = int(base64.urlsafe_b64decode(page_token.encode("ascii")).decode("ascii"))
        except (ValueError, UnicodeError):
            problems.append(FieldViolation("page.page_token", "not a token this API issued"))
    if problems:
        raise InvalidArgument("the audit query is invalid", problems)
    size = DEFAULT_PAGE_SIZE if page_size == 0 else min(page_size, MAX_PAGE_SIZE)
    conditions: list[Any] = [] if before is None else [AuditEvent.seq < before]
    for column, value in (
        (AuditEvent.actor, actor),
        (AuditEvent.action, action),
        (AuditEvent.target, target),
        (AuditEvent.outcome, outcome),
    ):
        if value:
            conditions.append(column == value)
    if start_time is not None:
        conditions.append(AuditEvent.at >= start_time)
    if end_time is not None:
        conditions.append(AuditEvent.at < end_time)
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(size + 1)
    if customer_id:
        query = query.where(AuditEvent.seq.in_(_about(customer_id, conditions, size + 1)))
    else:
        query = query.where(*conditions)
    rows = list(session.scalars(query))
    more = len(rows) > size
    rows = rows[:size]
    if with_customers and rows:
        kept = _within_budget(session, rows)
        more, rows = more or len(kept) < len(rows), kept
    if not more:
        return rows, ""
    return rows, base64.urlsafe_b64encode(str(rows[-1].seq).encode("ascii")).decode("ascii")


def _within_budget(session: Session, rows: list[AuditEvent]) -> list[AuditEvent]:
    """The leading events of a page whose customers stay within MAX_PAGE_CUSTOMERS (one at least)."""
    counts = {
        seq: count
        for seq, count in session.execute(
            select(AuditEventCustomer.seq, func.count())
            .where(AuditEventCustomer.seq.in_([r.seq for r in rows]))
            .group_by(AuditEventCustomer.seq)
        ).tuples()
    }
    total = 0
    for i, row in enumerate(rows):
        total += counts.get(row.seq, 0)
        if total > MAX_PAGE_CUSTOMERS and i > 0:
            return rows[:i]
    return rows


def customers_of(*, session: Session, seqs: list[int]) -> dict[int, list[str]]:
    """The customers each of these events listed, in ID order; events that listed none are absent."""
    found: dict[int, list[str]] = {}
    if seqs:
        for seq, customer in session.execute(
            select(AuditEventCustomer.seq, AuditEventCustomer.customer_id).where(
                AuditEventCustomer.seq.in_(seqs)
            )
        ).tuples():
            found.setdefault(seq, []).append(customer)
    return {seq: sorted(customers) for seq, customers in found.items()}


def _about(customer_id: str, conditions: list[Any], limit: int) -> Any:
    """The seqs of the newest `limit` events about a customer that meet the conditions: those
    targeting it and those listing it, each found newest first through its own index (an OR of
    the two would make the database walk the whole log for a customer seldom seen)."""
    targeted = (
        select(AuditEvent.seq)
        .where(AuditEvent.target == f"customer:{customer_id}", *conditions)
        .order_by(AuditEvent.seq.desc())
        .limit(limit)
        .subquery()
    )
    listed = (
        select(AuditEventCustomer.seq)
        .join(AuditEvent, AuditEvent.seq == AuditEventCustomer.seq)
        .where(AuditEventCustomer.customer_id == customer_id, *conditions)
        .order_by(AuditEventCustomer.seq.desc())
        .limit(limit)
        .subquery()
    )
    return union(select(targeted.c.seq), select(listed.c.seq)).scalar_subquery()


def _listed(session: Session, last_seq: int) -> Iterator[tuple[int, str]]:
    """Every (seq, customer) row up to last_seq in key order, read in batches by key."""
    table = AuditEventCustomer.__table__
    after: tuple[int, str] = (0, "")
    while True:
        batch = list(
            session.execute(
                select(table.c.seq, table.c.customer_id)
                .where(
                    tuple_(table.c.seq, table.c.customer_id) > tuple_(*after),
                    table.c.seq <= last_seq,
                )
                .order_by(table.c.seq, table.c.customer_id)
                .limit(VERIFY_BATCH * 10)
            )
        )
        yield from ((seq, customer) for seq, customer in batch)
        if len(batch) < VERIFY_BATCH * 10:
            return
        after = (batch[-1][0], batch[-1][1])


def _rows(session: Session, last_seq: int) -> Iterator[dict[str, Any]]:
    """Every event up to last_seq in seq order with the customers it listed, read in batches as
    plain rows (no identity map): memory stays flat however many customers events list."""
    table = AuditEvent.__table__
    listed = _listed(session, last_seq)
    pending = next(listed, None)
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
        for row in batch:
            # Rows of events that no longer exist are skipped: verify reports the missing event.
            while pending is not None and pending[0] < row["seq"]:
                pending = next(listed, None)
            customers = []
            while pending is not None and pending[0] == row["seq"]:
                customers.append(pending[1])
                pending = next(listed, None)
            yield {**row, "customers": customers}
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
