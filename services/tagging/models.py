"""Tables owned by the tagging service: tags, rules, segments, their feeds, and the read model of
the customer fields conditions need (fed by the profile change feed). Amounts are integer fen."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import UTCDateTime


class TaggingBase(DeclarativeBase):
    """The tagging service's own metadata."""


class Counter(TaggingBase):
    """Named counters: feed positions handed out under a row lock, and followed feed positions."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class Customer(TaggingBase):
    """What conditions test about a customer, as the profile feed last described it."""

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="")
    industry_code: Mapped[str] = mapped_column(String(5), default="", index=True)
    region_code: Mapped[str] = mapped_column(String(6), default="", index=True)
    scale: Mapped[str] = mapped_column(String(10), default="")
    tier: Mapped[str] = mapped_column(String(1), default="C", index=True)
    deal_amount_12m_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(20), default="", index=True)
    stage: Mapped[str] = mapped_column(String(20), default="")
    owner_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    source_channel: Mapped[str] = mapped_column(String(20), default="")
    last_follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Purposes the person consents to, as ",marketing,analytics," (matched with LIKE on any database).
    consents: Mapped[str] = mapped_column(String(200), default=",", server_default=",")
    # Feed position of the snapshot stored here; older snapshots are ignored.
    feed_position: Mapped[int] = mapped_column(BigInteger, default=0)


class Interaction(TaggingBase):
    """An interaction, as much of it as behaviour conditions test."""

    __tablename__ = "interactions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    summary: Mapped[str] = mapped_column(String(500), default="")

    __table_args__ = (Index("ix_interactions_customer_time", "customer_id", "occurred_at"),)


class Order(TaggingBase):
    """An order, as much of it as behaviour conditions test."""

    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    product: Mapped[str] = mapped_column(String(200))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_orders_customer_time", "customer_id", "ordered_at"),)


class Tag(TaggingBase):
    __tablename__ = "tags"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    group: Mapped[str] = mapped_column("tag_group", String(30), default="")
    color: Mapped[str] = mapped_column(String(7), default="#1677ff")
    description: Mapped[str] = mapped_column(String(500), default="")
    system: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("tag_group", "name", name="uq_tags_group_name"),)


class Assignment(TaggingBase):
    """A tag on a customer: who put it there, when and how."""

    __tablename__ = "tag_assignments"

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[str] = mapped_column(
        ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # manual | rule:<rule id>
    source: Mapped[str] = mapped_column(String(64))
    assigned_by: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TagHistory(TaggingBase):
    __tablename__ = "tag_history"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(20), index=True)
    tag_id: Mapped[str] = mapped_column(String(36))
    tag_name: Mapped[str] = mapped_column(String(50))
    # assigned | removed
    action: Mapped[str] = mapped_column(String(10))
    actor: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class TagChange(TaggingBase):
    """The published feed: a customer's tag names after each change, at gap-free positions."""

    __tablename__ = "tag_changes"

    position: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(20))
    tags: Mapped[list[str]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    traceparent: Mapped[str | None] = mapped_column(String(60))


class Rule(TaggingBase):
    __tablename__ = "tag_rules"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    tag_id: Mapped[str] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), index=True)
    # The condition as the JSON form of crm.common.v1.Condition.
    condition: Mapped[dict[str, Any]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))


class Segment(TaggingBase):
    __tablename__ = "segments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    # dynamic | static
    kind: Mapped[str] = mapped_column(String(10))
    condition: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))


class StaticMember(TaggingBase):
    """The customers a static segment lists."""

    __tablename__ = "segment_static_members"

    segment_id: Mapped[str] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(20), primary_key=True)


class Membership(TaggingBase):
    """Materialized membership: who is in a segment now, and since when."""

    __tablename__ = "segment_members"

    segment_id: Mapped[str] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    since: Mapped[datetime] = mapped_column(UTCDateTime)


class SegmentEvent(TaggingBase):
    """A customer entered or left a segment, at gap-free positions."""

    __tablename__ = "segment_events"

    position: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    segment_id: Mapped[str] = mapped_column(String(36), index=True)
    customer_id: Mapped[str] = mapped_column(String(20))
    # entered | left
    kind: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
