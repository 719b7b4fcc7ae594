"""Tagging domain: tags, assignments with history, the published tag-change feed, tag rules.

Functions take keyword-only arguments and a session; they flush, never commit (the caller's unit
of work does). Every change to a customer's tags goes through `apply_assignments`, which writes
the history, appends one feed entry per customer and re-evaluates that customer's segments.
"""

import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common import telemetry, vocabulary
from services.common.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from services.common.identity import Caller
from services.tagging import conditions
from services.tagging.models import Assignment, Counter, Customer, Rule, Tag, TagChange, TagHistory

TAG_FEED = "tag_feed"
MAX_BULK = 10_000
MAX_READ_TAGS = 1000
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
TAG_FIELDS = ("name", "group", "color", "description", "system")


def now() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


def require(caller: Caller, permission: str) -> None:
    """PermissionDenied unless the caller holds the permission (for checks the request decides;
    each RPC's own permission is checked by the server interceptor)."""
    if not caller.can(permission):
        raise PermissionDenied(f"your roles do not grant {permission}")


def _bad(field: str, message: str) -> InvalidArgument:
    return InvalidArgument(f"invalid {field.split('.')[0]}", [FieldViolation(field, message)])


# -- counters and the published feed ---------------------------------------------------------


def take_positions(session: Session, name: str, count: int) -> int:
    """Reserve `count` consecutive positions of a named counter; returns the first.

    The counter's row lock is held until commit, so positions become visible in commit order
    with no gaps: a reader resuming after position p never skips an entry.
    """
    dialect = session.get_bind().dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(Counter).values(name=name, value=0).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(Counter).values(name=name, value=0).on_conflict_do_nothing()
    else:
        stmt = insert(Counter).values(name=name, value=0)
    session.execute(stmt)
    last = session.execute(
        update(Counter)
        .where(Counter.name == name)
        .values(value=Counter.value + count)
        .returning(Counter.value)
    ).scalar_one()
    return int(last) - count + 1


def counter(session: Session, name: str) -> int:
    """A counter's current value (0 when it was never used)."""
    return int(session.scalar(select(Counter.value).where(Counter.name == name)) or 0)


def set_counter(session: Session, name: str, value: int) -> None:
    """Store a value under a name (a followed feed's position)."""
    if session.get(Counter, name) is None:
        session.add(Counter(name=name, value=value))
    else:
        session.execute(update(Counter).where(Counter.name == name).values(value=value))


def tag_names(session: Session, customer_ids: Iterable[str]) -> dict[str, list[str]]:
    """Each customer's current tag names, sorted."""
    ids = list(customer_ids)
    found: dict[str, list[str]] = {cid: [] for cid in ids}
    for start in range(0, len(ids), 900):
        rows = session.execute(
            select(Assignment.customer_id, Tag.name)
            .join(Tag, Tag.id == Assignment.tag_id)
            .where(Assignment.customer_id.in_(ids[start : start + 900]))
        )
        for customer_id, name in rows:
            found[customer_id].append(name)
    return {cid: sorted(names) for cid, names in found.items()}


def publish(session: Session, customer_ids: Iterable[str], at: datetime) -> None:
    """Append one feed entry per customer with its tag names as they are now; call last."""
    ids = sorted(set(customer_ids))
    if not ids:
        return
    session.flush()
    names = tag_names(session, ids)
    first = take_positions(session, TAG_FEED, len(ids))
    traceparent = telemetry.current_traceparent() or None
    session.execute(
        insert(TagChange),
        [
            {
                "position": first + i,
                "customer_id": cid,
                "tags": names[cid],
                "at": at,
                "traceparent": traceparent,
            }
            for i, cid in enumerate(ids)
        ],
    )


def read_feed(session: Session, *, after_position: int, limit: int) -> tuple[list[TagChange], int]:
    """Feed entries after a position in order, and the head position."""
    rows = list(
        session.scalars(
            select(TagChange)
            .where(TagChange.position > after_position)
            .order_by(TagChange.position)
            .limit(limit)
        )
    )
    return rows, counter(session, TAG_FEED)


# -- tags -------------------------------------------------------------------------------------


_PLAIN_TEXT = re.compile(vocabulary.PLAIN_TEXT)


def text_problems(values: dict[str, Any], prefix: str) -> list[FieldViolation]:
    """Violations for text values holding control characters (NUL and the like): such names
    cannot be stored everywhere (PostgreSQL refuses NUL), logged or audited faithfully."""
    return [
        FieldViolation(f"{prefix}.{key}", "must not contain control characters")
        for key, value in values.items()
        if isinstance(value, str) and not _PLAIN_TEXT.match(value)
    ]


