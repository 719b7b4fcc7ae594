"""Segments (客户分群): saved conditions or static lists, their materialized membership, the events
of customers entering and leaving them, and the reconciliation run after every data change."""

import base64
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from crm.common.v1 import common_pb2
from services.common.errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound
from services.common.identity import Caller
from services.tagging import conditions, rules, service
from services.tagging.models import Customer, Membership, Segment, SegmentEvent, StaticMember

EVENT_FEED = "segment_events"
SEGMENT_FIELDS = ("name", "description", "condition", "customer_ids")
MAX_PAGE = 200
MAX_EXPORT_PAGE = 5000
# Rules may react to tags that rules set; this many rounds settle any sane rule set.
RULE_ROUNDS = 3


def _bad(field: str, message: str) -> InvalidArgument:
    return InvalidArgument("invalid segment", [FieldViolation(field, message)])


def _chunks(ids: Sequence[str], size: int = 900) -> Iterable[list[str]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


# -- membership -------------------------------------------------------------------------------


def _matching_query(segment: Segment, at: datetime, among: Sequence[str] | None = None) -> Any:
    if segment.kind == "dynamic":
        cond = conditions.where(
            conditions.from_json(segment.condition or {}), caller=None, now=at, among=among
        )
        return select(Customer.id).where(cond)
    return (
        select(Customer.id)
        .join(StaticMember, StaticMember.customer_id == Customer.id)
        .where(StaticMember.segment_id == segment.id)
    )


def refresh(
    session: Session, *, segment: Segment, at: datetime, customer_ids: Sequence[str] | None = None
) -> int:
    """Bring a segment's membership in line with its definition (for customer_ids, or everyone),
    with an event per customer entering or leaving; returns how many changed."""
    current_q = select(Membership.customer_id).where(Membership.segment_id == segment.id)
    if customer_ids is None:
        matching = set(session.scalars(_matching_query(segment, at)))
        current = set(session.scalars(current_q))
        segment.refreshed_at = at
    else:
        matching, current = set(), set()
        for chunk in _chunks(list(customer_ids)):
            matching_q = _matching_query(segment, at, among=chunk)
            matching |= set(session.scalars(matching_q.where(Customer.id.in_(chunk))))
            current |= set(session.scalars(current_q.where(Membership.customer_id.in_(chunk))))
    entered = sorted(matching - current)
    left = sorted(current - matching)
    if entered:
        session.execute(
            insert(Membership), [{"segment_id": segment.id, "customer_id": c, "since": at} for c in entered]
        )
    for chunk in _chunks(left):
        session.execute(
            delete(Membership).where(Membership.segment_id == segment.id, Membership.customer_id.in_(chunk))
        )
    _events(
        session, [(segment.id, c, "entered") for c in entered] + [(segment.id, c, "left") for c in left], at
    )
    return len(entered) + len(left)


def _events(session: Session, events: list[tuple[str, str, str]], at: datetime) -> None:
    if not events:
        return
    first = service.take_positions(session, EVENT_FEED, len(events))
    session.execute(
        insert(SegmentEvent),
        [
            {"position": first + i, "segment_id": s, "customer_id": c, "kind": k, "at": at}
            for i, (s, c, k) in enumerate(events)
        ],
    )


def leave_all(session: Session, *, customer_id: str, at: datetime) -> None:
    """Take a customer out of every segment (it was deleted), with events."""
    segment_ids = list(
        session.scalars(select(Membership.segment_id).where(Membership.customer_id == customer_id))
    )
    session.execute(delete(Membership).where(Membership.customer_id == customer_id))
    _events(session, [(s, customer_id, "left") for s in sorted(segment_ids)], at)


def reconcile(session: Session, *, customer_ids: Iterable[str], at: datetime) -> int:
    """After customers' data or tags changed: apply the rules to them, then refresh their
    memberships; returns how many memberships changed."""
    ids = sorted(set(customer_ids))
    if not ids:
        return 0
    session.flush()
    in_force = rules.enabled_rules(session)
    for _ in range(RULE_ROUNDS):
        changed: set[str] = set()
        for rule in in_force:
            changed |= rules.apply_rule(session, rule=rule, at=at, customer_ids=ids, reconcile=False)
        if not changed:
            break
    session.flush()
    return sum(refresh(session, segment=s, at=at, customer_ids=ids) for s in session.scalars(select(Segment)))


def evaluate_all(session: Session, *, at: datetime) -> tuple[int, int, int, int]:
    """Every enabled rule over every customer, then every segment (time-based conditions move
    as time passes); returns rules, segments, tag changes and membership changes."""
    in_force = rules.enabled_rules(session)
    tag_changes = 0
    for rule in in_force:
        tag_changes += len(rules.apply_rule(session, rule=rule, at=at, reconcile=False))
    session.flush()
    segments = list(session.scalars(select(Segment)))
    moved = sum(refresh(session, segment=s, at=at) for s in segments)
    return len(in_force), len(segments), tag_changes, moved


# -- segments ---------------------------------------------------------------------------------


def _clean(
    session: Session, caller: Caller, data: dict[str, Any], paths: Sequence[str], kind: str
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    violations = []
    if "name" in paths:
        values["name"] = str(data.get("name") or "").strip()
        if not 1 <= len(values["name"]) <= 100:
            violations.append(FieldViolation("segment.name", "1 to 100 characters"))
    if "description" in paths:
        values["description"] = str(data.get("description") or "")
        if len(values["description"]) > 500:
            violations.append(FieldViolation("segment.description", "at most 500 characters"))
    violations += service.text_problems(values, "segment")
    if violations:
        raise InvalidArgument("invalid segment", violations)
    if "condition" in paths:
        cond = data.get("condition")
        if kind != "dynamic":
            if cond is not None and cond.WhichOneof("kind") is not None:
                raise _bad("segment.condition", "a static segment lists customers; it has no condition")
        else:
            if not isinstance(cond, common_pb2.Condition) or cond.WhichOneof("kind") is None:
                raise _bad("segment.condition", "a dynamic segment needs a condition")
            conditions.validate(cond, caller, "segment.condition")
            values["condition"] = conditions.to_json(cond)
    if "customer_ids" in paths:
        ids = list(data.get("customer_ids") or [])
        if kind != "static":
            if ids:
                raise _bad("segment.customer_ids", "a dynamic segment is defined by its condition")
        else:
            values["customer_ids"] = service.resolve(
                session, caller=caller, selection=service.Selection(customer_ids=tuple(ids))
            )
    return values


def _unique(session: Session, name: str, except_id: str = "") -> None:
    if session.scalar(select(Segment.id).where(Segment.name == name, Segment.id != except_id)) is not None:
        raise AlreadyExists(f"a segment named {name} exists")


def get(*, session: Session, caller: Caller, segment_id: str) -> Segment:
    """A segment, or NotFound."""
    segment = session.get(Segment, segment_id) if segment_id else None
    if segment is None:
        raise NotFound(f"no segment {segment_id}")
    return segment


def create(*, session: Session, caller: Caller, data: dict[str, Any]) -> Segment:
    """A new segment, its membership materialized at once."""
    kind = data.get("kind") or "dynamic"
    if kind not in ("dynamic", "static"):
        raise _bad("segment.kind", "dynamic or static")
    values = _clean(session, caller, data, SEGMENT_FIELDS, kind)
    _unique(session, values["name"])
    at = service.now()
    members = values.pop("customer_ids", [])
    segment = Segment(
        id=str(uuid.uuid4()), kind=kind, created_at=at, updated_at=at, created_by=caller.id, **values
    )
    session.add(segment)
    session.flush()
    if members:
        session.execute(insert(StaticMember), [{"segment_id": segment.id, "customer_id": c} for c in members])
    refresh(session, segment=segment, at=at)
    return segment


def update(
    *, session: Session, caller: Caller, segment_id: str, data: dict[str, Any], paths: list[str]
) -> Segment:
    """Change a segment; its membership follows at once (with events)."""
    unknown = [p for p in paths if p not in SEGMENT_FIELDS]
    if not paths or unknown:
        raise _bad("update_mask", f"name the fields to change: {', '.join(SEGMENT_FIELDS)}")
    segment = get(session=session, caller=caller, segment_id=segment_id)
    values = _clean(session, caller, data, paths, segment.kind)
    if "name" in values:
        _unique(session, values["name"], segment.id)
    members = values.pop("customer_ids", None)
    for key, value in values.items():
        setattr(segment, key, value)
    segment.updated_at = service.now()
    if members is not None:
        session.execute(delete(StaticMember).where(StaticMember.segment_id == segment.id))
        if members:
            session.execute(
                insert(StaticMember), [{"segment_id": segment.id, "customer_id": c} for c in members]
            )
    session.flush()
    refresh(session, segment=segment, at=segment.updated_at)
    return segment


def delete_segment(*, session: Session, caller: Caller, segment_id: str) -> None:
    """Delete a segment and its membership."""
    segment = get(session=session, caller=caller, segment_id=segment_id)
    session.execute(delete(Membership).where(Membership.segment_id == segment.id))
    session.execute(delete(StaticMember).where(StaticMember.segment_id == segment.id))
    session.delete(segment)
    session.flush()


def list_segments(*, session: Session, caller: Caller, size: int, token: str) -> tuple[list[Segment], str]:
    """Segments by name, one page."""
    stmt = select(Segment).order_by(Segment.name).limit(size + 1)
    if token:
        stmt = stmt.where(Segment.name > _decode(token))
    rows = list(session.scalars(stmt))
    more = len(rows) > size
    rows = rows[:size]
    return rows, _encode(rows[-1].name) if more and rows else ""


def member_counts(session: Session, *, caller: Caller, segment_ids: list[str]) -> dict[str, int]:
    """Members of each segment within the caller's scope."""
    rows = session.execute(
        select(Membership.segment_id, func.count())
        .join(Customer, Customer.id == Membership.customer_id)
        .where(Membership.segment_id.in_(segment_ids), conditions.scope(caller))
        .group_by(Membership.segment_id)
    )
    return {s: int(n) for s, n in rows}


def member_ids(session: Session, *, caller: Caller, segment_id: str) -> list[str]:
    """Every member of a segment within the caller's scope."""
    get(session=session, caller=caller, segment_id=segment_id)
    return list(
        session.scalars(
            select(Membership.customer_id)
            .join(Customer, Customer.id == Membership.customer_id)
            .where(Membership.segment_id == segment_id, conditions.scope(caller))
            .order_by(Membership.customer_id)
        )
    )


# Purposes of processing that need the person's consent (the profile service records consents).
CONSENT_PURPOSES = ("marketing", "analytics", "profiling", "third_party_sharing", "cross_border_transfer")
# What an export may be for: serving existing customers needs no consent; the rest do.
EXPORT_PURPOSES = ("customer_service", *CONSENT_PURPOSES)


def _encode(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def _decode(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except ValueError:
        raise _bad("page_token", "not a token this API issued") from None


def members(
    *,
    session: Session,
    caller: Caller,
    segment_id: str,
    size: int,
    token: str,
    export: bool,
    purpose: str = "",
) -> tuple[list[tuple[Customer, datetime]], str, int]:
    """One page of a segment's members within the caller's scope, the next token and the total.

    An export states its purpose; one that needs consent leaves out those who did not give it.
    """
    if export:  # the RPC's declared segment:read covers a plain listing
        service.require(caller, "segment:export")
    if export and purpose not in EXPORT_PURPOSES:
        raise _bad("purpose", f"state what the export is for: one of {', '.join(EXPORT_PURPOSES)}")
    if not export and purpose:
        raise _bad("purpose", "only exports state a purpose")
    limit = MAX_EXPORT_PAGE if export else MAX_PAGE
    if not 0 <= size <= limit:
        raise _bad("page.page_size", f"between 1 and {limit}")
    size = size or (1000 if export else 50)
    get(session=session, caller=caller, segment_id=segment_id)
    base = (
        select(Customer, Membership.since)
        .join(Membership, Membership.customer_id == Customer.id)
        .where(Membership.segment_id == segment_id, conditions.scope(caller))
    )
    if purpose in CONSENT_PURPOSES:
        base = base.where(Customer.consents.contains(f",{purpose},", autoescape=True))
    total = int(session.scalar(select(func.count()).select_from(base.subquery())) or 0)
    stmt = base.order_by(Customer.id).limit(size + 1)
    if token:
        stmt = stmt.where(Customer.id > _decode(token))
    rows = [(c, since) for c, since in session.execute(stmt)]
    more = len(rows) > size
    rows = rows[:size]
    return rows, _encode(rows[-1][0].id) if more and rows else "", total


def preview(
    *, session: Session, caller: Caller, cond: common_pb2.Condition, sample: int
) -> tuple[int, list[Customer]]:
    """How many customers within the caller's scope match a condition, and a sample."""
    if not 0 <= sample <= 50:
        raise _bad("sample_size", "between 0 and 50")
    if cond.WhichOneof("kind") is None:
        raise _bad("condition", "give a condition")
    conditions.validate(cond, caller, "condition")
    where = conditions.where(cond, caller=caller, now=service.now())
    scoped = select(Customer).where(where, conditions.scope(caller))
    count = int(session.scalar(select(func.count()).select_from(scoped.subquery())) or 0)
    rows = list(session.scalars(scoped.order_by(Customer.id).limit(sample or 10)))
    return count, rows


def read_events(
    *, session: Session, caller: Caller, after_position: int, limit: int, segment_id: str
) -> tuple[list[SegmentEvent], int]:
    """Segment events after a position, in order, and the head position."""
    if not 1 <= limit <= 1000 or after_position < 0:
        raise _bad("limit", "between 1 and 1000; after_position >= 0")
    stmt = select(SegmentEvent).where(SegmentEvent.position > after_position)
    if segment_id:
        stmt = stmt.where(SegmentEvent.segment_id == segment_id)
    if caller.scope not in ("all", "org"):
        # Only customers within the caller's scope (customers gone from the archive drop out).
        stmt = stmt.join(Customer, Customer.id == SegmentEvent.customer_id).where(conditions.scope(caller))
    rows = list(session.scalars(stmt.order_by(SegmentEvent.position).limit(limit)))
    return rows, service.counter(session, EVENT_FEED)
