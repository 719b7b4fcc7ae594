"""The analytics read model of customers, kept from the profile change feed.

`apply` takes a batch of feed entries, updates the local copy (remembering the furthest funnel
stage each customer reached and when it churned), forgets deleted and erased customers, and
stores the feed position, all in the caller's one unit of work. Replaying a batch changes nothing
twice: a row keeps the feed position of the snapshot it holds and ignores older ones.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.analytics.models import Counter, Customer

PROFILE_FEED = "profile_feed"
GONE = {"customer.deleted", "customer.erased", "erased", "customer.purged"}
# The funnel's stages in order; a later stage implies every earlier one was passed.
FUNNEL = ("lead", "intent", "proposal", "deal")
# Stages past the funnel's end: the customer has made a deal.
AFTER_DEAL = ("repeat", "loyal")


@dataclass
class FeedEntry:
    """One profile feed entry: position, customer, action, time and the snapshot after it (JSON)."""

    position: int
    customer_id: str
    action: str
    at: datetime | None
    snapshot: dict[str, Any]


def position(session: Session) -> int:
    """The last profile feed position applied."""
    return int(session.scalar(select(Counter.value).where(Counter.name == PROFILE_FEED)) or 0)


def claim(session: Session, *, after: int) -> bool:
    """Lock the stored position for this unit of work; False when another replica's follower
    has moved it past `after` meanwhile (its batch is then already applied)."""
    stored = session.scalar(select(Counter.value).where(Counter.name == PROFILE_FEED).with_for_update())
    return int(stored or 0) == after


def _set_position(session: Session, value: int) -> None:
    if session.get(Counter, PROFILE_FEED) is None:
        session.add(Counter(name=PROFILE_FEED, value=value))
    else:
        session.execute(update(Counter).where(Counter.name == PROFILE_FEED).values(value=value))


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def stage_rank(stage: str, status: str = "") -> int:
    """The funnel rank a stage (or a deal status) stands for: 1 lead .. 4 deal, 0 none."""
    if stage in AFTER_DEAL or status == "deal":
        return len(FUNNEL)
    return FUNNEL.index(stage) + 1 if stage in FUNNEL else 0


def _fields(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": snapshot.get("kind", ""),
        "industry_code": snapshot.get("industry_code", ""),
        "region_code": snapshot.get("region_code") or "",
        "scale": snapshot.get("scale") or "",
        "tier": snapshot.get("tier") or "C",
        "deal_amount_12m_fen": int(Decimal(snapshot.get("deal_amount_12m") or "0") * 100),
        "status": snapshot.get("status", ""),
        "stage": snapshot.get("stage", ""),
        "owner_id": snapshot.get("owner_id") or "",
        "source_channel": snapshot.get("source_channel", ""),
        "created_at": _time(snapshot.get("created_at")),
    }


def _churned(values: dict[str, Any]) -> bool:
    return values["status"] == "churned" or values["stage"] == "churned"


def apply(session: Session, *, entries: list[FeedEntry], head: int) -> int:
    """Apply a batch of feed entries (in order) and store `head` as the position; returns how
    many customers were touched."""
    touched: set[str] = set()
    for entry in entries:
        touched.add(entry.customer_id)
        row = session.get(Customer, entry.customer_id)
        if row is not None and row.feed_position >= entry.position:
            continue
        gone = entry.action in GONE or bool(entry.snapshot.get("deleted_at")) or not entry.snapshot.get("id")
        if gone:
            if row is not None:
                session.delete(row)
                session.flush()
            continue
        values = _fields(entry.snapshot)
        rank = stage_rank(values["stage"], values["status"])
        when = entry.at or _time(entry.snapshot.get("updated_at"))
        if row is None:
            row = Customer(id=entry.customer_id, furthest_stage=rank, churned_at=None, **values)
            if _churned(values):
                row.churned_at = when
            session.add(row)
        else:
            was_churned = _churned({"status": row.status, "stage": row.stage})
            for key, value in values.items():
                setattr(row, key, value)
            row.furthest_stage = max(row.furthest_stage, rank)
            if _churned(values) and not was_churned:
                row.churned_at = when
            elif not _churned(values):
                row.churned_at = None
        row.feed_position = entry.position
        session.flush()
    _set_position(session, head)
    return len(touched)