def _clean_tag(data: dict[str, Any], paths: Sequence[str]) -> dict[str, Any]:
    violations = []
    values: dict[str, Any] = {}
    for key in paths:
        value = data.get(key, False if key == "system" else "")
        if key in ("name", "group", "description", "color"):
            value = str(value or "").strip()
        values[key] = value
    if "name" in values and not 1 <= len(values["name"]) <= 50:
        violations.append(FieldViolation("tag.name", "1 to 50 characters"))
    if "group" in values and len(values["group"]) > 30:
        violations.append(FieldViolation("tag.group", "at most 30 characters"))
    if "description" in values and len(values["description"]) > 500:
        violations.append(FieldViolation("tag.description", "at most 500 characters"))
    violations += text_problems(
        {k: values[k] for k in ("name", "group", "description") if k in values}, "tag"
    )
    if "color" in values:
        values["color"] = values["color"] or "#1677ff"
        if not COLOR.match(values["color"]):
            violations.append(FieldViolation("tag.color", "a colour like #1677ff"))
    if violations:
        raise InvalidArgument("invalid tag", violations)
    return values


def _unique_name(session: Session, *, name: str, group: str, except_id: str = "") -> None:
    clash = session.scalar(
        select(Tag.id).where(func.lower(Tag.name) == name.lower(), Tag.group == group, Tag.id != except_id)
    )
    if clash is not None:
        raise AlreadyExists(f"the group {group or '(none)'} already has a tag named {name}")


def counts(session: Session, *, caller: Caller, tag_ids: Sequence[str] | None = None) -> dict[str, int]:
    """How many customers within the caller's scope carry each tag."""
    stmt = select(Assignment.tag_id, func.count()).group_by(Assignment.tag_id)
    if caller.scope not in ("all", "org"):
        stmt = stmt.join(Customer, Customer.id == Assignment.customer_id).where(conditions.scope(caller))
    if tag_ids is not None:
        stmt = stmt.where(Assignment.tag_id.in_(tag_ids))
    return {tag_id: int(n) for tag_id, n in session.execute(stmt)}


def list_tags(*, session: Session, caller: Caller, group: str = "") -> list[Tag]:
    """Every tag (of one group when given), by group and name."""
    stmt = select(Tag).order_by(Tag.group, Tag.name)
    if group:
        stmt = stmt.where(Tag.group == group)
    return list(session.scalars(stmt))


def get_tag(*, session: Session, tag_id: str) -> Tag:
    """A tag, or NotFound."""
    tag = session.get(Tag, tag_id) if tag_id else None
    if tag is None:
        raise NotFound(f"no tag {tag_id}")
    return tag


def create_tag(*, session: Session, caller: Caller, data: dict[str, Any]) -> Tag:
    """A new tag; names are unique within a group (case-insensitively)."""
    values = _clean_tag(data, TAG_FIELDS)
    _unique_name(session, name=values["name"], group=values["group"])
    at = now()
    tag = Tag(id=str(uuid.uuid4()), created_at=at, updated_at=at, created_by=caller.id, **values)
    session.add(tag)
    _flush_unique(session, values)
    return tag


def _flush_unique(session: Session, values: dict[str, Any]) -> None:
    try:
        session.flush()
    except IntegrityError:
        raise AlreadyExists(f"the group already has a tag named {values.get('name')}") from None


def update_tag(
    *, session: Session, caller: Caller, tag_id: str, data: dict[str, Any], paths: list[str]
) -> Tag:
    """Rename, regroup, recolour or describe a tag; assignments stay. Renames reach the feed."""
    unknown = [p for p in paths if p not in TAG_FIELDS]
    if not paths or unknown:
        raise _bad("update_mask", f"name the fields to change: {', '.join(TAG_FIELDS)}")
    tag = get_tag(session=session, tag_id=tag_id)
    values = _clean_tag(data, paths)
    renamed = values.get("name", tag.name) != tag.name
    _unique_name(
        session, name=values.get("name", tag.name), group=values.get("group", tag.group), except_id=tag.id
    )
    for key, value in values.items():
        setattr(tag, key, value)
    tag.updated_at = now()
    _flush_unique(session, values)
    if renamed:
        carriers = session.scalars(select(Assignment.customer_id).where(Assignment.tag_id == tag.id))
        publish(session, carriers, tag.updated_at)
    return tag


