"""Tables owned by the analytics service: the read model of customers (what the views count,
as the profile change feed last described them) and the followed feed position. Amounts are fen."""

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import UTCDateTime


class AnalyticsBase(DeclarativeBase):
    """The analytics service's own metadata."""


class Counter(AnalyticsBase):
    """Named counters: the followed profile feed position."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class Customer(AnalyticsBase):
    """One customer of the archive as the views count it."""

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="")
    industry_code: Mapped[str] = mapped_column(String(5), default="", index=True)
    region_code: Mapped[str] = mapped_column(String(6), default="", index=True)
    scale: Mapped[str] = mapped_column(String(10), default="")
    tier: Mapped[str] = mapped_column(String(1), default="C")
    deal_amount_12m_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(20), default="")
    stage: Mapped[str] = mapped_column(String(20), default="")
    # The furthest funnel stage the customer ever reached (rank in service.FUNNEL, 0 for none):
    # a customer that went lead -> proposal -> churned still counts as having reached proposal.
    furthest_stage: Mapped[int] = mapped_column(Integer, default=0)
    owner_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    source_channel: Mapped[str] = mapped_column(String(20), default="")
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # When the customer was last seen turning churned (status or stage); None while not churned.
    churned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Feed position of the snapshot stored here; older snapshots are ignored.
    feed_position: Mapped[int] = mapped_column(BigInteger, default=0)
