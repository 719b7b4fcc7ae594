"""The read model of customers kept from the profile change feed, and what a change sets off.

`apply` takes a batch of feed entries (already fetched, with the behaviour records of customers
whose interactions or orders changed), updates the local copy, forgets deleted and erased
customers, re-evaluates rules and segments for the customers touched, and stores the feed
position, all in the caller's one unit of work. Replaying a batch changes nothing twice.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.tagging import segments, service
from services.tagging.models import Assignment, Counter, Customer, Interaction, Order, Tag, TagHistory

PROFILE_FEED = "profile_feed"
# Feed actions after which a customer is gone from the archive. `erased` (privacy erasure)
# also purges the customer's tag history.
GONE = {"customer.deleted", "customer.erased", "erased", "customer.purged"}
ERASED = {"customer.erased", "erased", "customer.purged"}
# Feed actions after which the customer's interactions or orders are read again.
BEHAVIOUR = {
    "interaction.created",
    "order.created",
    "customer.restored",
    "customer.created",
    "customer.merged",
}


@dataclass
class Behaviour:
    """A customer's interactions and orders as the profile service lists them (JSON dicts)."""

    interactions: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FeedEntry:
    """One profile feed entry: position, customer, action and the snapshot after it (JSON)."""

    position: int
    customer_id: str
    action: str
    snapshot: dict[str, Any]


def position(session: Session) -> int:
    """The last profile feed position applied."""
    return service.counter(session, PROFILE_FEED)


def claim(session: Session, *, after: int) -> bool:
    """Lock the stored position for this unit of work; False when another replica's follower
    has moved it past `after` meanwhile (its batch is then already applied)."""
    stored = session.scalar(select(Counter.value).where(Counter.name == PROFILE_FEED).with_for_update())
    return int(stored or 0) == after


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _fen(amount: str | None) -> int:
    return int(Decimal(amount or "0") * 100)


def _fields(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": snapshot.get("name", "")[:200],
        "kind": snapshot.get("kind", ""),
        "industry_code": snapshot.get("industry_code", ""),
        "region_code": snapshot.get("region_code") or "",
        "scale": snapshot.get("scale") or "",
        "tier": snapshot.get("tier") or "C",
        "deal_amount_12m_fen": _fen(snapshot.get("deal_amount_12m")),
        "status": snapshot.get("status", ""),
        "stage": snapshot.get("stage", ""),
        "owner_id": snapshot.get("owner_id") or "",
        "source_channel": snapshot.get("source_channel", ""),
        "last_follow_up_at": _time(snapshot.get("last_follow_up_at")),
        "last_order_at": _time(snapshot.get("last_order_at")),
        "created_at": _time(snapshot.get("created_at")),
        "updated_at": _time(snapshot.get("updated_at")),
        "consents": ",".join(["", *sorted(snapshot.get("consented_purposes") or []), ""]),
    }


def needs_behaviour(entry: FeedEntry) -> bool:
    """Whether the customer's interactions and orders must be read again after this entry."""
    return entry.action in BEHAVIOUR and entry.action not in GONE and not entry.snapshot.get("deleted_at")


def apply(
    session: Session, *, entries: list[FeedEntry], behaviour: dict[str, Behaviour], head: int, at: datetime
) -> int:
    """Apply a batch of feed entries (in order) and store `head` as the position; returns
    how many customers were touched."""
    latest: dict[str, FeedEntry] = {}
    erased: set[str] = set()
    for entry in entries:
        latest[entry.customer_id] = entry
        if entry.action in ERASED:
            erased.add(entry.customer_id)
    touched: set[str] = set()
    for customer_id, entry in latest.items():
        gone = entry.action in GONE or bool(entry.snapshot.get("deleted_at")) or not entry.snapshot.get("id")
        if gone or customer_id in erased:
            forget(session, customer_id=customer_id, at=at, erase=customer_id in erased)
            continue
        row = session.get(Customer, customer_id)
        values = _fields(entry.snapshot)
        if row is None:
            session.add(Customer(id=customer_id, feed_position=entry.position, **values))
        elif row.feed_position < entry.position:
            for key, value in values.items():
                setattr(row, key, value)
            row.feed_position = entry.position
        if customer_id in behaviour:
            _replace_behaviour(session, customer_id, behaviour[customer_id])
        touched.add(customer_id)
    session.flush()
    segments.reconcile(session, customer_ids=touched, at=at)
    service.set_counter(session, PROFILE_FEED, head)
    return len(touched) + len(set(latest) - touched)


def _replace_behaviour(session: Session, customer_id: str, records: Behaviour) -> None:
    session.execute(delete(Interaction).where(Interaction.customer_id == customer_id))
    session.execute(delete(Order).where(Order.customer_id == customer_id))
    session.flush()
    for item in records.interactions:
        session.add(
            Interaction(
                id=item["id"],
                customer_id=customer_id,
                channel=item.get("channel", ""),
                type=item.get("type", ""),
                occurred_at=_time(item.get("occurred_at")),
                summary=(item.get("summary") or "")[:500],
            )
        )
    for item in records.orders:
        session.add(
            Order(
                id=item["id"],
                customer_id=customer_id,
                product=(item.get("product") or "")[:200],
                amount_fen=_fen(item.get("amount")),
                ordered_at=_time(item.get("ordered_at")),
            )
        )


def forget(session: Session, *, customer_id: str, at: datetime, erase: bool) -> None:
    """A customer left the archive: its tags come off (history kept unless erased), it leaves
    every segment, and its local copy goes; an erasure also purges its tag history."""
    rows = list(
        session.execute(
            select(Assignment, Tag)
            .join(Tag, Tag.id == Assignment.tag_id)
            .where(Assignment.customer_id == customer_id)
        ).tuples()
    )
    if rows:
        service.apply_assignments(
            session,
            [(customer_id, tag, "removed", "customer_deleted") for _, tag in rows],
            actor="profile",
            at=at,
            reconcile=False,
        )
    segments.leave_all(session, customer_id=customer_id, at=at)
    session.execute(delete(Interaction).where(Interaction.customer_id == customer_id))
    session.execute(delete(Order).where(Order.customer_id == customer_id))
    if erase:
        session.execute(delete(TagHistory).where(TagHistory.customer_id == customer_id))
    existing = session.get(Customer, customer_id)
    if existing is not None:
        session.delete(existing)
    session.flush()