def delete_tag(*, session: Session, caller: Caller, tag_id: str) -> int:
    """Delete a tag, its rules and its assignments (recorded in each customer's history)."""
    tag = get_tag(session=session, tag_id=tag_id)
    carriers = list(session.scalars(select(Assignment.customer_id).where(Assignment.tag_id == tag.id)))
    changes = [(cid, tag, "removed", "tag_deleted") for cid in carriers]
    apply_assignments(session, changes, actor=caller.id, at=now())
    session.execute(delete(Rule).where(Rule.tag_id == tag.id))
    session.delete(tag)
    session.flush()
    return len(carriers)


def merge_tags(*, session: Session, caller: Caller, source_ids: list[str], target_id: str) -> tuple[Tag, int]:
    """Move the sources' assignments onto the target (keeping who and when), then delete them."""
    if not source_ids or len(source_ids) > 50 or target_id in source_ids:
        raise _bad("source_tag_ids", "1 to 50 tags other than the target")
    target = get_tag(session=session, tag_id=target_id)
    sources = [get_tag(session=session, tag_id=s) for s in dict.fromkeys(source_ids)]
    moved = 0
    changed: set[str] = set()
    at = now()
    for source in sources:
        for row in list(session.scalars(select(Assignment).where(Assignment.tag_id == source.id))):
            changed.add(row.customer_id)
            _history(session, row.customer_id, source, "removed", caller.id, "merge", at)
            if session.get(Assignment, (row.customer_id, target.id)) is None:
                session.add(
                    Assignment(
                        customer_id=row.customer_id,
                        tag_id=target.id,
                        source=row.source,
                        assigned_by=row.assigned_by,
                        assigned_at=row.assigned_at,
                    )
                )
                _history(session, row.customer_id, target, "assigned", caller.id, "merge", at)
                moved += 1
            session.delete(row)
        session.flush()
        session.execute(update(Rule).where(Rule.tag_id == source.id).values(tag_id=target.id))
        session.delete(source)
    session.flush()
    publish(session, changed, at)
    from services.tagging import segments

    segments.reconcile(session, customer_ids=changed, at=at)
    return target, moved


# -- assignments ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """Which customers an assignment touches."""

    customer_ids: tuple[str, ...] = ()
    segment_id: str = ""


def resolve(session: Session, *, caller: Caller, selection: Selection) -> list[str]:
    """The customers a selection names, all within the caller's scope; NotFound otherwise."""
    if selection.segment_id:
        from services.tagging import segments

        return segments.member_ids(session, caller=caller, segment_id=selection.segment_id)
    ids = list(dict.fromkeys(i.strip() for i in selection.customer_ids))
    if not ids or len(ids) > MAX_BULK or any(not i or len(i) > 20 for i in ids):
        raise _bad("customers", f"give 1 to {MAX_BULK} customer ids")
    found: set[str] = set()
    for start in range(0, len(ids), 900):
        found |= set(
            session.scalars(
                select(Customer.id).where(Customer.id.in_(ids[start : start + 900]), conditions.scope(caller))
            )
        )
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(
            f"no customer {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''} within your scope"
        )
    return ids


def _tags_for_manual(session: Session, tag_ids: list[str]) -> list[Tag]:
    if not tag_ids or len(tag_ids) > 50:
        raise _bad("tag_ids", "give 1 to 50 tags")
    tags = [get_tag(session=session, tag_id=t) for t in dict.fromkeys(tag_ids)]
    system = [t.name for t in tags if t.system]
    if system:
        raise FailedPrecondition(f"only tag rules assign or remove system tags: {', '.join(system)}")
    return tags


def assign(
    *, session: Session, caller: Caller, selection: Selection, tag_ids: list[str]
) -> tuple[int, list[str]]:
    """Put tags on customers (manual); returns how many assignments were new and the customers."""
    tags = _tags_for_manual(session, tag_ids)
    ids = resolve(session, caller=caller, selection=selection)
    lock_customers(session, ids)
    have = _existing(session, ids, [t.id for t in tags])
    changes = [(cid, tag, "assigned", "manual") for cid in ids for tag in tags if (cid, tag.id) not in have]
    apply_assignments(session, changes, actor=caller.id, at=now())
    return len(changes), ids


def remove(
    *, session: Session, caller: Caller, selection: Selection, tag_ids: list[str]
) -> tuple[int, list[str]]:
    """Take tags off customers (manual); returns how many assignments were removed and the customers."""
    tags = _tags_for_manual(session, tag_ids)
    ids = resolve(session, caller=caller, selection=selection)
    lock_customers(session, ids)
    have = _existing(session, ids, [t.id for t in tags])
    changes = [(cid, tag, "removed", "manual") for cid in ids for tag in tags if (cid, tag.id) in have]
    apply_assignments(session, changes, actor=caller.id, at=now())
    return len(changes), ids


