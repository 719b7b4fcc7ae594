"""Revisions of customers: the change history, the as-of view and the ordered change feed."""

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.common import telemetry
from services.profile.models import Counter, Revision

FEED_COUNTER = "feed"
# Bookkeeping fields that change with every write and say nothing on their own.
_UNTRACKED = {"version", "updated_at", "updated_by"}


def next_counter(session: Session, name: str) -> int:
    """Increment a named counter and return its new value, holding its row lock until commit."""
    dialect = session.get_bind().dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(Counter).values(name=name, value=0).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(Counter).values(name=name, value=0).on_conflict_do_nothing()
    else:
        stmt = insert(Counter).values(name=name, value=0)
    session.execute(stmt)
    return session.execute(
        update(Counter).where(Counter.name == name).values(value=Counter.value + 1).returning(Counter.value)
    ).scalar_one()


def diff(before: dict[str, Any] | None, after: dict[str, Any]) -> list[dict[str, Any]]:
    """The tracked fields whose values differ, as field/old/new triples."""
    before = before or {}
    return [
        {"field": key, "old": before.get(key), "new": after.get(key)}
        for key in sorted(set(before) | set(after))
        if key not in _UNTRACKED and before.get(key) != after.get(key)
    ]


def record(
    session: Session,
    *,
    customer_id: str,
    action: str,
    actor: str,
    at: datetime,
    version: int,
    changes: list[dict[str, Any]],
    snapshot: dict[str, Any],
) -> Revision:
    """Append a revision; call last in the unit of work so the feed lock is held briefly."""
    session.flush()
    revision = Revision(
        position=next_counter(session, FEED_COUNTER),
        customer_id=customer_id,
        action=action,
        actor=actor,
        at=at,
        version=version,
        changes=changes,
        snapshot=snapshot,
        traceparent=telemetry.current_traceparent() or None,
    )
    session.add(revision)
    session.flush()
    return revision


def history(session: Session, *, customer_id: str, before_position: int | None, limit: int) -> list[Revision]:
    """A customer's revisions, newest first, older than before_position when given."""
    stmt = select(Revision).where(Revision.customer_id == customer_id)
    if before_position is not None:
        stmt = stmt.where(Revision.position < before_position)
    return list(session.scalars(stmt.order_by(Revision.position.desc()).limit(limit)))


def as_of(session: Session, *, customer_id: str, at: datetime) -> Revision | None:
    """The latest revision of a customer at or before a time."""
    return session.scalars(
        select(Revision)
        .where(Revision.customer_id == customer_id, Revision.at <= at)
        .order_by(Revision.position.desc())
        .limit(1)
    ).first()


def read_feed(session: Session, *, after_position: int, limit: int) -> tuple[list[Revision], int]:
    """Revisions after a position in order, and the current head position."""
    rows = list(
        session.scalars(
            select(Revision)
            .where(Revision.position > after_position)
            .order_by(Revision.position)
            .limit(limit)
        )
    )
    head = session.scalar(select(Counter.value).where(Counter.name == FEED_COUNTER)) or 0
    return rows, head