def lock_customers(session: Session, customer_ids: list[str]) -> None:
    """Row-lock customers (in ID order, so two callers never deadlock) until the unit of work ends:
    concurrent changes to the same customers' tags then see each other's result. SQLite
    serializes writers anyway and ignores the lock."""
    ordered = sorted(set(customer_ids))
    for start in range(0, len(ordered), 900):
        session.execute(
            select(Customer.id)
            .where(Customer.id.in_(ordered[start : start + 900]))
            .order_by(Customer.id)
            .with_for_update()
        )


def _existing(session: Session, customer_ids: list[str], tag_ids: list[str]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for start in range(0, len(customer_ids), 900):
        found |= {
            (c, t)
            for c, t in session.execute(
                select(Assignment.customer_id, Assignment.tag_id).where(
                    Assignment.customer_id.in_(customer_ids[start : start + 900]),
                    Assignment.tag_id.in_(tag_ids),
                )
            )
        }
    return found


def _history(
    session: Session, customer_id: str, tag: Tag, action: str, actor: str, source: str, at: datetime
) -> None:
    session.add(
        TagHistory(
            customer_id=customer_id,
            tag_id=tag.id,
            tag_name=tag.name,
            action=action,
            actor=actor,
            source=source,
            at=at,
        )
    )


def apply_assignments(
    session: Session,
    changes: list[tuple[str, Tag, str, str]],
    *,
    actor: str,
    at: datetime,
    reconcile: bool = True,
) -> set[str]:
    """Apply (customer, tag, assigned|removed, source) changes with history and feed entries."""
    if not changes:
        return set()
    adds = [
        {"customer_id": c, "tag_id": t.id, "source": s, "assigned_by": actor, "assigned_at": at}
        for c, t, action, s in changes
        if action == "assigned"
    ]
    if adds:
        session.execute(insert(Assignment), adds)
    removes: dict[str, list[str]] = defaultdict(list)
    for c, t, action, _ in changes:
        if action == "removed":
            removes[t.id].append(c)
    for tag_id, ids in removes.items():
        for start in range(0, len(ids), 900):
            session.execute(
                delete(Assignment).where(
                    Assignment.tag_id == tag_id, Assignment.customer_id.in_(ids[start : start + 900])
                )
            )
    session.execute(
        insert(TagHistory),
        [
            {
                "customer_id": c,
                "tag_id": t.id,
                "tag_name": t.name,
                "action": action,
                "actor": actor,
                "source": s,
                "at": at,
            }
            for c, t, action, s in changes
        ],
    )
    touched = {c for c, _, _, _ in changes}
    publish(session, touched, at)
    if reconcile:
        from services.tagging import segments

        segments.reconcile(session, customer_ids=touched, at=at)
    return touched


def customer_tags(
    *, session: Session, caller: Caller, customer_ids: list[str]
) -> dict[str, list[tuple[Assignment, Tag]]]:
    """The current tags of customers (within the caller's scope; others are left out)."""
    if len(customer_ids) > MAX_READ_TAGS:
        raise _bad("customer_ids", f"at most {MAX_READ_TAGS}")
    ids = list(dict.fromkeys(customer_ids))
    reachable = set(
        session.scalars(select(Customer.id).where(Customer.id.in_(ids), conditions.scope(caller)))
    )
    found: dict[str, list[tuple[Assignment, Tag]]] = {cid: [] for cid in ids if cid in reachable}
    rows = session.execute(
        select(Assignment, Tag)
        .join(Tag, Tag.id == Assignment.tag_id)
        .where(Assignment.customer_id.in_(list(found)))
        .order_by(Tag.group, Tag.name)
    )
    for assignment, tag in rows:
        found[assignment.customer_id].append((assignment, tag))
    return found


def history(
    *, session: Session, caller: Caller, customer_id: str, before_id: int | None, limit: int
) -> list[TagHistory]:
    """A customer's tag history, newest first."""
    customer = session.get(Customer, customer_id)
    if customer is None or not caller.may_reach(customer.owner_id or None):
        raise NotFound(f"no customer {customer_id}")
    stmt = select(TagHistory).where(TagHistory.customer_id == customer_id)
    if before_id is not None:
        stmt = stmt.where(TagHistory.id < before_id)
    return list(session.scalars(stmt.order_by(TagHistory.id.desc()).limit(limit)))
